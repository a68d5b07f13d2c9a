// UnixSocketBirdControl against a scripted server that plays BIRD's side of
// the CLI protocol: greeting, one command line in, reply lines out. And
// check_config through a scripted exec.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "unit/support/unix_listener.h"
#include "bgp/bird/bird_socket_control.h"
#include "bird_test_support.h"

namespace kvlb::bgp {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = BirdError::Kind;

struct Reply {
  std::string text;       // written as is
  bool close = false;     // then close the connection
  bool silent = false;    // write `text`, then nothing more on this connection
};

// Serves one connection at a time: the greeting, then each command line is
// answered by the script.
class ScriptedBird {
 public:
  ScriptedBird(std::string path, std::function<Reply(const std::string&)> script,
               std::string greeting = "0001 BIRD 2.0.12 ready.\n")
      : path_(std::move(path)), script_(std::move(script)), greeting_(std::move(greeting)) {
    listener_ = kvlb::testing::listen_unix(path_);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedBird() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
  }

  std::vector<std::string> commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  int connections() const { return connections_; }

 private:
  bool wait_readable(int fd) {
    while (!stopping_) {
      pollfd ready{fd, POLLIN, 0};
      if (::poll(&ready, 1, 20) == 1) return true;
    }
    return false;
  }

  void serve() {
    while (wait_readable(listener_)) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      ++connections_;
      (void)!::write(client, greeting_.data(), greeting_.size());
      converse(client);
      ::close(client);
    }
  }

  void converse(int client) {
    std::string pending;
    char buffer[4096];
    while (wait_readable(client)) {
      const ssize_t n = ::read(client, buffer, sizeof buffer);
      if (n <= 0) return;
      pending.append(buffer, static_cast<std::size_t>(n));
      for (auto newline = pending.find('\n'); newline != std::string::npos; newline = pending.find('\n')) {
        const std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        {
          std::lock_guard lock(mutex_);
          commands_.push_back(line);
        }
        const Reply reply = script_(line);
        (void)!::write(client, reply.text.data(), reply.text.size());
        if (reply.close) return;
        if (reply.silent) {
          while (wait_readable(client) && ::read(client, buffer, sizeof buffer) > 0) {}
          return;
        }
      }
    }
  }

  std::string path_;
  std::function<Reply(const std::string&)> script_;
  std::string greeting_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> commands_;
};

const std::string kRunningStatus =
    "1000-BIRD 2.0.12\n1011-Router ID is 10.0.0.1\n Last reconfiguration on 2026-11-27 09:36:17.437\n"
    "0013 Daemon is up and running\n";
const std::string kReconfiguringStatus =
    "1000-BIRD 2.0.12\n1011-Router ID is 10.0.0.1\n0013 Reconfiguration in progress\n";

class SocketControlTest : public ::testing::Test {
 protected:
  BirdControlOptions options() {
    BirdControlOptions o;
    o.socket_path = path;
    o.reply_timeout = 300ms;
    o.reconfigure_timeout = 600ms;
    o.reconfigure_poll = 10ms;
    return o;
  }

  bird_test::TempDir dir;
  std::string path = dir / "bird.ctl";
  UnixSocketBirdControl control{options()};
};

TEST_F(SocketControlTest, ProtocolsAsksShowProtocolsAllOnItsOwnConnection) {
  ScriptedBird bird(path, [](const std::string&) {
    return Reply{"2002-Name       Proto      Table      State  Since         Info\n"
                 "1002-device1    Device     ---        up     09:36:00.779  \n"
                 "1006-\n"
                 "0000 \n"};
  });
  auto protocols = control.protocols();
  ASSERT_TRUE(protocols.ok()) << protocols.error().describe();
  ASSERT_EQ(protocols->size(), 1u);
  EXPECT_EQ(protocols->front().name, "device1");
  auto again = control.protocols();
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(bird.commands(), ElementsAre("show protocols all", "show protocols all"));
  EXPECT_EQ(bird.connections(), 2);
}

TEST_F(SocketControlTest, ReplyLargerThanOneRead) {
  std::string reply = "2002-Name       Proto      Table      State  Since         Info\n";
  for (int i = 0; i < 2000; ++i)
    reply += "1002-static" + std::to_string(i) + " Static     master4    up     09:36:00.779  \n";
  reply += "0000 \n";
  ScriptedBird bird(path, [&](const std::string&) { return Reply{reply}; });
  auto protocols = control.protocols();
  ASSERT_TRUE(protocols.ok()) << protocols.error().describe();
  EXPECT_EQ(protocols->size(), 2000u);
  EXPECT_EQ(protocols->back().name, "static1999");
}

TEST_F(SocketControlTest, ConfigureSendsTheQuotedPath) {
  ScriptedBird bird(path, [](const std::string&) {
    return Reply{"0002-Reading configuration from /run/kvlb/bird.conf\n0003 Reconfigured\n"};
  });
  auto done = control.configure("/run/kvlb/bird.conf");
  ASSERT_TRUE(done.ok()) << done.error().describe();
  EXPECT_THAT(bird.commands(), ElementsAre("configure \"/run/kvlb/bird.conf\""));
}

TEST_F(SocketControlTest, ConfigureWaitsUntilProtocolsHaveRestarted) {
  int polls = 0;
  ScriptedBird bird(path, [&](const std::string& command) {
    if (command.starts_with("configure"))
      return Reply{"0002-Reading configuration from /c\n0004 Reconfiguration in progress\n"};
    return Reply{++polls < 3 ? kReconfiguringStatus : kRunningStatus};
  });
  auto done = control.configure("/c");
  ASSERT_TRUE(done.ok()) << done.error().describe();
  EXPECT_THAT(bird.commands(), ElementsAre("configure \"/c\"", "show status", "show status", "show status"));
  EXPECT_EQ(bird.connections(), 1);
}

TEST_F(SocketControlTest, ConfigureQueuedBehindAnotherWaitsToo) {
  int polls = 0;
  ScriptedBird bird(path, [&](const std::string& command) {
    if (command.starts_with("configure"))
      return Reply{"0002-Reading configuration from /c\n"
                   "0005 Reconfiguration already in progress, queueing new config\n"};
    return Reply{++polls < 2 ? kReconfiguringStatus : kRunningStatus};
  });
  ASSERT_TRUE(control.configure("/c").ok());
  EXPECT_EQ(polls, 2);
}

TEST_F(SocketControlTest, ConfigureThatNeverFinishesTimesOut) {
  ScriptedBird bird(path, [&](const std::string& command) {
    if (command.starts_with("configure")) return Reply{"0004 Reconfiguration in progress\n"};
    return Reply{kReconfiguringStatus};
  });
  const auto start = std::chrono::steady_clock::now();
  auto done = control.configure("/c");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::Timeout);
  EXPECT_EQ(done.error().describe(),
            "bird configure \"/c\" via " + path +
                ": reconfiguration not finished within 600 ms (BIRD: Reconfiguration in progress)");
  EXPECT_GE(took, 600ms);
  EXPECT_LT(took, 2s);
}

TEST_F(SocketControlTest, ConfigureOfAFileThatDoesNotParseIsInvalidConfigWithBirdsMessage) {
  ScriptedBird bird(path, [](const std::string&) {
    return Reply{"0002-Reading configuration from /c\n8002 /c:3:17 syntax error, unexpected S\n"};
  });
  auto done = control.configure("/c");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::InvalidConfig);
  EXPECT_EQ(done.error().code, 8002);
  EXPECT_EQ(done.error().detail, "/c:3:17 syntax error, unexpected S");
  EXPECT_EQ(done.error().describe(), "bird configure \"/c\" via " + path + ": /c:3:17 syntax error, unexpected S");
}

TEST_F(SocketControlTest, ConfigureWhileShuttingDownFails) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"0006 Reconfiguration ignored, shutting down\n"}; });
  auto done = control.configure("/c");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::CommandFailed);
  EXPECT_EQ(done.error().code, 6);
}

TEST_F(SocketControlTest, ConfigureDeniedOnARestrictedSocket) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"8007 Access denied\n"}; });
  auto done = control.configure("/c");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::CommandFailed);
  EXPECT_EQ(done.error().detail, "Access denied");
}

TEST_F(SocketControlTest, ConfigureRejectsPathsBirdCannotReadBackWithoutConnecting) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"0003 Reconfigured\n"}; });
  for (const std::string bad : {"", "/a\"b.conf", "/a\nb.conf"}) {
    auto done = control.configure(bad);
    ASSERT_FALSE(done.ok());
    EXPECT_EQ(done.error().kind, Kind::BadArgument);
  }
  EXPECT_EQ(bird.connections(), 0);
}

TEST_F(SocketControlTest, AnUnexpectedSuccessCodeIsAProtocolError) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"0020 Configuration OK\n"}; });
  auto done = control.configure("/c");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::Protocol);
  EXPECT_THAT(done.error().detail, HasSubstr("unexpected reply 20"));
}

TEST_F(SocketControlTest, ParseErrorsOfCommandsAreCommandFailed) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"9001 syntax error, unexpected CF_SYM_UNDEFINED\n"}; });
  auto status = control.status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, Kind::CommandFailed);
  EXPECT_EQ(status.error().code, 9001);
  EXPECT_EQ(status.error().describe(), "bird show status via " + path + ": syntax error, unexpected CF_SYM_UNDEFINED");
  auto raw = control.command("show foo");  // a reply with an error code is still a reply
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->code(), 9001);
}

TEST_F(SocketControlTest, StatusAndRouteCount) {
  ScriptedBird bird(path, [](const std::string& command) {
    if (command == "show status") return Reply{kRunningStatus};
    return Reply{"1007-4 of 4 routes for 4 networks in table master4\n"
                 " 0 of 0 routes for 0 networks in table master6\n"
                 "0014 Total: 4 of 4 routes for 4 networks in 2 tables\n"};
  });
  auto status = control.status();
  ASSERT_TRUE(status.ok()) << status.error().describe();
  EXPECT_EQ(status->version, "2.0.12");
  EXPECT_EQ(status->router_id, "10.0.0.1");
  auto count = control.route_count();
  ASSERT_TRUE(count.ok()) << count.error().describe();
  EXPECT_EQ(count->routes, 4u);
  EXPECT_THAT(bird.commands(), ElementsAre("show status", "show route count"));
}

TEST_F(SocketControlTest, SomethingElseOnTheSocketIsAProtocolError) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"0000 \n"}; }, "220 smtp.example ESMTP\n");
  auto status = control.status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, Kind::Protocol);
  EXPECT_THAT(status.error().detail, HasSubstr("not a BIRD reply line: \"220 smtp.example ESMTP\""));
}

TEST_F(SocketControlTest, AGreetingThatIsNotBirdsIsAProtocolError) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"0000 \n"}; }, "0001 Welcome\n");
  auto status = control.status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, Kind::Protocol);
  EXPECT_THAT(status.error().detail, HasSubstr("not BIRD's greeting"));
}

TEST_F(SocketControlTest, ConnectionClosedMidReplyIsAProtocolError) {
  ScriptedBird bird(path, [](const std::string&) {
    return Reply{"2002-Name       Proto      Table      State  Since         Info\n1002-device1    Device", true};
  });
  auto protocols = control.protocols();
  ASSERT_FALSE(protocols.ok());
  EXPECT_EQ(protocols.error().kind, Kind::Protocol);
  EXPECT_EQ(protocols.error().describe(),
            "bird show protocols all via " + path + ": connection closed in the middle of the reply");
}

TEST_F(SocketControlTest, ConnectionClosedInsteadOfAReplyIsAProtocolError) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"", true}; });
  auto status = control.status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, Kind::Protocol);
  EXPECT_THAT(status.error().detail, HasSubstr("connection closed without a reply"));
}

TEST_F(SocketControlTest, ASilentDaemonTimesOutInsteadOfHanging) {
  ScriptedBird bird(path, [](const std::string&) {
    return Reply{"1002-device1    Device     ---        up   ", false, true};
  });
  const auto start = std::chrono::steady_clock::now();
  auto protocols = control.protocols();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(protocols.ok());
  EXPECT_EQ(protocols.error().kind, Kind::Timeout);
  EXPECT_EQ(protocols.error().describe(), "bird show protocols all via " + path + ": no complete reply within 300 ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);
}

TEST_F(SocketControlTest, NoGreetingTimesOut) {
  ScriptedBird bird(path, [](const std::string&) { return Reply{"0000 \n"}; }, "");
  auto status = control.status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, Kind::Timeout);
  EXPECT_THAT(status.error().detail, HasSubstr("no complete greeting within 300 ms"));
}

TEST_F(SocketControlTest, NoSocketIsNotRunningAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  auto done = control.configure("/c");
  ASSERT_FALSE(done.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(done.error().kind, Kind::NotRunning);
  EXPECT_EQ(done.error().describe(),
            "bird configure \"/c\" via " + path + ": not running (connect: No such file or directory)");
}

TEST_F(SocketControlTest, ASocketNobodyListensOnIsNotRunning) {
  { ScriptedBird bird(path, [](const std::string&) { return Reply{"0000 \n"}; }); }  // leaves the socket file
  auto protocols = control.protocols();
  ASSERT_FALSE(protocols.ok());
  EXPECT_EQ(protocols.error().kind, Kind::NotRunning);
  EXPECT_THAT(protocols.error().detail, HasSubstr("Connection refused"));
}

// check_config through a scripted exec.
struct ScriptedExec {
  std::vector<std::vector<std::string>> calls;
  std::vector<std::chrono::milliseconds> timeouts;
  Result<ExecResult> answer = ExecResult{0, ""};

  Exec exec() {
    return [this](const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
      calls.push_back(argv);
      timeouts.push_back(timeout);
      return answer;
    };
  }
};

TEST(BirdCheckConfig, RunsBirdDashP) {
  ScriptedExec exec;
  BirdControlOptions options;
  options.bird_binary = "/opt/bird/sbin/bird";
  options.check_timeout = 1234ms;
  UnixSocketBirdControl control(options, exec.exec());
  ASSERT_TRUE(control.check_config("/run/kvlb/bird.conf").ok());
  EXPECT_THAT(exec.calls,
              ElementsAre(std::vector<std::string>{"/opt/bird/sbin/bird", "-p", "-c", "/run/kvlb/bird.conf"}));
  EXPECT_THAT(exec.timeouts, ElementsAre(1234ms));
}

TEST(BirdCheckConfig, RejectedFileIsInvalidConfigWithBirdsMessage) {
  ScriptedExec exec;
  exec.answer = ExecResult{1, "bird: /x.conf:3:17 syntax error, unexpected S\n"};
  UnixSocketBirdControl control({}, exec.exec());
  auto done = control.check_config("/x.conf");
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, Kind::InvalidConfig);
  EXPECT_EQ(done.error().detail, "/x.conf:3:17 syntax error, unexpected S");
  EXPECT_EQ(done.error().describe(), "bird -p -c /x.conf: /x.conf:3:17 syntax error, unexpected S");
}

TEST(BirdCheckConfig, OtherEndsAreNotAboutTheFile) {
  ScriptedExec exec;
  exec.answer = ExecResult{128 + 11, ""};
  UnixSocketBirdControl control({}, exec.exec());
  auto crashed = control.check_config("/x.conf");
  ASSERT_FALSE(crashed.ok());
  EXPECT_EQ(crashed.error().kind, Kind::Io);
  EXPECT_THAT(crashed.error().detail, HasSubstr("ended with status 139"));

  exec.answer = Error::from_errno(ETIMEDOUT, "bird -p");
  auto slow = control.check_config("/x.conf");
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().kind, Kind::Timeout);

  exec.answer = Error::from_errno(ENOENT, "exec /usr/sbin/bird");
  auto missing = control.check_config("/x.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, Kind::Io);
  EXPECT_EQ(missing.error().describe(), "bird -p -c /x.conf: exec /usr/sbin/bird: No such file or directory");
}

}  // namespace
}  // namespace kvlb::bgp
