// The stateful fake BIRD: config files and what they show, op log, injected failures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_bird_control.h"

namespace kvlb::fakes {
namespace {

using bgp::BirdError;
using bgp::BirdProtocol;
using ::testing::ElementsAre;

BirdProtocol bgp_peer(const std::string& name, const std::string& state, std::uint32_t exported) {
  BirdProtocol peer;
  peer.name = name;
  peer.proto = "BGP";
  peer.state = state == "Established" ? "up" : "start";
  peer.info = state;
  peer.bgp = bgp::BirdBgpSession{state, "192.0.2.1", 65001, 65000, "", "", ""};
  peer.channels = {bgp::BirdChannel{"ipv4", "UP", "master4", 0, 0, exported, 0}};
  return peer;
}

TEST(FakeBird, ConfigureSwitchesToWhatTheNewFileShows) {
  FakeBirdControl bird;
  bird.shown_by_config["/run/kvlb/bird.conf"] = {{bgp_peer("tor1", "Established", 2)},
                                                 {{{"master4", 2, 2, 2}}, 2, 2}};
  ASSERT_TRUE(bird.check_config("/run/kvlb/bird.conf").ok());
  ASSERT_TRUE(bird.configure("/run/kvlb/bird.conf").ok());
  EXPECT_EQ(bird.running_config, "/run/kvlb/bird.conf");
  EXPECT_EQ(bird.reconfigurations, 1);
  auto protocols = bird.protocols();
  ASSERT_TRUE(protocols.ok());
  ASSERT_EQ(protocols->size(), 1u);
  EXPECT_EQ(protocols->front().exported(), 2u);
  ASSERT_TRUE(bird.protocol("tor1"));
  EXPECT_TRUE(bird.protocol("tor1")->bgp->established());
  auto routes = bird.route_count();
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(routes->routes, 2u);
  EXPECT_THAT(bird.ops, ElementsAre("CHECK /run/kvlb/bird.conf", "CONFIGURE /run/kvlb/bird.conf", "PROTOCOLS",
                                    "ROUTE COUNT"));
}

TEST(FakeBird, AnInvalidFileFailsAndTheRunningConfigStays) {
  FakeBirdControl bird;
  bird.shown_by_config["/good.conf"] = {{bgp_peer("tor1", "Active", 0)}, {}};
  bird.invalid_configs["/bad.conf"] = "/bad.conf:3:17 syntax error, unexpected S";
  ASSERT_TRUE(bird.configure("/good.conf").ok());

  auto checked = bird.check_config("/bad.conf");
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().kind, BirdError::Kind::InvalidConfig);
  EXPECT_EQ(checked.error().describe(), "bird -p -c /bad.conf: /bad.conf:3:17 syntax error, unexpected S");

  auto loaded = bird.configure("/bad.conf");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().kind, BirdError::Kind::InvalidConfig);
  EXPECT_EQ(loaded.error().code, 8002);
  EXPECT_EQ(loaded.error().detail, "/bad.conf:3:17 syntax error, unexpected S");
  EXPECT_EQ(bird.running_config, "/good.conf");
  EXPECT_EQ(bird.reconfigurations, 1);
  ASSERT_TRUE(bird.protocol("tor1"));
}

TEST(FakeBird, AFileWithoutScriptedProtocolsKeepsTheShownOnes) {
  FakeBirdControl bird;
  bird.protocols_now = {bgp_peer("tor1", "Active", 0)};
  ASSERT_TRUE(bird.configure("/other.conf").ok());
  EXPECT_EQ(bird.running_config, "/other.conf");
  EXPECT_TRUE(bird.protocol("tor1"));
}

TEST(FakeBird, AStoppedBirdFailsSocketWorkButNotTheCheck) {
  FakeBirdControl bird;
  bird.failure = FakeBirdControl::Failure::NotRunning;
  auto done = bird.configure("/run/kvlb/bird.conf");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, BirdError::Kind::NotRunning);
  EXPECT_EQ(done.error().describe(), "bird configure \"/run/kvlb/bird.conf\" via /run/bird/bird.ctl: "
                                     "not running (connect: No such file or directory)");
  EXPECT_FALSE(bird.running_config);
  EXPECT_FALSE(bird.protocols().ok());
  EXPECT_FALSE(bird.route_count().ok());
  EXPECT_FALSE(bird.status().ok());
  EXPECT_TRUE(bird.check_config("/run/kvlb/bird.conf").ok());  // `bird -p` needs no daemon
  EXPECT_THAT(bird.ops, ElementsAre("CONFIGURE /run/kvlb/bird.conf", "PROTOCOLS", "ROUTE COUNT", "STATUS",
                                    "CHECK /run/kvlb/bird.conf"));
}

TEST(FakeBird, OneOperationTimesOut) {
  FakeBirdControl bird;
  bird.failure = FakeBirdControl::Failure::Timeout;
  bird.failing_op = "CONFIGURE";
  auto done = bird.configure("/c");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, BirdError::Kind::Timeout);
  EXPECT_TRUE(bird.protocols().ok());
  auto status = bird.status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->message, "Daemon is up and running");
}

}  // namespace
}  // namespace kvlb::fakes
