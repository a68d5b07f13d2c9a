#pragma once
// The routes kvlbd announces through BIRD: one per VIP, marked with this
// node's role for the VIP's HA instance. Pure.
#include <compare>
#include <map>
#include <string>
#include <vector>

#include "model/types.h"

namespace kvlb::bgp {

struct AnnouncedRoute {
  model::IpAddress vip;  // announced as a host route (/32, /128)
  bool master = true;    // false: this node is BACKUP of the VIP's instance
  std::vector<model::Community> communities;  // sorted, each once
  auto operator<=>(const AnnouncedRoute&) const = default;
};

// One route per VIP of the desired services, sorted by VIP. With HA off every
// VIP is MASTER; with HA on, a VIP is MASTER when this node is MASTER of its
// instance (`master_of_instance[instance]`; an instance not listed is the
// peer's). A VIP carries the communities of every service on it and of the
// pool it belongs to.
std::vector<AnnouncedRoute> announced_routes(const model::DesiredState& state,
                                             const std::map<std::string, bool>& master_of_instance);

}  // namespace kvlb::bgp
