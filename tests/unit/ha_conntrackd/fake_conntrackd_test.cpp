// The stateful fake conntrackd: caches, op log, injected failures.
#include <gtest/gtest.h>

#include "fakes/fake_conntrackd.h"

namespace kvlb::fakes {
namespace {

using ha::ConntrackdCommand;
using ha::ConntrackdError;

TEST(FakeConntrackd, CommitCopiesThePeersFlowsIntoTheKernel) {
  FakeConntrackdControl ctd;
  ctd.external_cache = {"tcp 198.51.100.1:1000 -> 20.20.20.1:80"};
  ctd.kernel_table = {"tcp 198.51.100.2:1000 -> 20.20.20.1:80"};
  ASSERT_TRUE(ctd.commit().ok());
  EXPECT_EQ(ctd.kernel_table, (std::set<std::string>{"tcp 198.51.100.1:1000 -> 20.20.20.1:80",
                                                      "tcp 198.51.100.2:1000 -> 20.20.20.1:80"}));
}

TEST(FakeConntrackd, TakeoverSequenceLeavesOwnFlowsInTheInternalCache) {
  FakeConntrackdControl ctd;
  ctd.external_cache = {"peer-flow"};
  ctd.internal_cache = {"stale"};
  ASSERT_TRUE(ctd.commit().ok());
  ASSERT_TRUE(ctd.flush_caches().ok());
  EXPECT_TRUE(ctd.external_cache.empty());
  ASSERT_TRUE(ctd.resync_from_kernel().ok());
  ASSERT_TRUE(ctd.send_bulk().ok());
  EXPECT_EQ(ctd.internal_cache, std::set<std::string>{"peer-flow"});
  EXPECT_EQ(ctd.bulks_sent, 1);
  EXPECT_EQ(ctd.ops, (std::vector<std::string>{"commit", "flush", "resync", "bulk"}));
}

TEST(FakeConntrackd, BackupSequence) {
  FakeConntrackdControl ctd;
  ASSERT_TRUE(ctd.shorten_timers().ok());
  ASSERT_TRUE(ctd.request_resync().ok());
  EXPECT_TRUE(ctd.timers_shortened);
  EXPECT_EQ(ctd.resyncs_requested, 1);
  ctd.internal_cache = {"a", "b"};
  auto stats = ctd.stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats->find("current active connections:\t2"), std::string::npos);
}

TEST(FakeConntrackd, DeadDaemonFailsEveryCommandAsNotRunning) {
  FakeConntrackdControl ctd;
  ctd.failure = FakeConntrackdControl::Failure::Dead;
  ctd.external_cache = {"peer-flow"};
  auto done = ctd.commit();
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ConntrackdError::Kind::NotRunning);
  EXPECT_EQ(done.error().describe(),
            "conntrackd commit (-c) via /run/kvlb/conntrackd.ctl: not running (connect: No such file or directory)");
  EXPECT_TRUE(ctd.kernel_table.empty());
  EXPECT_FALSE(ctd.stats().ok());
  EXPECT_EQ(ctd.ops, (std::vector<std::string>{"commit", "stats"}));
}

TEST(FakeConntrackd, SlowFailureCanHitOneCommandOnly) {
  FakeConntrackdControl ctd;
  ctd.failure = FakeConntrackdControl::Failure::Slow;
  ctd.failing_command = ConntrackdCommand::Commit;
  auto done = ctd.commit();
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ConntrackdError::Kind::Timeout);
  EXPECT_TRUE(ctd.flush_caches().ok());
  EXPECT_TRUE(ctd.stats().ok());
}

TEST(FakeConntrackd, ShutdownLeavesItDead) {
  FakeConntrackdControl ctd;
  ASSERT_TRUE(ctd.shutdown().ok());
  EXPECT_FALSE(ctd.stats().ok());
  EXPECT_EQ(ctd.ops, (std::vector<std::string>{"shutdown", "stats"}));
}

}  // namespace
}  // namespace kvlb::fakes
