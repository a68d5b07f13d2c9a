#include "reconcile/desired.h"

#include <algorithm>

namespace kvlb::reconcile {

namespace {

// Without HA the node holds everything; with HA only what the runner says.
model::InstanceHold hold_of(const model::DesiredState& desired, const std::string& instance) {
  if (!desired.ha.enabled) return {true, false};
  auto it = desired.holds.find(instance);
  return it == desired.holds.end() ? model::InstanceHold{} : it->second;
}

const model::HaInstance* instance_of(const model::DesiredState& desired, const std::string& name) {
  for (const auto& inst : desired.ha.instances)
    if (inst.name == name) return &inst;
  return nullptr;
}

// In HA, onearm SNAT must use an address that moves with the instance.
std::optional<model::IpAddress> floating_source(const model::DesiredState& desired, const model::Service& svc) {
  const auto* inst = instance_of(desired, svc.instance);
  if (!inst) return std::nullopt;
  for (const auto& a : inst->floating_addresses)
    if (a.family() == svc.key.vip.family()) return a;
  return std::nullopt;
}

}  // namespace

DesiredKernel desired_kernel_state(const model::DesiredState& desired,
                                   const std::vector<model::IpAddress>& node_addresses) {
  DesiredKernel out;
  // IPVS services and SNAT entries are programmed on every node, MASTER or
  // BACKUP, so connections synced to a BACKUP find them at takeover; only
  // the addresses (and the takeover drop) follow the role.
  for (const auto& inst : desired.ha.instances) {
    auto hold = hold_of(desired, inst.name);
    if (hold.addresses) out.state.vips.insert(inst.floating_addresses.begin(), inst.floating_addresses.end());
  }
  for (const auto& svc : desired.services) {
    model::VirtualService vs;
    vs.key = svc.key;
    vs.scheduler = svc.scheduler;
    vs.persistence_seconds = svc.persistence_seconds;
    for (const auto& ep : svc.endpoints) {
      model::RealServer rs;
      rs.key = {ep.ip, ep.port};
      rs.weight = ep.weight;
      vs.real_servers[rs.key] = rs;
    }
    std::optional<model::IpAddress> snat_source;
    switch (svc.mode) {
      case model::NatMode::Default:
        break;
      case model::NatMode::FullNat:
        snat_source = svc.snat_address.value_or(svc.key.vip);
        break;
      case model::NatMode::OneArm: {
        snat_source = svc.snat_address;
        if (!snat_source && desired.ha.enabled) {
          snat_source = floating_source(desired, svc);
          if (!snat_source) {
            out.problems.push_back("service " + svc.name + ": mode onearm with HA needs an IPv" +
                                   (svc.key.vip.is_v4() ? "4" : "6") + " floating address in instance " +
                                   svc.instance + " or a snatAddress (a node's own address does not move)");
            continue;
          }
        }
        if (!snat_source) {
          auto it = std::find_if(node_addresses.begin(), node_addresses.end(),
                                 [&](const auto& a) { return a.family() == svc.key.vip.family(); });
          if (it == node_addresses.end()) {
            out.problems.push_back("service " + svc.name + ": mode onearm needs an IPv" +
                                   (svc.key.vip.is_v4() ? "4" : "6") + " address on interface " +
                                   desired.node.interface + " or a snatAddress");
            continue;
          }
          snat_source = *it;
        }
        break;
      }
    }
    if (snat_source) out.state.snat.insert({svc.key, *snat_source});
    auto hold = hold_of(desired, svc.instance);
    if (hold.addresses) out.state.vips.insert(svc.key.vip);
    if (hold.drop) out.state.dropped_vips.insert(svc.key.vip);
    out.state.ipvs[vs.key] = std::move(vs);
  }
  return out;
}

}  // namespace kvlb::reconcile
