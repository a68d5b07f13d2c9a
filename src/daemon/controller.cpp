#include "daemon/controller.h"

#include <spdlog/spdlog.h>

#include "reconcile/desired.h"

namespace kvlb::daemon {

void Controller::set_desired(model::DesiredState desired) {
  std::lock_guard lock(mutex_);
  desired_ = std::move(desired);
}

bool Controller::needs_full_read() const {
  std::lock_guard lock(mutex_);
  return !cache_.has_value();
}

Snapshot Controller::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot s;
  s.desired = desired_;
  if (cache_) s.observed = *cache_;
  s.problems = problems_;
  s.last_errors = last_errors_;
  s.last_ops = last_ops_;
  s.counters = counters_;
  s.synced = synced_;
  return s;
}

bool Controller::read_kernel(ReconcileReport& report) {
  ++counters_.full_reads;
  report.full_read = true;
  auto services = kernel_.ipvs.list();
  auto nat = kernel_.nat.read();
  auto addresses = kernel_.addresses.list(desired_.node.interface);
  bool ok = true;
  for (const Error* e : {services.ok() ? nullptr : &services.error(), nat.ok() ? nullptr : &nat.error(),
                         addresses.ok() ? nullptr : &addresses.error()}) {
    if (!e) continue;
    report.errors.push_back("read kernel: " + e->describe());
    ++counters_.read_errors;
    ok = false;
  }
  if (!ok) return false;

  model::KernelState observed;
  for (auto& vs : *services) observed.ipvs[vs.key] = std::move(vs);
  observed.nat_table_present = nat->intact;
  observed.snat = nat->intact ? nat->snat : std::set<model::SnatRule>{};
  node_addresses_.clear();
  for (const auto& a : *addresses) {
    if (a.owned) observed.vips.insert(a.prefix.address);
    else node_addresses_.push_back(a.prefix.address);
  }
  cache_ = std::move(observed);
  return true;
}

ReconcileReport Controller::reconcile(bool full_read) {
  std::lock_guard lock(mutex_);
  auto started = std::chrono::steady_clock::now();
  ReconcileReport report;
  ++counters_.reconciles;

  if ((full_read || !cache_) && !read_kernel(report)) {
    cache_.reset();
    synced_ = false;
    last_errors_ = report.errors;
    return report;
  }

  auto desired = reconcile::desired_kernel_state(desired_, node_addresses_);
  problems_ = desired.problems;
  auto observed = reconcile::owned_part(*cache_, desired.state);
  auto now = clock_.now();
  drains_.observe(desired.state, observed, now);
  auto plan = reconcile::diff(desired.state, observed,
                              drains_, {std::chrono::seconds(desired_.settings.drain_timeout_seconds), now});
  report.ops = plan.log();
  for (const auto& line : report.ops) spdlog::info("{}", line);

  auto outcome = apply_plan(plan, kernel_, desired_.node.interface);
  report.applied = outcome.applied;
  counters_.ops_applied += outcome.applied;
  counters_.op_errors += outcome.errors.size();
  for (const auto& e : outcome.errors) {
    spdlog::error("{}", e);
    report.errors.push_back(e);
  }
  // Keep foreign objects in the cache: owned_part filters them each round.
  auto applied = reconcile::apply_plan(observed, plan, outcome.failed_ipvs, outcome.nat_failed, outcome.failed_vips);
  for (const auto& [key, vs] : cache_->ipvs)
    if (!observed.ipvs.count(key)) applied.ipvs.emplace(key, vs);
  cache_ = std::move(applied);
  if (outcome.any_failed()) cache_.reset();  // the next round reads the kernel again

  for (const auto& p : problems_) report.errors.push_back(p);
  last_errors_ = report.errors;
  if (!report.ops.empty()) last_ops_ = report.ops;
  synced_ = report.errors.empty();
  report.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  return report;
}

}  // namespace kvlb::daemon
