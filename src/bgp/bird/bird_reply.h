#pragma once
// BIRD's CLI protocol as pure functions (nest/cli.c, client/client.c): a reply
// is a sequence of lines "DDDD-text" (more follows), " text" (continues the
// previous code), and one final "DDDD text". Codes 0xxx: action done, 1xxx:
// table entry, 2xxx: table heading, 8xxx: run-time error, 9xxx: parse error
// (doc/reply_codes). Lines starting with '+' are asynchronous log echoes and
// belong to no reply.
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bgp/bird/bird_control.h"
#include "util/result.h"

namespace kvlb::bgp {

// Reply codes this client acts on (doc/reply_codes, sysdep/unix/main.c).
namespace bird_code {
inline constexpr int kOk = 0;
inline constexpr int kWelcome = 1;                // "BIRD 2.0.12 ready."
inline constexpr int kReadingConfiguration = 2;   // "Reading configuration from <path>"
inline constexpr int kReconfigured = 3;
inline constexpr int kReconfigurationInProgress = 4;
inline constexpr int kReconfigurationQueued = 5;  // another one is running; this one follows it
inline constexpr int kReconfigurationIgnoredShuttingDown = 6;
inline constexpr int kStatusReport = 13;          // final line of `show status`
inline constexpr int kRouteCount = 14;            // "Total: ..." of `show route count`
inline constexpr int kConfigurationOk = 20;       // `configure check`
inline constexpr int kBirdVersion = 1000;
inline constexpr int kProtocolList = 1002;
inline constexpr int kProtocolDetails = 1006;
inline constexpr int kRouteList = 1007;
inline constexpr int kUptime = 1011;              // `show status`: "Router ID is ..."
inline constexpr int kProtocolHeading = 2002;
inline constexpr int kFirstError = 8000;          // 8000-8999 run-time, 9000-9999 parse errors
inline constexpr int kConfigurationFileError = 8002;
inline constexpr int kNoProtocolsMatch = 8003;
inline constexpr int kParseError = 9001;
}  // namespace bird_code

struct BirdReplyLine {
  int code = 0;      // continuation lines carry the code they continue
  std::string text;  // without the "DDDD-" / "DDDD " / " " prefix

  bool operator==(const BirdReplyLine&) const = default;
};

struct BirdReply {
  std::vector<BirdReplyLine> lines;  // never empty: the last one is the final line

  int code() const { return lines.back().code; }
  const std::string& message() const { return lines.back().text; }
  bool failed() const { return code() >= bird_code::kFirstError; }
};

// Splits a byte stream from BIRD's socket into replies.
class BirdReplyReader {
 public:
  // A line longer than this (BIRD's own lines are < 512 bytes) is a protocol error.
  static constexpr std::size_t kMaxLine = 64 * 1024;

  // Consumes bytes; returns what is wrong with a line BIRD would not send
  // (after which the reader is unusable).
  std::optional<std::string> feed(std::string_view bytes);
  // The next complete reply, if one has been read.
  std::optional<BirdReply> next();
  // Lines of a reply not complete yet, or part of a line, are buffered.
  bool mid_reply() const { return !lines_.empty() || !partial_.empty(); }

 private:
  std::optional<std::string> line(std::string_view text);

  std::string partial_;
  std::vector<BirdReplyLine> lines_;
  int continued_code_ = -1;  // code a " text" line continues; -1: none
  std::deque<BirdReply> complete_;
};

// Exactly one complete reply (for captured text). Errors say what is wrong.
Result<BirdReply, std::string> parse_bird_reply(std::string_view text);

// The greeting: "0001 BIRD 2.0.12 ready." -> "2.0.12"; nothing for anything else.
std::optional<std::string> parse_bird_hello(const BirdReply& reply);

// `show protocols` or `show protocols all`. "No protocols match" (8003) is an
// empty list; other errors are the caller's.
Result<std::vector<BirdProtocol>, std::string> parse_protocols(const BirdReply& reply);
Result<std::vector<BirdProtocol>, std::string> parse_protocols(std::string_view reply_text);

// `show route count [table T]`.
Result<BirdRouteCount, std::string> parse_route_count(const BirdReply& reply);
Result<BirdRouteCount, std::string> parse_route_count(std::string_view reply_text);

// `show status`.
Result<BirdDaemonStatus, std::string> parse_status(const BirdReply& reply);
Result<BirdDaemonStatus, std::string> parse_status(std::string_view reply_text);

// `configure "path"` (or `configure check "path"`) for a path BIRD's lexer
// reads back unchanged: a string literal cannot hold '"' or a line break.
// Empty when it cannot.
std::string configure_command(std::string_view path, bool check_only = false);

}  // namespace kvlb::bgp
