// Pools: config reloads (set_pools) and usage counts.
#include <gtest/gtest.h>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using namespace testing;

Request svc(std::string name, std::vector<model::Family> families = {V4}) {
  return Request{.service = std::move(name), .families = std::move(families)};
}

const std::vector<Scenario> kReload = {
    {"shrinking: allocations stay, the one outside is re-judged at its next assign",
     {pool("blue", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {assign(svc("default/c")), "192.0.2.2"},
      {set_pools({pool("blue", {"192.0.2.0/31"})}), "reloaded"},
      {allocation("default/c"), "192.0.2.2"},
      {usage(), "blue v4 2/2 v6 0/0"},
      {assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/c")),
       "annotation kvlb.io/pool: no pool with auto-assign has a free IPv4 address (\"blue\": 2 of 2 in use)"},
      {allocation("default/c"), "192.0.2.2"},  // kept while nothing better exists
      {release("default/a"), "released"},
      {assign(svc("default/c")), "192.0.2.0"}}},
    {"an IP outside every pool stays held until its service moves",
     {pool("blue", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {set_pools({pool("blue", {"192.0.2.0/32"})}), "reloaded"},
      {set_pools({pool("blue", {"192.0.2.0/30"})}), "reloaded"},
      {assign(svc("default/c")), "192.0.2.2"}}},
    {"a removed pool: its services move at their next assign",
     {pool("old", {"192.0.2.0/30"}), pool("new", {"198.51.100.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {set_pools({pool("new", {"198.51.100.0/30"})}), "reloaded"},
      {assign(svc("default/a")), "198.51.100.0"},
      {usage(), "new v4 1/4 v6 0/0"}}},
    {"a pool losing auto-assign: its auto-assigned services move",
     {pool("blue", {"192.0.2.0/30"}), pool("red", {"198.51.100.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {set_pools({pool("blue", {"192.0.2.0/30"}, false), pool("red", {"198.51.100.0/30"})}), "reloaded"},
      {assign(svc("default/a")), "198.51.100.0"}}},
    {"growing a full pool makes room",
     {pool("blue", {"192.0.2.0/32"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")),
       "annotation kvlb.io/pool: no pool with auto-assign has a free IPv4 address (\"blue\": 1 of 1 in use)"},
      {set_pools({pool("blue", {"192.0.2.0/32", "192.0.2.100/32"})}), "reloaded"},
      {assign(svc("default/b")), "192.0.2.100"}}},
    {"reordering pools changes where new services go, not existing ones",
     {pool("blue", {"192.0.2.0/30"}), pool("red", {"198.51.100.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {set_pools({pool("red", {"198.51.100.0/30"}), pool("blue", {"192.0.2.0/30"})}), "reloaded"},
      {assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "198.51.100.0"}}},
};

TEST(AllocatorPools, Reload) {
  for (const Scenario& s : kReload) run(s);
}

const std::vector<Scenario> kUsage = {
    {"sorted by name, per family",
     {pool("zeta", {"192.0.2.0/28"}), pool("alpha", {"198.51.100.0/30", "2001:db8::/126"}, false)},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(Request{.service = "default/b", .pool = "alpha", .families = {V4, V6}}), "198.51.100.0 2001:db8::"},
      {assign(Request{.service = "default/c", .pool = "alpha", .families = {V6}}), "2001:db8::1"},
      {usage(), "alpha v4 1/4 v6 2/4; zeta v4 1/16 v6 0/0"},
      {release("default/b"), "released"},
      {usage(), "alpha v4 0/4 v6 1/4; zeta v4 1/16 v6 0/0"}}},
    {"no pools",
     {},
     {{usage(), ""}}},
    {"overlapping ranges of one pool are counted once, allocated in config order",
     {pool("blue", {"192.0.2.5-192.0.2.6", "192.0.2.0-192.0.2.9", "192.0.2.8-192.0.2.12", "192.0.2.1/32"})},
     {{usage(), "blue v4 0/13 v6 0/0"},
      {assign(svc("default/a")), "192.0.2.5"},
      {assign(svc("default/b")), "192.0.2.6"},
      {assign(svc("default/c")), "192.0.2.0"},
      {usage(), "blue v4 3/13 v6 0/0"}}},
    {"an IP in two overlapping pools counts in both",
     {pool("wide", {"192.0.2.0/24"}), pool("narrow", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(Request{.service = "default/b", .pool = "narrow"}), "192.0.2.1"},
      {usage(), "narrow v4 2/4 v6 0/0; wide v4 2/256 v6 0/0"}}},
    {"reversed and mixed-family ranges are left out; a second pool of one name too",
     {model::IpPool{.name = "odd",
                    .ranges = {{ip("192.0.2.9"), ip("192.0.2.1")},
                               {ip("192.0.2.1"), ip("2001:db8::1")},
                               {ip("192.0.2.20"), ip("192.0.2.21")}}},
      pool("odd", {"198.51.100.0/24"})},
     {{usage(), "odd v4 0/2 v6 0/0"},
      {assign(svc("default/a")), "192.0.2.20"}}},
    {"sizes of huge IPv6 pools saturate",
     {pool("huge", {"2001:db8::/48", "2001:db9::/64"}), pool("exact", {"2001:db8:1::/65", "2001:db8:2::/127"})},
     {{usage(), "exact v4 0/0 v6 0/9223372036854775810; huge v4 0/0 v6 0/18446744073709551615"}}},
};

TEST(AllocatorPools, Usage) {
  for (const Scenario& s : kUsage) run(s);
}

TEST(AllocatorPools, UsageFieldsAreExact) {
  Allocator allocator({pool("blue", {"192.0.2.0/30", "2001:db8::/120"})});
  ASSERT_TRUE(allocator.assign(Request{.service = "default/a", .families = {V6, V4}}).ok());
  std::vector<PoolUsage> expected = {{.pool = "blue", .size_v4 = 4, .size_v6 = 256, .used_v4 = 1, .used_v6 = 1}};
  EXPECT_EQ(allocator.usage(), expected);
}

TEST(AllocatorPools, ProblemText) {
  EXPECT_EQ((Problem{"spec.loadBalancerIP", "192.0.2.77 is not in any pool"}.str()),
            "spec.loadBalancerIP: 192.0.2.77 is not in any pool");
  EXPECT_EQ(tcp(80).str(), "80/tcp");
  EXPECT_EQ((PortUse{model::Protocol::Sctp, 9}.str()), "9/sctp");
}

}  // namespace
}  // namespace kvlb::ipam
