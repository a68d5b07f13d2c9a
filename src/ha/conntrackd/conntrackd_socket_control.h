#pragma once
// ConntrackdControl over conntrackd's UNIX socket, speaking its protocol
// directly (no exec): the client sends the request number as one native int,
// conntrackd answers with text (stats) or nothing, and closes the connection
// when the request is done. A commit holds the connection open until the last
// batch is in the kernel, so its close is the "commit finished" signal.
#include <chrono>
#include <mutex>
#include <string>

#include "ha/conntrackd/conntrackd_control.h"

namespace kvlb::ha {

struct ConntrackdTimeouts {
  std::chrono::milliseconds table{30000};  // commit and resync: they walk the whole table
  std::chrono::milliseconds other{5000};
};

class UnixSocketConntrackdControl final : public ConntrackdControl {
 public:
  explicit UnixSocketConntrackdControl(std::string socket_path, ConntrackdTimeouts timeouts = {});

  ConntrackdStatus commit() override;
  ConntrackdStatus flush_caches() override;
  ConntrackdStatus resync_from_kernel() override;
  ConntrackdStatus send_bulk() override;
  ConntrackdStatus request_resync() override;
  ConntrackdStatus shorten_timers() override;
  Result<std::string, ConntrackdError> stats() override;
  ConntrackdStatus shutdown() override;

  const std::string& socket_path() const { return socket_path_; }

  // The number conntrackd 1.4.x reads for a command (what its -c, -f... send).
  static int request_number(ConntrackdCommand command);

 private:
  Result<std::string, ConntrackdError> request(ConntrackdCommand command);
  ConntrackdStatus simple(ConntrackdCommand command);

  std::string socket_path_;
  ConntrackdTimeouts timeouts_;
  std::mutex mutex_;  // one request at a time: a second commit would be skipped at once
};

}  // namespace kvlb::ha
