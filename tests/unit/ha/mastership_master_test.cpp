// One Mastership driven by hand as MASTER, and stop, fault and what it ignores.
#include <gtest/gtest.h>

#include "unit/ha/mastership_support.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using kvlb::testing::ip;

TEST_F(MastershipTest, MasterStepsDownForAStrongerMaster) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  ASSERT_EQ(m.role(), Role::Master);
  m.take_outgoing();
  m.take_role_changes();
  m.on_advert(from_peer(150));
  EXPECT_EQ(m.role(), Role::Backup);
  EXPECT_TRUE(m.take_outgoing().empty());
  EXPECT_EQ(m.take_role_changes(),
            (std::vector<RoleChange>{{"web-1", Role::Master, Role::Backup, "higher priority 150 from 10.0.0.2"}}));
  EXPECT_EQ(m.stats().split_brain_resolved, 1u);
  EXPECT_EQ(m.stats().master, ip("10.0.0.2"));
  EXPECT_EQ(m.next_deadline(), clock_.now() + 360937us);
}

TEST_F(MastershipTest, ServingIsAdvertisedAtOnceForTheCurrentTermOnly) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  ASSERT_EQ(m.role(), Role::Master);
  auto changes = m.take_role_changes();
  ASSERT_EQ(changes.back().term, 1u);
  auto first = m.take_outgoing();
  ASSERT_FALSE(first.empty());
  EXPECT_FALSE(first.front().serving) << "adverts before the takeover is done must not claim the VIPs";
  m.set_serving(1);
  auto now = m.take_outgoing();
  ASSERT_EQ(now.size(), 1u) << "the peer waiting to let go must hear it at once";
  EXPECT_TRUE(now[0].serving);
  EXPECT_TRUE(m.serving());
  // Split brain lost, then won again: the first term's report is stale.
  m.on_advert(from_peer(150));
  ASSERT_EQ(m.role(), Role::Backup);
  EXPECT_FALSE(m.serving());
  run(m, 400ms);
  ASSERT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_role_changes().back().term, 2u);
  m.take_outgoing();
  m.set_serving(1);
  EXPECT_TRUE(m.take_outgoing().empty());
  EXPECT_FALSE(m.serving());
  m.set_serving(2);
  EXPECT_TRUE(m.serving());
  // Stepping down is never "serving".
  m.take_outgoing();
  m.stop();
  auto last = m.take_outgoing();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].priority, 0);
  EXPECT_FALSE(last[0].serving);
}

TEST_F(MastershipTest, MasterStepsDownForEqualPriorityHigherAddress) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  m.on_advert(from_peer(100, "10.0.0.2"));
  EXPECT_EQ(m.role(), Role::Backup);
  EXPECT_EQ(m.take_role_changes().back().reason, "equal priority 100 from higher address 10.0.0.2");
}

TEST_F(MastershipTest, MasterAnswersAWeakerMasterAtOnce) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  m.take_outgoing();
  m.on_advert(from_peer(100, "10.0.0.0"));
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_outgoing().size(), 1u);
  EXPECT_EQ(m.next_deadline(), clock_.now() + 100ms);  // the periodic timer restarts
}

TEST_F(MastershipTest, MasterAnswersAPeerSteppingDown) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  m.take_outgoing();
  m.on_advert(from_peer(0));
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.take_outgoing().size(), 1u);
}

TEST_F(MastershipTest, MasterAnswersAStartingPeersHelloAtOnce) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  m.take_outgoing();
  clock_.advance(30ms);
  m.on_hello();
  auto out = m.take_outgoing();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].priority, 100);
  EXPECT_EQ(m.next_deadline(), clock_.now() + 100ms);  // the periodic timer restarts
  EXPECT_EQ(m.role(), Role::Master);
}

TEST_F(MastershipTest, OnlyAMasterAnswersAHello) {
  Mastership m(config(), clock_);
  m.start();
  m.take_outgoing();
  m.on_hello();
  EXPECT_TRUE(m.take_outgoing().empty());
  EXPECT_EQ(m.role(), Role::Backup);
}

TEST_F(MastershipTest, StopFromMasterSendsPriorityZero) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  m.take_outgoing();
  m.stop();
  EXPECT_EQ(m.role(), Role::Stopped);
  auto sent = m.take_outgoing();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].priority, 0);
  EXPECT_EQ(m.next_deadline(), TimePoint::max());
  run(m, 1s);
  EXPECT_TRUE(m.take_outgoing().empty());
}

TEST_F(MastershipTest, StopFromBackupIsSilent) {
  Mastership m(config(), clock_);
  m.start();
  m.stop();
  EXPECT_EQ(m.role(), Role::Stopped);
  EXPECT_TRUE(m.take_outgoing().empty());
  m.start();  // a stopped instance can be started again
  EXPECT_EQ(m.role(), Role::Backup);
}

TEST_F(MastershipTest, FaultSilencesAndClearingItReturnsToBackup) {
  Mastership m(config(), clock_);
  m.start();
  m.set_fault(true, "interface eth1 down");
  EXPECT_EQ(m.role(), Role::Fault);
  EXPECT_EQ(m.next_deadline(), TimePoint::max());
  m.on_advert(from_peer(150));
  run(m, 2s);
  EXPECT_EQ(m.role(), Role::Fault);
  EXPECT_TRUE(m.take_outgoing().empty());
  EXPECT_EQ(m.stats().adverts_received, 0u);

  m.set_fault(false, "interface eth1 up");
  EXPECT_EQ(m.role(), Role::Backup);
  EXPECT_EQ(m.next_deadline(), clock_.now() + 360937us);
  EXPECT_EQ(m.take_role_changes(), (std::vector<RoleChange>{
                                       {"web-1", Role::Init, Role::Backup, "started"},
                                       {"web-1", Role::Backup, Role::Fault, "interface eth1 down"},
                                       {"web-1", Role::Fault, Role::Backup, "interface eth1 up"},
                                   }));
}

TEST_F(MastershipTest, MasterEnteringFaultStepsDown) {
  Mastership m(config(), clock_);
  m.start();
  run(m, 400ms);
  m.take_outgoing();
  m.set_fault(true);
  EXPECT_EQ(m.role(), Role::Fault);
  auto sent = m.take_outgoing();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].priority, 0);
  run(m, 1s);
  EXPECT_TRUE(m.take_outgoing().empty());
}

TEST_F(MastershipTest, StartingInFault) {
  Mastership m(config(), clock_);
  m.set_fault(true);
  m.start();
  EXPECT_EQ(m.role(), Role::Fault);
  m.set_fault(false);
  EXPECT_EQ(m.role(), Role::Backup);
}

TEST_F(MastershipTest, IgnoresProbesOwnAdvertsAndOtherInstances) {
  Mastership m(config(), clock_);
  m.start();
  Advert probe = from_peer(150);
  probe.probe = true;
  Advert own = from_peer(150, "10.0.0.1");
  Advert other = from_peer(150);
  other.instance = "db";
  for (auto t = 0ms; t < 1s; t += 100ms) {
    m.on_advert(probe);
    m.on_advert(own);
    m.on_advert(other);
    run(m, 100ms);
  }
  EXPECT_EQ(m.role(), Role::Master);
  EXPECT_EQ(m.stats().adverts_received, 0u);
}

TEST_F(MastershipTest, RoleNames) {
  EXPECT_STREQ(to_string(Role::Init), "INIT");
  EXPECT_STREQ(to_string(Role::Backup), "BACKUP");
  EXPECT_STREQ(to_string(Role::Master), "MASTER");
  EXPECT_STREQ(to_string(Role::Fault), "FAULT");
  EXPECT_STREQ(to_string(Role::Stopped), "STOPPED");
}

}  // namespace
}  // namespace kvlb::ha
