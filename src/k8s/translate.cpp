#include "k8s/translate.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace kvlb::k8s {

std::string Problem::str() const {
  std::string out = service;
  if (!field.empty()) out += ": " + field;
  return out + ": " + message;
}

bool is_ours(const Service& service, const ClassSelection& selection) {
  if (service.type != "LoadBalancer") return false;
  if (!service.load_balancer_class) return selection.include_classless;
  return *service.load_balancer_class == selection.load_balancer_class;
}

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string field_of_port(std::size_t i, std::string_view member = {}) {
  std::string f = "spec.ports[" + std::to_string(i) + "]";
  if (!member.empty()) f += "." + std::string(member);
  return f;
}

std::optional<model::Protocol> protocol_of(const std::string& k8s_protocol) {
  if (k8s_protocol == "TCP") return model::Protocol::Tcp;
  if (k8s_protocol == "UDP") return model::Protocol::Udp;
  if (k8s_protocol == "SCTP") return model::Protocol::Sctp;
  return std::nullopt;
}

const char* address_type_of(model::Family f) { return f == model::Family::V4 ? "IPv4" : "IPv6"; }

class Translator {
 public:
  Translator(const Service& svc, const std::vector<EndpointSlice>& slices, const std::vector<Node>& nodes,
             const TranslateOptions& options)
      : svc_(svc), options_(options), id_(svc.id()) {
    for (const auto& n : nodes) nodes_.push_back(&n);
    // The Service's own slices, in name order so the output does not depend
    // on the order the caller keeps them in.
    for (const auto& s : slices)
      if (s.namespace_ == svc.namespace_ && s.service_name == svc.name) slices_.push_back(&s);
    std::sort(slices_.begin(), slices_.end(), [](const EndpointSlice* a, const EndpointSlice* b) {
      return a->name < b->name;
    });
    std::sort(nodes_.begin(), nodes_.end(), [](const Node* a, const Node* b) { return a->name < b->name; });
  }

  Translation run(const std::vector<model::IpAddress>& assigned_ips) {
    Settings settings = settings_from_spec();
    std::vector<PortSpec> ports = checked_ports();
    std::set<model::IpAddress> vips;
    for (const auto& ip : assigned_ips) {
      if (!ip.is_usable_unicast()) {
        problem("assigned IP", quoted(ip.str()) + " is not a usable unicast address");
        continue;
      }
      vips.insert(ip);
    }
    for (const auto& vip : vips) {
      std::optional<model::IpAddress> snat = settings.snat;
      if (snat && snat->family() != vip.family()) {
        problem(std::string("annotation ") + kAnnotationSnatAddress,
                quoted(snat->str()) + " is not of the same address family as " + vip.str() + "; not used for it");
        snat.reset();
      }
      for (const auto& port : ports) {
        model::Service m;
        m.name = id_ + ":" + (port.spec->name.empty() ? std::to_string(port.spec->port) : port.spec->name);
        m.key = {vip, static_cast<uint16_t>(port.spec->port), port.protocol};
        m.scheduler = settings.scheduler;
        m.persistence_seconds = settings.persistence;
        m.mode = settings.mode;
        m.snat_address = snat;
        m.instance = settings.instance;
        if (options_.target == EndpointTarget::PodIP) {
          m.endpoints = pod_endpoints(port, vip.family());
        } else {
          if (!port.node_port) continue;  // reported in checked_ports
          m.endpoints = node_endpoints(*port.node_port, vip.family());
        }
        out_.services.push_back(std::move(m));
      }
    }
    std::sort(out_.services.begin(), out_.services.end(),
              [](const model::Service& a, const model::Service& b) { return a.key < b.key; });
    std::sort(out_.problems.begin(), out_.problems.end());
    out_.problems.erase(std::unique(out_.problems.begin(), out_.problems.end()), out_.problems.end());
    return std::move(out_);
  }

 private:
  struct Settings {
    std::string scheduler = "rr";
    uint32_t persistence = 0;
    model::NatMode mode = model::NatMode::Default;
    std::optional<model::IpAddress> snat;
    std::string instance = "default";
  };

  struct PortSpec {
    const ServicePort* spec;
    model::Protocol protocol;
    std::optional<uint16_t> node_port;  // when valid
  };

  void problem(std::string field, std::string message) {
    out_.problems.push_back({id_, std::move(field), std::move(message)});
  }

  const std::string* annotation(const char* key) const {
    auto it = svc_.annotations.find(key);
    return it == svc_.annotations.end() ? nullptr : &it->second;
  }

  Settings settings_from_spec() {
    Settings s;
    if (svc_.session_affinity == "ClientIP") {
      s.persistence = kDefaultClientIpTimeoutSeconds;
      if (auto t = svc_.client_ip_timeout_seconds) {
        if (*t >= 1 && *t <= kMaxClientIpTimeoutSeconds) {
          s.persistence = static_cast<uint32_t>(*t);
        } else {
          problem("spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                  std::to_string(*t) + " is out of range (1-" + std::to_string(kMaxClientIpTimeoutSeconds) +
                      "); using " + std::to_string(kDefaultClientIpTimeoutSeconds));
        }
      }
    } else if (svc_.session_affinity != "None" && !svc_.session_affinity.empty()) {
      problem("spec.sessionAffinity", "unknown value " + quoted(svc_.session_affinity) + " (None, ClientIP)");
    }
    if (auto v = annotation(kAnnotationMode)) {
      if (auto mode = model::parse_nat_mode(*v)) s.mode = *mode;
      else problem(std::string("annotation ") + kAnnotationMode, "unknown value " + quoted(*v) + " (default, onearm, fullnat)");
    }
    if (auto v = annotation(kAnnotationScheduler)) {
      if (model::is_known_scheduler(*v)) {
        s.scheduler = *v;
      } else {
        std::string known;
        for (const auto& name : model::known_schedulers()) known += (known.empty() ? "" : ", ") + name;
        problem(std::string("annotation ") + kAnnotationScheduler, "unknown value " + quoted(*v) + " (" + known + ")");
      }
    }
    if (auto v = annotation(kAnnotationSnatAddress)) {
      std::string field = std::string("annotation ") + kAnnotationSnatAddress;
      auto ip = model::IpAddress::parse(*v);
      if (!ip) problem(field, quoted(*v) + " is not an IP address");
      else if (!ip->is_usable_unicast()) problem(field, quoted(*v) + " is not a usable unicast address");
      else if (s.mode == model::NatMode::Default) problem(field, "only valid with kvlb.io/mode onearm or fullnat");
      else s.snat = *ip;
    }
    s.instance = instance_of_service();
    return s;
  }

  std::string instance_of_service() {
    const auto& known = options_.instances;
    std::string fallback = known.empty() || std::find(known.begin(), known.end(), "default") != known.end()
                               ? "default"
                               : known.front();
    auto v = annotation(kAnnotationInstance);
    if (!v) return fallback;
    std::string field = std::string("annotation ") + kAnnotationInstance;
    if (known.empty()) {
      problem(field, "HA is not configured on this node; ignored");
      return fallback;
    }
    if (std::find(known.begin(), known.end(), *v) != known.end()) return *v;
    std::string names;
    for (const auto& n : known) names += (names.empty() ? "" : ", ") + n;
    problem(field, "unknown instance " + quoted(*v) + " (" + names + "); using " + quoted(fallback));
    return fallback;
  }

  std::vector<PortSpec> checked_ports() {
    std::vector<PortSpec> out;
    std::size_t count = svc_.ports.size();
    if (count > options_.max_ports_per_service) {
      problem("spec.ports", std::to_string(count) + " ports, more than the limit of " +
                                std::to_string(options_.max_ports_per_service) + "; only the first " +
                                std::to_string(options_.max_ports_per_service) + " are used");
      count = options_.max_ports_per_service;
    }
    std::set<std::pair<int64_t, model::Protocol>> seen;
    for (std::size_t i = 0; i < count; ++i) {
      const ServicePort& p = svc_.ports[i];
      if (p.port < 1 || p.port > 65535) {
        problem(field_of_port(i, "port"), std::to_string(p.port) + " is out of range (1-65535)");
        continue;
      }
      auto protocol = protocol_of(p.protocol);
      if (!protocol) {
        problem(field_of_port(i, "protocol"), "unknown value " + quoted(p.protocol) + " (TCP, UDP, SCTP)");
        continue;
      }
      if (!seen.insert({p.port, *protocol}).second) {
        problem(field_of_port(i), "duplicate port " + std::to_string(p.port) + "/" + p.protocol);
        continue;
      }
      PortSpec spec{&p, *protocol, std::nullopt};
      if (options_.target == EndpointTarget::NodePort) {
        if (p.node_port < 1 || p.node_port > 65535)
          problem(field_of_port(i, "nodePort"), p.node_port == 0 ? "not allocated; needed for NodePort targets"
                                                                  : std::to_string(p.node_port) + " is out of range (1-65535)");
        else
          spec.node_port = static_cast<uint16_t>(p.node_port);
      }
      out.push_back(spec);
    }
    return out;
  }

  // The slice port that serves Service port `port`: by name (the endpoint
  // slice controller names slice ports after Service ports), else by the
  // numeric targetPort.
  std::optional<uint16_t> slice_port(const EndpointSlice& slice, const PortSpec& port) const {
    std::string proto(port.spec->protocol);
    const EndpointSlicePort* match = nullptr;
    for (const auto& sp : slice.ports)
      if (sp.name == port.spec->name && sp.protocol == proto && sp.port) match = &sp;
    if (!match && port.spec->target_port.name.empty()) {
      int64_t target = port.spec->target_port.number.value_or(port.spec->port);
      for (const auto& sp : slice.ports)
        if (sp.protocol == proto && sp.port && *sp.port == target) match = &sp;
    }
    if (!match) return std::nullopt;
    if (*match->port < 1 || *match->port > 65535) return std::nullopt;
    return static_cast<uint16_t>(*match->port);
  }

  // Weight of an endpoint: 1 ready, 0 serving but terminating (drained),
  // nullopt for anything else (absent).
  static std::optional<uint32_t> weight_of(const EndpointConditions& c) {
    bool ready = c.ready.value_or(true);
    bool serving = c.serving.value_or(ready);
    bool terminating = c.terminating.value_or(false);
    if (ready && !terminating) return 1;
    if (serving && terminating) return 0;
    return std::nullopt;
  }

  std::string endpoint_field(const EndpointSlice& slice, std::size_t i) const {
    return "EndpointSlice " + slice.name + " endpoints[" + std::to_string(i) + "]";
  }

  // The usable first address of an endpoint of the given family, reporting a
  // bad one.
  std::optional<model::IpAddress> endpoint_address(const EndpointSlice& slice, std::size_t i, model::Family family) {
    const SliceEndpoint& ep = slice.endpoints[i];
    if (ep.addresses.empty()) {
      problem(endpoint_field(slice, i), "no addresses");
      return std::nullopt;
    }
    // Addresses of one endpoint are fungible; the first is used.
    const std::string& text = ep.addresses.front();
    auto ip = model::IpAddress::parse(text);
    if (!ip) problem(endpoint_field(slice, i), quoted(text) + " is not an IP address");
    else if (!ip->is_usable_unicast()) problem(endpoint_field(slice, i), quoted(text) + " is not a usable unicast address");
    else if (ip->family() != family) problem(endpoint_field(slice, i), quoted(text) + " does not match addressType " + slice.address_type);
    else return ip;
    return std::nullopt;
  }

  static void add(std::map<model::RealServerKey, uint32_t>& into, model::RealServerKey key, uint32_t weight) {
    // The same endpoint in two slices (while the controller moves it): the
    // higher weight wins, so a ready copy is not drained by a stale one.
    auto [it, inserted] = into.emplace(key, weight);
    if (!inserted) it->second = std::max(it->second, weight);
  }

  static std::vector<model::Endpoint> to_endpoints(const std::map<model::RealServerKey, uint32_t>& m) {
    std::vector<model::Endpoint> out;
    out.reserve(m.size());
    for (const auto& [key, weight] : m) out.push_back({key.ip, key.port, weight});
    return out;
  }

  std::vector<model::Endpoint> pod_endpoints(const PortSpec& port, model::Family family) {
    std::map<model::RealServerKey, uint32_t> found;
    for (const EndpointSlice* slice : slices_) {
      if (slice->address_type != address_type_of(family)) continue;
      auto target = slice_port(*slice, port);
      if (!target) continue;
      for (std::size_t i = 0; i < slice->endpoints.size(); ++i) {
        auto weight = weight_of(slice->endpoints[i].conditions);
        if (!weight) continue;
        if (auto ip = endpoint_address(*slice, i, family)) add(found, {*ip, *target}, *weight);
      }
    }
    return to_endpoints(found);
  }

  // The first usable InternalIP of the family, reporting bad addresses.
  std::optional<model::IpAddress> node_address(const Node& node, model::Family family) {
    for (const auto& text : node.internal_ips) {
      auto ip = model::IpAddress::parse(text);
      std::string field = "node " + node.name + " InternalIP";
      if (!ip) problem(field, quoted(text) + " is not an IP address");
      else if (!ip->is_usable_unicast()) problem(field, quoted(text) + " is not a usable unicast address");
      else if (ip->family() == family) return ip;
    }
    return std::nullopt;
  }

  std::vector<model::Endpoint> node_endpoints(uint16_t node_port, model::Family family) {
    std::map<model::RealServerKey, uint32_t> found;
    bool local = svc_.external_traffic_policy == "Local";
    // Local: the best weight of the Service's endpoints on each node (1 if
    // one is ready, 0 if only terminating ones still serve).
    std::map<std::string, uint32_t> hosting;
    if (local) {
      for (const EndpointSlice* slice : slices_)
        for (const auto& ep : slice->endpoints) {
          auto weight = weight_of(ep.conditions);
          if (!weight || ep.node_name.empty()) continue;
          auto [it, inserted] = hosting.emplace(ep.node_name, *weight);
          if (!inserted) it->second = std::max(it->second, *weight);
        }
    }
    for (const Node* node : nodes_) {
      if (!node->ready) continue;
      uint32_t weight = 1;
      if (local) {
        auto it = hosting.find(node->name);
        if (it == hosting.end()) continue;
        weight = it->second;
      }
      if (auto ip = node_address(*node, family)) add(found, {*ip, node_port}, weight);
    }
    return to_endpoints(found);
  }

  const Service& svc_;
  std::vector<const EndpointSlice*> slices_;
  std::vector<const Node*> nodes_;
  const TranslateOptions& options_;
  std::string id_;
  Translation out_;
};

}  // namespace

Translation translate(const Service& service, const std::vector<EndpointSlice>& slices,
                      const std::vector<Node>& nodes, const std::vector<model::IpAddress>& assigned_ips,
                      const TranslateOptions& options) {
  try {
    return Translator(service, slices, nodes, options).run(assigned_ips);
  } catch (const std::exception& e) {
    Translation t;
    t.problems.push_back({service.id(), "", std::string("translation failed: ") + e.what()});
    return t;
  }
}

}  // namespace kvlb::k8s
