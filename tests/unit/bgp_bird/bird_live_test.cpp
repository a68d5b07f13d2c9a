// UnixSocketBirdControl against a real BIRD 2 (/usr/sbin/bird), started by
// each test in a network namespace of its own with its control socket in a
// temporary directory. Skipped where BIRD or namespaces are missing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "bgp/bird/bird_socket_control.h"
#include "bird_test_support.h"

namespace kvlb::bgp {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = BirdError::Kind;

std::string static_routes(int count) {
  std::string routes;
  for (int i = 0; i < count; ++i) routes += "  route 192.0.2." + std::to_string(10 + i) + "/32 blackhole;\n";
  return routes;
}

// Router 10.0.0.1 (AS 65000) on 127.0.0.1: blackhole routes for service
// addresses, exported to a BGP neighbour 127.0.0.2 (AS 65001).
std::string router_config(int routes, const std::string& extra = "") {
  return "log stderr all;\n"
         "router id 10.0.0.1;\n"
         "protocol device {}\n"
         "protocol static static_vips {\n"
         "  ipv4;\n" +
         static_routes(routes) +
         "}\n"
         "protocol bgp peer1 {\n"
         "  local 127.0.0.1 as 65000;\n"
         "  neighbor 127.0.0.2 as 65001;\n"
         "  multihop;\n"
         "  strict bind;\n"
         "  ipv4 { import none; export all; next hop self; };\n"
         "}\n" +
         extra;
}

// The neighbour: router 10.0.0.2 (AS 65001) on 127.0.0.2, taking everything.
const std::string kNeighbourConfig =
    "log stderr all;\n"
    "router id 10.0.0.2;\n"
    "protocol device {}\n"
    "protocol bgp upstream {\n"
    "  local 127.0.0.2 as 65001;\n"
    "  neighbor 127.0.0.1 as 65000;\n"
    "  multihop;\n"
    "  strict bind;\n"
    "  ipv4 { import all; export none; };\n"
    "}\n";

std::optional<BirdProtocol> find(const std::vector<BirdProtocol>& protocols, const std::string& name) {
  for (const auto& protocol : protocols)
    if (protocol.name == name) return protocol;
  return std::nullopt;
}

class LiveBirdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bird.emplace(dir, "bird", router_config(3));
    if (!bird->skip_reason().empty()) GTEST_SKIP() << bird->skip_reason();
    ASSERT_TRUE(bird->running()) << bird->failure();
    BirdControlOptions options;
    options.socket_path = bird->socket_path;
    options.reply_timeout = 2s;
    options.reconfigure_timeout = 10s;
    control.emplace(options);
  }

  std::vector<BirdProtocol> protocols_now() {
    auto protocols = control->protocols();
    EXPECT_TRUE(protocols.ok()) << protocols.error().describe();
    return protocols.ok() ? *protocols : std::vector<BirdProtocol>{};
  }

  std::string write_config(const std::string& name, const std::string& text) {
    const std::string path = dir / name;
    bird_test::write_file(path, text);
    return path;
  }

  bird_test::TempDir dir;
  std::optional<bird_test::BirdDaemon> bird;
  std::optional<UnixSocketBirdControl> control;
};

TEST_F(LiveBirdTest, GreetsAndReportsItsStatus) {
  auto status = control->status();
  ASSERT_TRUE(status.ok()) << status.error().describe();
  EXPECT_THAT(status->version, StartsWith("2."));
  EXPECT_EQ(status->router_id, "10.0.0.1");
  EXPECT_EQ(status->message, "Daemon is up and running");
  EXPECT_FALSE(status->last_reconfiguration.empty());
  EXPECT_FALSE(status->last_reboot.empty());
}

TEST_F(LiveBirdTest, ListsProtocolsWithChannelsAndTheBgpSession) {
  const auto protocols = protocols_now();
  std::vector<std::string> names;
  for (const auto& protocol : protocols) names.push_back(protocol.name);
  EXPECT_EQ(names, (std::vector<std::string>{"device1", "static_vips", "peer1"}));

  const auto device = find(protocols, "device1");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->proto, "Device");
  EXPECT_TRUE(device->up());

  const auto statics = find(protocols, "static_vips");
  ASSERT_TRUE(statics);
  EXPECT_EQ(statics->proto, "Static");
  EXPECT_EQ(statics->table, "master4");
  EXPECT_TRUE(statics->up());
  ASSERT_EQ(statics->channels.size(), 1u);
  EXPECT_EQ(statics->channels[0].name, "ipv4");
  EXPECT_EQ(statics->channels[0].state, "UP");
  EXPECT_EQ(statics->channels[0].imported, 3u);
  EXPECT_EQ(statics->channels[0].preferred, 3u);

  const auto peer = find(protocols, "peer1");
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->proto, "BGP");
  EXPECT_EQ(peer->state, "start");  // nobody at 127.0.0.2
  ASSERT_TRUE(peer->bgp);
  EXPECT_TRUE(peer->bgp->state == "Active" || peer->bgp->state == "Connect" || peer->bgp->state == "Idle")
      << peer->bgp->state;
  EXPECT_EQ(peer->info, peer->bgp->state);
  EXPECT_EQ(peer->bgp->neighbor_address, "127.0.0.2");
  EXPECT_EQ(peer->bgp->neighbor_as, 65001u);
  EXPECT_EQ(peer->bgp->local_as, 65000u);
  ASSERT_EQ(peer->channels.size(), 1u);
  EXPECT_EQ(peer->channels[0].exported, 0u);

  auto count = control->route_count();
  ASSERT_TRUE(count.ok()) << count.error().describe();
  ASSERT_TRUE(count->table("master4"));
  EXPECT_EQ(count->table("master4")->routes, 3u);
  EXPECT_EQ(count->routes, 3u);
}

TEST_F(LiveBirdTest, EstablishedSessionExportsTheStaticRoutes) {
  bird_test::BirdDaemon neighbour(dir, "neighbour", kNeighbourConfig, &*bird);
  ASSERT_TRUE(neighbour.running()) << neighbour.failure();
  std::optional<BirdProtocol> peer;
  ASSERT_TRUE(bird_test::eventually(
      [&] {
        peer = find(protocols_now(), "peer1");
        return peer && peer->bgp && peer->bgp->established() && peer->exported() == 3;
      },
      20s))
      << (peer && peer->bgp ? peer->bgp->state : "no peer1") << "\n" << bird->output();
  EXPECT_EQ(peer->state, "up");
  EXPECT_EQ(peer->info, "Established");
  EXPECT_EQ(peer->bgp->neighbor_id, "10.0.0.2");
  EXPECT_EQ(peer->bgp->source_address, "127.0.0.1");

  // and the neighbour has them once it has read the update
  UnixSocketBirdControl upstream({.socket_path = neighbour.socket_path});
  std::optional<BirdProtocol> theirs;
  EXPECT_TRUE(bird_test::eventually(
      [&] {
        auto listed = upstream.protocols();
        theirs = listed.ok() ? find(*listed, "upstream") : std::nullopt;
        return theirs && theirs->imported() == 3;
      },
      5s));
}

TEST_F(LiveBirdTest, ConfigureWithAChangedConfigLoadsIt) {
  const std::string path = write_config("next.conf", router_config(4));
  auto done = control->configure(path);
  ASSERT_TRUE(done.ok()) << done.error().describe();
  auto count = control->route_count();
  ASSERT_TRUE(count.ok()) << count.error().describe();
  EXPECT_EQ(count->routes, 4u);
  const auto statics = find(protocols_now(), "static_vips");
  ASSERT_TRUE(statics);
  EXPECT_EQ(statics->imported(), 4u);
}

TEST_F(LiveBirdTest, ConfigureThatRemovesAndAddsProtocolsReturnsWhenTheyAreInPlace) {
  const std::string path = write_config(
      "next.conf", "log stderr all;\nrouter id 10.0.0.1;\nprotocol device {}\n"
                   "protocol static more_vips {\n  ipv4;\n" + static_routes(2) + "}\n");
  auto done = control->configure(path);
  ASSERT_TRUE(done.ok()) << done.error().describe();
  const auto protocols = protocols_now();
  std::vector<std::string> names;
  for (const auto& protocol : protocols) names.push_back(protocol.name);
  EXPECT_EQ(names, (std::vector<std::string>{"device1", "more_vips"}));
  auto status = control->status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->message, "Daemon is up and running");
}

// "HH:MM:SS.mmm" (how the test's BIRD prints "since") in milliseconds of the day.
int64_t ms_of_day(const std::string& since) {
  int h = 0, m = 0, sec = 0, ms = 0;
  if (std::sscanf(since.c_str(), "%d:%d:%d.%d", &h, &m, &sec, &ms) != 4) ADD_FAILURE() << "since: " << since;
  return ((h * 60 + m) * 60 + sec) * 1000LL + ms;
}

TEST_F(LiveBirdTest, ConfigureWithAnInvalidConfigKeepsTheRunningOne) {
  // BIRD prints "since" as its monotonic time plus the current offset to the
  // wall clock, so two reads of an unchanged protocol may differ by a
  // millisecond. A restart would move it by at least the time BIRD has been
  // up before the first read.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto before = protocols_now();
  const std::string path =
      write_config("broken.conf", router_config(4, "protocol static oops {\n  ipv4;\n  route 1.2.3.4/32 blackhol;\n}\n"));
  auto done = control->configure(path);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::InvalidConfig);
  EXPECT_EQ(done.error().code, 8002);
  EXPECT_THAT(done.error().detail, StartsWith(path + ":20:"));
  EXPECT_THAT(done.error().detail, HasSubstr("syntax error"));

  const auto after = protocols_now();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].name, before[i].name);
    EXPECT_EQ(after[i].state, before[i].state);
    EXPECT_LE(std::abs(ms_of_day(after[i].since) - ms_of_day(before[i].since)), 5)
        << after[i].name << ": restarted? since " << before[i].since << " -> " << after[i].since;
  }
  auto count = control->route_count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->routes, 3u);
}

TEST_F(LiveBirdTest, ConfigureOfAMissingFileIsInvalidConfig) {
  auto done = control->configure(dir / "missing.conf");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::InvalidConfig);
  EXPECT_EQ(done.error().detail, dir / "missing.conf" + ": No such file or directory");
}

TEST_F(LiveBirdTest, CheckConfigRunsBirdDashP) {
  EXPECT_TRUE(control->check_config(bird->config_path).ok());
  const std::string broken = write_config(
      "broken.conf",
      "router id 10.0.0.1;\nprotocol device {}\nprotocol static oops { ipv4; route 1.2.3.4/32 blackhol; }\n");
  auto bad = control->check_config(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, Kind::InvalidConfig);
  EXPECT_THAT(bad.error().detail, StartsWith(broken + ":3:"));  // BIRD's own "file:line:column message"
  EXPECT_THAT(bad.error().detail, HasSubstr("syntax error"));
  auto missing = control->check_config(dir / "missing.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, Kind::InvalidConfig);
  EXPECT_THAT(missing.error().detail, HasSubstr("No such file or directory"));

  UnixSocketBirdControl no_binary({.socket_path = bird->socket_path, .bird_binary = dir / "no-bird"});
  auto io = no_binary.check_config(bird->config_path);
  ASSERT_FALSE(io.ok());
  EXPECT_EQ(io.error().kind, Kind::Io);
}

TEST_F(LiveBirdTest, CheckConfigInDaemonParsesWithoutLoading) {
  const auto before = protocols_now();
  const std::string changed = write_config("changed.conf", router_config(4, "protocol static more {\n  ipv4;\n  route 10.9.9.0/24 blackhole;\n}\n"));
  EXPECT_TRUE(control->check_config_in_daemon(changed).ok());
  EXPECT_EQ(protocols_now().size(), before.size()) << "checked, not loaded";
  const std::string broken = write_config(
      "broken.conf",
      "router id 10.0.0.1;\nprotocol device {}\nprotocol static oops { ipv4; route 1.2.3.4/32 blackhol; }\n");
  auto bad = control->check_config_in_daemon(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, Kind::InvalidConfig);
  EXPECT_THAT(bad.error().detail, StartsWith(broken + ":3:"));
  EXPECT_THAT(bad.error().detail, HasSubstr("syntax error"));
}

TEST_F(LiveBirdTest, StoppedBirdIsNotRunningAtOnce) {
  bird->stop(SIGTERM);  // BIRD removes its socket
  auto start = std::chrono::steady_clock::now();
  auto gone = control->protocols();
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, Kind::NotRunning);
  EXPECT_THAT(gone.error().detail, HasSubstr("No such file or directory"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST_F(LiveBirdTest, KilledBirdIsNotRunningAtOnce) {
  bird->stop(SIGKILL);  // the socket file stays, nobody listens
  auto start = std::chrono::steady_clock::now();
  auto gone = control->configure(bird->config_path);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, Kind::NotRunning);
  EXPECT_THAT(gone.error().detail, HasSubstr("Connection refused"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST_F(LiveBirdTest, AStoppedBirdTimesOut) {
  ::kill(bird->pid(), SIGSTOP);  // accepts on the kernel's side, never answers
  auto start = std::chrono::steady_clock::now();
  UnixSocketBirdControl impatient({.socket_path = bird->socket_path, .reply_timeout = 300ms});
  auto status = impatient.status();
  const auto took = std::chrono::steady_clock::now() - start;
  ::kill(bird->pid(), SIGCONT);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, Kind::Timeout);
  EXPECT_THAT(status.error().detail, HasSubstr("no complete greeting within 300 ms"));
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(control->status().ok());  // and answers again once it runs
}

}  // namespace
}  // namespace kvlb::bgp
