#pragma once
// ConntrackdControl with conntrackd's caches modelled as sets of flow names:
// commit copies the external cache (the peer's flows) into the kernel table.
// Every call is logged by name ("commit", "flush"...); a dead or slow daemon
// is injected as the error the socket control would return.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ha/conntrackd/conntrackd_control.h"

namespace kvlb::fakes {

class FakeConntrackdControl final : public ha::ConntrackdControl {
 public:
  enum class Failure { None, Dead, Slow };

  std::set<std::string> internal_cache;  // this node's flows
  std::set<std::string> external_cache;  // the peer's flows
  std::set<std::string> kernel_table;
  int bulks_sent = 0;
  int resyncs_requested = 0;
  bool timers_shortened = false;

  Failure failure = Failure::None;
  std::optional<ha::ConntrackdCommand> failing_command;  // unset: every command fails
  std::string socket_path = "/run/kvlb/conntrackd.ctl";

  std::vector<std::string> ops;  // every call, failed ones too

  ha::ConntrackdStatus commit() override;
  ha::ConntrackdStatus flush_caches() override;
  ha::ConntrackdStatus resync_from_kernel() override;
  ha::ConntrackdStatus send_bulk() override;
  ha::ConntrackdStatus request_resync() override;
  ha::ConntrackdStatus shorten_timers() override;
  Result<std::string, ha::ConntrackdError> stats() override;
  ha::ConntrackdStatus shutdown() override;  // the daemon is dead afterwards

 private:
  std::optional<ha::ConntrackdError> call(ha::ConntrackdCommand command);
};

}  // namespace kvlb::fakes
