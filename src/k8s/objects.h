#pragma once
// The parts of Kubernetes objects kvlb needs, as plain values parsed from the
// API's JSON. Parsing checks types and required fields only; what the values
// mean (port ranges, addresses, annotation values) is judged by translation,
// so one bad port or address does not hide the rest of the object.
// Nothing here throws: malformed input becomes a ParseError.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/result.h"

namespace kvlb::k8s {

inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

struct ParseError {
  std::string kind;    // Service, EndpointSlice, Node
  std::string object;  // namespace/name (or name), "" when unknown
  std::string field;   // JSON path, e.g. spec.ports[2].port
  std::string message;
  // Service default/web: spec.ports[2].port: expected an integer, got string
  std::string str() const;
};

template <typename T>
using Parsed = Result<T, ParseError>;

// targetPort: a number or the name of a container port.
struct IntOrString {
  std::optional<int64_t> number;
  std::string name;
  bool is_set() const { return number.has_value() || !name.empty(); }
};

struct ServicePort {
  std::string name;
  std::string protocol = "TCP";
  int64_t port = 0;       // range is checked by translation
  int64_t node_port = 0;  // 0 = none allocated
  IntOrString target_port;  // unset = same as port
};

// status.loadBalancer.ingress[i], as written (ip is "" for a hostname entry).
struct LoadBalancerIngress {
  std::string ip;
  std::string ip_mode;  // "" when unset
  auto operator<=>(const LoadBalancerIngress&) const = default;
};

struct Service {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::map<std::string, std::string> annotations;
  std::string type = "ClusterIP";
  std::optional<std::string> load_balancer_class;
  std::vector<ServicePort> ports;
  std::string session_affinity = "None";
  std::optional<int64_t> client_ip_timeout_seconds;  // sessionAffinityConfig.clientIP.timeoutSeconds
  std::string external_traffic_policy = "Cluster";
  std::string load_balancer_ip;  // spec.loadBalancerIP, "" if unset
  std::vector<std::string> ip_families;  // spec.ipFamilies, e.g. {"IPv4", "IPv6"}; empty if unset
  std::vector<LoadBalancerIngress> ingress;  // status.loadBalancer.ingress

  std::string id() const { return namespace_ + "/" + name; }
};

struct EndpointSlicePort {
  std::string name;
  std::optional<int64_t> port;  // unset: all ports (not usable for a Service port)
  std::string protocol = "TCP";
};

struct EndpointConditions {
  // Unset means unknown; the API says to read unknown ready and serving as
  // true and unknown terminating as false.
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
};

struct SliceEndpoint {
  std::vector<std::string> addresses;  // text as given; checked by translation
  EndpointConditions conditions;
  std::string node_name;
};

struct EndpointSlice {
  std::string namespace_;
  std::string name;
  std::string resource_version;
  std::string service_name;  // label kubernetes.io/service-name, "" if absent
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<EndpointSlicePort> ports;
  std::vector<SliceEndpoint> endpoints;

  std::string id() const { return namespace_ + "/" + name; }
};

struct Node {
  std::string name;
  std::vector<std::string> internal_ips;  // status.addresses[type=InternalIP], text as given
  bool ready = false;                     // condition Ready is "True"
};

Parsed<Service> parse_service(const nlohmann::json& object);
Parsed<EndpointSlice> parse_endpoint_slice(const nlohmann::json& object);
Parsed<Node> parse_node(const nlohmann::json& object);

// The same from JSON text (invalid JSON is a ParseError too).
Parsed<Service> parse_service_text(std::string_view json_text);
Parsed<EndpointSlice> parse_endpoint_slice_text(std::string_view json_text);
Parsed<Node> parse_node_text(std::string_view json_text);

}  // namespace kvlb::k8s
