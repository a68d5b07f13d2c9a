#pragma once
// What the allocator is asked for and how it answers: plain values, so the
// Kubernetes layer can build requests from a Service and report problems as
// Events without knowing how allocation works.
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "model/address.h"
#include "model/types.h"

namespace kvlb::ipam {

// Fields named in problems.
inline constexpr const char* kFieldPool = "annotation kvlb.io/pool";
inline constexpr const char* kFieldIps = "annotation kvlb.io/ips";
inline constexpr const char* kFieldLoadBalancerIp = "spec.loadBalancerIP";
inline constexpr const char* kFieldIpFamilies = "spec.ipFamilies";
inline constexpr const char* kFieldStatus = "status.loadBalancer.ingress";  // IPs given to restore()

struct PortUse {
  model::Protocol protocol = model::Protocol::Tcp;
  uint16_t port = 0;
  std::string str() const;  // 80/tcp
  auto operator<=>(const PortUse&) const = default;
};

struct Request {
  std::string service;                       // "namespace/name": the key of an allocation
  std::string pool;                          // annotation kvlb.io/pool; "" = any pool with auto_assign
  std::vector<model::IpAddress> requested;   // spec.loadBalancerIP or annotation kvlb.io/ips: exactly these
  // Wanted when nothing is requested (dual-stack = both, one IP each), in the order given.
  std::vector<model::Family> families{model::Family::V4};
  std::string sharing_key;                   // annotation kvlb.io/sharing-key; "" = never shares
  std::vector<PortUse> ports;                // the Service's ports, for sharing conflicts
  std::string requested_field = kFieldLoadBalancerIp;  // named in problems ("annotation kvlb.io/ips")
};

// Why a request could not be met; reported as an Event on the Service.
struct Problem {
  std::string field;    // e.g. "annotation kvlb.io/ips", "annotation kvlb.io/pool", "spec.loadBalancerIP"
  std::string message;  // e.g. "192.0.2.77 is not in any pool"
  std::string str() const;  // "field: message"
  auto operator<=>(const Problem&) const = default;
};

// Sizes saturate at UINT64_MAX: IPv6 pools can be huge.
struct PoolUsage {
  std::string pool;
  uint64_t size_v4 = 0;
  uint64_t size_v6 = 0;
  uint64_t used_v4 = 0;
  uint64_t used_v6 = 0;
  auto operator<=>(const PoolUsage&) const = default;
};

}  // namespace kvlb::ipam
