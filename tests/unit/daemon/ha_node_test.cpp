// Two HaNodes over real UDP sockets, in a network namespace of the test's own: election, a
// graceful stop's priority 0, and synced state do not disturb the adverts.
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "daemon/ha_node.h"
#include "unit/support/eventually.h"

using namespace kvlb;
using namespace std::chrono_literals;

namespace {

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

model::HaSettings settings(const char* self, const char* peer, const char* sync_self, const char* sync_peer,
                           uint8_t priority, uint16_t port, uint32_t interval_ms = 50) {
  model::HaSettings s;
  s.enabled = true;
  s.address = ip(self);
  s.peers = {ip(peer)};
  s.port = port;
  s.interval_ms = interval_ms;
  s.instances = {{"default", priority, false, 0, {}}};
  s.sync.interface = "lo";
  s.sync.address = ip(sync_self);
  s.sync.peer = ip(sync_peer);
  return s;
}

struct Pair {
  SteadyClock clock;
  ha::SystemWallClock wall;
  ha::Bytes key = ha::Bytes(32, 7);
  std::map<std::string, uint32_t> digests{{"default", 1}};
  std::unique_ptr<daemon::HaNode> a, b;
  explicit Pair(uint16_t port) {
    a = std::make_unique<daemon::HaNode>(settings("10.77.0.11", "10.77.0.12", "10.77.0.21", "10.77.0.22", 150, port),
                                         key, digests, clock, wall, [] {});
    b = std::make_unique<daemon::HaNode>(settings("10.77.0.12", "10.77.0.11", "10.77.0.22", "10.77.0.21", 100, port),
                                         key, digests, clock, wall, [] {});
  }
  // Both started; a (priority 150) MASTER, b BACKUP. Call it in ASSERT_NO_FATAL_FAILURE.
  void start_elected();
};

// The test process moves into a fresh network namespace whose lo carries
// the nodes' (unicast, as the config demands) addresses.
class HaNodeLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    if (unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "needs root for a network namespace";
    ASSERT_EQ(0, std::system("ip link set lo up && for a in 11 12 21 22; do ip addr add 10.77.0.$a/32 dev lo; done"));
  }
};

ha::Role role(daemon::HaNode& node) { return node.roles().at("default"); }

using test_support::eventually;

void Pair::start_elected() {
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(eventually([&] { return role(*a) == ha::Role::Master; }, 2s));
  ASSERT_TRUE(eventually([&] { return role(*b) == ha::Role::Backup; }, 1s));
}

}  // namespace

TEST_F(HaNodeLoopback, HigherPriorityWinsAndTheOtherStaysBackupWhenSynced) {
  Pair p(17712);
  ASSERT_NO_FATAL_FAILURE(p.start_elected());
  p.a->set_synced(true);
  p.b->set_synced(true);
  // Several master-down intervals: the BACKUP must keep hearing the MASTER.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(role(*p.b), ha::Role::Backup) << p.b->status().dump(2);
  EXPECT_EQ(role(*p.a), ha::Role::Master);
  EXPECT_FALSE(p.b->sync_link_alarm());
  EXPECT_EQ(p.b->status()["adverts"]["badAuth"], 0);
}

TEST_F(HaNodeLoopback, GracefulStopHandsOverWithinTheSkewAndLetsGoOnceThePeerServes) {
  Pair p(17714);
  ASSERT_NO_FATAL_FAILURE(p.start_elected());
  p.b->take_role_changes();
  auto stopped_at = std::chrono::steady_clock::now();
  std::atomic<bool> stop_returned{false};
  std::thread stopper([&] {
    p.a->stop();
    stop_returned = true;
  });
  ASSERT_TRUE(eventually([&] { return role(*p.b) == ha::Role::Master; }, 1s));
  // Priority 0: the skew (about 30 ms at 50 ms) instead of 3 intervals plus skew (180 ms).
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 120ms);
  // The new MASTER's takeover is still running: the stopping node keeps its VIPs.
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(stop_returned) << "let go before the peer served the instance";
  auto changes = p.b->take_role_changes();
  ASSERT_FALSE(changes.empty());
  ASSERT_EQ(changes.back().to, ha::Role::Master);
  auto served_at = std::chrono::steady_clock::now();
  p.b->set_serving("default", changes.back().term);
  EXPECT_TRUE(eventually([&] { return stop_returned.load(); }, 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - served_at, 100ms);
  EXPECT_TRUE(p.b->status()["instances"][0]["serving"].get<bool>());
  stopper.join();
}

TEST_F(HaNodeLoopback, GracefulStopGivesUpWhenThePeerNeverServes) {
  Pair p(17722);
  ASSERT_NO_FATAL_FAILURE(p.start_elected());
  auto stopped_at = std::chrono::steady_clock::now();
  p.a->stop();  // the peer turns MASTER but never reports its takeover done
  auto took = std::chrono::steady_clock::now() - stopped_at;
  EXPECT_GE(took, 2900ms);
  EXPECT_LT(took, 3500ms);
  EXPECT_EQ(role(*p.b), ha::Role::Master);
}

TEST_F(HaNodeLoopback, APeerConfiguredDifferentlyIsReportedUntilItsConfigurationAgrees) {
  Pair p(17724);
  ASSERT_NO_FATAL_FAILURE(p.start_elected());
  auto differs = [](daemon::HaNode& node) { return node.status()["instances"][0]["peerConfigDiffers"].get<bool>(); };
  EXPECT_FALSE(differs(*p.b));
  p.a->set_digests({{"default", 2}});  // the MASTER's services changed, the BACKUP's not yet
  ASSERT_TRUE(eventually([&] { return differs(*p.b); }, 1s));
  EXPECT_GT(p.b->status()["adverts"]["configMismatch"].get<uint64_t>(), 0u);
  p.b->set_digests({{"default", 2}});
  EXPECT_TRUE(eventually([&] { return !differs(*p.b); }, 1s));
  EXPECT_EQ(role(*p.b), ha::Role::Backup) << "a differing configuration is reported, never acted on";
}

TEST_F(HaNodeLoopback, AWrongKeyIsDroppedAndCounted) {
  Pair p(17716);
  p.b = std::make_unique<daemon::HaNode>(settings("10.77.0.12", "10.77.0.11", "10.77.0.22", "10.77.0.21", 100, 17716),
                                         ha::Bytes(32, 9), p.digests, p.clock, p.wall, [] {});
  ASSERT_TRUE(p.a->start().ok());
  ASSERT_TRUE(p.b->start().ok());
  ASSERT_TRUE(eventually([&] { return p.b->status()["adverts"]["badAuth"].get<uint64_t>() > 0; }, 2s));
  // Unauthenticated adverts count for nothing: both are MASTER.
  ASSERT_TRUE(eventually([&] { return role(*p.b) == ha::Role::Master; }, 2s));
}

TEST_F(HaNodeLoopback, AReturningNodeHearsTheMasterAtOnceAndDoesNotTakeOver) {
  // Long intervals, so only the hello can explain hearing the MASTER early.
  constexpr uint16_t kPort = 17718;
  Pair p(kPort);
  p.a = std::make_unique<daemon::HaNode>(settings("10.77.0.11", "10.77.0.12", "10.77.0.21", "10.77.0.22", 100, kPort, 500),
                                         p.key, p.digests, p.clock, p.wall, [] {});
  p.b = std::make_unique<daemon::HaNode>(settings("10.77.0.12", "10.77.0.11", "10.77.0.22", "10.77.0.21", 150, kPort, 500),
                                         p.key, p.digests, p.clock, p.wall, [] {});
  ASSERT_TRUE(p.a->start().ok());
  ASSERT_TRUE(eventually([&] { return role(*p.a) == ha::Role::Master; }, 3s));
  std::this_thread::sleep_for(100ms);  // between two of the MASTER's adverts
  ASSERT_TRUE(p.b->start().ok());
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return p.b->status()["instances"][0]["master"] == "10.77.0.11"; }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms) << "the MASTER did not answer the hello";
  EXPECT_GE(p.b->status()["adverts"]["hellosSent"].get<uint64_t>(), 1u);
  // Higher priority, preempt off: it stays BACKUP through several master-down times.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(role(*p.b), ha::Role::Backup) << p.b->status().dump(2);
  EXPECT_EQ(role(*p.a), ha::Role::Master);
}

TEST_F(HaNodeLoopback, SyncedOnlyCountsTimeWithTheSyncLinkCarryingProbes) {
  Pair p(17720);
  ASSERT_TRUE(p.a->start().ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(p.a->sync_link_up_for(), std::chrono::nanoseconds(0)) << "no peer, no probes";
  ASSERT_TRUE(p.b->start().ok());
  ASSERT_TRUE(eventually([&] { return p.a->sync_link_up_for() > 0ns; }, 1s));
  std::this_thread::sleep_for(400ms);
  EXPECT_GT(p.a->sync_link_up_for(), 200ms);
  EXPECT_LT(p.a->sync_link_up_for(), 1s);
}
