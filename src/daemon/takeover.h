#pragma once
// Carries out role changes in the order that keeps connections alive
// (DESIGN.md, "Hitless failover"). Taking over an instance:
//   drop its VIPs' traffic -> conntrackd commit -> repair SCTP entries
//   -> addresses + GARP -> lift the drop -> tell the peer -> IPVS sync daemon to master
//   -> conntrackd flush/resync/bulk (these last two do not affect forwarding).
// Stepping down: addresses first, then the sync daemons and conntrackd.
// Each step is a hook, so tests assert the exact sequence with fakes.
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/types.h"
#include "util/clock.h"
#include "util/result.h"

namespace kvlb::daemon {

struct TakeoverHooks {
  // Reconciles the kernel with these holds (addresses and drops per instance).
  std::function<Status(const std::map<std::string, model::InstanceHold>&)> apply_holds;
  // Runs the IPVS sync daemons this node needs: master while it is MASTER of
  // an instance, backup while it is BACKUP of one. Empty: no IPVS sync.
  std::function<Status(bool master, bool backup)> set_ipvs_sync;
  // conntrackd's external cache into the kernel; returns when done. Empty: no conntrackd.
  std::function<Status()> conntrackd_commit;
  // Fixes committed SCTP entries whose DNAT port conntrackd lost (see ConntrackWriter).
  std::function<Result<std::size_t>(const std::string& instance)> repair_nat_ports;
  // The instance's VIPs are up and open: its adverts say so from now on (a
  // stopping peer keeps its addresses until then). Empty: nothing to tell.
  std::function<void(const std::string& instance)> serving;
  std::function<Status()> conntrackd_after_takeover;                 // flush, resync from kernel, bulk send
  std::function<Status(bool still_master)> conntrackd_after_stepdown;  // shorten timers unless still MASTER, request resync
};

struct TakeoverStep {
  std::string name;
  bool ok = true;
  std::string error;
  std::chrono::microseconds took{0};
};

struct TakeoverReport {
  std::string instance;
  bool to_master = false;
  std::string reason;  // from the mastership change
  std::vector<TakeoverStep> steps;
  // Connection state was in place before traffic flowed (every sync step
  // succeeded). False: the takeover happened, but established flows may break.
  bool hitless = true;
  std::chrono::microseconds took{0};
  std::string summary() const;  // "blue MASTER in 12.3 ms: drop 0.8 ms, ..."
  std::vector<std::string> step_names() const;
  nlohmann::json json() const;
};

class Takeover {
 public:
  Takeover(TakeoverHooks hooks, const Clock& clock);

  // At start every instance is BACKUP: sync daemons and conntrackd as for a BACKUP.
  TakeoverReport start_as_backup(const std::vector<std::string>& instances);
  TakeoverReport become_master(const std::string& instance, const std::string& reason);
  TakeoverReport become_backup(const std::string& instance, const std::string& reason);

  const std::map<std::string, model::InstanceHold>& holds() const { return holds_; }
  const std::deque<TakeoverReport>& history() const { return history_; }  // newest last
  uint64_t takeovers() const { return takeovers_; }
  uint64_t not_hitless() const { return not_hitless_; }

 private:
  void step(TakeoverReport& report, const std::string& name, const std::function<Status()>& action, bool sync_step);
  void counted_step(TakeoverReport& report, const std::string& name,
                    const std::function<Result<std::size_t>()>& action);
  void apply(TakeoverReport& report, const std::string& name);
  void sync_daemons(TakeoverReport& report);
  TakeoverReport finish(TakeoverReport report, TimePoint started);

  TakeoverHooks hooks_;
  const Clock& clock_;
  std::map<std::string, model::InstanceHold> holds_;
  std::map<std::string, bool> master_;  // instance -> MASTER here
  std::deque<TakeoverReport> history_;
  uint64_t takeovers_ = 0;
  uint64_t not_hitless_ = 0;
};

}  // namespace kvlb::daemon
