#pragma once
// The reconciler's core: a pure function from (desired, observed) to a Plan.
// Unchanged input gives an empty plan.
#include <chrono>
#include <map>
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
};

Plan diff(const model::KernelState& desired, const model::KernelState& observed, const DrainTracker& drains,
          const DiffOptions& options);

// Restricts an observed kernel state to what kvlb owns: IPVS services and SNAT
// entries whose VIP is desired or is one of kvlb's tagged VIP addresses.
model::KernelState owned_part(const model::KernelState& observed, const model::KernelState& desired);

// The state the kernel is in after `plan` was applied to `before`, skipping
// the ops whose indexes in plan.log() order are in `failed`. Lets the change
// path diff against a cached view instead of dumping the kernel again.
model::KernelState apply_plan(const model::KernelState& before, const Plan& plan,
                              const std::vector<bool>& failed_ipvs, bool nat_failed,
                              const std::vector<bool>& failed_vips);

}  // namespace kvlb::reconcile
