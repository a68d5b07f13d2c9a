// Requested IPs: spec.loadBalancerIP or the annotation kvlb.io/ips.
#include <gtest/gtest.h>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using namespace testing;

Request want(std::string name, std::string_view addresses, std::string pool_name = "") {
  return Request{.service = std::move(name), .pool = std::move(pool_name), .requested = ips(addresses)};
}

Request want_annotation(std::string name, std::string_view addresses, std::string pool_name = "") {
  Request request = want(std::move(name), addresses, std::move(pool_name));
  request.requested_field = kFieldIps;
  return request;
}

const std::vector<model::IpPool> kPools = {
    pool("blue", {"192.0.2.0/24"}),
    pool("manual", {"198.51.100.0/24"}, false),
    pool("v4only", {"203.0.113.0/24"}),
    pool("v6", {"2001:db8::/64"}),
};

const std::vector<Scenario> kAccepted = {
    {"an IP in an auto-assign pool",
     kPools,
     {{assign(want("default/a", "192.0.2.77")), "192.0.2.77"}, {allocation("default/a"), "192.0.2.77"}}},
    {"an IP in a pool without auto-assign, no pool named",
     kPools,
     {{assign(want("default/a", "198.51.100.5")), "198.51.100.5"}}},
    {"an IP in the named pool",
     kPools,
     {{assign(want("default/a", "198.51.100.5", "manual")), "198.51.100.5"}}},
    {"one IP per family, in the order asked",
     kPools,
     {{assign(want("default/a", "2001:db8::5 192.0.2.5")), "2001:db8::5 192.0.2.5"}}},
    {"requested IPs decide the families, not request.families",
     kPools,
     {{assign(Request{.service = "default/a", .requested = ips("192.0.2.5"), .families = {V6}}), "192.0.2.5"}}},
    {"auto assignment skips requested IPs",
     kPools,
     {{assign(want("default/a", "192.0.2.0")), "192.0.2.0"},
      {assign(want("default/b", "192.0.2.2")), "192.0.2.2"},
      {assign(Request{.service = "default/c"}), "192.0.2.1"},
      {assign(Request{.service = "default/d"}), "192.0.2.3"}}},
    {"the same request again is unchanged, in the new order if reordered",
     kPools,
     {{assign(want("default/a", "192.0.2.5 2001:db8::5")), "192.0.2.5 2001:db8::5"},
      {assign(want("default/a", "192.0.2.5 2001:db8::5")), "192.0.2.5 2001:db8::5"},
      {assign(want("default/a", "2001:db8::5 192.0.2.5")), "2001:db8::5 192.0.2.5"}}},
    {"changing the requested IP frees the old one",
     kPools,
     {{assign(want("default/a", "192.0.2.5")), "192.0.2.5"},
      {assign(want("default/a", "192.0.2.6")), "192.0.2.6"},
      {assign(want("default/b", "192.0.2.5")), "192.0.2.5"}}},
    {"an auto-assigned service can then ask for a specific IP",
     kPools,
     {{assign(Request{.service = "default/a"}), "192.0.2.0"},
      {assign(want("default/a", "192.0.2.9")), "192.0.2.9"},
      {assign(Request{.service = "default/b"}), "192.0.2.0"}}},
};

TEST(AllocatorRequested, Accepted) {
  for (const Scenario& s : kAccepted) run(s);
}

const std::vector<Scenario> kRefused = {
    {"not in any pool",
     kPools,
     {{assign(want("default/a", "2001:db8::77 10.9.9.9")), "spec.loadBalancerIP: 10.9.9.9 is not in any pool"},
      {allocation("default/a"), "none"}}},
    {"not in the named pool",
     kPools,
     {{assign(want("default/a", "192.0.2.77", "manual")),
       "spec.loadBalancerIP: 192.0.2.77 is not in pool \"manual\""}}},
    {"named in the annotation's field",
     kPools,
     {{assign(want_annotation("default/a", "10.9.9.9")), "annotation kvlb.io/ips: 10.9.9.9 is not in any pool"}}},
    {"a duplicate",
     kPools,
     {{assign(want_annotation("default/a", "192.0.2.5 2001:db8::1 192.0.2.5")),
       "annotation kvlb.io/ips: 192.0.2.5 is listed twice"}}},
    {"two IPv4 addresses",
     kPools,
     {{assign(want_annotation("default/a", "192.0.2.5 192.0.2.6")),
       "annotation kvlb.io/ips: more than one IPv4 address (192.0.2.5 and 192.0.2.6)"}}},
    {"two IPv6 addresses",
     kPools,
     {{assign(want_annotation("default/a", "2001:db8::1 192.0.2.5 2001:db8::2")),
       "annotation kvlb.io/ips: more than one IPv6 address (2001:db8::1 and 2001:db8::2)"}}},
    {"IPv6 from a pool with IPv4 only",
     kPools,
     {{assign(want("default/a", "2001:db8::5", "v4only")),
       "annotation kvlb.io/pool: pool \"v4only\" has no IPv6 addresses"}}},
    {"unknown pool",
     kPools,
     {{assign(want("default/a", "192.0.2.5", "green")),
       "annotation kvlb.io/pool: unknown pool \"green\" (pools: \"blue\", \"manual\", \"v4only\", \"v6\")"}}},
    {"taken by another service, free again once it is released",
     kPools,
     {{assign(want("default/other", "192.0.2.5")), "192.0.2.5"},
      {assign(want("default/a", "192.0.2.5")), "spec.loadBalancerIP: 192.0.2.5 is in use by default/other"},
      {allocation("default/a"), "none"},
      {release("default/other"), "released"},
      {assign(want("default/a", "192.0.2.5")), "192.0.2.5"}}},
    {"taken by an auto-assigned service",
     kPools,
     {{assign(Request{.service = "default/other"}), "192.0.2.0"},
      {assign(want_annotation("default/a", "2001:db8::1 192.0.2.0")),
       "annotation kvlb.io/ips: 192.0.2.0 is in use by default/other"}}},
    {"a failed request keeps the previous allocation",
     kPools,
     {{assign(want("default/a", "192.0.2.5")), "192.0.2.5"},
      {assign(want("default/other", "192.0.2.6")), "192.0.2.6"},
      {assign(want("default/a", "10.9.9.9")), "spec.loadBalancerIP: 10.9.9.9 is not in any pool"},
      {assign(want("default/a", "192.0.2.6")), "spec.loadBalancerIP: 192.0.2.6 is in use by default/other"},
      {allocation("default/a"), "192.0.2.5"},
      {assign(want("default/b", "192.0.2.5")), "spec.loadBalancerIP: 192.0.2.5 is in use by default/a"}}},
};

TEST(AllocatorRequested, Refused) {
  for (const Scenario& s : kRefused) run(s);
}

}  // namespace
}  // namespace kvlb::ipam
