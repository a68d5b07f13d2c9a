// What HA roles change in the desired kernel state: only addresses and the
// takeover drop follow the role; IPVS and SNAT are the same on every node.
#include <gtest/gtest.h>

#include "reconcile/desired.h"
#include "reconcile/diff.h"

using namespace kvlb;
using namespace kvlb::model;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

DesiredState ha_state() {
  DesiredState d;
  d.node = {"lb1", "eth1"};
  d.ha.enabled = true;
  d.ha.instances = {{"blue", 100, false, 0, {ip("10.0.2.1")}}, {"green", 100, false, 0, {}}};
  Service web;
  web.name = "web";
  web.key = {ip("20.0.0.1"), 80, Protocol::Tcp};
  web.mode = NatMode::OneArm;
  web.instance = "blue";
  web.endpoints = {{ip("10.0.2.10"), 8080, 1}};
  Service dns = web;
  dns.name = "dns";
  dns.key = {ip("20.0.0.2"), 53, Protocol::Udp};
  dns.mode = NatMode::FullNat;
  dns.instance = "green";
  d.services = {web, dns};
  return d;
}

std::vector<std::string> plan_from_empty(const DesiredState& d) {
  auto want = reconcile::desired_kernel_state(d, {ip("10.0.2.5")});
  EXPECT_TRUE(want.problems.empty());
  return reconcile::diff(want.state, KernelState{}, {}, {}).log();
}

}  // namespace

TEST(HaDesired, BackupProgramsIpvsAndSnatButNoAddresses) {
  auto d = ha_state();  // no holds: the peer holds every instance
  EXPECT_EQ(plan_from_empty(d), (std::vector<std::string>{
                                    "ADD vs 20.0.0.1:80/tcp sched=rr persist=0",
                                    "ADD rs 20.0.0.1:80/tcp -> 10.0.2.10:8080 weight=1",
                                    "ADD vs 20.0.0.2:53/udp sched=rr persist=0",
                                    "ADD rs 20.0.0.2:53/udp -> 10.0.2.10:8080 weight=1",
                                    "ADD snat 20.0.0.1:80/tcp -> 10.0.2.1",  // the floating address, not the node's
                                    "ADD snat 20.0.0.2:53/udp -> 20.0.0.2",
                                }));
}

TEST(HaDesired, TakingOverDropsThenHoldsThenOpens) {
  auto d = ha_state();
  auto base = reconcile::desired_kernel_state(d, {}).state;
  d.holds["blue"] = {false, true};
  auto dropping = reconcile::desired_kernel_state(d, {}).state;
  EXPECT_EQ(reconcile::diff(dropping, base, {}, {}).log(), (std::vector<std::string>{"DROP vip 20.0.0.1"}));
  d.holds["blue"] = {true, true};
  auto holding = reconcile::desired_kernel_state(d, {}).state;
  EXPECT_EQ(reconcile::diff(holding, dropping, {}, {}).log(),
            (std::vector<std::string>{"ADD vip 10.0.2.1", "ADD vip 20.0.0.1"}));
  d.holds["blue"] = {true, false};
  auto open = reconcile::desired_kernel_state(d, {}).state;
  EXPECT_EQ(reconcile::diff(open, holding, {}, {}).log(), (std::vector<std::string>{"UNDROP vip 20.0.0.1"}));
  // Stepping down removes the addresses first of all.
  EXPECT_EQ(reconcile::diff(base, open, {}, {}).log(),
            (std::vector<std::string>{"DEL vip 10.0.2.1", "DEL vip 20.0.0.1"}));
}

TEST(HaDesired, InstancesAreHeldIndependently) {
  auto d = ha_state();
  d.holds["green"] = {true, false};
  auto state = reconcile::desired_kernel_state(d, {}).state;
  EXPECT_EQ(state.vips, (std::set<IpAddress>{ip("20.0.0.2")}));
}

TEST(HaDesired, OnearmWithoutFloatingAddressIsAProblemInHa) {
  auto d = ha_state();
  d.ha.instances[0].floating_addresses.clear();
  auto out = reconcile::desired_kernel_state(d, {ip("10.0.2.5")});
  ASSERT_EQ(out.problems.size(), 1u);
  EXPECT_EQ(out.problems[0],
            "service web: mode onearm with HA needs an IPv4 floating address in instance blue or a snatAddress "
            "(a node's own address does not move)");
  EXPECT_EQ(out.state.ipvs.count(d.services[0].key), 0u);
}

TEST(HaDesired, WithoutHaEverythingIsHeld) {
  auto d = ha_state();
  d.ha = {};
  d.services[0].mode = NatMode::FullNat;
  auto state = reconcile::desired_kernel_state(d, {}).state;
  EXPECT_EQ(state.vips, (std::set<IpAddress>{ip("20.0.0.1"), ip("20.0.0.2")}));
  EXPECT_TRUE(state.dropped_vips.empty());
}
