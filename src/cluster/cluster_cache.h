#pragma once
// A typed, thread-safe cache of the watched Services, EndpointSlices and
// Nodes, fed by the informers, that remembers which Services changed since
// the sync last looked (a Service changes when it or one of its slices does).
//
// An object that cannot be parsed keeps its last good version (fail static
// per object) and the error is kept for the sync to report.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "k8s/objects.h"
#include "kube/informer.h"

namespace kvlb::cluster {

// What the sync needs for one pass: the changed Services with their slices.
struct CacheChanges {
  std::set<std::string> dirty;                         // service ids (namespace/name) to look at again
  std::map<std::string, k8s::Service> services;        // for dirty ids that exist; absent = deleted
  std::map<std::string, std::vector<k8s::EndpointSlice>> slices;  // for dirty ids, in slice-name order
  std::optional<std::vector<k8s::Node>> nodes;         // set when the nodes changed (or on a full take)
  std::vector<k8s::ParseError> parse_errors;           // objects that could not be read, since the last take
};

class ClusterCache {
 public:
  // on_change runs (on an informer's thread, without the lock held) after
  // every change, so the sync can wake up.
  explicit ClusterCache(std::function<void()> on_change);
  ~ClusterCache();

  kube::InformerHandler& services_handler();
  kube::InformerHandler& slices_handler();
  kube::InformerHandler& nodes_handler();

  // The changes since the last take. all: every Service counts as changed.
  CacheChanges take_changes(bool all);
  bool has_changes() const;
  // Look at this Service again at the next take (e.g. its status write failed).
  void mark_dirty(const std::string& service_id);

  struct Sizes {
    std::size_t services = 0, endpoint_slices = 0, nodes = 0;
  };
  Sizes sizes() const;  // what the cache holds (for the REST API; a leak would show here)

 private:
  class Handler;
  void replace_services(const std::vector<nlohmann::json>& objects);
  void upsert_service(const nlohmann::json& object);
  void remove_service(const nlohmann::json& object);
  void replace_slices(const std::vector<nlohmann::json>& objects);
  void upsert_slice(const nlohmann::json& object);
  void remove_slice(const nlohmann::json& object);
  void replace_nodes(const std::vector<nlohmann::json>& objects);
  void upsert_node(const nlohmann::json& object);
  void remove_node(const nlohmann::json& object);

  // Callers hold mutex_.
  void put_slice(k8s::EndpointSlice slice);
  void drop_slice(const std::string& slice_id);
  static std::string owner_of(const k8s::EndpointSlice& slice) { return slice.namespace_ + "/" + slice.service_name; }

  std::function<void()> on_change_;
  mutable std::mutex mutex_;
  std::map<std::string, k8s::Service> services_;
  std::map<std::string, k8s::EndpointSlice> slices_;                  // by slice id
  std::map<std::string, std::set<std::string>> slices_of_service_;    // service id -> slice ids
  std::map<std::string, k8s::Node> nodes_;
  std::set<std::string> dirty_;
  bool nodes_dirty_ = false;
  std::vector<k8s::ParseError> parse_errors_;
  std::unique_ptr<Handler> services_handler_, slices_handler_, nodes_handler_;
};

}  // namespace kvlb::cluster
