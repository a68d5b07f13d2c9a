// BgpRuntime against the BIRD fake: what is loaded when, and what happens
// when BIRD is down, rejects the config, or was restarted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bgp/bird_config.h"
#include "daemon/bgp_runtime.h"
#include "fakes/fake_bird_control.h"

using namespace kvlb;
using namespace std::chrono_literals;

namespace {

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class BgpRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kvlb-bgp-runtime-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    settings_.enabled = true;
    settings_.local_as = 65001;
    settings_.router_id = ip("10.0.9.1");
    model::BgpPeer peer;
    peer.address = ip("10.0.9.254");
    peer.as = 65000;
    settings_.peers = {peer};
    settings_.bird_config = (dir_ / "bird.conf").string();
    state_.bgp = settings_;
    state_.ha.enabled = true;
    state_.ha.instances = {{"default", 150, false, 0, {}}};
    model::Service svc;
    svc.key = {ip("20.20.20.1"), 80, model::Protocol::Tcp};
    svc.name = "web";
    svc.instance = "default";
    state_.services = {svc};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path() const { return settings_.bird_config; }

  std::filesystem::path dir_;
  model::BgpSettings settings_;
  model::DesiredState state_;
  ManualClock clock_;
  fakes::FakeBirdControl bird_;
};

TEST_F(BgpRuntimeTest, LoadsWhatItRendersOnceAndNothingWhenUnchanged) {
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  EXPECT_EQ(bird_.ops, (std::vector<std::string>{"DAEMON CHECK " + path() + ".next", "CONFIGURE " + path(), "STATUS"}));
  EXPECT_EQ(read_file(path()), bgp::render_bird_config(settings_, bgp::announced_routes(state_, {{"default", true}})));
  EXPECT_FALSE(std::filesystem::exists(path() + ".next"));
  bird_.ops.clear();
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  clock_.advance(1s);
  runtime.tick();
  EXPECT_TRUE(bird_.ops.empty());
  auto status = runtime.status();
  EXPECT_TRUE(status["loaded"]);
  EXPECT_EQ(status["routes"][0]["vip"], "20.20.20.1");
  EXPECT_EQ(status["routes"][0]["role"], "MASTER");
}

TEST_F(BgpRuntimeTest, NothingIsLoadedBeforeApply) {
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  runtime.update(state_, {{"default", true}});
  EXPECT_TRUE(bird_.ops.empty());
  EXPECT_EQ(runtime.next_tick(), clock_.now()) << "a pending load is due at once";
  runtime.tick();
  EXPECT_EQ(bird_.reconfigurations, 1);
}

TEST_F(BgpRuntimeTest, NewSettingsAreRenderedAndLoadedByTheNextUpdate) {
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  auto next = settings_;
  next.peers[0].as = 65100;
  runtime.set_settings(next);
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  EXPECT_EQ(bird_.reconfigurations, 2);
  EXPECT_NE(read_file(path()).find("as 65100"), std::string::npos);
}

TEST_F(BgpRuntimeTest, ARoleChangeLoadsTheVipAsBackup) {
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  const auto as_master = read_file(path());
  runtime.update(state_, {{"default", false}});
  runtime.apply();
  EXPECT_EQ(bird_.reconfigurations, 2);
  EXPECT_NE(read_file(path()), as_master);
  EXPECT_EQ(runtime.status()["routes"][0]["role"], "BACKUP");
}

TEST_F(BgpRuntimeTest, BirdDownIsReportedAndRetriedWithBackoffUntilItIsBack) {
  bird_.failure = fakes::FakeBirdControl::Failure::NotRunning;
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  auto status = runtime.status();
  EXPECT_FALSE(status["birdUp"]);
  EXPECT_FALSE(status["loaded"]);
  EXPECT_EQ(status["loads"]["unreachable"], 1);
  EXPECT_NE(status["lastError"].get<std::string>().find("written"), std::string::npos) << status.dump();
  // Checked by `bird -p` instead, and in place for a BIRD that starts.
  EXPECT_EQ(bird_.ops, (std::vector<std::string>{"DAEMON CHECK " + path() + ".next", "CHECK " + path() + ".next",
                                                 "CONFIGURE " + path(), "PROTOCOLS"}));
  EXPECT_FALSE(read_file(path()).empty());
  clock_.advance(100ms);
  runtime.tick();
  EXPECT_EQ(runtime.status()["loads"]["unreachable"], 1) << "retried before the backoff";
  clock_.advance(200ms);
  runtime.tick();
  EXPECT_EQ(runtime.status()["loads"]["unreachable"], 2);
  bird_.failure = fakes::FakeBirdControl::Failure::None;
  clock_.advance(1s);
  runtime.tick();
  status = runtime.status();
  EXPECT_TRUE(status["loaded"]);
  EXPECT_TRUE(status["birdUp"]);
  EXPECT_EQ(status["lastError"], "");
  EXPECT_EQ(bird_.running_config, path());
}

TEST_F(BgpRuntimeTest, AConfigBirdRejectsNeverReplacesTheRunningOneAndIsNotRetried) {
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  const auto good = read_file(path());
  bird_.invalid_configs[path() + ".next"] = path() + ".next:12:3 syntax error";
  state_.services[0].key.vip = ip("20.20.20.2");
  bird_.ops.clear();
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  EXPECT_EQ(bird_.ops, (std::vector<std::string>{"DAEMON CHECK " + path() + ".next"}));
  EXPECT_EQ(read_file(path()), good);
  auto status = runtime.status();
  EXPECT_FALSE(status["loaded"]);
  EXPECT_EQ(status["loads"]["rejected"], 1);
  EXPECT_NE(status["lastError"].get<std::string>().find("syntax error"), std::string::npos);
  bird_.ops.clear();
  clock_.advance(30s);
  runtime.tick();
  for (const auto& op : bird_.ops) EXPECT_EQ(op.find("CHECK"), std::string::npos) << op;
}

TEST_F(BgpRuntimeTest, ARestartedBirdIsGivenTheConfigAgain) {
  daemon::BgpRuntime runtime(settings_, bird_, clock_);
  bird_.status_now.last_reboot = "2026-11-27 10:00:00.000";
  runtime.update(state_, {{"default", true}});
  runtime.apply();
  bird_.ops.clear();
  clock_.advance(3s);
  runtime.tick();
  EXPECT_EQ(bird_.ops, (std::vector<std::string>{"STATUS"}));
  bird_.status_now.last_reconfiguration = "2026-11-27 10:03:00.000";  // reconfigured: nothing to do
  bird_.ops.clear();
  clock_.advance(3s);
  runtime.tick();
  EXPECT_EQ(bird_.ops, (std::vector<std::string>{"STATUS"}));
  bird_.status_now.last_reboot = "2026-11-27 10:05:00.000";  // restarted
  bird_.ops.clear();
  clock_.advance(3s);
  runtime.tick();
  EXPECT_EQ(bird_.ops,
            (std::vector<std::string>{"STATUS", "DAEMON CHECK " + path() + ".next", "CONFIGURE " + path(), "STATUS"}));
}

}  // namespace
