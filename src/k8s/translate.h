#pragma once
// Pure translation of a Kubernetes Service (with its EndpointSlices, the
// cluster's Nodes and the IPs assigned to it) into model::Service values.
// No network, no clock: the same input always gives the same output.
#include <cstddef>
#include <string>
#include <vector>

#include "k8s/objects.h"
#include "model/address.h"
#include "model/types.h"

namespace kvlb::k8s {

inline constexpr const char* kDefaultLoadBalancerClass = "kvlb.io/lb";
inline constexpr const char* kAnnotationMode = "kvlb.io/mode";
inline constexpr const char* kAnnotationScheduler = "kvlb.io/scheduler";
inline constexpr const char* kAnnotationSnatAddress = "kvlb.io/snat-address";
inline constexpr const char* kAnnotationInstance = "kvlb.io/instance";  // HA cluster instance
// Read by IP address management, not by translation:
inline constexpr const char* kAnnotationIps = "kvlb.io/ips";                  // "192.0.2.7" or "192.0.2.7,2001:db8::7"
inline constexpr const char* kAnnotationPool = "kvlb.io/pool";                // pool name
inline constexpr const char* kAnnotationSharingKey = "kvlb.io/sharing-key";   // services with the same key may share an IP
inline constexpr uint32_t kDefaultClientIpTimeoutSeconds = 10800;  // the API's default
inline constexpr uint32_t kMaxClientIpTimeoutSeconds = 86400;      // the API's limit

// Which Services are kvlb's.
struct ClassSelection {
  std::string load_balancer_class = kDefaultLoadBalancerClass;
  bool include_classless = false;  // also take LoadBalancer Services without a class
};

// type LoadBalancer, and loadBalancerClass equal to the configured class (or
// unset, when class-less Services are allowed).
bool is_ours(const Service& service, const ClassSelection& selection);

enum class EndpointTarget {
  PodIP,     // pod addresses from the EndpointSlices, with the slice's port
  NodePort,  // NodeIP:nodePort of the cluster's nodes
};

struct TranslateOptions {
  EndpointTarget target = EndpointTarget::PodIP;
  std::size_t max_ports_per_service = 100;
  // The configured HA instances; empty without HA. A Service without the
  // instance annotation goes to "default" if there is one, else the first.
  std::vector<std::string> instances;
};

// Something about a Service that could not be translated as written.
struct Problem {
  std::string service;  // namespace/name
  std::string field;    // e.g. "annotation kvlb.io/mode", "spec.ports[2].port"
  std::string message;
  // default/web: annotation kvlb.io/mode: unknown value "dsr" (default, onearm, fullnat)
  std::string str() const;
  auto operator<=>(const Problem&) const = default;
};

struct Translation {
  std::vector<model::Service> services;  // sorted by key
  std::vector<Problem> problems;         // sorted, no duplicates
};

// One model::Service per Service port per assigned IP, named
// "namespace/name:portname" (or ":port" for an unnamed port). Whatever is
// wrong is reported in `problems`; the rest still translates.
Translation translate(const Service& service, const std::vector<EndpointSlice>& slices,
                      const std::vector<Node>& nodes, const std::vector<model::IpAddress>& assigned_ips,
                      const TranslateOptions& options);

}  // namespace kvlb::k8s
