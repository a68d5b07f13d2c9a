// The real conntrackd in private network namespaces: it accepts the golden
// configs and rejects a broken one, answers every socket command, commits a
// peer's flows before answering, and a killed daemon is reported and restarted.
// Needs root (network namespaces); skipped otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "conntrackd_test_support.h"
#include "ha/conntrackd/conntrackd_config.h"
#include "ha/conntrackd/conntrackd_process.h"
#include "ha/conntrackd/conntrackd_socket_control.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using conntrackd_test::run;
using ::testing::HasSubstr;

constexpr const char* kConntrackd = "/usr/sbin/conntrackd";

// The socket, lock and log paths of a rendered config moved into `dir`.
std::string with_paths_in(const std::string& config, const conntrackd_test::TempDir& dir) {
  std::istringstream lines(config);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("\tLockFile ")) line = "\tLockFile " + (dir / "conntrackd.lock");
    if (line.starts_with("\t\tPath ")) line = "\t\tPath " + (dir / "conntrackd.ctl");
    if (line.starts_with("\tLogFile /")) line = "\tLogFile " + (dir / "conntrackd.log");
    out += line + "\n";
  }
  return out;
}

// conntrackd, its socket and its process, all under one temporary directory.
struct Node {
  explicit Node(std::string binary = kConntrackd) {
    ConntrackdProcessOptions options;
    options.binary = std::move(binary);
    options.config_path = dir / "conntrackd.conf";
    options.lock_file = dir / "conntrackd.lock";
    options.socket_path = dir / "conntrackd.ctl";
    options.output_log = dir / "output.log";
    process.emplace(options, control, clock);
  }
  ~Node() {
    if (process) (void)process->stop();
  }

  ConntrackdSettings settings(const std::string& interface, const std::string& local, const std::string& peer) const {
    ConntrackdSettings s;
    s.sync_interface = interface;
    s.local_sync_address = local;
    s.peer_sync_address = peer;
    s.unix_socket = dir / "conntrackd.ctl";
    s.lock_file = dir / "conntrackd.lock";
    s.log_file = dir / "conntrackd.log";
    s.syslog = false;
    return s;
  }

  void start(const std::string& config) {
    ASSERT_TRUE(process->write_config(config).ok());
    ASSERT_TRUE(process->start().ok());
    auto ready = process->wait_ready(10s);
    ASSERT_TRUE(ready.ok()) << ready.error().describe();
  }

  std::string log() const { return conntrackd_test::read_file(dir / "conntrackd.log"); }

  // "current active connections" of one cache in conntrackd's stats.
  long cached(const std::string& cache) {
    auto stats = control.stats();
    if (!stats) return -1;
    const auto at = stats->find("cache " + cache + ":");
    const std::string key = "current active connections:";
    const auto count = stats->find(key, at);
    return at == std::string::npos || count == std::string::npos ? -1 : std::stol(stats->substr(count + key.size()));
  }

  conntrackd_test::TempDir dir;
  UnixSocketConntrackdControl control{dir / "conntrackd.ctl", ConntrackdTimeouts{30s, 1s}};
  ManualClock clock;
  std::optional<ConntrackdProcess> process;
};

class ConntrackdLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    ASSERT_TRUE(std::filesystem::exists(kConntrackd)) << "conntrackd is not installed";
    must_run("ip link set lo up");
  }

  static void must_run(const std::string& command) {
    auto result = run(command);
    ASSERT_EQ(result.status, 0) << command << ": " << result.output;
  }

  // A veth pair whose first end holds the sync address.
  static void sync_link(const std::string& interface, const std::string& address) {
    must_run("ip link add " + interface + " type veth peer name " + interface + "p");
    must_run("ip addr add " + address + "/24 dev " + interface);
    must_run("ip link set " + interface + " up && ip link set " + interface + "p up");
  }
};

TEST_F(ConntrackdLive, AcceptsTheGoldenConfigs) {
  for (const auto& [name, settings] : {std::pair{"basic.conf", conntrackd_test::basic_settings()},
                                       std::pair{"custom_port.conf", conntrackd_test::custom_port_settings()}}) {
    SCOPED_TRACE(name);
    sync_link(settings.sync_interface, settings.local_sync_address);
    Node node;
    const std::string golden = conntrackd_test::read_file(conntrackd_test::source_path("golden/conntrackd/") + name);
    ASSERT_FALSE(golden.empty());
    node.start(with_paths_in(golden, node.dir));
    auto stats = node.control.stats();
    ASSERT_TRUE(stats.ok()) << stats.error().describe();
    EXPECT_THAT(*stats, HasSubstr("cache external:"));
    ASSERT_TRUE(node.process->stop().ok());
    EXPECT_EQ(node.control.stats().error().kind, ConntrackdError::Kind::NotRunning);
    EXPECT_FALSE(std::filesystem::exists(node.dir / "conntrackd.lock"));
    must_run("ip link del " + settings.sync_interface);
  }
}

TEST_F(ConntrackdLive, RejectsABrokenConfigWithItsReason) {
  sync_link("eth1", "10.255.0.1");
  Node node;
  std::string config = with_paths_in(*render_conntrackd_conf(conntrackd_test::basic_settings()), node.dir);
  config.replace(config.find("General {\n"), 10, "General {\n\tBogus 1\n");
  ASSERT_TRUE(node.process->write_config(config).ok());
  ASSERT_TRUE(node.process->start().ok());
  auto ready = node.process->wait_ready(10s);
  ASSERT_FALSE(ready.ok());
  EXPECT_THAT(ready.error().describe(), HasSubstr("conntrackd exited with status 1 before answering"));
  EXPECT_THAT(ready.error().describe(), HasSubstr("symbol 'Bogus': syntax error"));
}

TEST_F(ConntrackdLive, RejectsASyncAddressTheNodeDoesNotHave) {
  sync_link("eth1", "10.255.0.9");
  Node node;
  ASSERT_TRUE(node.process->write_config(with_paths_in(*render_conntrackd_conf(conntrackd_test::basic_settings()),
                                                       node.dir)).ok());
  ASSERT_TRUE(node.process->start().ok());
  auto ready = node.process->wait_ready(10s);
  ASSERT_FALSE(ready.ok());
  EXPECT_THAT(ready.error().describe(), HasSubstr("can't open channel socket: Cannot assign requested address"));
}

TEST_F(ConntrackdLive, AnswersEveryCommandOverTheSocket) {
  sync_link("sync0", "10.254.0.1");
  Node node;
  node.start(*render_conntrackd_conf(node.settings("sync0", "10.254.0.1", "10.254.0.2")));
  const auto begin = std::chrono::steady_clock::now();
  for (auto [name, done] : {std::pair{"commit", node.control.commit()}, {"flush", node.control.flush_caches()},
                            {"resync", node.control.resync_from_kernel()}, {"bulk", node.control.send_bulk()},
                            {"request-resync", node.control.request_resync()},
                            {"shorten-timers", node.control.shorten_timers()}})
    EXPECT_TRUE(done.ok()) << name << ": " << done.error().describe();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);  // no exec: milliseconds for all of them
  auto stats = node.control.stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_THAT(*stats, HasSubstr("cache internal:"));
  // conntrackd's log says each request did what its number means
  for (const char* line : {"committing all external caches", "flushing caches", "resync with master conntrack table",
                           "sending bulk update", "resync requested", "flushing conntrack table in 60 secs"})
    EXPECT_THAT(node.log(), HasSubstr(line));
  ASSERT_TRUE(node.control.shutdown().ok());
  EXPECT_TRUE(conntrackd_test::eventually([&] { return !node.process->alive(); }));
  EXPECT_THAT(node.log(), HasSubstr("---- shutdown received ----"));
}

TEST_F(ConntrackdLive, AKilledOrStoppedDaemonIsAClearErrorAndIsRestarted) {
  sync_link("sync0", "10.254.0.1");
  Node node;
  node.start(*render_conntrackd_conf(node.settings("sync0", "10.254.0.1", "10.254.0.2")));
  const pid_t pid = *node.process->pid();

  ::kill(pid, SIGSTOP);  // alive but not answering
  auto slow = node.control.stats();
  ::kill(pid, SIGCONT);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().describe(),
            "conntrackd stats (-s) via " + (node.dir / "conntrackd.ctl") + ": no complete answer within 1000 ms");
  ASSERT_TRUE(conntrackd_test::eventually([&] { return node.control.stats().ok(); }));

  ::kill(pid, SIGKILL);
  ASSERT_TRUE(conntrackd_test::eventually([&] { return !node.process->alive(); }));
  const auto begin = std::chrono::steady_clock::now();
  auto commit = node.control.commit();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  ASSERT_FALSE(commit.ok());
  EXPECT_EQ(commit.error().kind, ConntrackdError::Kind::NotRunning);
  EXPECT_EQ(commit.error().describe(), "conntrackd commit (-c) via " + (node.dir / "conntrackd.ctl") +
                                           ": not running (connect: Connection refused)");
  EXPECT_TRUE(std::filesystem::exists(node.dir / "conntrackd.lock"));  // left behind by SIGKILL

  EXPECT_THAT(node.process->poll(), ::testing::ElementsAre("conntrackd (pid " + std::to_string(pid) +
                                                           ") was killed by signal 9 (SIGKILL); restarting in 500 ms"));
  node.clock.advance(500ms);
  EXPECT_THAT(node.process->poll(), ::testing::ElementsAre(::testing::StartsWith("conntrackd restarted (pid ")));
  auto ready = node.process->wait_ready(10s);
  ASSERT_TRUE(ready.ok()) << ready.error().describe();
  EXPECT_TRUE(node.control.commit().ok());
}

// Node A (this namespace) learns flows; node B (a peer namespace) receives them
// over FTFW into its external cache; B's commit returns with all in B's kernel.
TEST_F(ConntrackdLive, CommitReturnsWithThePeersFlowsInTheKernel) {
  conntrackd_test::PeerNamespace peer;
  ASSERT_TRUE(peer.ok());
  must_run("ip link add syncA type veth peer name syncB netns " + std::to_string(peer.pid()));
  must_run("ip addr add 10.254.0.1/24 dev syncA && ip link set syncA up");
  must_run(peer.enter() + "sh -c 'ip link set lo up && ip addr add 10.254.0.2/24 dev syncB && ip link set syncB up'");

  Node a;
  conntrackd_test::TempDir wrapper_dir;
  const std::string in_peer = wrapper_dir / "conntrackd-in-peer";
  conntrackd_test::write_file(in_peer, "#!/bin/sh\nexec " + peer.enter() + kConntrackd + " \"$@\"\n", 0755);
  Node b(in_peer);
  a.start(*render_conntrackd_conf(a.settings("syncA", "10.254.0.1", "10.254.0.2")));
  b.start(*render_conntrackd_conf(b.settings("syncB", "10.254.0.2", "10.254.0.1")));

  constexpr int kFlows = 1000;
  must_run("for port in $(seq 10001 " + std::to_string(10000 + kFlows) +
           "); do conntrack -I -p tcp -s 198.51.100.7 -d 203.0.113.1 --sport $port --dport 80 "
           "--state ESTABLISHED -u ASSURED -t 600 2>/dev/null || exit 1; done");
  ASSERT_TRUE(conntrackd_test::eventually([&] { return b.cached("external") == kFlows; }, 30s))
      << "B's external cache holds " << b.cached("external");
  ASSERT_EQ(run(peer.enter() + "conntrack -C").output, "0\n");

  auto commit = b.control.commit();
  ASSERT_TRUE(commit.ok()) << commit.error().describe();
  // No waiting: the commit's answer came after the last entry was written.
  EXPECT_EQ(run(peer.enter() + "conntrack -C").output, std::to_string(kFlows) + "\n");
  EXPECT_THAT(b.log(), HasSubstr("Committed " + std::to_string(kFlows) + " new entries"));
  EXPECT_THAT(run(peer.enter() + "conntrack -L -p tcp --sport 10001").output,
              HasSubstr("src=198.51.100.7 dst=203.0.113.1 sport=10001 dport=80"));
}

}  // namespace
}  // namespace kvlb::ha
