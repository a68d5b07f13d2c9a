// The sync-daemon fake must answer like the kernel (the lab compares them in
// NetlinkIpvsKernel.Sync*), and ensure_sync_daemons is checked on it.
#include "fakes/fake_ipvs_sync.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kvlb::fakes {
namespace {

using kernel::SyncDaemon;
using kernel::SyncRole;
using Ops = std::vector<std::string>;

model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

SyncDaemon daemon(SyncRole role, std::string interface = "eth1", uint32_t sync_id = 5) {
  SyncDaemon d;
  d.role = role;
  d.interface = std::move(interface);
  d.sync_id = sync_id;
  return d;
}

// What the kernel lists for `d` started on a 1500-byte MTU with every default.
SyncDaemon listed(SyncDaemon d) {
  d.group = ip("224.0.0.81");
  d.port = 8848;
  d.ttl = 1;
  d.sync_maxlen = 1472;
  return d;
}

// errno of a failed status, 0 when it succeeded.
int err(const Status& status) { return status.ok() ? 0 : status.error().code.value(); }

class FakeIpvsSync : public ::testing::Test {
 protected:
  void SetUp() override {
    fake.interfaces["eth1"] = {};
    fake.interfaces["eth2"] = {};
  }

  std::vector<SyncDaemon> list() {
    auto got = fake.list();
    EXPECT_TRUE(got.ok()) << got.error().describe();
    return got.ok() ? *got : std::vector<SyncDaemon>{};
  }

  FakeIpvsSyncDaemons fake;
};

TEST_F(FakeIpvsSync, StartedDaemonIsListedWithKernelDefaults) {
  ASSERT_EQ(err(fake.start(daemon(SyncRole::Master))), 0);
  EXPECT_EQ(list(), std::vector<SyncDaemon>{listed(daemon(SyncRole::Master))});
  EXPECT_EQ(fake.op_log(), (Ops{"start master eth1 syncid 5"}));
}

TEST_F(FakeIpvsSync, MasterAndBackupRunTogetherMasterListedFirst) {
  ASSERT_EQ(err(fake.start(daemon(SyncRole::Backup, "eth2", 7))), 0);
  ASSERT_EQ(err(fake.start(daemon(SyncRole::Master))), 0);
  EXPECT_EQ(list(), (std::vector<SyncDaemon>{listed(daemon(SyncRole::Master)),
                                             listed(daemon(SyncRole::Backup, "eth2", 7))}));
  ASSERT_EQ(err(fake.stop(SyncRole::Master)), 0);
  EXPECT_EQ(list(), std::vector<SyncDaemon>{listed(daemon(SyncRole::Backup, "eth2", 7))});
  EXPECT_EQ(fake.op_log(), (Ops{"start backup eth2 syncid 7", "start master eth1 syncid 5", "stop master"}));
}

TEST_F(FakeIpvsSync, ErrorsAreTheKernels) {
  ASSERT_EQ(err(fake.start(daemon(SyncRole::Master))), 0);
  Status again = fake.start(daemon(SyncRole::Master, "eth2", 9));
  EXPECT_EQ(err(again), EEXIST);
  EXPECT_EQ(again.error().describe(), "start IPVS sync daemon master on eth2 syncid 9: File exists");
  Status not_running = fake.stop(SyncRole::Backup);
  EXPECT_EQ(err(not_running), ESRCH);
  EXPECT_EQ(not_running.error().describe(), "stop IPVS sync daemon backup: No such process");

  EXPECT_EQ(err(fake.start(daemon(SyncRole::Backup, "nonexist"))), ENODEV);
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Backup, ""))), ENODEV);
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Backup, "a-name-too-long-"))), EINVAL);
  SyncDaemon unicast_group = daemon(SyncRole::Backup);
  unicast_group.group = ip("10.0.0.1");
  EXPECT_EQ(err(fake.start(unicast_group)), EINVAL);
  // Validation comes before the EEXIST check, as in the kernel.
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Master, "nonexist"))), ENODEV);
  EXPECT_EQ(fake.op_log(), (Ops{"start master eth1 syncid 5"}));
  EXPECT_EQ(fake.writes(), 8u);
}

TEST_F(FakeIpvsSync, MasterNeedsAnInterfaceThatIsUp) {
  fake.interfaces["eth1"].up = false;
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Master))), ENETUNREACH);
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Backup))), 0);
}

TEST_F(FakeIpvsSync, MaxlenFollowsTheKernel) {
  fake.interfaces["eth2"].mtu = 9000;
  ASSERT_EQ(err(fake.start(daemon(SyncRole::Master, "eth2"))), 0);  // a master sends 1500-byte packets
  ASSERT_EQ(err(fake.start(daemon(SyncRole::Backup, "eth2"))), 0);  // a backup receives up to the MTU
  auto running = list();
  ASSERT_EQ(running.size(), 2u);
  EXPECT_EQ(running[0].sync_maxlen, 1472);
  EXPECT_EQ(running[1].sync_maxlen, 8972);

  ASSERT_EQ(err(fake.stop(SyncRole::Backup)), 0);
  SyncDaemon small = daemon(SyncRole::Backup);
  small.sync_maxlen = 500;
  small.group = ip("ff02::1234");
  ASSERT_EQ(err(fake.start(small)), 0);
  EXPECT_EQ(list().at(1).sync_maxlen, 1024);  // clamped
  EXPECT_EQ(fake.op_log().back(), "start backup eth1 syncid 5 group ff02::1234 maxlen 500");
}

TEST_F(FakeIpvsSync, InjectedFailures) {
  fake.fail_role(SyncRole::Backup, EPERM);
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Backup))), EPERM);
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Master))), 0);
  fake.fail_list(EIO);
  EXPECT_FALSE(fake.list().ok());
  fake.clear_failures();
  EXPECT_EQ(err(fake.start(daemon(SyncRole::Backup))), 0);
  EXPECT_EQ(list().size(), 2u);
}

// --- ensure_sync_daemons ---

class EnsureSyncDaemons : public FakeIpvsSync {
 protected:
  Status ensure(const std::vector<SyncDaemon>& wanted) { return kernel::ensure_sync_daemons(fake, wanted); }
  Ops ensure_ops(const std::vector<SyncDaemon>& wanted) {
    fake.clear_op_log();
    Status st = ensure(wanted);
    EXPECT_TRUE(st.ok()) << st.error().describe();
    return fake.op_log();
  }
};

TEST_F(EnsureSyncDaemons, NothingRunningStartsTheWantedOne) {
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Master)}), (Ops{"start master eth1 syncid 5"}));
}

TEST_F(EnsureSyncDaemons, RunningAsWantedMeansNoWrites) {
  ASSERT_TRUE(ensure({daemon(SyncRole::Master)}).ok());
  uint64_t writes = fake.writes();
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Master)}), Ops{});
  // The kernel's defaults asked for explicitly are the same daemon.
  SyncDaemon explicit_defaults = listed(daemon(SyncRole::Master));
  EXPECT_EQ(ensure_ops({explicit_defaults}), Ops{});
  EXPECT_EQ(fake.writes(), writes);
}

TEST_F(EnsureSyncDaemons, RoleSwitchStopsBeforeItStarts) {
  ASSERT_TRUE(ensure({daemon(SyncRole::Master)}).ok());
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Backup)}), (Ops{"stop master", "start backup eth1 syncid 5"}));
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Master)}), (Ops{"stop backup", "start master eth1 syncid 5"}));
}

TEST_F(EnsureSyncDaemons, ChangedSettingsRestartTheDaemon) {
  ASSERT_TRUE(ensure({daemon(SyncRole::Master)}).ok());
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Master, "eth1", 6)}), (Ops{"stop master", "start master eth1 syncid 6"}));
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Master, "eth2", 6)}), (Ops{"stop master", "start master eth2 syncid 6"}));
  SyncDaemon other_group = daemon(SyncRole::Master, "eth2", 6);
  other_group.group = ip("239.1.1.1");
  EXPECT_EQ(ensure_ops({other_group}), (Ops{"stop master", "start master eth2 syncid 6 group 239.1.1.1"}));
  SyncDaemon other_port = other_group;
  other_port.port = 9000;
  EXPECT_EQ(ensure_ops({other_port}), (Ops{"stop master", "start master eth2 syncid 6 group 239.1.1.1 port 9000"}));
  EXPECT_EQ(ensure_ops({other_port}), Ops{});
}

TEST_F(EnsureSyncDaemons, BothRolesAndNone) {
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Backup, "eth2", 7), daemon(SyncRole::Master)}),
            (Ops{"start master eth1 syncid 5", "start backup eth2 syncid 7"}));
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Backup, "eth2", 7)}), (Ops{"stop master"}));
  EXPECT_EQ(ensure_ops({}), (Ops{"stop backup"}));
  EXPECT_TRUE(list().empty());
}

TEST_F(EnsureSyncDaemons, ADaemonStartedByHandIsReplacedWhenDifferent) {
  fake.running[SyncRole::Backup] = listed(daemon(SyncRole::Backup, "eth2", 0));
  EXPECT_EQ(ensure_ops({daemon(SyncRole::Backup)}), (Ops{"stop backup", "start backup eth1 syncid 5"}));
}

TEST_F(EnsureSyncDaemons, RefusesWhatTheKernelWouldChange) {
  auto refused = [&](const std::vector<SyncDaemon>& wanted) {
    Status st = ensure(wanted);
    return !st.ok() && st.error().code == std::errc::invalid_argument;
  };
  EXPECT_TRUE(refused({daemon(SyncRole::Master), daemon(SyncRole::Master, "eth2")}));
  EXPECT_TRUE(refused({daemon(SyncRole::Master, "eth1", 256)}));
  EXPECT_TRUE(refused({daemon(SyncRole::Master, "")}));
  SyncDaemon small = daemon(SyncRole::Backup);
  small.sync_maxlen = 1023;
  EXPECT_TRUE(refused({small}));
  SyncDaemon big = daemon(SyncRole::Master);
  big.sync_maxlen = 65535 - 28 + 1;
  EXPECT_TRUE(refused({big}));
  EXPECT_EQ(fake.writes(), 0u);

  small.sync_maxlen = 1024;
  big.sync_maxlen = 65535 - 28;
  EXPECT_EQ(ensure_ops({small, big}), (Ops{"start master eth1 syncid 5 maxlen 65507",
                                           "start backup eth1 syncid 5 maxlen 1024"}));
  EXPECT_EQ(ensure_ops({small, big}), Ops{});
}

TEST_F(EnsureSyncDaemons, AFailedStopSkipsThatRolesStartOnly) {
  ASSERT_TRUE(ensure({daemon(SyncRole::Master), daemon(SyncRole::Backup, "eth2", 7)}).ok());
  fake.fail_role(SyncRole::Master, EPERM);
  fake.clear_op_log();
  Status st = ensure({daemon(SyncRole::Master, "eth1", 6), daemon(SyncRole::Backup, "eth2", 8)});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().describe(), "stop IPVS sync daemon master: Operation not permitted");
  EXPECT_EQ(fake.op_log(), (Ops{"stop backup", "start backup eth2 syncid 8"}));
}

TEST_F(EnsureSyncDaemons, ADaemonGoneBeforeItsStopIsFine) {
  fake.running[SyncRole::Master] = listed(daemon(SyncRole::Master));
  fake.fail_role(SyncRole::Master, ESRCH);  // as if it stopped between list and stop
  EXPECT_TRUE(ensure({}).ok());
}

TEST_F(EnsureSyncDaemons, StartErrorsAreReturned) {
  Status st = ensure({daemon(SyncRole::Master, "nonexist")});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().describe(), "start IPVS sync daemon master on nonexist syncid 5: No such device");
  fake.fail_list(EIO);
  EXPECT_EQ(err(ensure({daemon(SyncRole::Master)})), EIO);
}

}  // namespace
}  // namespace kvlb::fakes
