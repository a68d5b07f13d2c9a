// One Mastership driven by hand as BACKUP: takeover timing, priority 0, preemption.
#include <gtest/gtest.h>

#include "unit/ha/mastership_support.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using kvlb::testing::ip;

TEST_F(MastershipTest, Timers) {
  EXPECT_EQ(skew_time(100, 100ms), 60937us);  // 156 * 100 ms / 256
  EXPECT_EQ(master_down_interval(100, 100ms), 360937us);
  EXPECT_EQ(skew_time(255, 100ms), 390us);
  EXPECT_EQ(master_down_interval(1, 1000ms), 3996093us);
}

TEST_F(MastershipTest, ConfigChecks) {
  EXPECT_EQ(check_instance_config(config()), std::nullopt);
  auto c = config();
  c.priority = 0;
  EXPECT_EQ(check_instance_config(c), "priority 0 is reserved for stepping down");
  c = config();
  c.interval = 0ms;
  EXPECT_EQ(check_instance_config(c), "interval must be 1..65535 ms (got 0)");
  c = config();
  c.name = "web 1";
  EXPECT_TRUE(check_instance_config(c).has_value());
  c = config();
  c.self = model::IpAddress();
  EXPECT_EQ(check_instance_config(c), "own advert address 0.0.0.0 is not a unicast address");
}

TEST_F(MastershipTest, AStartingBackupWaitsTheStartupWaitOnlyOnce) {
  auto c = config();
  c.startup_wait = 1000ms;
  Mastership m(c, clock_);
  m.start();
  EXPECT_EQ(m.next_deadline(), clock_.now() + 1000ms);
  run(m, 999ms);
  EXPECT_EQ(m.role(), Role::Backup);
  // A MASTER heard: the usual master-down from then on.
  m.on_advert(from_peer(150));
  EXPECT_EQ(m.next_deadline(), clock_.now() + 360937us);
  run(m, 361ms);
  EXPECT_EQ(m.role(), Role::Master);
}

TEST_F(MastershipTest, AloneBecomesMasterAfterMasterDown) {
  Mastership m(config(), clock_);
  EXPECT_EQ(m.role(), Role::Init);
  m.start();
  EXPECT_EQ(m.role(), Role::Backup);
  EXPECT_EQ(m.take_role_changes(), (std::vector<RoleChange>{{"web-1", Role::Init, Role::Backup, "started"}}));
  EXPECT_EQ(m.next_deadline(), clock_.now() + 360937us);
  EXPECT_TRUE(m.take_outgoing().empty());

  run(m, 360ms);
  EXPECT_EQ(m.role(), Role::Backup);
  run(m, 1ms);
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_role_changes(), (std::vector<RoleChange>{
                                       {"web-1", Role::Backup, Role::Master, "master down: no advert for 361 ms", 1}}));
  auto sent = m.take_outgoing();
  ASSERT_EQ(sent.size(), 1u);
  Advert want;
  want.instance = "web-1";
  want.priority = 100;
  want.interval_ms = 100;
  want.sender = ip("10.0.0.1");
  want.config_digest = 42;
  EXPECT_EQ(sent[0], want);
  EXPECT_EQ(m.stats().master, ip("10.0.0.1"));
}

TEST_F(MastershipTest, MasterAdvertsEveryInterval) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 361ms);
  ASSERT_EQ(m.take_outgoing().size(), 1u);
  run(m, 99ms);
  EXPECT_TRUE(m.take_outgoing().empty());
  run(m, 1ms);
  EXPECT_EQ(m.take_outgoing().size(), 1u);
  run(m, 1000ms);
  EXPECT_EQ(m.take_outgoing().size(), 10u);
  EXPECT_EQ(m.stats().adverts_sent, 12u);
}

TEST_F(MastershipTest, PeerAdvertsKeepItBackup) {
  Mastership m(config(), clock_);
  m.start();
  run_with_peer(m, from_peer(150), 5s);
  EXPECT_EQ(m.role(), Role::Backup);
  EXPECT_TRUE(m.take_outgoing().empty());
  EXPECT_EQ(m.stats().master, ip("10.0.0.2"));
  EXPECT_EQ(m.stats().adverts_received, 50u);
  EXPECT_EQ(m.stats().last_advert_from_master, clock_.now() - 100ms);
}

TEST_F(MastershipTest, TakeoverExactlyAtMasterDownAfterTheLastAdvert) {
  Mastership m(config(200), clock_);  // skew 56 * 100 / 256 = 21.875 ms
  m.start();
  run_with_peer(m, from_peer(250), 1s);
  run(m, 221ms);  // 321 ms since the last advert
  EXPECT_EQ(m.role(), Role::Backup);
  run(m, 1ms);
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_role_changes().back().reason, "master down: no advert for 322 ms");
}

TEST_F(MastershipTest, BackupUsesTheMastersInterval) {
  Mastership m(config(), clock_);
  m.start();
  m.on_advert(from_peer(150, "10.0.0.2", 1000));
  EXPECT_EQ(m.next_deadline(), clock_.now() + master_down_interval(100, 1000ms));
  run(m, 3s);
  EXPECT_EQ(m.role(), Role::Backup);
}

TEST_F(MastershipTest, PriorityZeroTakeoverWithinSkew) {
  Mastership m(config(), clock_);
  m.start();
  run_with_peer(m, from_peer(150), 1s);
  m.on_advert(from_peer(0));
  EXPECT_EQ(m.next_deadline(), clock_.now() + 60937us);
  run(m, 60ms);
  EXPECT_EQ(m.role(), Role::Backup);
  run(m, 1ms);
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_role_changes().back().reason, "peer 10.0.0.2 stepped down (priority 0)");
}

TEST_F(MastershipTest, PreemptOffReturningHigherPriorityNodeStaysBackup) {
  Mastership m(config(200), clock_);
  m.start();
  m.set_synced(true);
  run_with_peer(m, from_peer(100), 5s);
  EXPECT_EQ(m.role(), Role::Backup);
}

TEST_F(MastershipTest, PreemptWaitsUntilSynced) {
  Mastership m(config(150, true), clock_);
  m.start();
  run_with_peer(m, from_peer(100), 5s);
  EXPECT_EQ(m.role(), Role::Backup);  // never before the state is synced
  m.set_synced(true);
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_role_changes().back(),
            (RoleChange{"web-1", Role::Backup, Role::Master, "preempting: priority 150 > 100 of 10.0.0.2, state synced", 1}));
  auto sent = m.take_outgoing();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].synced);
}

TEST_F(MastershipTest, PreemptWaitsForTheDelay) {
  Mastership m(config(150, true, 500ms), clock_);
  m.start();
  m.set_synced(true);
  m.on_advert(from_peer(100));
  run_with_peer(m, from_peer(100), 400ms);
  run(m, 99ms);  // 499 ms since the first weaker advert
  EXPECT_EQ(m.role(), Role::Backup);
  run(m, 1ms);
  EXPECT_EQ(m.role(), Role::Master);
}

TEST_F(MastershipTest, PreemptDelayRestartsOnceSynced) {
  Mastership m(config(150, true, 300ms), clock_);
  m.start();
  run_with_peer(m, from_peer(100), 1s);
  m.set_synced(true);
  run_with_peer(m, from_peer(100), 200ms);
  m.set_synced(false);  // a resync started again: no preemption
  run_with_peer(m, from_peer(100), 1s);
  EXPECT_EQ(m.role(), Role::Backup);
  m.set_synced(true);
  run_with_peer(m, from_peer(100), 300ms);
  EXPECT_EQ(m.role(), Role::Master);
}

TEST_F(MastershipTest, EqualPriorityPreemptsOnlyALowerAddress) {
  Mastership lower(config(100, true), clock_);  // 10.0.0.1
  lower.start();
  lower.set_synced(true);
  run_with_peer(lower, from_peer(100, "10.0.0.2"), 1s);
  EXPECT_EQ(lower.role(), Role::Backup);

  Mastership higher(config(100, true), clock_);
  higher.start();
  higher.set_synced(true);
  higher.on_advert(from_peer(100, "10.0.0.0"));
  EXPECT_EQ(higher.role(), Role::Master);
  EXPECT_EQ(higher.take_role_changes().back().reason,
            "preempting: priority 100 = 100 of 10.0.0.0, higher address, state synced");
}


}  // namespace
}  // namespace kvlb::ha
