#pragma once
// The level-based reconcile loop's state: desired config, a cached view of
// the kernel, drain clocks, and what happened last. The caller decides when
// to run (config change, SIGHUP, periodic resync, retry after an error).
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/applier.h"
#include "daemon/managed_store.h"
#include "model/types.h"
#include "reconcile/desired.h"
#include "reconcile/diff.h"
#include "util/clock.h"

namespace kvlb::daemon {

struct ReconcileReport {
  bool full_read = false;
  std::size_t op_count = 0;
  std::vector<std::string> ops;     // the plan as op strings; the first kLastOpsKept, then "... and N more"
  std::vector<std::string> errors;  // read, translation and apply errors
  std::size_t applied = 0;
  std::chrono::microseconds took{0};
};

struct Counters {
  uint64_t reconciles = 0;
  uint64_t full_reads = 0;
  uint64_t ops_applied = 0;
  uint64_t op_errors = 0;
  uint64_t read_errors = 0;
  uint64_t announce_failures = 0;  // GARP / NA sends that failed
  uint64_t netlink_writes = 0;     // state-changing messages / batches sent to the kernel
};

// A consistent copy for the REST API.
struct Snapshot {
  model::DesiredState desired;
  model::KernelState observed;  // kvlb-owned part of the kernel, as last known
  std::vector<std::string> problems;    // services that could not be translated
  std::vector<std::string> last_errors; // from the last reconcile
  std::vector<std::string> last_ops;
  Counters counters;
  bool synced = false;  // the last reconcile applied everything without error
};

class Controller {
 public:
  static constexpr std::size_t kLastOpsKept = 100;

  // managed: where the set of IPVS services kvlb created is kept (may be null).
  Controller(KernelPorts kernel, const Clock& clock, const ManagedStore* managed = nullptr);

  void set_desired(model::DesiredState desired);
  // full_read: dump the kernel instead of trusting the cached view (resync).
  ReconcileReport reconcile(bool full_read);
  // True when the next reconcile must read the kernel (first run, after errors).
  bool needs_full_read() const;
  Snapshot snapshot() const;

 private:
  bool read_kernel(ReconcileReport& report);
  void update_managed(ReconcileReport& report);

  KernelPorts kernel_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  model::DesiredState desired_;
  std::optional<reconcile::DesiredKernel> desired_kernel_;  // derived from desired_ + node_addresses_
  std::optional<model::KernelState> cache_;  // the kernel as last read, plus what was applied since
  bool cache_stale_ = false;                  // an apply or read failed: read the kernel next time
  std::vector<model::IpAddress> node_addresses_;     // the interface's own addresses
  reconcile::DrainTracker drains_;
  const ManagedStore* managed_store_;
  std::set<model::VsKey> managed_;
  bool managed_unsaved_ = false;
  std::vector<std::string> problems_;
  std::vector<std::string> last_errors_;
  std::vector<std::string> last_ops_;  // the last non-empty plan, at most kLastOpsKept lines
  Counters counters_;
  bool synced_ = false;
};

}  // namespace kvlb::daemon
