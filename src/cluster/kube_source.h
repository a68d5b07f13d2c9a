#pragma once
// Runs kvlb's Kubernetes controller: three informers (Services,
// EndpointSlices, Nodes) feeding a ClusterCache, a sync thread running
// ServiceSync over what changed, and writer threads sending status patches
// and Events. Nothing is allocated or published before every informer has
// finished its first LIST; until then synced() is false and the caller
// leaves the data plane as it is (fail static).
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cluster/cluster_cache.h"
#include "cluster/service_sync.h"
#include "kube/informer.h"
#include "kube/kube_api.h"
#include "util/clock.h"

namespace kvlb::cluster {

struct KubeSourceOptions {
  model::KubernetesSettings settings;
  std::vector<model::IpPool> pools;
  std::string node_name;  // reporting instance of Events
  std::size_t writer_threads = 4;
};

class KubeSource {
 public:
  // on_services_changed runs on the sync thread whenever services() changed
  // (and once after the first sync); keep it short (e.g. write an eventfd).
  KubeSource(kube::KubeApi& api, const Clock& clock, KubeSourceOptions options,
             std::function<void()> on_services_changed);
  ~KubeSource();

  void start();
  void stop();

  bool synced() const { return synced_.load(); }
  // The model services of every Service that is ours, if they changed since
  // the last call.
  std::optional<std::vector<model::Service>> take_services();
  // Config reload: new pools and settings; every Service is looked at again.
  void reconfigure(std::vector<model::IpPool> pools, const model::KubernetesSettings& settings);
  // For /v1/status and kvlbctl: informers, pools, problems, counters.
  nlohmann::json status() const;

 private:
  void sync_loop();
  void writer_loop();
  // Waits up to `delay`; false when stopping. The caller holds `lock` (on mutex_).
  bool pause(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds delay);
  void queue_writes(SyncResult& result);
  bool informers_synced() const;
  // The first queued status write whose Service has none in flight (callers hold mutex_).
  std::map<std::string, StatusWrite>::iterator next_writable_status();

  kube::KubeApi& api_;
  const Clock& clock_;
  KubeSourceOptions options_;
  std::function<void()> on_services_changed_;

  ClusterCache cache_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
  std::vector<std::string> informer_names_;
  std::stop_source stop_;  // for the informers
  std::vector<std::jthread> threads_;  // declared after what they use: joined first

  mutable std::mutex mutex_;  // guards everything below
  // Plain condition variables and a flag: libstdc++ 12's stop_callback
  // deadlocks when many threads register and remove callbacks on one
  // stop_source at once (seen here: waits in loops did exactly that).
  std::condition_variable wake_sync_;
  std::condition_variable wake_writers_;
  std::condition_variable wake_sleepers_;
  bool stopping_ = false;
  bool changed_ = false;       // the cache or the config changed: the sync has work
  bool reconfigured_ = false;
  std::optional<std::pair<std::vector<model::IpPool>, model::KubernetesSettings>> pending_config_;
  ServiceSync sync_;
  std::optional<std::vector<model::Service>> published_;
  std::map<std::string, StatusWrite> status_queue_;  // by service id: only the newest write per Service
  std::deque<EventWrite> event_queue_;
  std::set<std::string> in_flight_;  // service ids whose status write is being sent
  std::map<std::string, std::vector<std::string>> problems_;
  std::vector<ipam::PoolUsage> usage_;
  uint64_t passes_ = 0, status_writes_ = 0, status_write_errors_ = 0, events_posted_ = 0, event_errors_ = 0,
           events_dropped_ = 0;
  std::atomic<bool> synced_{false};
};

}  // namespace kvlb::cluster
