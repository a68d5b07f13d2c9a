#pragma once
// Commands to a running conntrackd, as `conntrackd -c/-f/-R/-B/-n/-t/-s/-k`
// send them, so kvlbd (or a fake) drives state sync without exec'ing.
#include <string>
#include <string_view>
#include <variant>

#include "util/result.h"

namespace kvlb::ha {

enum class ConntrackdCommand {
  Commit,            // -c: external cache -> kernel; answered when the commit is done
  FlushCaches,       // -f: empty the internal and external caches
  ResyncFromKernel,  // -R: refill the internal cache from the kernel table
  SendBulk,          // -B: send the internal cache to the peer
  RequestResync,     // -n: ask the peer for its internal cache
  ShortenTimers,     // -t: kernel entries expire after PurgeTimeout
  Stats,             // -s
  Shutdown,          // -k: exit cleanly (removes its socket and lock file)
};

constexpr std::string_view conntrackd_command_name(ConntrackdCommand command) {
  switch (command) {
    case ConntrackdCommand::Commit: return "commit";
    case ConntrackdCommand::FlushCaches: return "flush";
    case ConntrackdCommand::ResyncFromKernel: return "resync";
    case ConntrackdCommand::SendBulk: return "bulk";
    case ConntrackdCommand::RequestResync: return "request-resync";
    case ConntrackdCommand::ShortenTimers: return "shorten-timers";
    case ConntrackdCommand::Stats: return "stats";
    case ConntrackdCommand::Shutdown: return "shutdown";
  }
  return "?";
}

constexpr std::string_view conntrackd_command_flag(ConntrackdCommand command) {
  switch (command) {
    case ConntrackdCommand::Commit: return "-c";
    case ConntrackdCommand::FlushCaches: return "-f";
    case ConntrackdCommand::ResyncFromKernel: return "-R";
    case ConntrackdCommand::SendBulk: return "-B";
    case ConntrackdCommand::RequestResync: return "-n";
    case ConntrackdCommand::ShortenTimers: return "-t";
    case ConntrackdCommand::Stats: return "-s";
    case ConntrackdCommand::Shutdown: return "-k";
  }
  return "?";
}

struct ConntrackdError {
  enum class Kind {
    NotRunning,  // no socket, or nobody listening on it
    Timeout,     // no complete answer in time
    Failed,      // I/O error, or the daemon went away during the command
  };
  Kind kind = Kind::Failed;
  ConntrackdCommand command = ConntrackdCommand::Stats;
  std::string socket_path;
  std::string detail;

  // "conntrackd commit (-c) via /run/kvlb/conntrackd.ctl: no complete answer within 30000 ms"
  std::string describe() const;
};

using ConntrackdStatus = Result<std::monostate, ConntrackdError>;

class ConntrackdControl {
 public:
  virtual ~ConntrackdControl() = default;

  // Returns once conntrackd has written every external cache entry to the kernel.
  virtual ConntrackdStatus commit() = 0;
  virtual ConntrackdStatus flush_caches() = 0;
  virtual ConntrackdStatus resync_from_kernel() = 0;
  virtual ConntrackdStatus send_bulk() = 0;
  virtual ConntrackdStatus request_resync() = 0;
  virtual ConntrackdStatus shorten_timers() = 0;
  virtual Result<std::string, ConntrackdError> stats() = 0;  // conntrackd's text
  virtual ConntrackdStatus shutdown() = 0;
};

}  // namespace kvlb::ha
