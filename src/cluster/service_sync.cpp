#include "cluster/service_sync.h"

#include <algorithm>

namespace kvlb::cluster {
namespace {

constexpr const char* kReasonAllocation = "AllocationFailed";
constexpr const char* kReasonInvalid = "InvalidService";

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return std::string(text);
}

std::optional<model::Protocol> protocol_of(const std::string& k8s_protocol) {
  if (k8s_protocol == "TCP") return model::Protocol::Tcp;
  if (k8s_protocol == "UDP") return model::Protocol::Udp;
  if (k8s_protocol == "SCTP") return model::Protocol::Sctp;
  return std::nullopt;
}

std::string annotation(const k8s::Service& service, const char* key) {
  auto it = service.annotations.find(key);
  return it == service.annotations.end() ? "" : it->second;
}

}  // namespace

SyncOptions sync_options_from(const model::KubernetesSettings& settings) {
  SyncOptions options;
  options.selection.load_balancer_class = settings.load_balancer_class;
  options.selection.include_classless = settings.include_classless;
  options.translate.target = settings.node_port_targets ? k8s::EndpointTarget::NodePort : k8s::EndpointTarget::PodIP;
  options.translate.max_ports_per_service = settings.max_ports_per_service;
  options.translate.instances = settings.ha_instances;
  options.ip_mode = settings.ip_mode;
  return options;
}

ServiceSync::ServiceSync(std::vector<model::IpPool> pools, SyncOptions options)
    : allocator_(std::move(pools)), options_(std::move(options)) {}

void ServiceSync::reconfigure(std::vector<model::IpPool> pools, SyncOptions options) {
  allocator_.set_pools(std::move(pools));
  options_ = std::move(options);
}

std::optional<ipam::Request> ServiceSync::request_for(const k8s::Service& service,
                                                      std::vector<ipam::Problem>& problems) const {
  ipam::Request request;
  request.service = service.id();
  request.pool = annotation(service, k8s::kAnnotationPool);
  request.sharing_key = annotation(service, k8s::kAnnotationSharingKey);
  std::string requested = annotation(service, k8s::kAnnotationIps);
  if (!requested.empty()) {
    request.requested_field = std::string("annotation ") + k8s::kAnnotationIps;
  } else {
    requested = service.load_balancer_ip;
    request.requested_field = "spec.loadBalancerIP";
  }
  std::string_view rest = requested;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string item = trimmed(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto ip = model::IpAddress::parse(item);
    if (!ip || !ip->is_usable_unicast()) {
      problems.push_back({request.requested_field, "\"" + item + "\" is not a usable unicast IP address"});
      return std::nullopt;
    }
    request.requested.push_back(*ip);
  }
  if (!service.ip_families.empty()) {
    request.families.clear();
    for (const auto& family : service.ip_families) {
      if (family == "IPv4") request.families.push_back(model::Family::V4);
      else if (family == "IPv6") request.families.push_back(model::Family::V6);
    }
    if (request.families.empty()) request.families.push_back(model::Family::V4);
  }
  for (const auto& port : service.ports) {
    auto protocol = protocol_of(port.protocol);
    if (protocol && port.port >= 1 && port.port <= 65535)
      request.ports.push_back({*protocol, static_cast<uint16_t>(port.port)});
  }
  return request;
}

void ServiceSync::restore_allocations(const CacheChanges& changes) {
  // In id order, so that two Services claiming one IP resolve the same way
  // on every restart; the loser is given a new IP by the normal pass.
  for (const auto& [id, service] : changes.services) {
    if (!k8s::is_ours(service, options_.selection) || service.ingress.empty()) continue;
    std::vector<ipam::Problem> ignored;
    auto request = request_for(service, ignored);
    if (!request) continue;
    std::vector<model::IpAddress> ips;
    for (const auto& entry : service.ingress)
      if (auto ip = model::IpAddress::parse(entry.ip)) ips.push_back(*ip);
    if (ips.empty()) continue;
    if (auto restored = allocator_.restore(*request, ips); restored.ok()) records_[id].ips = *restored;
  }
}

SyncResult ServiceSync::sync(const CacheChanges& changes) {
  SyncResult result;
  if (!first_pass_done_) restore_allocations(changes);
  if (changes.nodes) nodes_ = *changes.nodes;
  for (const auto& error : changes.parse_errors) {
    if (error.kind != "Service") {
      result.log.push_back(error.str());
      continue;
    }
    auto slash = error.object.find('/');
    if (slash == std::string::npos) {
      result.log.push_back(error.str());
      continue;
    }
    result.events.push_back({error.object.substr(0, slash), error.object.substr(slash + 1), "", kReasonInvalid,
                             error.field + ": " + error.message + " (the last valid version stays in effect)"});
  }
  std::set<std::string> ids = changes.dirty;
  // Which nodes are ready decides NodePort targets: every Service of ours
  // must be translated again when they change.
  if (changes.nodes && options_.translate.target == k8s::EndpointTarget::NodePort)
    for (const auto& [id, record] : records_) ids.insert(id);
  static const std::vector<k8s::EndpointSlice> kNoSlices;
  for (const auto& id : ids) {
    auto service = changes.services.find(id);
    auto slices = changes.slices.find(id);
    const std::vector<k8s::EndpointSlice>* slice_list = &kNoSlices;
    if (slices != changes.slices.end()) slice_list = &slices->second;
    if (service == changes.services.end() && changes.dirty.contains(id)) {
      sync_one(id, nullptr, *slice_list, result);
    } else if (service != changes.services.end()) {
      sync_one(id, &service->second, *slice_list, result);
    }
  }
  first_pass_done_ = true;
  return result;
}

void ServiceSync::forget(const std::string& id, const k8s::Service* service, SyncResult& result) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  Record& record = it->second;
  allocator_.release(id);
  if (!record.translated.empty()) {
    service_total_ -= record.translated.size();
    result.services_changed = true;
  }
  // No longer ours: take back the IPs kvlb wrote, and nothing someone else wrote.
  if (service && !service->ingress.empty()) {
    bool only_ours = std::all_of(service->ingress.begin(), service->ingress.end(), [&](const auto& entry) {
      auto ip = model::IpAddress::parse(entry.ip);
      return ip && std::find(record.ips.begin(), record.ips.end(), *ip) != record.ips.end();
    });
    if (only_ours) result.status.push_back({service->namespace_, service->name, {}});
  }
  records_.erase(it);
}

void ServiceSync::sync_one(const std::string& id, const k8s::Service* service,
                           const std::vector<k8s::EndpointSlice>& slices, SyncResult& result) {
  if (!service || !k8s::is_ours(*service, options_.selection)) {
    forget(id, service, result);
    return;
  }
  Record& record = records_[id];
  std::vector<std::pair<std::string, std::string>> found;  // (reason, message)
  std::vector<ipam::Problem> ipam_problems;
  if (auto request = request_for(*service, ipam_problems)) {
    auto assigned = allocator_.assign(*request);
    if (assigned.ok()) {
      record.ips = *assigned;
    } else {
      ipam_problems.push_back(assigned.error());
      auto kept = allocator_.allocation(id);
      record.ips = kept ? *kept : std::vector<model::IpAddress>{};
    }
  }
  // An unreadable request keeps whatever the Service had.
  for (const auto& p : ipam_problems) found.emplace_back(kReasonAllocation, p.str());

  auto translation = k8s::translate(*service, slices, nodes_, record.ips, options_.translate);
  for (const auto& p : translation.problems) found.emplace_back(kReasonInvalid, p.field + ": " + p.message);
  if (translation.services != record.translated) {
    service_total_ = service_total_ - record.translated.size() + translation.services.size();
    record.translated = std::move(translation.services);
    result.services_changed = true;
  }

  std::set<std::pair<std::string, std::string>> now(found.begin(), found.end());
  for (const auto& [reason, message] : found)
    if (!record.reported.contains({reason, message}))
      result.events.push_back({service->namespace_, service->name, service->uid, reason, message});
  record.reported = std::move(now);  // a problem that went away is reported again if it comes back
  record.problems.clear();
  for (const auto& [reason, message] : found) record.problems.push_back(message);

  std::vector<k8s::LoadBalancerIngress> wanted;
  for (const auto& ip : record.ips) wanted.push_back({ip.str(), options_.ip_mode});
  if (wanted == service->ingress) {
    record.written.reset();
  } else if (!(record.written == wanted && record.written_over_version == service->resource_version)) {
    result.status.push_back({service->namespace_, service->name, wanted});
    record.written = wanted;
    record.written_over_version = service->resource_version;
  }
}

void ServiceSync::status_write_failed(const std::string& service_id) {
  if (auto it = records_.find(service_id); it != records_.end()) it->second.written.reset();
}

std::vector<model::Service> ServiceSync::services() const {
  std::vector<model::Service> out;
  out.reserve(service_total_);
  for (const auto& [id, record] : records_) out.insert(out.end(), record.translated.begin(), record.translated.end());
  std::sort(out.begin(), out.end(), [](const model::Service& a, const model::Service& b) { return a.key < b.key; });
  return out;
}

std::map<std::string, std::vector<std::string>> ServiceSync::problems() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [id, record] : records_)
    if (!record.problems.empty()) out[id] = record.problems;
  return out;
}

}  // namespace kvlb::cluster
