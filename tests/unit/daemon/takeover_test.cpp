// The order of a takeover, as an op log (keepalived's style of test).
#include <gtest/gtest.h>

#include "daemon/takeover.h"

using namespace kvlb;
using namespace kvlb::daemon;

namespace {

std::string holds_str(const std::map<std::string, model::InstanceHold>& holds) {
  std::string out;
  for (const auto& [name, hold] : holds)
    out += (out.empty() ? "" : " ") + name + (hold.addresses ? "+addr" : "") + (hold.drop ? "+drop" : "");
  return out.empty() ? "(none)" : out;
}

struct Recorder {
  std::vector<std::string> log;
  bool commit_fails = false;
  TakeoverHooks hooks() {
    TakeoverHooks h;
    h.apply_holds = [this](const auto& holds) {
      log.push_back("apply " + holds_str(holds));
      return ok_status();
    };
    h.set_ipvs_sync = [this](bool master, bool backup) {
      log.push_back(std::string("ipvs-sync") + (master ? " master" : "") + (backup ? " backup" : ""));
      return ok_status();
    };
    h.conntrackd_commit = [this]() -> Status {
      log.push_back("commit");
      if (commit_fails) return Error::invalid("conntrackd commit (-c): not running");
      return ok_status();
    };
    h.repair_nat_ports = [this](const std::string& instance) -> Result<std::size_t> {
      log.push_back("repair " + instance);
      return std::size_t{1};
    };
    h.serving = [this](const std::string& instance) { log.push_back("serving " + instance); };
    h.conntrackd_after_takeover = [this] {
      log.push_back("flush+resync+bulk");
      return ok_status();
    };
    h.conntrackd_after_stepdown = [this](bool still_master) {
      log.push_back(still_master ? "request-resync" : "shorten-timers+request-resync");
      return ok_status();
    };
    return h;
  }
};

}  // namespace

TEST(Takeover, BecomingMasterDropsCommitsThenAddsAddressesThenOpens) {
  Recorder r;
  ManualClock clock;
  Takeover t(r.hooks(), clock);
  auto report = t.become_master("blue", "master down");
  EXPECT_EQ(r.log, (std::vector<std::string>{"apply blue+drop", "commit", "repair blue",
                                             "apply blue+addr+drop", "apply blue+addr", "serving blue",
                                             "ipvs-sync master", "flush+resync+bulk"}));
  EXPECT_EQ(report.step_names(),
            (std::vector<std::string>{"drop", "conntrackd commit", "repair sctp nat (1)",
                                      "addresses", "open", "ipvs-sync master", "conntrackd resync"}));
  EXPECT_TRUE(report.hitless);
  EXPECT_EQ(t.holds().at("blue"), (model::InstanceHold{true, false}));
}

TEST(Takeover, SteppingDownRemovesAddressesFirst) {
  Recorder r;
  ManualClock clock;
  Takeover t(r.hooks(), clock);
  t.become_master("blue", "");
  r.log.clear();
  t.become_backup("blue", "higher priority");
  EXPECT_EQ(r.log, (std::vector<std::string>{"apply (none)", "ipvs-sync backup", "shorten-timers+request-resync"}));
  EXPECT_TRUE(t.holds().empty());
}

TEST(Takeover, ActiveActiveKeepsTheOtherInstanceAndBothSyncDaemons) {
  Recorder r;
  ManualClock clock;
  Takeover t(r.hooks(), clock);
  EXPECT_EQ(t.start_as_backup({"blue", "green"}).step_names(),
            (std::vector<std::string>{"ipvs-sync backup", "conntrackd backup"}));
  EXPECT_EQ(r.log, (std::vector<std::string>{"ipvs-sync backup", "shorten-timers+request-resync"}));
  t.become_master("blue", "");
  r.log.clear();
  t.become_master("green", "");
  EXPECT_EQ(r.log[0], "apply blue+addr green+drop");
  EXPECT_EQ(r.log[6], "ipvs-sync master");
  r.log.clear();
  t.become_backup("green", "");
  EXPECT_EQ(r.log, (std::vector<std::string>{"apply blue+addr", "ipvs-sync master backup", "request-resync"}));
}

TEST(Takeover, AFailedCommitStillTakesOverButIsNotHitless) {
  Recorder r;
  r.commit_fails = true;
  ManualClock clock;
  Takeover t(r.hooks(), clock);
  auto report = t.become_master("blue", "");
  EXPECT_FALSE(report.hitless);
  EXPECT_EQ(t.holds().at("blue"), (model::InstanceHold{true, false}));
  EXPECT_EQ(t.not_hitless(), 1u);
  EXPECT_NE(report.summary().find("conntrackd commit 0.0 ms FAILED (conntrackd commit (-c): not running"),
            std::string::npos)
      << report.summary();
  EXPECT_NE(report.summary().find("NOT hitless"), std::string::npos);
}

TEST(Takeover, WithoutSyncConfiguredOnlyAddressesMove) {
  ManualClock clock;
  std::vector<std::string> log;
  TakeoverHooks h;
  h.apply_holds = [&](const auto& holds) {
    log.push_back("apply " + holds_str(holds));
    return ok_status();
  };
  Takeover t(h, clock);
  auto report = t.become_master("blue", "");
  EXPECT_EQ(log, (std::vector<std::string>{"apply blue+drop", "apply blue+addr+drop", "apply blue+addr"}));
  EXPECT_TRUE(report.hitless);
}
