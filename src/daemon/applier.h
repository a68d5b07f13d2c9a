#pragma once
// Carries a Plan out on the kernel interfaces. A failed op is recorded and
// the rest still run (one bad object must not block the others).
#include <string>
#include <vector>

#include "kernel/addr/address_table.h"
#include "kernel/ipvs/ipvs_table.h"
#include "kernel/nft/nat_table.h"
#include "reconcile/plan.h"

namespace kvlb::daemon {

struct KernelPorts {
  kernel::IpvsTable& ipvs;
  kernel::NatTable& nat;
  kernel::AddressTable& addresses;
};

struct ApplyOutcome {
  std::vector<bool> failed_ipvs;  // parallel to plan.ipvs
  bool nat_failed = false;
  std::vector<bool> failed_vips;  // vip_removals then vip_additions
  std::vector<std::string> errors;
  std::size_t applied = 0;
  bool any_failed() const { return !errors.empty(); }
};

ApplyOutcome apply_plan(const reconcile::Plan& plan, KernelPorts& kernel, const std::string& interface);

kernel::IpvsCommand to_command(const reconcile::IpvsOp& op);

}  // namespace kvlb::daemon
