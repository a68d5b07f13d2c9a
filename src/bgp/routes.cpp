#include "bgp/routes.h"

#include <algorithm>

namespace kvlb::bgp {

namespace {

const model::IpPool* pool_of(const std::vector<model::IpPool>& pools, const model::IpAddress& vip) {
  for (const auto& pool : pools)
    for (const auto& range : pool.ranges)
      if (range.first.family() == vip.family() && !(vip < range.first) && !(range.last < vip)) return &pool;
  return nullptr;
}

}  // namespace

std::vector<AnnouncedRoute> announced_routes(const model::DesiredState& state,
                                             const std::map<std::string, bool>& master_of_instance) {
  std::map<model::IpAddress, AnnouncedRoute> routes;
  for (const auto& service : state.services) {
    bool master = true;
    if (state.ha.enabled) {
      auto role = master_of_instance.find(service.instance);
      master = role != master_of_instance.end() && role->second;
    }
    auto [it, inserted] = routes.try_emplace(service.key.vip, AnnouncedRoute{service.key.vip, master, {}});
    auto& route = it->second;
    if (inserted) {
      if (const auto* pool = pool_of(state.pools, service.key.vip))
        route.communities.insert(route.communities.end(), pool->communities.begin(), pool->communities.end());
    } else {
      // A VIP is in one instance (the config refuses more); should services of
      // several instances share it anyway, it is announced as MASTER by a
      // MASTER of any of them, as its address is on that node's interface.
      route.master = route.master || master;
    }
    route.communities.insert(route.communities.end(), service.communities.begin(), service.communities.end());
  }
  std::vector<AnnouncedRoute> out;
  out.reserve(routes.size());
  for (auto& [vip, route] : routes) {
    std::sort(route.communities.begin(), route.communities.end());
    route.communities.erase(std::unique(route.communities.begin(), route.communities.end()), route.communities.end());
    out.push_back(std::move(route));
  }
  return out;
}

}  // namespace kvlb::bgp
