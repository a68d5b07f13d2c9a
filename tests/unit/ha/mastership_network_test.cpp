// Whole nodes over a simulated link (SimNetwork): elections, takeovers,
// split brain after a cut heals, preemption of a returning node.
#include <gtest/gtest.h>

#include "unit/ha/ha_test_support.h"
#include "unit/ha/sim_network.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using kvlb::testing::SimNetwork;

InstanceConfig instance(std::string name, uint8_t priority, bool preempt = false) {
  InstanceConfig c;
  c.name = std::move(name);
  c.priority = priority;
  c.interval = 100ms;
  c.preempt = preempt;
  c.config_digest = 7;
  return c;
}

// Two nodes, one instance "web": 10.0.0.1 with priority a, 10.0.0.2 with b.
SimNetwork pair(uint8_t a, uint8_t b, bool preempt = false, std::chrono::milliseconds delay = 1ms) {
  return SimNetwork({{"10.0.0.1", {instance("web", a, preempt)}}, {"10.0.0.2", {instance("web", b, preempt)}}},
                    delay);
}

TEST(MastershipNetwork, FirstStartElectsTheHigherPriorityWithoutFlapping) {
  auto net = pair(200, 100);
  net.start_all();
  net.run(2s);
  EXPECT_EQ(net.master_of("web"), 0u);
  EXPECT_EQ(net.machine(1, "web").stats().became_master, 0u);
  EXPECT_EQ(net.machine(1, "web").stats().master, kvlb::testing::ip("10.0.0.1"));
  EXPECT_EQ(net.gate(1).counters().accepted, net.machine(0, "web").stats().adverts_sent);
}

TEST(MastershipNetwork, EqualPrioritiesStartingTogetherResolveToTheHigherAddress) {
  auto net = pair(100, 100);
  net.start_all();
  net.run(361ms);  // both master-down timers expire in the same millisecond
  EXPECT_EQ(net.masters("web"), 2u);
  auto took = net.run_until([&] { return net.one_master("web"); }, 100ms);
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 1ms + 1ms);  // one link delay: each hears the other's first advert
  EXPECT_EQ(net.master_of("web"), 1u);
  EXPECT_EQ(net.machine(0, "web").stats().split_brain_resolved, 1u);
  net.run(2s);
  EXPECT_EQ(net.master_of("web"), 1u);
}

// Cut, both become MASTER, heal: one MASTER within one interval (plus the
// link delay the news needs), and it is the stronger one.
void expect_split_brain_resolves(uint8_t a, uint8_t b, std::size_t winner) {
  auto net = pair(a, b, false, 5ms);
  net.start_all();
  net.run(1s);
  net.cut_all();
  net.run(1s);
  ASSERT_EQ(net.masters("web"), 2u);
  const uint64_t resolved_before = net.machine(1 - winner, "web").stats().split_brain_resolved;
  net.heal_all();
  auto took = net.run_until([&] { return net.one_master("web"); }, 1s);
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 100ms + 5ms);
  EXPECT_EQ(net.master_of("web"), winner);
  EXPECT_EQ(net.machine(1 - winner, "web").stats().split_brain_resolved, resolved_before + 1);
  net.run(2s);
  EXPECT_EQ(net.master_of("web"), winner);
}

TEST(MastershipNetwork, SplitBrainResolvesToTheHigherPriority) {
  expect_split_brain_resolves(200, 100, 0);
  expect_split_brain_resolves(100, 200, 1);
}

TEST(MastershipNetwork, SplitBrainWithEqualPrioritiesResolvesToTheHigherAddress) {
  expect_split_brain_resolves(100, 100, 1);
}

TEST(MastershipNetwork, StopHandsOverWithinSkew) {
  auto net = pair(200, 100);
  net.start_all();
  net.run(1s);
  ASSERT_EQ(net.master_of("web"), 0u);
  net.machine(0, "web").stop();
  auto took = net.run_until([&] { return net.master_of("web") == 1u; }, 1s);
  ASSERT_TRUE(took.has_value());
  // The step that sends the priority-0 advert, its delay, then the backup's skew (60.9 ms).
  EXPECT_LE(*took, 1ms + 1ms + 61ms);
  EXPECT_GE(*took, 61ms);
  EXPECT_EQ(net.role_changes(1).back().reason, "peer 10.0.0.1 stepped down (priority 0)");
}

TEST(MastershipNetwork, CrashedMasterIsReplacedAfterMasterDown) {
  auto net = pair(200, 100);
  net.start_all();
  net.run(1s);
  net.kill(0);
  auto took = net.run_until([&] { return net.master_of("web") == 1u; }, 1s);
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 362ms);  // 3 x 100 ms + skew 60.9 ms after the last advert
  EXPECT_GE(*took, 261ms);
}

TEST(MastershipNetwork, MasterFaultHandsOverWithinSkew) {
  auto net = pair(200, 100);
  net.start_all();
  net.run(1s);
  net.machine(0, "web").set_fault(true, "advert interface down");
  auto took = net.run_until([&] { return net.master_of("web") == 1u; }, 1s);
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 63ms);
  net.machine(0, "web").set_fault(false, "advert interface up");
  net.run(2s);
  EXPECT_EQ(net.machine(0, "web").role(), Role::Backup);  // no preemption configured
  EXPECT_EQ(net.master_of("web"), 1u);
}

TEST(MastershipNetwork, ReturningNodeWithoutPreemptStaysBackup) {
  auto net = pair(200, 100);
  net.start_all();
  net.run(1s);
  net.kill(0);
  net.run(1s);
  net.revive(0, true);
  net.run(3s);
  EXPECT_EQ(net.master_of("web"), 1u);
  EXPECT_EQ(net.machine(0, "web").role(), Role::Backup);
}

TEST(MastershipNetwork, ReturningNodePreemptsOnlyOnceSynced) {
  auto net = pair(200, 100, true);
  net.start_all();
  net.run(1s);
  net.kill(0);
  net.run(1s);
  ASSERT_EQ(net.master_of("web"), 1u);
  net.revive(0, false);  // bulk resync still running
  net.run(5s);
  EXPECT_EQ(net.master_of("web"), 1u);
  net.machine(0, "web").set_synced(true);
  auto took = net.run_until([&] { return net.master_of("web") == 0u; }, 1s);
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(*took, 2ms);  // preempts at once; the old master hears it one delay later
  EXPECT_EQ(net.role_changes(0).back().reason, "preempting: priority 200 > 100 of 10.0.0.2, state synced");
  EXPECT_EQ(net.role_changes(1).back().reason, "higher priority 200 from 10.0.0.1");
}

TEST(MastershipNetwork, ConfigMismatchIsReportedAndMastershipStillWorks) {
  auto b = instance("web", 100);
  b.config_digest = 8;
  SimNetwork net({{"10.0.0.1", {instance("web", 200)}}, {"10.0.0.2", {b}}});
  net.start_all();
  net.run(1s);
  EXPECT_EQ(net.master_of("web"), 0u);
  EXPECT_GT(net.gate(1).counters().config_mismatch, 0u);
}

// Three nodes, two instances with opposite preferences, a lossy slow link
// cut and healed at random: after the last heal, one MASTER per instance.
TEST(MastershipNetwork, RandomCutsAndLossEndWithOneMasterPerInstance) {
  std::size_t split_brains_at_heal = 0;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SimNetwork net({{"10.0.0.1", {instance("web", 200), instance("db", 50)}},
                    {"10.0.0.2", {instance("web", 100), instance("db", 100)}},
                    {"10.0.0.3", {instance("web", 50), instance("db", 200)}}},
                   3ms);
    std::mt19937 random(seed);
    net.set_loss(0.2);
    net.start_all();
    for (int round = 0; round < 20; ++round) {
      std::size_t a = random() % 3, b = (a + 1 + random() % 2) % 3;
      if (random() % 2)
        net.cut(a, b);
      else
        net.heal(a, b);
      net.run(std::chrono::milliseconds(50 + random() % 500));
    }
    split_brains_at_heal += (net.masters("web") > 1) + (net.masters("db") > 1);
    net.heal_all();
    net.set_loss(0);
    for (const std::string name : {"web", "db"}) {
      auto took = net.run_until([&] { return net.masters(name) <= 1; }, 1s);
      ASSERT_TRUE(took.has_value()) << "seed " << seed << " instance " << name;
      EXPECT_LE(*took, 100ms + 3ms) << "seed " << seed << " instance " << name;
    }
    net.run(1s);
    EXPECT_TRUE(net.one_master("web")) << "seed " << seed;
    EXPECT_TRUE(net.one_master("db")) << "seed " << seed;
  }
  EXPECT_GT(split_brains_at_heal, 5u);  // the cuts did split the instances
}

TEST(MastershipNetwork, SteadyLossDoesNotCauseFlapping) {
  auto net = pair(200, 100, false, 2ms);
  net.set_loss(0.3);  // two adverts in a row are lost now and then; three in a row rarely
  net.start_all();
  net.run(1s);
  ASSERT_EQ(net.master_of("web"), 0u);
  auto before = net.machine(1, "web").stats().became_master;
  net.run(10s);
  EXPECT_LE(net.machine(1, "web").stats().became_master - before, 2u);
  EXPECT_EQ(net.master_of("web"), 0u);
}

}  // namespace
}  // namespace kvlb::ha
