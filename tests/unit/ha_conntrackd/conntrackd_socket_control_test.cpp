// UnixSocketConntrackdControl against a scripted server that plays conntrackd's
// side of the protocol: read one int, answer (or not), close.
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
#include "conntrackd_test_support.h"
#include "ha/conntrackd/conntrackd_socket_control.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Reply {
  std::string text;
  std::chrono::milliseconds delay{0};
  bool never = false;          // keep the connection open without a word
  bool then_vanish = false;    // stop listening after this answer (the daemon died)
};

class ScriptedServer {
 public:
  explicit ScriptedServer(std::string path, std::function<Reply(int)> script)
      : path_(std::move(path)), script_(std::move(script)) {
    listener_ = kvlb::testing::listen_unix(path_);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    thread_.join();
    for (int fd : held_) ::close(fd);
    if (listener_ >= 0) ::close(listener_);
  }

  std::vector<int> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_ && listener_ >= 0) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 20) != 1) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      int number = -1;
      if (::read(client, &number, sizeof number) != sizeof number) number = -1;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(number);
      }
      const Reply reply = script_(number);
      if (reply.never) {
        held_.push_back(client);
        continue;
      }
      std::this_thread::sleep_for(reply.delay);
      if (!reply.text.empty()) (void)!::write(client, reply.text.data(), reply.text.size());
      ::close(client);
      if (reply.then_vanish) {
        ::close(listener_);  // the socket file stays, as after a crash
        listener_ = -1;
      }
    }
  }

  std::string path_;
  std::function<Reply(int)> script_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<int> requests_;
  std::vector<int> held_;
};

class SocketControlTest : public ::testing::Test {
 protected:
  conntrackd_test::TempDir dir;
  std::string path = dir / "conntrackd.ctl";
  UnixSocketConntrackdControl control{path, ConntrackdTimeouts{800ms, 300ms}};
};

TEST_F(SocketControlTest, SendsTheNumbersConntrackd147ClientsSend) {
  ScriptedServer server(path, [](int) { return Reply{}; });
  EXPECT_TRUE(control.commit().ok());
  EXPECT_TRUE(control.flush_caches().ok());
  EXPECT_TRUE(control.resync_from_kernel().ok());
  EXPECT_TRUE(control.send_bulk().ok());
  EXPECT_TRUE(control.request_resync().ok());
  EXPECT_TRUE(control.shorten_timers().ok());
  EXPECT_TRUE(control.stats().ok());
  EXPECT_TRUE(control.shutdown().ok());
  // commit is followed by a stats request that proves the daemon outlived it
  EXPECT_THAT(server.requests(), ElementsAre(46, 21, 45, 44, 22, 23, 26, 21, 20));
}

TEST_F(SocketControlTest, StatsReturnsEverythingUpToTheClose) {
  const std::string big(10000, 'x');
  ScriptedServer server(path, [&](int) { return Reply{"cache internal:\n" + big}; });
  auto stats = control.stats();
  ASSERT_TRUE(stats.ok()) << stats.error().describe();
  EXPECT_EQ(*stats, "cache internal:\n" + big);
}

TEST_F(SocketControlTest, CommitReturnsOnlyWhenConntrackdClosesTheConnection) {
  ScriptedServer server(path, [](int number) { return number == 46 ? Reply{"", 250ms} : Reply{}; });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(control.commit().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST_F(SocketControlTest, CommitFailsWhenTheDaemonDiesDuringIt) {
  ScriptedServer server(path, [](int number) { return number == 46 ? Reply{"", 50ms, false, true} : Reply{}; });
  auto done = control.commit();
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ConntrackdError::Kind::Failed);
  EXPECT_THAT(done.error().describe(), HasSubstr("went away before the commit finished"));
}

TEST_F(SocketControlTest, NoSocketMeansNotRunningNamingCommandAndPath) {
  auto done = control.commit();
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ConntrackdError::Kind::NotRunning);
  EXPECT_EQ(done.error().command, ConntrackdCommand::Commit);
  EXPECT_EQ(done.error().describe(),
            "conntrackd commit (-c) via " + path + ": not running (connect: No such file or directory)");
}

TEST_F(SocketControlTest, ASocketNobodyListensOnMeansNotRunning) {
  {
    ScriptedServer server(path, [](int) { return Reply{"", 0ms, false, true}; });
    ASSERT_TRUE(control.stats().ok());
    ASSERT_TRUE(conntrackd_test::eventually([&] { return !control.stats().ok(); }));
  }
  auto stats = control.stats();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ConntrackdError::Kind::NotRunning);
  EXPECT_THAT(stats.error().describe(), HasSubstr("Connection refused"));
}

TEST_F(SocketControlTest, ASilentDaemonTimesOutInsteadOfHanging) {
  ScriptedServer server(path, [](int) { return Reply{"", 0ms, true}; });
  const auto start = std::chrono::steady_clock::now();
  auto stats = control.stats();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ConntrackdError::Kind::Timeout);
  EXPECT_EQ(stats.error().describe(), "conntrackd stats (-s) via " + path + ": no complete answer within 300 ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);

  auto commit = control.commit();  // the longer timeout for whole-table work
  ASSERT_FALSE(commit.ok());
  EXPECT_THAT(commit.error().describe(), HasSubstr("within 800 ms"));
}

TEST_F(SocketControlTest, RequestsAreSerialised) {
  std::atomic<int> inside{0}, most{0};
  ScriptedServer server(path, [&](int) {
    most = std::max(most.load(), ++inside);
    std::this_thread::sleep_for(20ms);
    --inside;
    return Reply{};
  });
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) callers.emplace_back([&] { EXPECT_TRUE(control.commit().ok()); });
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(server.requests().size(), 8u);
  EXPECT_EQ(most.load(), 1);
}

TEST(ConntrackdError, DescribesEveryCommandByNameAndFlag) {
  const std::pair<ConntrackdCommand, std::string> expected[] = {
      {ConntrackdCommand::Commit, "commit (-c)"},          {ConntrackdCommand::FlushCaches, "flush (-f)"},
      {ConntrackdCommand::ResyncFromKernel, "resync (-R)"}, {ConntrackdCommand::SendBulk, "bulk (-B)"},
      {ConntrackdCommand::RequestResync, "request-resync (-n)"},
      {ConntrackdCommand::ShortenTimers, "shorten-timers (-t)"}, {ConntrackdCommand::Stats, "stats (-s)"},
      {ConntrackdCommand::Shutdown, "shutdown (-k)"}};
  for (const auto& [command, text] : expected)
    EXPECT_EQ(ConntrackdError({ConntrackdError::Kind::Timeout, command, "/s", "x"}).describe(),
              "conntrackd " + text + " via /s: x");
}

}  // namespace
}  // namespace kvlb::ha
