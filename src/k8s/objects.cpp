#include "k8s/objects.h"

#include <limits>
#include <nlohmann/json.hpp>

namespace kvlb::k8s {

std::string ParseError::str() const {
  std::string out = kind;
  if (!object.empty()) out += " " + object;
  if (!field.empty()) out += ": " + field;
  return out + ": " + message;
}

namespace {

using json = nlohmann::json;

// Thrown inside this file only, caught by the parse_* entry points.
struct Failure {
  std::string field;
  std::string message;
};

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

[[noreturn]] void fail_type(const json& value, const std::string& field, std::string_view expected) {
  throw Failure{field, "expected " + std::string(expected) + ", got " + std::string(value.type_name())};
}

// A member that is absent or null is treated as unset, as the API does.
const json* member(const json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& as_object(const json& value, const std::string& field) {
  if (!value.is_object()) fail_type(value, field, "an object");
  return value;
}

const json& as_array(const json& value, const std::string& field) {
  if (!value.is_array()) fail_type(value, field, "a list");
  return value;
}

std::string as_string(const json& value, const std::string& field) {
  if (!value.is_string()) fail_type(value, field, "a string");
  return value.get<std::string>();
}

bool as_bool(const json& value, const std::string& field) {
  if (!value.is_boolean()) fail_type(value, field, "a boolean");
  return value.get<bool>();
}

int64_t as_int(const json& value, const std::string& field) {
  if (value.is_number_unsigned()) {
    auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw Failure{field, "integer out of range"};
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  fail_type(value, field, "an integer");
}

std::optional<std::string> opt_string(const json& object, std::string_view key, const std::string& path) {
  if (auto v = member(object, key)) return as_string(*v, join(path, key));
  return std::nullopt;
}

std::string required_string(const json& object, std::string_view key, const std::string& path) {
  auto v = opt_string(object, key, path);
  if (!v) throw Failure{join(path, key), "missing"};
  if (v->empty()) throw Failure{join(path, key), "empty"};
  return *v;
}

std::map<std::string, std::string> string_map(const json& object, std::string_view key, const std::string& path) {
  std::map<std::string, std::string> out;
  const json* m = member(object, key);
  if (!m) return out;
  std::string field = join(path, key);
  as_object(*m, field);
  for (auto it = m->begin(); it != m->end(); ++it) out[it.key()] = as_string(it.value(), field + "[" + it.key() + "]");
  return out;
}

struct Meta {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> labels;
};

// Reads metadata first so that later errors can name the object. `object`
// (namespace/name) is filled in as soon as it is known.
Meta parse_meta(const json& top, std::string_view kind, bool namespaced, std::string& object) {
  if (!top.is_object()) fail_type(top, "", "an object");
  if (auto k = opt_string(top, "kind", ""); k && *k != kind)
    throw Failure{"kind", "expected " + std::string(kind) + ", got \"" + *k + "\""};
  const json* md = member(top, "metadata");
  if (!md) throw Failure{"metadata", "missing"};
  as_object(*md, "metadata");
  Meta meta;
  // Name what is known before checking the rest.
  std::string known_name, known_namespace;
  if (auto n = member(*md, "name"); n && n->is_string()) known_name = n->get<std::string>();
  if (auto ns = member(*md, "namespace"); namespaced && ns && ns->is_string()) known_namespace = ns->get<std::string>();
  object = known_namespace.empty() ? known_name
           : known_name.empty()    ? known_namespace + "/?"
                                   : known_namespace + "/" + known_name;
  if (namespaced) meta.namespace_ = required_string(*md, "namespace", "metadata");
  meta.name = required_string(*md, "name", "metadata");
  meta.uid = opt_string(*md, "uid", "metadata").value_or("");
  meta.resource_version = opt_string(*md, "resourceVersion", "metadata").value_or("");
  meta.annotations = string_map(*md, "annotations", "metadata");
  meta.labels = string_map(*md, "labels", "metadata");
  return meta;
}

template <typename T, typename F>
Parsed<T> guarded(std::string_view kind, F&& body) {
  std::string object;
  try {
    return body(object);
  } catch (const Failure& f) {
    return ParseError{std::string(kind), object, f.field, f.message};
  } catch (const std::exception& e) {
    return ParseError{std::string(kind), object, "", e.what()};
  } catch (...) {
    return ParseError{std::string(kind), object, "", "unexpected error"};
  }
}

ServicePort parse_service_port(const json& value, const std::string& field) {
  as_object(value, field);
  ServicePort p;
  p.name = opt_string(value, "name", field).value_or("");
  p.protocol = opt_string(value, "protocol", field).value_or("TCP");
  const json* port = member(value, "port");
  if (!port) throw Failure{join(field, "port"), "missing"};
  p.port = as_int(*port, join(field, "port"));
  if (auto np = member(value, "nodePort")) p.node_port = as_int(*np, join(field, "nodePort"));
  if (auto tp = member(value, "targetPort")) {
    std::string tf = join(field, "targetPort");
    if (tp->is_string()) {
      p.target_port.name = tp->get<std::string>();
    } else if (tp->is_number()) {
      p.target_port.number = as_int(*tp, tf);
    } else {
      fail_type(*tp, tf, "an integer or a string");
    }
  }
  return p;
}

Service parse_service_body(const json& top, std::string& object) {
  Meta meta = parse_meta(top, "Service", true, object);
  Service s;
  s.namespace_ = std::move(meta.namespace_);
  s.name = std::move(meta.name);
  s.uid = std::move(meta.uid);
  s.resource_version = std::move(meta.resource_version);
  s.annotations = std::move(meta.annotations);

  const json* spec = member(top, "spec");
  if (!spec) throw Failure{"spec", "missing"};
  as_object(*spec, "spec");
  s.type = opt_string(*spec, "type", "spec").value_or("ClusterIP");
  s.load_balancer_class = opt_string(*spec, "loadBalancerClass", "spec");
  if (auto ports = member(*spec, "ports")) {
    as_array(*ports, "spec.ports");
    s.ports.reserve(ports->size());
    for (std::size_t i = 0; i < ports->size(); ++i) s.ports.push_back(parse_service_port((*ports)[i], index("spec.ports", i)));
  }
  s.session_affinity = opt_string(*spec, "sessionAffinity", "spec").value_or("None");
  if (auto cfg = member(*spec, "sessionAffinityConfig")) {
    as_object(*cfg, "spec.sessionAffinityConfig");
    if (auto cip = member(*cfg, "clientIP")) {
      as_object(*cip, "spec.sessionAffinityConfig.clientIP");
      if (auto t = member(*cip, "timeoutSeconds"))
        s.client_ip_timeout_seconds = as_int(*t, "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
    }
  }
  s.external_traffic_policy = opt_string(*spec, "externalTrafficPolicy", "spec").value_or("Cluster");
  s.load_balancer_ip = opt_string(*spec, "loadBalancerIP", "spec").value_or("");
  if (auto families = member(*spec, "ipFamilies")) {
    as_array(*families, "spec.ipFamilies");
    for (std::size_t i = 0; i < families->size(); ++i) {
      std::string f = index("spec.ipFamilies", i);
      if (!(*families)[i].is_string()) fail_type((*families)[i], f, "a string");
      s.ip_families.push_back((*families)[i].get<std::string>());
    }
  }

  if (auto status = member(top, "status")) {
    as_object(*status, "status");
    if (auto lb = member(*status, "loadBalancer")) {
      as_object(*lb, "status.loadBalancer");
      if (auto ingress = member(*lb, "ingress")) {
        as_array(*ingress, "status.loadBalancer.ingress");
        for (std::size_t i = 0; i < ingress->size(); ++i) {
          std::string f = index("status.loadBalancer.ingress", i);
          as_object((*ingress)[i], f);
          LoadBalancerIngress entry;
          entry.ip = opt_string((*ingress)[i], "ip", f).value_or("");
          entry.ip_mode = opt_string((*ingress)[i], "ipMode", f).value_or("");
          s.ingress.push_back(std::move(entry));
        }
      }
    }
  }
  return s;
}

EndpointSlice parse_slice_body(const json& top, std::string& object) {
  Meta meta = parse_meta(top, "EndpointSlice", true, object);
  EndpointSlice es;
  es.namespace_ = std::move(meta.namespace_);
  es.name = std::move(meta.name);
  es.resource_version = std::move(meta.resource_version);
  if (auto it = meta.labels.find(kServiceNameLabel); it != meta.labels.end()) es.service_name = it->second;
  es.address_type = required_string(top, "addressType", "");
  if (auto ports = member(top, "ports")) {
    as_array(*ports, "ports");
    for (std::size_t i = 0; i < ports->size(); ++i) {
      std::string f = index("ports", i);
      const json& p = as_object((*ports)[i], f);
      EndpointSlicePort port;
      port.name = opt_string(p, "name", f).value_or("");
      if (auto n = member(p, "port")) port.port = as_int(*n, join(f, "port"));
      port.protocol = opt_string(p, "protocol", f).value_or("TCP");
      es.ports.push_back(std::move(port));
    }
  }
  if (auto endpoints = member(top, "endpoints")) {
    as_array(*endpoints, "endpoints");
    for (std::size_t i = 0; i < endpoints->size(); ++i) {
      std::string f = index("endpoints", i);
      const json& e = as_object((*endpoints)[i], f);
      SliceEndpoint ep;
      const json* addresses = member(e, "addresses");
      if (!addresses) throw Failure{join(f, "addresses"), "missing"};
      as_array(*addresses, join(f, "addresses"));
      for (std::size_t a = 0; a < addresses->size(); ++a)
        ep.addresses.push_back(as_string((*addresses)[a], index(join(f, "addresses"), a)));
      if (auto c = member(e, "conditions")) {
        std::string cf = join(f, "conditions");
        as_object(*c, cf);
        if (auto v = member(*c, "ready")) ep.conditions.ready = as_bool(*v, join(cf, "ready"));
        if (auto v = member(*c, "serving")) ep.conditions.serving = as_bool(*v, join(cf, "serving"));
        if (auto v = member(*c, "terminating")) ep.conditions.terminating = as_bool(*v, join(cf, "terminating"));
      }
      ep.node_name = opt_string(e, "nodeName", f).value_or("");
      es.endpoints.push_back(std::move(ep));
    }
  }
  return es;
}

Node parse_node_body(const json& top, std::string& object) {
  Meta meta = parse_meta(top, "Node", false, object);
  Node n;
  n.name = std::move(meta.name);
  const json* status = member(top, "status");
  if (!status) return n;
  as_object(*status, "status");
  if (auto addresses = member(*status, "addresses")) {
    as_array(*addresses, "status.addresses");
    for (std::size_t i = 0; i < addresses->size(); ++i) {
      std::string f = index("status.addresses", i);
      const json& a = as_object((*addresses)[i], f);
      auto type = opt_string(a, "type", f).value_or("");
      auto address = opt_string(a, "address", f).value_or("");
      if (type == "InternalIP" && !address.empty()) n.internal_ips.push_back(address);
    }
  }
  if (auto conditions = member(*status, "conditions")) {
    as_array(*conditions, "status.conditions");
    for (std::size_t i = 0; i < conditions->size(); ++i) {
      std::string f = index("status.conditions", i);
      const json& c = as_object((*conditions)[i], f);
      if (opt_string(c, "type", f).value_or("") == "Ready") n.ready = opt_string(c, "status", f).value_or("") == "True";
    }
  }
  return n;
}

template <typename T, typename F>
Parsed<T> from_text(std::string_view kind, std::string_view text, F&& parse) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception& e) {
    return ParseError{std::string(kind), "", "", e.what()};
  }
  if (doc.is_discarded()) return ParseError{std::string(kind), "", "", "invalid JSON"};
  return parse(doc);
}

}  // namespace

Parsed<Service> parse_service(const json& object) {
  return guarded<Service>("Service", [&](std::string& id) { return parse_service_body(object, id); });
}

Parsed<EndpointSlice> parse_endpoint_slice(const json& object) {
  return guarded<EndpointSlice>("EndpointSlice", [&](std::string& id) { return parse_slice_body(object, id); });
}

Parsed<Node> parse_node(const json& object) {
  return guarded<Node>("Node", [&](std::string& id) { return parse_node_body(object, id); });
}

Parsed<Service> parse_service_text(std::string_view json_text) {
  return from_text<Service>("Service", json_text, [](const json& j) { return parse_service(j); });
}

Parsed<EndpointSlice> parse_endpoint_slice_text(std::string_view json_text) {
  return from_text<EndpointSlice>("EndpointSlice", json_text, [](const json& j) { return parse_endpoint_slice(j); });
}

Parsed<Node> parse_node_text(std::string_view json_text) {
  return from_text<Node>("Node", json_text, [](const json& j) { return parse_node(j); });
}

}  // namespace kvlb::k8s
