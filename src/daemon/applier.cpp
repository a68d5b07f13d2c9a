#include "daemon/applier.h"

#include <algorithm>

namespace kvlb::daemon {

kernel::IpvsCommand to_command(const reconcile::IpvsOp& op) {
  using From = reconcile::IpvsOp::Kind;
  using To = kernel::IpvsCommand::Kind;
  To kind = To::AddService;
  switch (op.kind) {
    case From::AddService: kind = To::AddService; break;
    case From::UpdateService: kind = To::UpdateService; break;
    case From::DeleteService: kind = To::DeleteService; break;
    case From::AddRealServer: kind = To::AddRealServer; break;
    case From::UpdateRealServer:
    case From::DrainRealServer: kind = To::UpdateRealServer; break;
    case From::DeleteRealServer: kind = To::DeleteRealServer; break;
  }
  return {kind, op.service, op.real_server};
}

ApplyOutcome apply_plan(const reconcile::Plan& plan, KernelPorts& kernel, const std::string& interface) {
  ApplyOutcome out;
  auto vip_op = [&](const reconcile::VipOp& op) {
    auto status = op.add ? kernel.addresses.add_vip(interface, op.vip) : kernel.addresses.delete_vip(interface, op.vip);
    out.failed_vips.push_back(!status.ok());
    if (status.ok()) ++out.applied;
    else out.errors.push_back(status.error().describe());
  };

  for (const auto& op : plan.vip_removals) vip_op(op);

  // In chunks, so a cold start of 100,000 ops does not hold a second copy of the plan.
  constexpr std::size_t kChunk = 4096;
  out.failed_ipvs.resize(plan.ipvs.size(), true);
  std::vector<kernel::IpvsCommand> commands;
  for (std::size_t first = 0; first < plan.ipvs.size(); first += kChunk) {
    std::size_t last = std::min(plan.ipvs.size(), first + kChunk);
    commands.clear();
    for (std::size_t i = first; i < last; ++i) commands.push_back(to_command(plan.ipvs[i]));
    auto statuses = kernel.ipvs.apply(commands);
    for (std::size_t i = 0; i < statuses.size() && first + i < last; ++i) {
      out.failed_ipvs[first + i] = !statuses[i].ok();
      if (statuses[i].ok()) ++out.applied;
      else out.errors.push_back(statuses[i].error().describe());
    }
  }

  if (plan.recreate_nat_table || !plan.snat.empty() || !plan.drops.empty()) {
    kernel::NatBatch batch;
    batch.recreate_table = plan.recreate_nat_table;
    for (const auto& op : plan.snat) (op.add ? batch.add : batch.remove).push_back(op.rule);
    for (const auto& op : plan.drops) (op.add ? batch.drop_add : batch.drop_remove).push_back(op.vip);
    auto status = kernel.nat.apply(batch);
    out.nat_failed = !status.ok();
    if (status.ok()) out.applied += plan.snat.size() + plan.drops.size() + (plan.recreate_nat_table ? 1 : 0);
    else out.errors.push_back(status.error().describe());
  }

  for (const auto& op : plan.vip_additions) vip_op(op);
  return out;
}

}  // namespace kvlb::daemon
