// Auto assignment: which IP a Service gets when it asks for none.
#include <gtest/gtest.h>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using namespace testing;

Request svc(std::string name, std::string pool_name = "", std::vector<model::Family> families = {V4}) {
  return Request{.service = std::move(name), .pool = std::move(pool_name), .families = std::move(families)};
}

const std::vector<Scenario> kOrder = {
    {"lowest free address first",
     {pool("blue", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {assign(svc("default/c")), "192.0.2.2"}}},
    {"ranges in config order, not address order",
     {pool("blue", {"192.0.2.10-192.0.2.11", "192.0.2.1-192.0.2.1"})},
     {{assign(svc("default/a")), "192.0.2.10"},
      {assign(svc("default/b")), "192.0.2.11"},
      {assign(svc("default/c")), "192.0.2.1"}}},
    {"first auto-assign pool in config order, not name order",
     {pool("manual", {"10.0.0.0/30"}, false), pool("zeta", {"192.0.2.0/30"}), pool("alpha", {"198.51.100.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"}}},
    {"the next pool when the first is full",
     {pool("zeta", {"192.0.2.0/31"}), pool("alpha", {"198.51.100.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {assign(svc("default/c")), "198.51.100.0"},
      {release("default/a"), "released"},
      {assign(svc("default/d")), "192.0.2.0"}}},
    {"a named pool is used even without auto-assign",
     {pool("red", {"192.0.2.0/30"}), pool("blue", {"198.51.100.0/30"}, false)},
     {{assign(svc("default/a", "blue")), "198.51.100.0"},
      {assign(svc("default/b")), "192.0.2.0"}}},
    {"a released address is the lowest free again",
     {pool("blue", {"192.0.2.0/29"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {assign(svc("default/c")), "192.0.2.2"},
      {release("default/b"), "released"},
      {allocation("default/b"), "none"},
      {assign(svc("default/d")), "192.0.2.1"},
      {assign(svc("default/e")), "192.0.2.3"}}},
    {"releasing an unknown service changes nothing",
     {pool("blue", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {release("default/nobody"), "released"},
      {assign(svc("default/b")), "192.0.2.1"}}},
};

TEST(AllocatorAuto, Order) {
  for (const Scenario& s : kOrder) run(s);
}

const std::vector<Scenario> kStability = {
    {"the same request keeps its IP",
     {pool("blue", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {release("default/a"), "released"},
      {assign(svc("default/b")), "192.0.2.1"},  // not moved down to the freed .0
      {allocation("default/b"), "192.0.2.1"}}},
    {"a failed request keeps the previous allocation",
     {pool("blue", {"192.0.2.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/a", "nope")), "annotation kvlb.io/pool: unknown pool \"nope\" (pools: \"blue\")"},
      {allocation("default/a"), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"}}},
    {"naming another pool moves the service and frees its old IP",
     {pool("red", {"192.0.2.0/30"}), pool("blue", {"198.51.100.0/30"}, false)},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/a", "blue")), "198.51.100.0"},
      {assign(svc("default/b")), "192.0.2.0"}}},
    {"naming the pool the IP is already in keeps it",
     {pool("red", {"192.0.2.0/30"}), pool("blue", {"198.51.100.0/30"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/a", "red")), "192.0.2.0"}}},
    {"an IP once requested is kept when the request is dropped, if an auto-assign pool holds it",
     {pool("blue", {"192.0.2.0/28"})},
     {{assign({.service = "default/a", .requested = ips("192.0.2.9")}), "192.0.2.9"},
      {assign(svc("default/a")), "192.0.2.9"}}},
    {"an IP once requested from a manual pool is not kept by auto assignment",
     {pool("blue", {"192.0.2.0/28"}), pool("manual", {"10.0.0.0/28"}, false)},
     {{assign({.service = "default/a", .requested = ips("10.0.0.9")}), "10.0.0.9"},
      {assign(svc("default/a")), "192.0.2.0"},
      {assign({.service = "default/b", .requested = ips("10.0.0.9")}), "10.0.0.9"}}},
    {"a dual-stack allocation spread over two pools is kept",
     {pool("v4", {"192.0.2.0/28"}), pool("v6", {"2001:db8::/120"}),
      pool("dual", {"198.51.100.0/28", "2001:db8:1::/120"})},
     {{assign({.service = "default/a", .requested = ips("192.0.2.9 2001:db8::9")}), "192.0.2.9 2001:db8::9"},
      {assign(svc("default/a", "", {V4, V6})), "192.0.2.9 2001:db8::9"},
      {assign(svc("default/b", "", {V4, V6})), "198.51.100.0 2001:db8:1::"}}},
    {"adding a family keeps the IP of the family already held",
     {pool("dual", {"192.0.2.0/28", "2001:db8::/120"})},
     {{assign(svc("default/x")), "192.0.2.0"},
      {assign(svc("default/a")), "192.0.2.1"},
      {assign(svc("default/a", "", {V4, V6})), "192.0.2.1 2001:db8::"},
      {assign(svc("default/a", "", {V6, V4})), "2001:db8:: 192.0.2.1"},  // order follows the request
      {assign(svc("default/a", "", {V6})), "2001:db8::"},
      {assign(svc("default/b")), "192.0.2.1"}}},  // dropping IPv4 freed it
};

TEST(AllocatorAuto, Stability) {
  for (const Scenario& s : kStability) run(s);
}

const std::vector<Scenario> kProblems = {
    {"unknown pool lists the known ones",
     {pool("red", {"192.0.2.0/30"}), pool("blue", {"198.51.100.0/30"})},
     {{assign(svc("default/a", "green")), "annotation kvlb.io/pool: unknown pool \"green\" (pools: \"red\", \"blue\")"},
      {allocation("default/a"), "none"}}},
    {"unknown pool without any pools",
     {},
     {{assign(svc("default/a", "green")), "annotation kvlb.io/pool: unknown pool \"green\" (no pools)"}}},
    {"IPv6 from a pool with IPv4 only",
     {pool("v4only", {"192.0.2.0/30"})},
     {{assign(svc("default/a", "v4only", {V6})), "annotation kvlb.io/pool: pool \"v4only\" has no IPv6 addresses"},
      {assign(svc("default/a", "v4only", {V4, V6})),
       "annotation kvlb.io/pool: pool \"v4only\" has no IPv6 addresses"}}},
    {"named pool exhausted, then a release makes room",
     {pool("blue", {"192.0.2.0/30"}, false)},
     {{assign(svc("default/a", "blue")), "192.0.2.0"},
      {assign(svc("default/b", "blue")), "192.0.2.1"},
      {assign(svc("default/c", "blue")), "192.0.2.2"},
      {assign(svc("default/d", "blue")), "192.0.2.3"},
      {assign(svc("default/e", "blue")),
       "annotation kvlb.io/pool: pool \"blue\" has no free IPv4 address (4 of 4 in use)"},
      {allocation("default/e"), "none"},
      {release("default/c"), "released"},
      {assign(svc("default/e", "blue")), "192.0.2.2"}}},
    {"every auto-assign pool exhausted: counts of each",
     {pool("red", {"192.0.2.0/31"}), pool("manual", {"10.0.0.0/24"}, false), pool("blue", {"198.51.100.7/32"}),
      pool("v6", {"2001:db8::/64"})},
     {{assign(svc("default/a")), "192.0.2.0"},
      {assign(svc("default/b")), "192.0.2.1"},
      {assign(svc("default/c")), "198.51.100.7"},
      {assign(svc("default/d")),
       "annotation kvlb.io/pool: no pool with auto-assign has a free IPv4 address (\"red\": 2 of 2 in use, "
       "\"blue\": 1 of 1 in use)"}}},
    {"no pool has auto-assign",
     {pool("manual", {"10.0.0.0/24"}, false)},
     {{assign(svc("default/a")), "annotation kvlb.io/pool: no pool has auto-assign"}}},
    {"no auto-assign pool has the family",
     {pool("v4", {"192.0.2.0/24"}), pool("manual6", {"2001:db8::/64"}, false)},
     {{assign(svc("default/a", "", {V6})), "annotation kvlb.io/pool: no pool with auto-assign has IPv6 addresses"}}},
    {"no IP family",
     {pool("blue", {"192.0.2.0/24"})},
     {{assign(svc("default/a", "", {})), "spec.ipFamilies: no IP family"},
      {assign(svc("default/a", "", {V6, V6})), "spec.ipFamilies: IPv6 is listed twice"}}},
};

TEST(AllocatorAuto, Problems) {
  for (const Scenario& s : kProblems) run(s);
}

const std::vector<Scenario> kDualStack = {
    {"one IP of each family from one pool",
     {pool("v4only", {"192.0.2.0/24"}), pool("dual", {"198.51.100.0/24", "2001:db8::/64"})},
     {{assign(svc("default/a", "", {V4, V6})), "198.51.100.0 2001:db8::"},
      {assign(svc("default/b", "", {V6, V4})), "2001:db8::1 198.51.100.1"},
      {assign(svc("default/c")), "192.0.2.0"}}},
    {"families only available in different pools",
     {pool("v4only", {"192.0.2.0/24"}), pool("v6only", {"2001:db8::/64"})},
     {{assign(svc("default/a", "", {V4, V6})),
       "annotation kvlb.io/pool: no pool with auto-assign has both a free IPv4 and a free IPv6 address"},
      {assign(svc("default/a", "", {V6})), "2001:db8::"}}},
    {"a dual-stack pool whose IPv6 part is full",
     {pool("dual", {"192.0.2.0/24", "2001:db8::/127"})},
     {{assign(svc("default/a", "dual", {V4, V6})), "192.0.2.0 2001:db8::"},
      {assign(svc("default/b", "dual", {V4, V6})), "192.0.2.1 2001:db8::1"},
      {assign(svc("default/c", "dual", {V4, V6})),
       "annotation kvlb.io/pool: pool \"dual\" has no free IPv6 address (2 of 2 in use)"},
      {assign(svc("default/c", "dual", {V4})), "192.0.2.2"}}},
};

TEST(AllocatorAuto, DualStack) {
  for (const Scenario& s : kDualStack) run(s);
}

const std::vector<Scenario> kLargeV6 = {
    {"a /64 hands out its lowest addresses without enumerating it",
     {pool("v6", {"2001:db8::/64"})},
     {{assign(svc("default/a", "", {V6})), "2001:db8::"},
      {assign(svc("default/b", "", {V6})), "2001:db8::1"},
      {usage(), "v6 v4 0/0 v6 2/18446744073709551615"}}},
    {"a /32 of IPv6 (2^96 addresses)",
     {pool("v6", {"2001:db8::/32"})},
     {{assign(svc("default/a", "", {V6})), "2001:db8::"},
      {usage(), "v6 v4 0/0 v6 1/18446744073709551615"}}},
    {"a range across a 64-bit word boundary",
     {pool("v6", {"2001:db8::ffff:ffff:ffff:fffe-2001:db8:0:1::1"})},
     {{assign(svc("default/a", "", {V6})), "2001:db8::ffff:ffff:ffff:fffe"},
      {assign(svc("default/b", "", {V6})), "2001:db8::ffff:ffff:ffff:ffff"},
      {assign(svc("default/c", "", {V6})), "2001:db8:0:1::"},
      {assign(svc("default/d", "", {V6})), "2001:db8:0:1::1"},
      {assign(svc("default/e", "v6", {V6})),
       "annotation kvlb.io/pool: pool \"v6\" has no free IPv6 address (4 of 4 in use)"}}},
    {"the very top of the address space does not wrap around",
     {pool("top", {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"}), pool("low", {"::2/128"})},
     {{assign(svc("default/a", "", {V6})), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
      {assign(svc("default/b", "", {V6})), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      {assign(svc("default/c", "", {V6})), "::2"},
      {assign(svc("default/d", "top", {V6})),
       "annotation kvlb.io/pool: pool \"top\" has no free IPv6 address (2 of 2 in use)"}}},
};

TEST(AllocatorAuto, LargeIpv6Ranges) {
  for (const Scenario& s : kLargeV6) run(s);
}

TEST(AllocatorAuto, SameCallsGiveTheSameIpsWhateverTheServiceNames) {
  // Names sort differently from the order of the calls: only the order of calls counts.
  Allocator allocator({pool("blue", {"192.0.2.0/24"})});
  std::vector<std::string> names = {"z/last", "a/first", "m/middle", "b/second"};
  std::string got;
  for (const auto& name : names) got += outcome(allocator.assign(svc(name))) + ";";
  EXPECT_EQ(got, "192.0.2.0;192.0.2.1;192.0.2.2;192.0.2.3;");
}

}  // namespace
}  // namespace kvlb::ipam
