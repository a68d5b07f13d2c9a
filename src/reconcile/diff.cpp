#include "reconcile/diff.h"

namespace kvlb::reconcile {
namespace {

using model::KernelState;
using model::RealServer;
using model::VirtualService;
using Kind = IpvsOp::Kind;

IpvsOp service_op(Kind kind, const VirtualService& vs) {
  IpvsOp op{kind, vs, {}};
  op.service.real_servers.clear();
  return op;
}

IpvsOp real_server_op(Kind kind, const VirtualService& vs, const RealServer& rs) {
  IpvsOp op = service_op(kind, vs);
  op.real_server = rs;
  return op;
}

// Zero connections count only when the counts were just read from the
// kernel: a cached count may predate a connection that is open now.
bool drain_finished(const RealServer& rs, std::optional<TimePoint> since, const DiffOptions& options) {
  if (options.connection_counts_fresh && rs.active_conns + rs.inactive_conns == 0) return true;
  return since && options.now - *since >= options.drain_timeout;
}

void diff_real_servers(const VirtualService& want, const VirtualService& have, const DrainTracker& drains,
                       const DiffOptions& options, std::vector<IpvsOp>& out) {
  // Removals first so a replaced endpoint never briefly doubles capacity.
  for (const auto& [key, rs] : have.real_servers) {
    if (want.real_servers.count(key)) continue;
    if (drain_finished(rs, drains.started({want.key, key}), options)) {
      out.push_back(real_server_op(Kind::DeleteRealServer, want, rs));
    } else if (rs.weight != 0) {
      model::RealServer drained;  // as the kernel will hold it: masquerading, weight 0
      drained.key = rs.key;
      drained.weight = 0;
      out.push_back(real_server_op(Kind::DrainRealServer, want, drained));
    }
  }
  for (const auto& [key, rs] : want.real_servers) {
    auto it = have.real_servers.find(key);
    if (it == have.real_servers.end()) out.push_back(real_server_op(Kind::AddRealServer, want, rs));
    else if (!it->second.same_settings(rs)) out.push_back(real_server_op(Kind::UpdateRealServer, want, rs));
  }
}

// See diff(): a service is kvlb's when its VIP is desired or tagged as
// kvlb's, or kvlb created it.
bool owns_service(const KernelState& desired, const KernelState& observed, const DiffOptions& options,
                  const model::VsKey& key) {
  return desired.vips.count(key.vip) || observed.vips.count(key.vip) ||
         (options.managed && options.managed->count(key));
}

template <typename T, typename F>
void set_difference_each(const std::set<T>& a, const std::set<T>& b, F&& f) {
  for (const auto& x : a)
    if (!b.count(x)) f(x);
}

}  // namespace

void DrainTracker::observe(const KernelState& desired, const KernelState& observed, TimePoint now) {
  std::map<RealServerId, TimePoint> next;
  for (const auto& [vs_key, have] : observed.ipvs) {
    auto want = desired.ipvs.find(vs_key);
    if (want == desired.ipvs.end()) continue;  // the whole service goes away
    for (const auto& [rs_key, rs] : have.real_servers) {
      if (want->second.real_servers.count(rs_key)) continue;
      RealServerId id{vs_key, rs_key};
      auto it = started_.find(id);
      next[id] = it != started_.end() ? it->second : now;
    }
  }
  started_ = std::move(next);
}

std::optional<TimePoint> DrainTracker::started(const RealServerId& id) const {
  auto it = started_.find(id);
  if (it == started_.end()) return std::nullopt;
  return it->second;
}

Plan diff(const KernelState& desired, const KernelState& observed, const DrainTracker& drains,
          const DiffOptions& options) {
  Plan plan;
  set_difference_each(observed.vips, desired.vips, [&](const auto& vip) { plan.vip_removals.push_back({false, vip}); });

  for (const auto& [key, have] : observed.ipvs)
    if (!desired.ipvs.count(key) && owns_service(desired, observed, options, key))
      plan.ipvs.push_back(service_op(Kind::DeleteService, have));
  for (const auto& [key, want] : desired.ipvs) {
    auto it = observed.ipvs.find(key);
    if (it == observed.ipvs.end()) {
      plan.ipvs.push_back(service_op(Kind::AddService, want));
      for (const auto& [rs_key, rs] : want.real_servers)
        plan.ipvs.push_back(real_server_op(Kind::AddRealServer, want, rs));
      continue;
    }
    if (!want.same_settings(it->second)) plan.ipvs.push_back(service_op(Kind::UpdateService, want));
    diff_real_servers(want, it->second, drains, options, plan.ipvs);
  }

  if (!observed.nat_table_present) {
    plan.recreate_nat_table = true;
    for (const auto& rule : desired.snat) plan.snat.push_back({true, rule});
    for (const auto& vip : desired.dropped_vips) plan.drops.push_back({true, vip});
  } else {
    set_difference_each(observed.snat, desired.snat, [&](const auto& r) { plan.snat.push_back({false, r}); });
    set_difference_each(desired.snat, observed.snat, [&](const auto& r) { plan.snat.push_back({true, r}); });
    set_difference_each(observed.dropped_vips, desired.dropped_vips, [&](const auto& v) { plan.drops.push_back({false, v}); });
    set_difference_each(desired.dropped_vips, observed.dropped_vips, [&](const auto& v) { plan.drops.push_back({true, v}); });
  }

  set_difference_each(desired.vips, observed.vips, [&](const auto& vip) {
    if (!observed.foreign_addresses.count(vip)) plan.vip_additions.push_back({true, vip});
  });
  return plan;
}

void apply_plan(KernelState& after, const Plan& plan, const std::vector<bool>& failed_ipvs, bool nat_failed,
                const std::vector<bool>& failed_vips) {
  std::size_t vip_index = 0;
  for (const auto& op : plan.vip_removals)
    if (!(vip_index < failed_vips.size() && failed_vips[vip_index++])) after.vips.erase(op.vip);
  for (std::size_t i = 0; i < plan.ipvs.size(); ++i) {
    if (i < failed_ipvs.size() && failed_ipvs[i]) continue;
    const auto& op = plan.ipvs[i];
    const auto& key = op.service.key;
    switch (op.kind) {
      case Kind::AddService:
      case Kind::UpdateService: {
        auto& vs = after.ipvs[key];
        auto servers = std::move(vs.real_servers);
        vs = op.service;
        vs.real_servers = std::move(servers);
        break;
      }
      case Kind::DeleteService: after.ipvs.erase(key); break;
      case Kind::AddRealServer:
      case Kind::UpdateRealServer:
      case Kind::DrainRealServer: {
        auto& rs = after.ipvs[key].real_servers[op.real_server.key];
        auto active = rs.active_conns, inactive = rs.inactive_conns;
        rs = op.real_server;
        rs.active_conns = active;
        rs.inactive_conns = inactive;
        break;
      }
      case Kind::DeleteRealServer: after.ipvs[key].real_servers.erase(op.real_server.key); break;
    }
  }
  if (!nat_failed) {
    if (plan.recreate_nat_table) {
      after.snat.clear();
      after.dropped_vips.clear();
      after.nat_table_present = true;
    }
    for (const auto& op : plan.snat) {
      if (op.add) after.snat.insert(op.rule);
      else after.snat.erase(op.rule);
    }
    for (const auto& op : plan.drops) {
      if (op.add) after.dropped_vips.insert(op.vip);
      else after.dropped_vips.erase(op.vip);
    }
  }
  for (const auto& op : plan.vip_additions)
    if (!(vip_index < failed_vips.size() && failed_vips[vip_index++])) after.vips.insert(op.vip);
}

}  // namespace kvlb::reconcile
