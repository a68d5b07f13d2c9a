#include "ha/conntrackd/conntrackd_socket_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include "util/deadline.h"
#include "util/unique_fd.h"

namespace kvlb::ha {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// conntrackd's include/conntrackd.h (1.4.x): -c sends ALL_COMMIT, -f
// ALL_FLUSH_CACHE and -R ALL_RESYNC_MASTER (conntrack and expectation tables).
constexpr int kAllCommit = 46, kAllFlushCache = 45, kAllResyncMaster = 44, kSendBulk = 22, kRequestDump = 23,
              kResetTimers = 26, kStats = 21, kKill = 20;

std::string errno_text(const char* call, int err) { return std::string(call) + ": " + std::strerror(err); }

// One request on a fresh connection; the answer is everything up to the close.
Result<std::string, ConntrackdError> exchange(const std::string& path, ConntrackdCommand command,
                                              milliseconds timeout) {
  using Kind = ConntrackdError::Kind;
  const auto fail = [&](Kind kind, std::string detail) { return ConntrackdError{kind, command, path, std::move(detail)}; };
  const auto deadline = Clock::now() + timeout;
  const std::string waited = std::to_string(timeout.count()) + " ms";

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return fail(Kind::Failed, "socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return fail(Kind::Failed, errno_text("socket", errno));
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err == ENOENT || err == ECONNREFUSED) return fail(Kind::NotRunning, "not running (" + errno_text("connect", err) + ")");
    if (err != EAGAIN) return fail(Kind::Failed, errno_text("connect", err));
    // Listen backlog full: conntrackd is not accepting. Try again until the deadline.
    if (remaining_ms(deadline) == 0) return fail(Kind::Timeout, "not accepting connections within " + waited);
    std::this_thread::sleep_for(milliseconds(5));
  }

  // conntrackd reads the request with one read() of an int; send it whole at once.
  const int number = UnixSocketConntrackdControl::request_number(command);
  if (::send(fd.get(), &number, sizeof number, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof number))
    return fail(Kind::Failed, errno_text("send", errno));

  std::string answer;
  std::array<char, 4096> buffer;
  for (;;) {
    pollfd ready{fd.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, remaining_ms(deadline));
    if (polled < 0 && errno == EINTR) continue;
    if (polled < 0) return fail(Kind::Failed, errno_text("poll", errno));
    if (polled == 0) return fail(Kind::Timeout, "no complete answer within " + waited);
    const ssize_t got = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (got > 0) {
      answer.append(buffer.data(), static_cast<std::size_t>(got));
    } else if (got == 0) {
      return answer;
    } else if (errno != EINTR && errno != EAGAIN) {
      return fail(Kind::Failed, errno_text("recv", errno));
    }
  }
}

}  // namespace

std::string ConntrackdError::describe() const {
  return "conntrackd " + std::string(conntrackd_command_name(command)) + " (" +
         std::string(conntrackd_command_flag(command)) + ") via " + socket_path + ": " + detail;
}

UnixSocketConntrackdControl::UnixSocketConntrackdControl(std::string socket_path, ConntrackdTimeouts timeouts)
    : socket_path_(std::move(socket_path)), timeouts_(timeouts) {}

int UnixSocketConntrackdControl::request_number(ConntrackdCommand command) {
  switch (command) {
    case ConntrackdCommand::Commit: return kAllCommit;
    case ConntrackdCommand::FlushCaches: return kAllFlushCache;
    case ConntrackdCommand::ResyncFromKernel: return kAllResyncMaster;
    case ConntrackdCommand::SendBulk: return kSendBulk;
    case ConntrackdCommand::RequestResync: return kRequestDump;
    case ConntrackdCommand::ShortenTimers: return kResetTimers;
    case ConntrackdCommand::Stats: return kStats;
    case ConntrackdCommand::Shutdown: return kKill;
  }
  return kStats;
}

Result<std::string, ConntrackdError> UnixSocketConntrackdControl::request(ConntrackdCommand command) {
  const bool whole_table = command == ConntrackdCommand::Commit || command == ConntrackdCommand::ResyncFromKernel;
  std::lock_guard lock(mutex_);
  return exchange(socket_path_, command, whole_table ? timeouts_.table : timeouts_.other);
}

ConntrackdStatus UnixSocketConntrackdControl::simple(ConntrackdCommand command) {
  auto answer = request(command);
  if (!answer) return answer.error();
  return std::monostate{};
}

ConntrackdStatus UnixSocketConntrackdControl::commit() {
  std::lock_guard lock(mutex_);
  if (auto done = exchange(socket_path_, ConntrackdCommand::Commit, timeouts_.table); !done) return done.error();
  // A daemon that dies mid-commit closes the connection too: only one that
  // still answers afterwards has finished.
  auto alive = exchange(socket_path_, ConntrackdCommand::Stats, timeouts_.other);
  if (alive) return std::monostate{};
  return ConntrackdError{ConntrackdError::Kind::Failed, ConntrackdCommand::Commit, socket_path_,
                         "conntrackd went away before the commit finished (" + alive.error().detail + ")"};
}

ConntrackdStatus UnixSocketConntrackdControl::flush_caches() { return simple(ConntrackdCommand::FlushCaches); }
ConntrackdStatus UnixSocketConntrackdControl::resync_from_kernel() { return simple(ConntrackdCommand::ResyncFromKernel); }
ConntrackdStatus UnixSocketConntrackdControl::send_bulk() { return simple(ConntrackdCommand::SendBulk); }
ConntrackdStatus UnixSocketConntrackdControl::request_resync() { return simple(ConntrackdCommand::RequestResync); }
ConntrackdStatus UnixSocketConntrackdControl::shorten_timers() { return simple(ConntrackdCommand::ShortenTimers); }
Result<std::string, ConntrackdError> UnixSocketConntrackdControl::stats() { return request(ConntrackdCommand::Stats); }
ConntrackdStatus UnixSocketConntrackdControl::shutdown() { return simple(ConntrackdCommand::Shutdown); }

}  // namespace kvlb::ha
