#pragma once
// The pure core of kvlb's Kubernetes controller: from changed Services (with
// their EndpointSlices and the cluster's Nodes) to IP allocations, model
// services, status writes and Events. No network, no threads, no clock.
//
// Allocation follows the rules users know from MetalLB: an IP once given is
// never reassigned; after a restart the first pass rebuilds the allocations
// from the Services' status before anything new is handed out.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_cache.h"
#include "ipam/allocator.h"
#include "k8s/translate.h"
#include "model/types.h"

namespace kvlb::cluster {

struct SyncOptions {
  k8s::ClassSelection selection;
  k8s::TranslateOptions translate;
  std::string ip_mode = "VIP";  // written into status.loadBalancer.ingress[].ipMode
};

SyncOptions sync_options_from(const model::KubernetesSettings& settings);

// Write status.loadBalancer of one Service (empty ingress: clear it).
struct StatusWrite {
  std::string namespace_;
  std::string name;
  std::vector<k8s::LoadBalancerIngress> ingress;
  std::string id() const { return namespace_ + "/" + name; }
  auto operator<=>(const StatusWrite&) const = default;
};

// A Warning Event on a Service.
struct EventWrite {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string reason;   // AllocationFailed, InvalidService
  std::string message;  // also logged
  auto operator<=>(const EventWrite&) const = default;
};

struct SyncResult {
  bool services_changed = false;  // services() differs from before the pass
  std::vector<StatusWrite> status;
  std::vector<EventWrite> events;
  std::vector<std::string> log;  // problems of objects that are not Services' (unparsable slices, nodes)
};

class ServiceSync {
 public:
  ServiceSync(std::vector<model::IpPool> pools, SyncOptions options);

  // One pass over what changed. The first pass must see every Service
  // (ClusterCache::take_changes(true)): it restores allocations from status.
  SyncResult sync(const CacheChanges& changes);

  // Call after a status write failed: the next pass writes again.
  void status_write_failed(const std::string& service_id);
  // New pools or options (config reload): the caller then runs a pass over
  // every Service.
  void reconfigure(std::vector<model::IpPool> pools, SyncOptions options);

  // Every model service of every Service that is ours, sorted by key.
  std::vector<model::Service> services() const;
  std::size_t service_count() const { return service_total_; }
  std::size_t tracked_services() const { return records_.size(); }  // Services that are ours
  // Current problems per Service id (what the Events said), for the REST API.
  std::map<std::string, std::vector<std::string>> problems() const;
  std::vector<ipam::PoolUsage> pool_usage() const { return allocator_.usage(); }
  bool first_pass_done() const { return first_pass_done_; }

 private:
  struct Record {
    std::vector<model::IpAddress> ips;           // allocated to it
    std::vector<model::Service> translated;      // its model services
    std::set<std::pair<std::string, std::string>> reported;  // (reason, message) already sent as Events
    std::vector<std::string> problems;
    // The status kvlb last wrote, and the object's resourceVersion then: until
    // that version changes the write is in flight and not repeated.
    std::optional<std::vector<k8s::LoadBalancerIngress>> written;
    std::string written_over_version;
  };

  void restore_allocations(const CacheChanges& changes);
  void sync_one(const std::string& id, const k8s::Service* service, const std::vector<k8s::EndpointSlice>& slices,
                SyncResult& result);
  void forget(const std::string& id, const k8s::Service* service, SyncResult& result);
  std::optional<ipam::Request> request_for(const k8s::Service& service, std::vector<ipam::Problem>& problems) const;

  ipam::Allocator allocator_;
  SyncOptions options_;
  std::vector<k8s::Node> nodes_;
  std::map<std::string, Record> records_;  // Services that are ours
  std::size_t service_total_ = 0;          // model services over all records
  bool first_pass_done_ = false;
};

}  // namespace kvlb::cluster
