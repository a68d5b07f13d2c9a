#include "cluster/cluster_cache.h"

#include <nlohmann/json.hpp>

namespace kvlb::cluster {

class ClusterCache::Handler final : public kube::InformerHandler {
 public:
  using Replace = void (ClusterCache::*)(const std::vector<nlohmann::json>&);
  using One = void (ClusterCache::*)(const nlohmann::json&);
  Handler(ClusterCache& cache, Replace replace, One upsert, One remove)
      : cache_(cache), replace_(replace), upsert_(upsert), remove_(remove) {}
  void replace(const std::vector<nlohmann::json>& objects) override { call([&] { (cache_.*replace_)(objects); }); }
  void upsert(const nlohmann::json& object) override { call([&] { (cache_.*upsert_)(object); }); }
  void remove(const nlohmann::json& object) override { call([&] { (cache_.*remove_)(object); }); }

 private:
  template <typename F>
  void call(F&& f) {
    {
      std::lock_guard lock(cache_.mutex_);
      f();
    }
    if (cache_.on_change_) cache_.on_change_();
  }
  ClusterCache& cache_;
  Replace replace_;
  One upsert_, remove_;
};

ClusterCache::ClusterCache(std::function<void()> on_change)
    : on_change_(std::move(on_change)),
      services_handler_(std::make_unique<Handler>(*this, &ClusterCache::replace_services, &ClusterCache::upsert_service,
                                                  &ClusterCache::remove_service)),
      slices_handler_(std::make_unique<Handler>(*this, &ClusterCache::replace_slices, &ClusterCache::upsert_slice,
                                                &ClusterCache::remove_slice)),
      nodes_handler_(std::make_unique<Handler>(*this, &ClusterCache::replace_nodes, &ClusterCache::upsert_node,
                                               &ClusterCache::remove_node)) {}

ClusterCache::~ClusterCache() = default;

kube::InformerHandler& ClusterCache::services_handler() { return *services_handler_; }
kube::InformerHandler& ClusterCache::slices_handler() { return *slices_handler_; }
kube::InformerHandler& ClusterCache::nodes_handler() { return *nodes_handler_; }

namespace {

// namespace/name from the metadata, even of an object that does not parse,
// so that a deletion is never missed.
std::string id_of(const nlohmann::json& object, bool namespaced) {
  const auto* meta = object.is_object() && object.contains("metadata") ? &object["metadata"] : nullptr;
  auto text = [&](const char* key) -> std::string {
    if (!meta || !meta->is_object() || !meta->contains(key) || !(*meta)[key].is_string()) return "";
    return (*meta)[key].get<std::string>();
  };
  return namespaced ? text("namespace") + "/" + text("name") : text("name");
}

}  // namespace

// --- Services ---------------------------------------------------------------

void ClusterCache::replace_services(const std::vector<nlohmann::json>& objects) {
  std::map<std::string, k8s::Service> next;
  for (const auto& object : objects) {
    auto parsed = k8s::parse_service(object);
    std::string id = id_of(object, true);
    if (parsed.ok()) {
      next.emplace(id, std::move(*parsed));
      continue;
    }
    parse_errors_.push_back(parsed.error());
    if (auto old = services_.find(id); old != services_.end()) next.emplace(id, old->second);  // keep the last good one
  }
  // A relist is a diff: only what differs is dirty.
  for (const auto& [id, service] : services_)
    if (auto it = next.find(id); it == next.end() || it->second.resource_version != service.resource_version)
      dirty_.insert(id);
  for (const auto& [id, service] : next)
    if (!services_.contains(id)) dirty_.insert(id);
  services_ = std::move(next);
}

void ClusterCache::upsert_service(const nlohmann::json& object) {
  auto parsed = k8s::parse_service(object);
  if (!parsed.ok()) {
    parse_errors_.push_back(parsed.error());
    return;
  }
  std::string id = parsed->id();
  services_.insert_or_assign(id, std::move(*parsed));
  dirty_.insert(id);
}

void ClusterCache::remove_service(const nlohmann::json& object) {
  std::string id = id_of(object, true);
  if (services_.erase(id)) dirty_.insert(id);
}

// --- EndpointSlices ---------------------------------------------------------

void ClusterCache::put_slice(k8s::EndpointSlice slice) {
  std::string id = slice.id();
  if (auto old = slices_.find(id); old != slices_.end()) {
    if (old->second.service_name != slice.service_name) drop_slice(id);  // relabelled to another Service
  }
  std::string owner = owner_of(slice);
  if (!slice.service_name.empty()) {
    slices_of_service_[owner].insert(id);
    dirty_.insert(owner);
  }
  slices_.insert_or_assign(id, std::move(slice));
}

void ClusterCache::drop_slice(const std::string& slice_id) {
  auto it = slices_.find(slice_id);
  if (it == slices_.end()) return;
  std::string owner = owner_of(it->second);
  if (!it->second.service_name.empty()) {
    dirty_.insert(owner);
    if (auto set = slices_of_service_.find(owner); set != slices_of_service_.end()) {
      set->second.erase(slice_id);
      if (set->second.empty()) slices_of_service_.erase(set);
    }
  }
  slices_.erase(it);
}

void ClusterCache::replace_slices(const std::vector<nlohmann::json>& objects) {
  std::set<std::string> seen;
  for (const auto& object : objects) {
    std::string id = id_of(object, true);
    seen.insert(id);
    auto parsed = k8s::parse_endpoint_slice(object);
    if (!parsed.ok()) {
      parse_errors_.push_back(parsed.error());
      continue;  // the last good version stays
    }
    auto old = slices_.find(id);
    if (old != slices_.end() && old->second.service_name == parsed->service_name &&
        old->second.resource_version == parsed->resource_version)
      continue;  // unchanged
    put_slice(std::move(*parsed));
  }
  std::vector<std::string> gone;
  for (const auto& [id, slice] : slices_)
    if (!seen.contains(id)) gone.push_back(id);
  for (const auto& id : gone) drop_slice(id);
}

void ClusterCache::upsert_slice(const nlohmann::json& object) {
  auto parsed = k8s::parse_endpoint_slice(object);
  if (!parsed.ok()) {
    parse_errors_.push_back(parsed.error());
    return;
  }
  put_slice(std::move(*parsed));
}

void ClusterCache::remove_slice(const nlohmann::json& object) { drop_slice(id_of(object, true)); }

// --- Nodes ------------------------------------------------------------------

void ClusterCache::replace_nodes(const std::vector<nlohmann::json>& objects) {
  std::map<std::string, k8s::Node> next;
  for (const auto& object : objects) {
    auto parsed = k8s::parse_node(object);
    std::string id = id_of(object, false);
    if (parsed.ok()) {
      next.emplace(id, std::move(*parsed));
    } else {
      parse_errors_.push_back(parsed.error());
      if (auto old = nodes_.find(id); old != nodes_.end()) next.emplace(id, old->second);
    }
  }
  nodes_ = std::move(next);
  nodes_dirty_ = true;
}

void ClusterCache::upsert_node(const nlohmann::json& object) {
  auto parsed = k8s::parse_node(object);
  if (!parsed.ok()) {
    parse_errors_.push_back(parsed.error());
    return;
  }
  std::string name = parsed->name;
  nodes_.insert_or_assign(name, std::move(*parsed));
  nodes_dirty_ = true;
}

void ClusterCache::remove_node(const nlohmann::json& object) {
  if (nodes_.erase(id_of(object, false))) nodes_dirty_ = true;
}

// --- The sync's view --------------------------------------------------------

CacheChanges ClusterCache::take_changes(bool all) {
  std::lock_guard lock(mutex_);
  CacheChanges out;
  if (all) {
    for (const auto& [id, service] : services_) dirty_.insert(id);
    nodes_dirty_ = true;
  }
  out.dirty = std::move(dirty_);
  dirty_.clear();
  for (const auto& id : out.dirty) {
    if (auto it = services_.find(id); it != services_.end()) out.services.emplace(id, it->second);
    auto& slices = out.slices[id];
    if (auto set = slices_of_service_.find(id); set != slices_of_service_.end())
      for (const auto& slice_id : set->second) slices.push_back(slices_.at(slice_id));
  }
  if (nodes_dirty_) {
    std::vector<k8s::Node> nodes;
    nodes.reserve(nodes_.size());
    for (const auto& [name, node] : nodes_) nodes.push_back(node);
    out.nodes = std::move(nodes);
    nodes_dirty_ = false;
  }
  out.parse_errors = std::move(parse_errors_);
  parse_errors_.clear();
  return out;
}

bool ClusterCache::has_changes() const {
  std::lock_guard lock(mutex_);
  return !dirty_.empty() || nodes_dirty_ || !parse_errors_.empty();
}

void ClusterCache::mark_dirty(const std::string& service_id) {
  std::lock_guard lock(mutex_);
  dirty_.insert(service_id);
}

ClusterCache::Sizes ClusterCache::sizes() const {
  std::lock_guard lock(mutex_);
  return {services_.size(), slices_.size(), nodes_.size()};
}

}  // namespace kvlb::cluster
