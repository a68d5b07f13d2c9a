#include "kube/informer.h"

#include <thread>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>

namespace kvlb::kube {

Informer::Informer(KubeApi& api, InformerOptions options, InformerHandler& handler, const Clock& clock,
                   std::function<void(std::chrono::milliseconds)> sleep)
    : api_(api),
      options_(std::move(options)),
      handler_(handler),
      clock_(clock),
      sleep_(std::move(sleep)),
      rng_(std::random_device{}()) {}

Informer::Stats Informer::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

std::string Informer::with_query(const std::string& query) const {
  if (query.empty()) return options_.list_path;
  return options_.list_path + (options_.list_path.find('?') == std::string::npos ? "?" : "&") + query;
}

void Informer::record_error(const ApiError& error) {
  std::lock_guard lock(stats_mu_);
  ++stats_.errors;
  stats_.last_error = error.describe();
}

std::chrono::milliseconds Informer::next_backoff() {
  double base = static_cast<double>(options_.backoff_initial.count());
  const double max = static_cast<double>(options_.backoff_max.count());
  for (uint32_t i = 0; i < failures_ && base < max; ++i) base *= 2;
  base = std::min(base, max);
  ++failures_;
  std::uniform_real_distribution<double> spread(-options_.jitter, options_.jitter);
  double delay = base * (1.0 + (options_.jitter > 0 ? spread(rng_) : 0.0));
  return std::chrono::milliseconds(std::max<int64_t>(0, std::llround(delay)));
}

uint32_t Informer::watch_timeout() {
  std::uniform_real_distribution<double> spread(-options_.jitter, options_.jitter);
  double t = options_.watch_timeout_seconds * (1.0 + (options_.jitter > 0 ? spread(rng_) : 0.0));
  return static_cast<uint32_t>(std::max<int64_t>(1, std::llround(t)));
}

Informer::ListOutcome Informer::list(std::stop_token stop, Listed& out, ApiError& error) {
  out = {};
  bool paginate = options_.page_size > 0;
  std::string cont;
  while (true) {
    if (stop.stop_requested()) return ListOutcome::Stopped;
    std::string query;
    if (paginate) query = "limit=" + std::to_string(options_.page_size);
    if (!cont.empty()) query += "&continue=" + query_escape(cont);
    const std::string path = with_query(query);
    auto page = api_.get(path);
    if (!page) {
      if (page.error().gone() && !cont.empty()) {
        // The snapshot the pages came from is compacted away: start over, as
        // one unpaginated LIST (as client-go's pager does) so it cannot expire again.
        spdlog::info("informer {}: list continue token expired ({}); listing again without pagination",
                     options_.name, page.error().describe());
        {
          std::lock_guard lock(stats_mu_);
          ++stats_.relists_gone;
        }
        out = {};
        cont.clear();
        paginate = false;
        continue;
      }
      error = page.error();
      return ListOutcome::Failed;
    }
    const nlohmann::json& body = *page;
    auto bad = [&](const std::string& why) {
      error = ApiError{0, "BadResponse", why, "GET " + path};
      return ListOutcome::Failed;
    };
    if (!body.is_object()) return bad("list response is not an object");
    auto meta = body.find("metadata");
    if (meta == body.end() || !meta->is_object()) return bad("list response has no metadata");
    std::string kind = body.value("kind", "");
    if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
    const std::string api_version = body.value("apiVersion", "");
    auto items = body.find("items");
    if (items != body.end() && !items->is_null()) {
      if (!items->is_array()) return bad("list items is not an array");
      for (const auto& item : *items) {
        if (!item.is_object()) return bad("list item is not an object");
        nlohmann::json copy = item;
        if (!copy.contains("kind") && !kind.empty()) copy["kind"] = kind;
        if (!copy.contains("apiVersion") && !api_version.empty()) copy["apiVersion"] = api_version;
        out.items.push_back(std::move(copy));
      }
    }
    if (auto rv = meta->find("resourceVersion"); rv != meta->end() && rv->is_string())
      out.resource_version = rv->get<std::string>();
    cont.clear();
    if (auto c = meta->find("continue"); c != meta->end() && c->is_string()) cont = c->get<std::string>();
    if (cont.empty()) break;
  }
  if (out.resource_version.empty()) {
    error = ApiError{0, "BadResponse", "list has no metadata.resourceVersion", "GET " + options_.list_path};
    return ListOutcome::Failed;
  }
  return ListOutcome::Done;
}

void Informer::run(std::stop_token stop) {
  std::stop_callback on_stop(stop, [this] { api_.cancel_watches(); });
  std::string rv;          // "" = LIST first
  bool gone_again = false;  // a 410 came since the last healthy watch

  auto backoff = [&](const char* what, const ApiError& error) {
    record_error(error);
    auto delay = next_backoff();
    spdlog::warn("informer {}: {} failed: {}; retrying in {} ms", options_.name, what, error.describe(), delay.count());
    sleep_(delay);
  };

  while (!stop.stop_requested()) {
    if (rv.empty()) {
      Listed listed;
      ApiError error;
      auto outcome = list(stop, listed, error);
      if (outcome == ListOutcome::Stopped) break;
      if (outcome == ListOutcome::Failed) {
        backoff("list", error);
        continue;
      }
      handler_.replace(listed.items);
      rv = listed.resource_version;
      {
        std::lock_guard lock(stats_mu_);
        ++stats_.lists;
        stats_.resource_version = rv;
      }
      synced_.store(true);
      spdlog::info("informer {}: listed {} objects at resourceVersion {}", options_.name, listed.items.size(), rv);
    }

    const std::string path = with_query("resourceVersion=" + query_escape(rv) +
                                        "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(watch_timeout()));
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.watches;
    }
    uint64_t seen = 0;
    const TimePoint started = clock_.now();
    auto result = api_.watch(path, [&](const WatchEvent& ev) {
      if (stop.stop_requested()) return false;
      ++seen;
      switch (ev.type) {
        case WatchEvent::Type::Added:
        case WatchEvent::Type::Modified: handler_.upsert(ev.object); break;
        case WatchEvent::Type::Deleted: handler_.remove(ev.object); break;
        case WatchEvent::Type::Bookmark: break;
      }
      std::string next;
      if (auto meta = ev.object.find("metadata"); meta != ev.object.end() && meta->is_object())
        if (auto v = meta->find("resourceVersion"); v != meta->end() && v->is_string()) next = v->get<std::string>();
      if (!next.empty()) rv = next;
      std::lock_guard lock(stats_mu_);
      if (ev.type == WatchEvent::Type::Bookmark) ++stats_.bookmarks;
      else ++stats_.events;
      stats_.resource_version = rv;
      return true;
    });
    if (stop.stop_requested()) break;

    const bool healthy = seen > 0 || clock_.now() - started >= kMinHealthyWatch;
    if (healthy) {
      failures_ = 0;
      gone_again = false;
    }
    if (result.ok()) {
      if (!healthy) backoff("watch", ApiError{0, "Transport", "the server ended the watch at once, without events", "WATCH " + path});
      continue;  // resume from rv
    }
    const ApiError& error = result.error();
    if (error.status == 0 && error.reason == "Idle" && healthy) {
      // An accepted watch on which nothing came for the client's idle
      // timeout, not even a bookmark (the apiserver sends one about once a
      // minute, but only while the resourceVersion moves): quiet, or a dead
      // connection. Watch again at once; if the server is gone, that fails.
      spdlog::info("informer {}: {}; watching again from resourceVersion {}", options_.name, error.message, rv);
      continue;
    }
    if (error.gone()) {
      spdlog::info("informer {}: resourceVersion {} is too old ({}); listing again", options_.name, rv, error.describe());
      {
        std::lock_guard lock(stats_mu_);
        ++stats_.relists_gone;
      }
      rv.clear();
      // The first 410 is relisted at once; a second one before any healthy
      // watch (the fresh list's own version refused) backs off, not to spin.
      if (gone_again) sleep_(next_backoff());
      gone_again = true;
      continue;
    }
    backoff("watch", error);
    // The server is behind our version (restored from a backup, or a lagging
    // apiserver): rewatching from it would fail forever, so list afresh.
    if (error.status == 504 && error.message.find("Too large resource version") != std::string::npos) rv.clear();
  }
  spdlog::info("informer {}: stopped", options_.name);
}

std::function<void(std::chrono::milliseconds)> stoppable_sleep(std::stop_token stop) {
  // Sleeps in short slices rather than waiting on a stop_callback: libstdc++
  // 12's stop_callback can deadlock when threads add and remove callbacks on
  // one stop_source at the same time.
  return [stop](std::chrono::milliseconds delay) {
    constexpr std::chrono::milliseconds kSlice{20};
    auto end = std::chrono::steady_clock::now() + delay;
    while (!stop.stop_requested()) {
      auto left = end - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, kSlice));
    }
  };
}

}  // namespace kvlb::kube
