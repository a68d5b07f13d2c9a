#include "daemon/controller.h"

#include <spdlog/spdlog.h>

namespace kvlb::daemon {

Controller::Controller(KernelPorts kernel, const Clock& clock, const ManagedStore* managed)
    : kernel_(kernel), clock_(clock), managed_store_(managed) {
  if (!managed_store_) return;
  auto loaded = managed_store_->load();
  if (loaded.ok()) managed_ = std::move(*loaded);
  else spdlog::warn("{}: starting without the list of services kvlb created", loaded.error().describe());
}

// kvlb's services: the desired ones, plus those it created that are still in the kernel.
void Controller::update_managed(ReconcileReport& report) {
  std::set<model::VsKey> next;
  for (const auto& [key, vs] : desired_kernel_->state.ipvs) next.insert(key);
  for (const auto& key : managed_)
    if (cache_->ipvs.count(key)) next.insert(key);
  if (next != managed_) {
    managed_ = std::move(next);
    managed_unsaved_ = true;
  }
  if (!managed_store_ || !managed_unsaved_) return;
  if (auto st = managed_store_->save(managed_); st.ok()) managed_unsaved_ = false;
  else report.errors.push_back(st.error().describe());  // retried next round
}

void Controller::set_desired(model::DesiredState desired) {
  std::lock_guard lock(mutex_);
  desired_ = std::move(desired);
  desired_kernel_.reset();
}

bool Controller::needs_full_read() const {
  std::lock_guard lock(mutex_);
  return !cache_ || cache_stale_;
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
  s.counters.announce_failures = kernel_.addresses.announce_failures();
  s.counters.netlink_writes = kernel_.ipvs.writes() + kernel_.nat.writes() + kernel_.addresses.writes();
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
  observed.dropped_vips = nat->intact ? nat->dropped_vips : std::set<model::IpAddress>{};
  // The interface's own addresses, those of a subnet first: the onearm SNAT
  // source must be the node's address on the link, not a /32 someone added.
  std::vector<model::IpAddress> node_addresses, host_routes;
  for (const auto& a : *addresses) {
    if (a.owned) {
      observed.vips.insert(a.prefix.address);
      continue;
    }
    observed.foreign_addresses.insert(a.prefix.address);
    (a.prefix.length < a.prefix.address.max_prefix() ? node_addresses : host_routes).push_back(a.prefix.address);
  }
  node_addresses.insert(node_addresses.end(), host_routes.begin(), host_routes.end());
  if (node_addresses != node_addresses_) desired_kernel_.reset();  // onearm SNAT sources may change
  node_addresses_ = std::move(node_addresses);
  cache_ = std::move(observed);
  cache_stale_ = false;
  return true;
}

ReconcileReport Controller::reconcile(bool full_read) {
  std::lock_guard lock(mutex_);
  auto started = std::chrono::steady_clock::now();
  ReconcileReport report;
  ++counters_.reconciles;

  if ((full_read || !cache_ || cache_stale_) && !read_kernel(report)) {
    cache_stale_ = true;
    synced_ = false;
    last_errors_ = report.errors;
    return report;
  }

  if (!desired_kernel_) desired_kernel_ = reconcile::desired_kernel_state(desired_, node_addresses_);
  const auto& desired = desired_kernel_->state;
  problems_ = desired_kernel_->problems;
  auto now = clock_.now();
  drains_.observe(desired, *cache_, now);
  auto plan = reconcile::diff(desired, *cache_, drains_,
                              {std::chrono::seconds(desired_.settings.drain_timeout_seconds), now, &managed_,
                               report.full_read});
  // A cold start can plan 100,000 ops: log them all, keep only the first few.
  report.op_count = plan.size();
  plan.for_each_line([&](const std::string& line) {
    spdlog::info("{}", line);
    if (report.ops.size() < kLastOpsKept) report.ops.push_back(line);
  });
  if (report.op_count > report.ops.size())
    report.ops.push_back("... and " + std::to_string(report.op_count - report.ops.size()) + " more");

  auto outcome = apply_plan(plan, kernel_, desired_.node.interface);
  report.applied = outcome.applied;
  counters_.ops_applied += outcome.applied;
  counters_.op_errors += outcome.errors.size();
  for (const auto& e : outcome.errors) {
    spdlog::error("{}", e);
    report.errors.push_back(e);
  }
  reconcile::apply_plan(*cache_, plan, outcome.failed_ipvs, outcome.nat_failed, outcome.failed_vips);
  // After a failure the kernel may differ from the cache: the next round reads it.
  cache_stale_ = outcome.any_failed();
  update_managed(report);

  for (const auto& p : problems_) report.errors.push_back(p);
  last_errors_ = report.errors;
  if (!report.ops.empty()) last_ops_ = report.ops;
  synced_ = report.errors.empty();
  report.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  return report;
}

}  // namespace kvlb::daemon
