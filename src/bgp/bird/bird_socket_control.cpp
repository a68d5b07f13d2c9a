#include "bgp/bird/bird_socket_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include "util/deadline.h"
#include "util/unique_fd.h"

namespace kvlb::bgp {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Kind = BirdError::Kind;

// `show status` while BIRD is not reconfiguring (nest/cmds.c).
constexpr std::string_view kRunning = "Daemon is up and running";
constexpr std::string_view kShuttingDown = "Shutdown in progress";

std::string errno_text(const char* call, int err) { return std::string(call) + ": " + std::strerror(err); }

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

// One connection to BIRD's CLI: the greeting, then commands one at a time.
class Session {
 public:
  Session(const std::string& path, std::string operation) : path_(path), operation_(std::move(operation)) {}

  BirdError fail(Kind kind, std::string detail, int code = 0) const {
    return BirdError{kind, operation_, path_, code, std::move(detail)};
  }

  // Connects and reads the greeting.
  std::optional<BirdError> open(SteadyClock::time_point deadline, milliseconds timeout) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path_.empty() || path_.size() >= sizeof address.sun_path)
      return fail(Kind::BadArgument, "socket path empty or too long");
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);

    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd_.get() < 0) return fail(Kind::Io, errno_text("socket", errno));
    while (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == ENOENT || err == ECONNREFUSED)
        return fail(Kind::NotRunning, "not running (" + errno_text("connect", err) + ")");
      if (err != EAGAIN) return fail(Kind::Io, errno_text("connect", err));
      // Listen backlog full: BIRD is not accepting. Try again until the deadline.
      if (remaining_ms(deadline) == 0)
        return fail(Kind::Timeout, "not accepting connections within " + ms_text(timeout));
      std::this_thread::sleep_for(milliseconds(5));
    }
    auto hello = read_reply(deadline, timeout, "greeting");
    if (!hello) return hello.error();
    if (!parse_bird_hello(*hello))
      return fail(Kind::Protocol,
                  "not BIRD's greeting: \"" + std::to_string(hello->code()) + " " + hello->message() + "\"");
    return std::nullopt;
  }

  BirdResult<BirdReply> ask(const std::string& line, SteadyClock::time_point deadline, milliseconds timeout) {
    if (auto error = send_line(line + "\n", deadline, timeout)) return *error;
    return read_reply(deadline, timeout, "reply");
  }

 private:
  std::optional<BirdError> send_line(const std::string& text, SteadyClock::time_point deadline, milliseconds timeout) {
    std::size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(fd_.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EPIPE || err == ECONNRESET)
        return fail(Kind::Protocol, "connection closed before the command was sent");
      if (err != EAGAIN) return fail(Kind::Io, errno_text("send", err));
      pollfd ready{fd_.get(), POLLOUT, 0};
      const int polled = ::poll(&ready, 1, remaining_ms(deadline));
      if (polled == 0) return fail(Kind::Timeout, "command not taken within " + ms_text(timeout));
      if (polled < 0 && errno != EINTR) return fail(Kind::Io, errno_text("poll", errno));
    }
    return std::nullopt;
  }

  BirdResult<BirdReply> read_reply(SteadyClock::time_point deadline, milliseconds timeout, const char* what) {
    std::array<char, 16384> buffer;
    bool got_any = false;
    for (;;) {
      if (auto reply = reader_.next()) return std::move(*reply);
      pollfd ready{fd_.get(), POLLIN, 0};
      const int polled = ::poll(&ready, 1, remaining_ms(deadline));
      if (polled < 0 && errno == EINTR) continue;
      if (polled < 0) return fail(Kind::Io, errno_text("poll", errno));
      if (polled == 0) return fail(Kind::Timeout, std::string("no complete ") + what + " within " + ms_text(timeout));
      const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
      if (n > 0) {
        got_any = true;
        if (auto error = reader_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n))))
          return fail(Kind::Protocol, *error);
      } else if (n == 0) {
        return fail(Kind::Protocol, got_any || reader_.mid_reply()
                                        ? std::string("connection closed in the middle of the ") + what
                                        : std::string("connection closed without a ") + what);
      } else if (errno == ECONNRESET) {
        return fail(Kind::Protocol, std::string("connection reset during the ") + what);
      } else if (errno != EINTR && errno != EAGAIN) {
        return fail(Kind::Io, errno_text("recv", errno));
      }
    }
  }

  std::string path_;
  std::string operation_;
  UniqueFd fd_;
  BirdReplyReader reader_;
};

BirdError command_failed(const Session& session, const BirdReply& reply) {
  return session.fail(Kind::CommandFailed, reply.message(), reply.code());
}

// `bird -p` output: "bird: /x.conf:3:17 syntax error, unexpected S" -> without "bird: ".
std::string bird_message(const std::string& output) {
  std::string text;
  std::size_t at = 0;
  while (at < output.size()) {
    auto end = output.find('\n', at);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(at, end - at);
    at = end + 1;
    if (line.starts_with("bird: ")) line.erase(0, 6);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    text += (text.empty() ? "" : "; ") + line;
  }
  return text;
}

// The reply to a `show` command, read by `parse`. BIRD's error replies (other
// than `also_fine`) are CommandFailed; replies `parse` cannot read are Protocol.
template <typename T>
BirdResult<T> read_show(const std::string& socket_path, const std::string& line, BirdResult<BirdReply> reply,
                        Result<T, std::string> (*parse)(const BirdReply&), int also_fine = -1) {
  if (!reply) return reply.error();
  if (reply->failed() && reply->code() != also_fine)
    return BirdError{Kind::CommandFailed, line, socket_path, reply->code(), reply->message()};
  auto parsed = parse(*reply);
  if (!parsed) return BirdError{Kind::Protocol, line, socket_path, 0, parsed.error()};
  return std::move(*parsed);
}

}  // namespace

UnixSocketBirdControl::UnixSocketBirdControl(BirdControlOptions options, Exec exec)
    : options_(std::move(options)), exec_(std::move(exec)) {}

BirdResult<BirdReply> UnixSocketBirdControl::command(const std::string& line) {
  Session session(options_.socket_path, line);
  if (line.find_first_of("\n\r") != std::string::npos)
    return session.fail(Kind::BadArgument, "a command is one line");
  std::lock_guard lock(mutex_);
  const auto deadline = SteadyClock::now() + options_.reply_timeout;
  if (auto error = session.open(deadline, options_.reply_timeout)) return *error;
  return session.ask(line, deadline, options_.reply_timeout);
}

BirdDone UnixSocketBirdControl::configure(const std::string& path) {
  const std::string line = configure_command(path);
  Session session(options_.socket_path, line.empty() ? "configure" : line);
  if (line.empty())
    return session.fail(Kind::BadArgument, "a config path must be non-empty, without '\"' or line breaks");

  std::lock_guard lock(mutex_);
  const auto start = SteadyClock::now();
  const auto deadline = start + options_.reconfigure_timeout;
  const auto reply_deadline = [&] { return std::min(deadline, SteadyClock::now() + options_.reply_timeout); };
  if (auto error = session.open(reply_deadline(), options_.reply_timeout)) return *error;
  auto reply = session.ask(line, deadline, options_.reconfigure_timeout);
  if (!reply) return reply.error();

  switch (reply->code()) {
    case bird_code::kReconfigured:
      return std::monostate{};
    case bird_code::kReconfigurationInProgress:
    case bird_code::kReconfigurationQueued:
      break;  // protocols are being restarted: wait below
    case bird_code::kConfigurationFileError:
      return session.fail(Kind::InvalidConfig, reply->message(), reply->code());
    case bird_code::kReconfigurationIgnoredShuttingDown:
      return command_failed(session, *reply);
    default:
      if (reply->failed()) return command_failed(session, *reply);
      return session.fail(Kind::Protocol,
                          "unexpected reply " + std::to_string(reply->code()) + " \"" + reply->message() + "\"");
  }

  // BIRD says "Reconfiguration in progress" in `show status` until the new
  // config (and one queued behind it) is fully in place.
  std::string last = reply->message();
  for (;;) {
    std::this_thread::sleep_for(std::min(options_.reconfigure_poll, milliseconds(remaining_ms(deadline))));
    if (remaining_ms(deadline) == 0)
      return session.fail(Kind::Timeout, "reconfiguration not finished within " +
                                             ms_text(options_.reconfigure_timeout) + " (BIRD: " + last + ")");
    auto status = session.ask("show status", reply_deadline(), options_.reply_timeout);
    if (!status) return status.error();
    if (status->failed()) return command_failed(session, *status);
    last = status->message();
    if (last == kRunning) return std::monostate{};
    if (last == kShuttingDown) return session.fail(Kind::CommandFailed, "BIRD is shutting down", status->code());
  }
}

BirdDone UnixSocketBirdControl::check_config_in_daemon(const std::string& path) {
  const std::string line = configure_command(path, true);
  Session session(options_.socket_path, line.empty() ? "configure check" : line);
  if (line.empty())
    return session.fail(Kind::BadArgument, "a config path must be non-empty, without '\"' or line breaks");
  std::lock_guard lock(mutex_);
  const auto deadline = SteadyClock::now() + options_.check_timeout;
  if (auto error = session.open(deadline, options_.reply_timeout)) return *error;
  auto reply = session.ask(line, deadline, options_.check_timeout);
  if (!reply) return reply.error();
  if (reply->code() == bird_code::kConfigurationOk) return std::monostate{};
  if (reply->code() == bird_code::kConfigurationFileError)
    return session.fail(Kind::InvalidConfig, reply->message(), reply->code());
  if (reply->failed()) return command_failed(session, *reply);
  return session.fail(Kind::Protocol,
                      "unexpected reply " + std::to_string(reply->code()) + " \"" + reply->message() + "\"");
}

BirdDone UnixSocketBirdControl::check_config(const std::string& path) {
  const std::vector<std::string> argv = {options_.bird_binary, "-p", "-c", path};
  const auto fail = [&](Kind kind, std::string detail) {
    return BirdError{kind, "-p -c " + path, "", 0, std::move(detail)};
  };
  auto ran = exec_(argv, options_.check_timeout);
  if (!ran) {
    if (ran.error().code == std::errc::timed_out)
      return fail(Kind::Timeout, "no result within " + ms_text(options_.check_timeout));
    return fail(Kind::Io, ran.error().describe());
  }
  if (ran->exit_status == 0) return std::monostate{};
  const std::string message = bird_message(ran->output);
  // BIRD's die() exits with status 1: the file could not be read or parsed.
  if (ran->exit_status == 1) return fail(Kind::InvalidConfig, message.empty() ? "rejected without a message" : message);
  return fail(Kind::Io, options_.bird_binary + " ended with status " + std::to_string(ran->exit_status) +
                            (message.empty() ? "" : ": " + message));
}

BirdResult<std::vector<BirdProtocol>> UnixSocketBirdControl::protocols() {
  const std::string line = "show protocols all";
  return read_show<std::vector<BirdProtocol>>(options_.socket_path, line, command(line), parse_protocols,
                                              bird_code::kNoProtocolsMatch);
}

BirdResult<BirdRouteCount> UnixSocketBirdControl::route_count() {
  const std::string line = "show route count";
  return read_show<BirdRouteCount>(options_.socket_path, line, command(line), parse_route_count);
}

BirdResult<BirdDaemonStatus> UnixSocketBirdControl::status() {
  const std::string line = "show status";
  return read_show<BirdDaemonStatus>(options_.socket_path, line, command(line), parse_status);
}

}  // namespace kvlb::bgp
