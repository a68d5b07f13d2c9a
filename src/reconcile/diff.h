#pragma once
// The reconciler's core: a pure function from (desired, observed) to a Plan.
// Unchanged input gives an empty plan.
#include <chrono>
#include <map>
#include <set>
#include <utility>

#include "model/types.h"
#include "reconcile/plan.h"
#include "util/clock.h"

namespace kvlb::reconcile {

using RealServerId = std::pair<model::VsKey, model::RealServerKey>;

// When each real server that is no longer desired started draining.
class DrainTracker {
 public:
  // Starts the clock for every observed real server that is no longer desired
  // and forgets servers that are desired again or gone.
  void observe(const model::KernelState& desired, const model::KernelState& observed, TimePoint now);
  std::optional<TimePoint> started(const RealServerId& id) const;
  std::size_t size() const { return started_.size(); }

 private:
  std::map<RealServerId, TimePoint> started_;
};

struct DiffOptions {
  std::chrono::seconds drain_timeout{30};
  TimePoint now{};
  // IPVS services kvlb created earlier (kept across restarts). They stay
  // kvlb's even when their VIP is neither configured nor tagged any more,
  // e.g. a VIP the operator configured by hand.
  const std::set<model::VsKey>* managed = nullptr;
  // False when `observed` is a cached view: its connection counts may be old,
  // so a removed endpoint is drained, never deleted at once.
  bool connection_counts_fresh = true;
};

// Observed IPVS services count only when kvlb owns them: their VIP is desired
// or is one of kvlb's tagged VIP addresses, or kvlb created them
// (options.managed). Foreign services are invisible.
// Everything in kvlb's own nft table is kvlb's.
Plan diff(const model::KernelState& desired, const model::KernelState& observed, const DrainTracker& drains,
          const DiffOptions& options);

// Updates `state` (a cached view of the kernel) in place to what the kernel
// holds after `plan` was applied, skipping failed ops: failed_ipvs is parallel
// to plan.ipvs, failed_vips to vip_removals then vip_additions. Lets the change
// path diff against the cache instead of dumping the kernel again.
void apply_plan(model::KernelState& state, const Plan& plan, const std::vector<bool>& failed_ipvs, bool nat_failed,
                const std::vector<bool>& failed_vips);

}  // namespace kvlb::reconcile
