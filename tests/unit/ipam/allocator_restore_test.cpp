// restore(): allocations read back from Services' status after a restart.
#include <gtest/gtest.h>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using namespace testing;

const std::vector<model::IpPool> kPools = {
    pool("blue", {"192.0.2.0/24", "2001:db8::/64"}),
    pool("manual", {"198.51.100.0/24"}, false),
};

Request svc(std::string name, std::string pool_name = "") {
  return Request{.service = std::move(name), .pool = std::move(pool_name)};
}

const std::vector<Scenario> kRestored = {
    {"a restored IP is kept and never handed out",
     kPools,
     {{restore(svc("default/a"), "192.0.2.1"), "192.0.2.1"},
      {allocation("default/a"), "192.0.2.1"},
      {assign(svc("default/b")), "192.0.2.0"},
      {assign(svc("default/c")), "192.0.2.2"},
      {assign(svc("default/a")), "192.0.2.1"}}},
    {"a restored IP blocks a request for it",
     kPools,
     {{restore(svc("default/a"), "192.0.2.7"), "192.0.2.7"},
      {assign(Request{.service = "default/b", .requested = ips("192.0.2.7")}),
       "spec.loadBalancerIP: 192.0.2.7 is in use by default/a"}}},
    {"dual-stack",
     kPools,
     {{restore(Request{.service = "default/a", .families = {V4, V6}}, "2001:db8::9 192.0.2.9"),
       "2001:db8::9 192.0.2.9"},
      {assign(Request{.service = "default/a", .families = {V4, V6}}), "192.0.2.9 2001:db8::9"}}},
    {"a requested IP in a pool without auto-assign",
     kPools,
     {{restore(Request{.service = "default/a", .requested = ips("198.51.100.5")}, "198.51.100.5"), "198.51.100.5"},
      {assign(Request{.service = "default/a", .requested = ips("198.51.100.5")}), "198.51.100.5"}}},
    {"an IP in the named pool",
     kPools,
     {{restore(svc("default/a", "manual"), "198.51.100.5"), "198.51.100.5"}}},
    {"an IP that differs from the one now requested is held until assign() moves it",
     kPools,
     {{restore(Request{.service = "default/a", .requested = ips("192.0.2.9")}, "192.0.2.8"), "192.0.2.8"},
      {assign(Request{.service = "default/b", .requested = ips("192.0.2.8")}),
       "spec.loadBalancerIP: 192.0.2.8 is in use by default/a"},
      {assign(Request{.service = "default/a", .requested = ips("192.0.2.9")}), "192.0.2.9"},
      {assign(Request{.service = "default/b", .requested = ips("192.0.2.8")}), "192.0.2.8"}}},
    {"services sharing an IP restore it both",
     kPools,
     {{restore(Request{.service = "default/a", .sharing_key = "k", .ports = {tcp(80)}}, "192.0.2.3"), "192.0.2.3"},
      {restore(Request{.service = "default/b", .sharing_key = "k", .ports = {tcp(443)}}, "192.0.2.3"), "192.0.2.3"},
      {usage(), "blue v4 1/256 v6 0/18446744073709551615; manual v4 0/256 v6 0/0"}}},
    {"restoring again replaces the service's previous record",
     kPools,
     {{restore(svc("default/a"), "192.0.2.0"), "192.0.2.0"},
      {restore(svc("default/a"), "192.0.2.1"), "192.0.2.1"},
      {assign(svc("default/b")), "192.0.2.0"}}},
};

TEST(AllocatorRestore, Restored) {
  for (const Scenario& s : kRestored) run(s);
}

const std::vector<Scenario> kRefused = {
    {"an IP held by another service: the later one is assigned anew",
     kPools,
     {{restore(svc("default/a"), "192.0.2.0"), "192.0.2.0"},
      {restore(svc("default/b"), "192.0.2.0"), "status.loadBalancer.ingress: 192.0.2.0 is in use by default/a"},
      {allocation("default/b"), "none"},
      {assign(svc("default/b")), "192.0.2.1"}}},
    {"a port conflict with a sharing holder",
     kPools,
     {{restore(Request{.service = "default/a", .sharing_key = "k", .ports = {tcp(80)}}, "192.0.2.3"), "192.0.2.3"},
      {restore(Request{.service = "default/b", .sharing_key = "k", .ports = {tcp(80)}}, "192.0.2.3"),
       "status.loadBalancer.ingress: 192.0.2.3 is in use by default/a, which also uses port 80/tcp"}}},
    {"an IP only in a pool without auto-assign, nothing requested",
     kPools,
     {{restore(svc("default/a"), "198.51.100.5"),
       "status.loadBalancer.ingress: 198.51.100.5 is not in any pool with auto-assign"},
      {allocation("default/a"), "none"}}},
    {"an IP in no pool at all",
     kPools,
     {{restore(Request{.service = "default/a", .requested = ips("10.0.0.1")}, "10.0.0.1"),
       "status.loadBalancer.ingress: 10.0.0.1 is not in any pool"}}},
    {"an IP outside the named pool",
     kPools,
     {{restore(svc("default/a", "manual"), "192.0.2.1"),
       "status.loadBalancer.ingress: 192.0.2.1 is not in pool \"manual\""}}},
    {"an IPv6 IP with a pool that has none",
     kPools,
     {{restore(svc("default/a", "manual"), "2001:db8::1"),
       "annotation kvlb.io/pool: pool \"manual\" has no IPv6 addresses"}}},
    {"an unknown pool",
     kPools,
     {{restore(svc("default/a", "gone"), "192.0.2.1"),
       "annotation kvlb.io/pool: unknown pool \"gone\" (pools: \"blue\", \"manual\")"}}},
    {"nothing, a duplicate, two of a family",
     kPools,
     {{restore(svc("default/a"), ""), "status.loadBalancer.ingress: no IP address"},
      {restore(svc("default/a"), "192.0.2.1 192.0.2.1"), "status.loadBalancer.ingress: 192.0.2.1 is listed twice"},
      {restore(svc("default/a"), "192.0.2.1 192.0.2.2"),
       "status.loadBalancer.ingress: more than one IPv4 address (192.0.2.1 and 192.0.2.2)"},
      {allocation("default/a"), "none"}}},
    {"one bad IP of two records neither",
     kPools,
     {{restore(Request{.service = "default/a", .families = {V4, V6}}, "192.0.2.1 2001:db9::1"),
       "status.loadBalancer.ingress: 2001:db9::1 is not in any pool with auto-assign"},
      {assign(svc("default/b")), "192.0.2.0"},
      {assign(svc("default/c")), "192.0.2.1"}}},
};

TEST(AllocatorRestore, Refused) {
  for (const Scenario& s : kRefused) run(s);
}

}  // namespace
}  // namespace kvlb::ipam
