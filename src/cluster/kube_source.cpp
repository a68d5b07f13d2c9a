#include "cluster/kube_source.h"

#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/api_writes.h"

namespace kvlb::cluster {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxQueuedEvents = 1000;  // beyond this, Events are dropped (and counted), never memory
constexpr auto kStatusRetryDelay = 1s;

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace

KubeSource::KubeSource(kube::KubeApi& api, const Clock& clock, KubeSourceOptions options,
                       std::function<void()> on_services_changed)
    : api_(api),
      clock_(clock),
      options_(std::move(options)),
      on_services_changed_(std::move(on_services_changed)),
      cache_([this] {
        std::lock_guard lock(mutex_);
        changed_ = true;
        wake_sync_.notify_all();
      }),
      sync_(options_.pools, sync_options_from(options_.settings)) {}

KubeSource::~KubeSource() { stop(); }

void KubeSource::start() {
  struct Watched {
    const char* path;
    const char* name;
    kube::InformerHandler& handler;
  };
  const Watched watched[] = {
      {"/api/v1/services", "services", cache_.services_handler()},
      {"/apis/discovery.k8s.io/v1/endpointslices", "endpointslices", cache_.slices_handler()},
      {"/api/v1/nodes", "nodes", cache_.nodes_handler()},
  };
  auto sleep = [this](std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    pause(lock, delay);
  };
  for (const auto& w : watched) {
    kube::InformerOptions informer_options;
    informer_options.list_path = w.path;
    informer_options.name = w.name;
    informers_.push_back(std::make_unique<kube::Informer>(api_, informer_options, w.handler, clock_, sleep));
    informer_names_.push_back(w.name);
  }
  for (auto& informer : informers_)
    threads_.emplace_back([this, informer = informer.get()] { informer->run(stop_.get_token()); });
  threads_.emplace_back([this] { sync_loop(); });
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.writer_threads); ++i)
    threads_.emplace_back([this] { writer_loop(); });
}

bool KubeSource::pause(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds delay) {
  return !wake_sleepers_.wait_for(lock, delay, [&] { return stopping_; });
}

void KubeSource::stop() {
  if (threads_.empty()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_sync_.notify_all();
  wake_writers_.notify_all();
  wake_sleepers_.notify_all();
  stop_.request_stop();
  api_.cancel_watches();
  threads_.clear();  // joins
}

bool KubeSource::informers_synced() const {
  for (const auto& informer : informers_)
    if (!informer->has_synced()) return false;
  return !informers_.empty();
}

std::optional<std::vector<model::Service>> KubeSource::take_services() {
  std::lock_guard lock(mutex_);
  auto out = std::move(published_);
  published_.reset();
  return out;
}

void KubeSource::reconfigure(std::vector<model::IpPool> pools, const model::KubernetesSettings& settings) {
  std::lock_guard lock(mutex_);
  pending_config_.emplace(std::move(pools), settings);
  changed_ = true;
  wake_sync_.notify_all();
}

void KubeSource::sync_loop() {
  for (;;) {
    std::unique_lock lock(mutex_);
    // The informers' first LISTs end at different times: look again shortly
    // rather than tying their threads to this one.
    wake_sync_.wait_for(lock, 50ms, [&] { return stopping_ || (changed_ && informers_synced()); });
    if (stopping_) break;
    if (!changed_ || !informers_synced()) continue;
    bool first = !sync_.first_pass_done();
    bool everything = first;
    if (pending_config_) {
      options_.pools = pending_config_->first;
      options_.settings = pending_config_->second;
      sync_.reconfigure(options_.pools, sync_options_from(options_.settings));
      pending_config_.reset();
      everything = true;
    }
    changed_ = false;
    lock.unlock();
    auto changes = cache_.take_changes(everything);
    lock.lock();
    auto started = clock_.now();
    SyncResult result = sync_.sync(changes);
    ++passes_;
    bool publish = result.services_changed || first;
    if (publish) published_ = sync_.services();
    problems_ = sync_.problems();
    usage_ = sync_.pool_usage();
    queue_writes(result);
    std::size_t total = sync_.service_count();
    lock.unlock();
    for (const auto& line : result.log) spdlog::warn("kubernetes: {}", line);
    if (first) {
      synced_ = true;
      spdlog::info("kubernetes: first sync done: {} Services seen, {} virtual services, {} us", changes.dirty.size(),
                   total,
                   std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - started).count());
    }
    if (publish && on_services_changed_) on_services_changed_();
  }
}

void KubeSource::queue_writes(SyncResult& result) {
  for (auto& write : result.status) status_queue_.insert_or_assign(write.id(), std::move(write));
  for (auto& event : result.events) {
    spdlog::warn("service {}/{}: {}: {}", event.namespace_, event.name, event.reason, event.message);
    if (event_queue_.size() >= kMaxQueuedEvents) {
      ++events_dropped_;
      continue;
    }
    event_queue_.push_back(std::move(event));
  }
  if (!status_queue_.empty() || !event_queue_.empty()) wake_writers_.notify_all();
}

void KubeSource::writer_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Status first, one write per Service at a time so an older write never
    // lands after a newer one.
    auto next_status = next_writable_status();
    if (next_status != status_queue_.end()) {
      StatusWrite write = std::move(next_status->second);
      std::string id = next_status->first;
      status_queue_.erase(next_status);
      in_flight_.insert(id);
      lock.unlock();
      auto answer = api_.patch(status_path(write), status_patch(write));
      lock.lock();
      in_flight_.erase(id);
      wake_writers_.notify_all();  // a newer write for the same Service may be waiting
      if (answer.ok()) {
        ++status_writes_;
        continue;
      }
      ++status_write_errors_;
      bool gone = answer.error().status == 404;  // deleted meanwhile: nothing to retry
      if (gone) {
        spdlog::debug("service {}: deleted before its status was written", id);
        continue;
      }
      sync_.status_write_failed(id);
      spdlog::warn("service {}: status write failed: {}", id, answer.error().describe());
      if (!pause(lock, kStatusRetryDelay)) break;
      lock.unlock();
      cache_.mark_dirty(id);
      lock.lock();
      changed_ = true;
      wake_sync_.notify_all();
      continue;
    }
    if (!event_queue_.empty()) {
      EventWrite event = std::move(event_queue_.front());
      event_queue_.pop_front();
      lock.unlock();
      auto answer = api_.post(events_path(event), event_body(event, options_.node_name, now_rfc3339()));
      if (!answer.ok())
        spdlog::warn("service {}/{}: cannot post Event: {}", event.namespace_, event.name, answer.error().describe());
      lock.lock();
      ++(answer.ok() ? events_posted_ : event_errors_);
      continue;
    }
    // Not merely "the queue is not empty": a write queued for a Service whose
    // previous write is still in flight must wait for it, not spin.
    wake_writers_.wait(lock, [&] {
      return stopping_ || !event_queue_.empty() || next_writable_status() != status_queue_.end();
    });
  }
}

std::map<std::string, StatusWrite>::iterator KubeSource::next_writable_status() {
  for (auto it = status_queue_.begin(); it != status_queue_.end(); ++it)
    if (!in_flight_.contains(it->first)) return it;
  return status_queue_.end();
}

nlohmann::json KubeSource::status() const {
  nlohmann::json informers = nlohmann::json::array();
  for (std::size_t i = 0; i < informers_.size(); ++i) {
    const auto& informer = informers_[i];
    auto s = informer->stats();
    informers.push_back({{"name", informer_names_[i]},
                         {"synced", informer->has_synced()},
                         {"lists", s.lists},
                         {"relistsAfterGone", s.relists_gone},
                         {"watches", s.watches},
                         {"events", s.events},
                         {"errors", s.errors},
                         {"lastError", s.last_error}});
  }
  auto cached = cache_.sizes();
  std::lock_guard lock(mutex_);
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& u : usage_)
    pools.push_back({{"name", u.pool}, {"sizeV4", u.size_v4}, {"usedV4", u.used_v4}, {"sizeV6", u.size_v6},
                     {"usedV6", u.used_v6}});
  return {{"synced", synced_.load()},
          {"informers", informers},
          {"pools", pools},
          {"problems", problems_},
          {"virtualServices", sync_.service_count()},
          {"cached", {{"services", cached.services}, {"endpointSlices", cached.endpoint_slices}, {"nodes", cached.nodes}}},
          {"servicesServed", sync_.tracked_services()},
          {"queued", {{"statusWrites", status_queue_.size()}, {"events", event_queue_.size()}}},
          {"syncPasses", passes_},
          {"statusWrites", status_writes_},
          {"statusWriteErrors", status_write_errors_},
          {"eventsPosted", events_posted_},
          {"eventErrors", event_errors_},
          {"eventsDropped", events_dropped_}};
}

}  // namespace kvlb::cluster
