// ConntrackdProcess with small shell scripts standing in for conntrackd and
// the fake control standing in for its socket.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "conntrackd_test_support.h"
#include "fakes/fake_conntrackd.h"
#include "ha/conntrackd/conntrackd_process.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using fakes::FakeConntrackdControl;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ProcessTest : public ::testing::Test {
 protected:
  ProcessTest() { control.failure = FakeConntrackdControl::Failure::Dead; }  // nothing answers yet

  ConntrackdProcessOptions options_with(const std::string& script) {
    const std::string binary = dir / "fake-conntrackd";
    conntrackd_test::write_file(binary, "#!/bin/sh\n" + script + "\n", 0755);
    ConntrackdProcessOptions options;
    options.binary = binary;
    options.config_path = dir / "etc/conntrackd.conf";
    options.lock_file = dir / "run/conntrackd.lock";
    options.socket_path = dir / "run/conntrackd.ctl";
    options.output_log = dir / "log/conntrackd.log";
    options.stop_timeout = 300ms;
    return options;
  }

  std::string output() const { return conntrackd_test::read_file(dir / "log/conntrackd.log"); }

  conntrackd_test::TempDir dir;
  FakeConntrackdControl control;
  ManualClock clock;
};

TEST_F(ProcessTest, WritesTheConfigAtomicallyAndSaysWhetherItChanged) {
  ConntrackdProcess process(options_with("exit 0"), control, clock);
  EXPECT_EQ(*process.write_config("Sync {}\n"), true);
  EXPECT_EQ(conntrackd_test::read_file(dir / "etc/conntrackd.conf"), "Sync {}\n");
  EXPECT_EQ(*process.write_config("Sync {}\n"), false);
  EXPECT_EQ(*process.write_config("General {}\n"), true);
  EXPECT_EQ(conntrackd_test::read_file(dir / "etc/conntrackd.conf"), "General {}\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "etc/conntrackd.conf.tmp"));
}

TEST_F(ProcessTest, ReportsAConfigItCannotWrite) {
  auto options = options_with("exit 0");
  options.config_path = "/proc/kvlb-no-such-dir/conntrackd.conf";
  ConntrackdProcess process(options, control, clock);
  auto written = process.write_config("x");
  ASSERT_FALSE(written.ok());
  EXPECT_THAT(written.error().describe(), HasSubstr("/proc/kvlb-no-such-dir"));
}

TEST_F(ProcessTest, StartsConntrackdWithItsConfigAndOutputInTheLog) {
  ConntrackdProcess process(options_with("echo \"args: $*\"; echo \"group: $(cut -d' ' -f5 /proc/$$/stat)\"; exec sleep 30"),
                            control, clock);
  ASSERT_TRUE(process.start().ok());
  ASSERT_TRUE(process.pid());
  EXPECT_TRUE(process.alive());
  ASSERT_TRUE(conntrackd_test::eventually([&] { return output().find("group") != std::string::npos; }));
  EXPECT_THAT(output(), HasSubstr("args: -C " + (dir / "etc/conntrackd.conf")));
  EXPECT_THAT(output(), HasSubstr("group: " + std::to_string(*process.pid())));  // its own process group
  ASSERT_TRUE(process.stop().ok());
  EXPECT_FALSE(process.alive());
  EXPECT_FALSE(process.pid());
}

TEST_F(ProcessTest, TheChildGetsSignalsKvlbdBlocksAndNoSystemdNotifySocket) {
  sigset_t term, previous;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &previous);
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ConntrackdProcess process(options_with("echo \"notify: ${NOTIFY_SOCKET:-unset}\"; exec sleep 30"), control, clock);
  const bool started = process.start().ok();
  ::unsetenv("NOTIFY_SOCKET");
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_TRUE(started);
  ASSERT_TRUE(conntrackd_test::eventually([&] { return output().find("notify") != std::string::npos; }));
  EXPECT_THAT(output(), HasSubstr("notify: unset"));
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(process.stop().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 300ms);  // SIGTERM was enough
}

TEST_F(ProcessTest, StopEscalatesToSigkillAfterTheTimeout) {
  ConntrackdProcess process(options_with("trap '' TERM; echo ready; while :; do sleep 0.05; done"), control, clock);
  ASSERT_TRUE(process.start().ok());
  ASSERT_TRUE(conntrackd_test::eventually([&] { return output().find("ready") != std::string::npos; }));
  conntrackd_test::write_file(dir / "run/conntrackd.lock", "");
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(process.stop().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 300ms);
  EXPECT_FALSE(process.alive());
  EXPECT_FALSE(std::filesystem::exists(dir / "run/conntrackd.lock"));  // SIGKILL leaves it; stop removes it
}

TEST_F(ProcessTest, AMissingBinaryIsAnErrorAtStart) {
  auto options = options_with("exit 0");
  options.binary = dir / "no-such-conntrackd";
  ConntrackdProcess process(options, control, clock);
  auto started = process.start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().describe(), "exec " + (dir / "no-such-conntrackd") + ": No such file or directory");
  EXPECT_FALSE(process.pid());
}

TEST_F(ProcessTest, PollRestartsADeadChildWithGrowingBackoff) {
  ConntrackdProcess process(options_with("echo 'parsing config file in line (4): syntax error' >&2; exit 3"), control,
                            clock);
  ASSERT_TRUE(process.start().ok());
  const pid_t first = *process.pid();
  ASSERT_TRUE(conntrackd_test::eventually([&] { return !process.alive(); }));
  EXPECT_THAT(process.poll(), ElementsAre("conntrackd (pid " + std::to_string(first) +
                                          ") exited with status 3: parsing config file in line (4): syntax error; "
                                          "restarting in 500 ms"));
  EXPECT_TRUE(process.poll().empty());  // not yet
  clock.advance(500ms);
  auto events = process.poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0], StartsWith("conntrackd restarted (pid "));
  ASSERT_TRUE(conntrackd_test::eventually([&] { return !process.alive(); }));
  EXPECT_THAT(process.poll(), ElementsAre(HasSubstr("restarting in 1000 ms")));
  EXPECT_TRUE(process.stop().ok());
  clock.advance(5s);
  EXPECT_TRUE(process.poll().empty());  // stopped: no more restarts
}

TEST_F(ProcessTest, ALongRunResetsTheBackoff) {
  ConntrackdProcess process(options_with("exit 1"), control, clock);
  ASSERT_TRUE(process.start().ok());
  for (auto expected : {"500 ms", "1000 ms", "2000 ms"}) {
    ASSERT_TRUE(conntrackd_test::eventually([&] { return !process.alive(); }));
    EXPECT_THAT(process.poll(), ElementsAre(HasSubstr(expected)));
    clock.advance(5s);
    EXPECT_THAT(process.poll(), ElementsAre(StartsWith("conntrackd restarted")));
  }
  clock.advance(61s);  // as if the last start ran that long
  ASSERT_TRUE(conntrackd_test::eventually([&] { return !process.alive(); }));
  EXPECT_THAT(process.poll(), ElementsAre(HasSubstr("restarting in 500 ms")));
  EXPECT_TRUE(process.stop().ok());
}

TEST_F(ProcessTest, WaitReadyAsksTheSocketUntilItAnswers) {
  ConntrackdProcess process(options_with("exec sleep 30"), control, clock);
  ASSERT_TRUE(process.start().ok());
  auto not_yet = process.wait_ready(100ms);
  ASSERT_FALSE(not_yet.ok());
  EXPECT_THAT(not_yet.error().describe(), HasSubstr("did not answer within 100 ms: conntrackd stats (-s)"));
  control.failure = FakeConntrackdControl::Failure::None;
  EXPECT_TRUE(process.wait_ready(100ms).ok());
  EXPECT_TRUE(process.stop().ok());
}

TEST_F(ProcessTest, WaitReadyFailsAtOnceWhenConntrackdExitsWithItsReason) {
  ConntrackdProcess process(
      options_with("echo \"[ERROR] parsing config file in line (4), symbol 'Bogus': syntax error\" >&2; exit 1"),
      control, clock);
  ASSERT_TRUE(process.start().ok());
  const auto begin = std::chrono::steady_clock::now();
  auto ready = process.wait_ready(10s);
  ASSERT_FALSE(ready.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  EXPECT_THAT(ready.error().describe(),
              HasSubstr("conntrackd exited with status 1 before answering on " + (dir / "run/conntrackd.ctl") +
                        ": [ERROR] parsing config file in line (4), symbol 'Bogus': syntax error"));
}

TEST_F(ProcessTest, StartShutsDownAConntrackdThatAlreadyAnswersAndRemovesAStaleLock) {
  control.failure = FakeConntrackdControl::Failure::None;  // left running by an earlier kvlbd
  ConntrackdProcess process(options_with("exec sleep 30"), control, clock);
  std::filesystem::create_directories(dir / "run");
  conntrackd_test::write_file(dir / "run/conntrackd.lock", "");
  ASSERT_TRUE(process.start().ok());
  EXPECT_THAT(control.ops, ElementsAre("stats", "shutdown", "stats"));
  EXPECT_FALSE(std::filesystem::exists(dir / "run/conntrackd.lock"));
  EXPECT_TRUE(process.alive());
  EXPECT_TRUE(process.stop().ok());
}

TEST_F(ProcessTest, AConntrackdThatWillNotGoAwayIsAnError) {
  control.failure = FakeConntrackdControl::Failure::Slow;
  control.failing_command = ConntrackdCommand::Shutdown;  // answers stats, ignores -k
  ConntrackdProcess process(options_with("exec sleep 30"), control, clock);
  auto started = process.start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.error().describe(), HasSubstr("conntrackd shutdown (-k)"));
  EXPECT_FALSE(process.pid());
}

TEST_F(ProcessTest, WithoutManageProcessOnlyTheSocketCounts) {
  auto options = options_with("exit 0");
  options.manage_process = false;
  ConntrackdProcess process(options, control, clock);
  ASSERT_TRUE(process.start().ok());
  EXPECT_FALSE(process.pid());
  EXPECT_FALSE(process.alive());
  control.failure = FakeConntrackdControl::Failure::None;  // systemd started it
  EXPECT_TRUE(process.alive());
  EXPECT_TRUE(process.wait_ready(100ms).ok());
  EXPECT_TRUE(process.poll().empty());
  EXPECT_TRUE(process.stop().ok());
  EXPECT_TRUE(*process.write_config("x"));
}

TEST(ConntrackdProcessOptions, TakeTheLockAndSocketFromTheSettings) {
  ConntrackdSettings settings;
  settings.lock_file = "/run/x/l";
  settings.unix_socket = "/run/x/s";
  auto options = conntrackd_process_options(settings, "/run/x/c.conf");
  EXPECT_EQ(options.config_path, "/run/x/c.conf");
  EXPECT_EQ(options.lock_file, "/run/x/l");
  EXPECT_EQ(options.socket_path, "/run/x/s");
  EXPECT_TRUE(options.manage_process);
  EXPECT_EQ(options.binary, "/usr/sbin/conntrackd");
}

}  // namespace
}  // namespace kvlb::ha
