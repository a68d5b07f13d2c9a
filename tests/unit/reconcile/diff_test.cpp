#include <gtest/gtest.h>

#include "reconcile/desired.h"
#include "reconcile/diff.h"

using namespace kvlb;
using namespace kvlb::model;
using namespace std::chrono_literals;
using reconcile::DiffOptions;
using reconcile::DrainTracker;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

Service service(const char* vip, uint16_t port, NatMode mode, std::vector<Endpoint> eps,
                Protocol proto = Protocol::Tcp) {
  Service s;
  s.name = "default/svc";
  s.key = {ip(vip), port, proto};
  s.mode = mode;
  s.endpoints = std::move(eps);
  return s;
}

KernelState desired_of(std::vector<Service> services) {
  DesiredState d;
  d.node = {"lb1", "eth1"};
  d.services = std::move(services);
  auto out = reconcile::desired_kernel_state(d, {ip("10.10.0.1")});
  EXPECT_TRUE(out.problems.empty());
  return out.state;
}

std::vector<std::string> diff_log(const KernelState& want, const KernelState& have, const DrainTracker& drains = {},
                                  DiffOptions options = {}) {
  return reconcile::diff(want, have, drains, options).log();
}

KernelState empty_kernel() { return KernelState{}; }

}  // namespace

TEST(Diff, FromEmptyAddsEverythingInApplyOrder) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::FullNat, {{ip("10.0.1.11"), 8080, 1}})});
  EXPECT_EQ(diff_log(want, empty_kernel()),
            (std::vector<std::string>{"ADD vs 20.20.20.1:80/tcp sched=rr persist=0",
                                      "ADD rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight=1",
                                      "ADD snat 20.20.20.1:80/tcp -> 20.20.20.1", "ADD vip 20.20.20.1"}));
}

TEST(Diff, UnchangedInputGivesZeroOps) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::OneArm, {{ip("10.0.1.11"), 8080, 1}}),
                          service("fd00:20::1", 53, NatMode::Default, {{ip("fd00:1::11"), 53, 2}}, Protocol::Udp)});
  auto plan = reconcile::diff(want, empty_kernel(), {}, {});
  auto after = empty_kernel();
  reconcile::apply_plan(after, plan, {}, false, {});
  EXPECT_TRUE(reconcile::diff(want, after, {}, {}).empty());
  EXPECT_EQ(after.ipvs, want.ipvs);
  EXPECT_EQ(after.snat, want.snat);
}

TEST(Diff, OnearmSnatsToTheInterfaceAddressAndDefaultNotAtAll) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::OneArm, {}),
                          service("20.20.20.1", 81, NatMode::Default, {})});
  ASSERT_EQ(want.snat.size(), 1u);
  EXPECT_EQ(want.snat.begin()->str(), "20.20.20.1:80/tcp -> 10.10.0.1");
  EXPECT_EQ(want.vips.size(), 1u);
}

TEST(Diff, OnearmWithoutAnAddressOfTheFamilyIsAProblemNotACrash) {
  DesiredState d;
  d.node = {"lb1", "eth1"};
  d.services = {service("fd00:20::1", 80, NatMode::OneArm, {})};
  auto out = reconcile::desired_kernel_state(d, {ip("10.10.0.1")});
  ASSERT_EQ(out.problems.size(), 1u);
  EXPECT_NE(out.problems[0].find("onearm needs an IPv6 address on interface eth1"), std::string::npos);
  EXPECT_TRUE(out.state.ipvs.empty());
}

TEST(Diff, EditingOneEndpointChangesOnlyThatEndpoint) {
  auto before = desired_of({service("20.20.20.1", 80, NatMode::Default,
                                    {{ip("10.0.1.11"), 8080, 1}, {ip("10.0.1.12"), 8080, 1}})});
  auto after = desired_of({service("20.20.20.1", 80, NatMode::Default,
                                   {{ip("10.0.1.11"), 8080, 1}, {ip("10.0.1.12"), 8080, 5}})});
  EXPECT_EQ(diff_log(after, before),
            (std::vector<std::string>{"UPDATE rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight=5"}));
}

TEST(Diff, SchedulerChangeUpdatesTheServiceInPlace) {
  auto before = desired_of({service("20.20.20.1", 80, NatMode::Default, {})});
  auto s = service("20.20.20.1", 80, NatMode::Default, {});
  s.scheduler = "sh";
  s.persistence_seconds = 300;
  EXPECT_EQ(diff_log(desired_of({s}), before),
            (std::vector<std::string>{"UPDATE vs 20.20.20.1:80/tcp sched=sh persist=300"}));
}

TEST(Diff, RemovingAServiceRemovesItsSnatAndVipWhenUnshared) {
  auto both = desired_of({service("20.20.20.1", 80, NatMode::FullNat, {}),
                          service("20.20.20.1", 81, NatMode::FullNat, {}),
                          service("20.20.20.2", 80, NatMode::FullNat, {})});
  auto fewer = desired_of({service("20.20.20.1", 80, NatMode::FullNat, {})});
  EXPECT_EQ(diff_log(fewer, both),
            (std::vector<std::string>{"DEL vip 20.20.20.2", "DEL vs 20.20.20.1:81/tcp", "DEL vs 20.20.20.2:80/tcp",
                                      "DEL snat 20.20.20.1:81/tcp -> 20.20.20.1",
                                      "DEL snat 20.20.20.2:80/tcp -> 20.20.20.2"}));
}

TEST(Diff, RemovedEndpointWithConnectionsIsDrainedThenDeleted) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {{ip("10.0.1.11"), 8080, 1}})});
  auto have = desired_of({service("20.20.20.1", 80, NatMode::Default,
                                  {{ip("10.0.1.11"), 8080, 1}, {ip("10.0.1.12"), 8080, 1}})});
  auto& leaving = have.ipvs.begin()->second.real_servers.rbegin()->second;
  leaving.active_conns = 3;

  ManualClock clock;
  DrainTracker drains;
  DiffOptions options{10s, clock.now()};
  drains.observe(want, have, clock.now());
  EXPECT_EQ(diff_log(want, have, drains, options),
            (std::vector<std::string>{"DRAIN rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));

  leaving.weight = 0;  // drained, connections still open, timeout not reached
  clock.advance(5s);
  options.now = clock.now();
  drains.observe(want, have, clock.now());
  EXPECT_TRUE(diff_log(want, have, drains, options).empty());

  clock.advance(5s);  // drain timeout passed
  options.now = clock.now();
  drains.observe(want, have, clock.now());
  EXPECT_EQ(diff_log(want, have, drains, options),
            (std::vector<std::string>{"DEL rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
}

TEST(Diff, DrainedEndpointIsDeletedAsSoonAsConnectionsReachZero) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {})});
  auto have = desired_of({service("20.20.20.1", 80, NatMode::Default, {{ip("10.0.1.12"), 8080, 1}})});
  auto& leaving = have.ipvs.begin()->second.real_servers.begin()->second;
  leaving.weight = 0;
  leaving.inactive_conns = 1;
  DrainTracker drains;
  drains.observe(want, have, {});
  EXPECT_TRUE(diff_log(want, have, drains).empty());
  leaving.inactive_conns = 0;
  EXPECT_EQ(diff_log(want, have, drains), (std::vector<std::string>{"DEL rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
}

TEST(Diff, EndpointThatComesBackIsRestoredNotReadded) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {{ip("10.0.1.12"), 8080, 2}})});
  auto have = want;
  have.ipvs.begin()->second.real_servers.begin()->second.weight = 0;  // was draining
  EXPECT_EQ(diff_log(want, have), (std::vector<std::string>{"UPDATE rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight=2"}));
}

TEST(Diff, MissingNatTableIsRecreatedWithEveryEntry) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::FullNat, {})});
  auto have = want;
  have.nat_table_present = false;
  have.snat.clear();
  EXPECT_EQ(diff_log(want, have),
            (std::vector<std::string>{"RECREATE nat table", "ADD snat 20.20.20.1:80/tcp -> 20.20.20.1"}));
}

TEST(Diff, ForeignServicesAreInvisibleToTheDiff) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {})});
  auto have = want;
  VirtualService foreign;
  foreign.key = {ip("192.0.2.10"), 80, Protocol::Tcp};
  have.ipvs[foreign.key] = foreign;
  EXPECT_TRUE(diff_log(want, have).empty());
}

TEST(Diff, ServiceOnATaggedVipIsOursEvenWhenNoLongerConfigured) {
  auto want = desired_of({});
  auto have = desired_of({service("20.20.20.1", 80, NatMode::Default, {})});
  EXPECT_EQ(diff_log(want, have), (std::vector<std::string>{"DEL vip 20.20.20.1", "DEL vs 20.20.20.1:80/tcp"}));
}

TEST(ApplyPlan, FailedOpsLeaveTheCachedStateAsItWas) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::FullNat, {{ip("10.0.1.11"), 8080, 1}})});
  auto plan = reconcile::diff(want, empty_kernel(), {}, {});
  // Service add failed (and so its real server): only SNAT and VIP landed.
  auto after = empty_kernel();
  reconcile::apply_plan(after, plan, {true, true}, false, {});
  EXPECT_TRUE(after.ipvs.empty());
  EXPECT_EQ(after.snat.size(), 1u);
  EXPECT_EQ(reconcile::diff(want, after, {}, {}).log().size(), 2u);
}

TEST(Diff, VipConfiguredByHandIsUsedNotAddedNorRemoved) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {})});
  KernelState have;
  have.foreign_addresses.insert(ip("20.20.20.1"));
  EXPECT_EQ(diff_log(want, have), (std::vector<std::string>{"ADD vs 20.20.20.1:80/tcp sched=rr persist=0"}));
  EXPECT_TRUE(diff_log(desired_of({}), have).empty());
}

TEST(Diff, ServiceKvlbCreatedOnAHandMadeVipIsDeletedWhenUnconfigured) {
  auto have = desired_of({service("20.20.20.5", 80, NatMode::Default, {})});
  have.vips.clear();  // the VIP is the operator's, not tagged as kvlb's
  have.foreign_addresses.insert(ip("20.20.20.5"));
  EXPECT_TRUE(diff_log(desired_of({}), have).empty()) << "unknown origin: left alone";
  std::set<VsKey> managed{have.ipvs.begin()->first};
  DiffOptions options;
  options.managed = &managed;
  EXPECT_EQ(diff_log(desired_of({}), have, {}, options), (std::vector<std::string>{"DEL vs 20.20.20.5:80/tcp"}));
}

TEST(Diff, ForwardingMethodOrThresholdDriftIsPutBack) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {{ip("10.0.1.11"), 8080, 1}})});
  auto have = want;
  auto& rs = have.ipvs.begin()->second.real_servers.begin()->second;
  rs.masquerade = false;  // someone ran ipvsadm -e ... -g
  rs.upper_threshold = 5;
  have.ipvs.begin()->second.netmask_bits = 24;
  EXPECT_EQ(diff_log(want, have), (std::vector<std::string>{"UPDATE vs 20.20.20.1:80/tcp sched=rr persist=0",
                                                            "UPDATE rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight=1"}));
}

TEST(Diff, RemovedEndpointIsDrainedNotDeletedWhenConnectionCountsMayBeOld) {
  auto want = desired_of({service("20.20.20.1", 80, NatMode::Default, {})});
  auto have = desired_of({service("20.20.20.1", 80, NatMode::Default, {{ip("10.0.1.12"), 8080, 1}})});
  DiffOptions cached;
  cached.connection_counts_fresh = false;  // zero connections as last read, maybe not now
  EXPECT_EQ(diff_log(want, have, {}, cached), (std::vector<std::string>{"DRAIN rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
  EXPECT_EQ(diff_log(want, have), (std::vector<std::string>{"DEL rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
}
