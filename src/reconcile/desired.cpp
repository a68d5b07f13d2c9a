#include "reconcile/desired.h"

#include <algorithm>

namespace kvlb::reconcile {

DesiredKernel desired_kernel_state(const model::DesiredState& desired,
                                   const std::vector<model::IpAddress>& node_addresses) {
  DesiredKernel out;
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
    out.state.vips.insert(svc.key.vip);
    out.state.ipvs[vs.key] = std::move(vs);
  }
  return out;
}

}  // namespace kvlb::reconcile
