#include "ipam/holdings.h"

#include <algorithm>

namespace kvlb::ipam {

std::vector<PortUse> sorted_ports(std::vector<PortUse> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

const Allocation* Holdings::find(const std::string& service) const {
  auto it = by_service_.find(service);
  return it == by_service_.end() ? nullptr : &it->second;
}

void Holdings::record(const std::string& service, Allocation allocation) {
  erase(service);
  for (const model::IpAddress& ip : allocation.ips) {
    Holders& holders = holders_[ip];
    if (holders.services.empty()) held_[family_index(ip.family())].insert(to_number(ip));
    holders.services.insert(service);
    for (const PortUse& port : allocation.ports) holders.port_users.emplace(port, service);
    if (!allocation.sharing_key.empty()) by_sharing_key_[allocation.sharing_key].insert(ip);
  }
  by_service_[service] = std::move(allocation);
}

void Holdings::erase(const std::string& service) {
  auto found = by_service_.find(service);
  if (found == by_service_.end()) return;
  Allocation allocation = std::move(found->second);
  by_service_.erase(found);
  for (const model::IpAddress& ip : allocation.ips) {
    auto holders = holders_.find(ip);
    if (holders == holders_.end()) continue;
    holders->second.services.erase(service);
    for (const PortUse& port : allocation.ports) {
      auto user = holders->second.port_users.find(port);
      if (user != holders->second.port_users.end() && user->second == service) holders->second.port_users.erase(user);
    }
    if (!holders->second.services.empty()) continue;  // the others keep the IP, and it stays under their key
    holders_.erase(holders);
    held_[family_index(ip.family())].erase(to_number(ip));
    if (allocation.sharing_key.empty()) continue;
    auto keyed = by_sharing_key_.find(allocation.sharing_key);
    keyed->second.erase(ip);
    if (keyed->second.empty()) by_sharing_key_.erase(keyed);
  }
}

std::optional<std::string> Holdings::why_not_shareable(const model::IpAddress& ip, const std::string& service,
                                                      const std::string& sharing_key,
                                                      const std::vector<PortUse>& ports) const {
  auto found = holders_.find(ip);
  if (found == holders_.end()) return std::nullopt;
  const Holders& holders = found->second;
  // The first other holder by name, so the same one is named every time;
  // its key is every holder's key.
  auto other = holders.services.begin();
  if (*other == service) ++other;
  if (other == holders.services.end()) return std::nullopt;
  auto in_use_by = [&](const std::string& holder) { return ip.str() + " is in use by " + holder; };
  const std::string& their_key = by_service_.at(*other).sharing_key;
  if (their_key.empty()) return in_use_by(*other);
  if (their_key != sharing_key)
    return in_use_by(*other) + ", which shares it only with sharing key \"" + their_key + "\"";
  for (const PortUse& port : ports) {
    auto user = holders.port_users.find(port);
    if (user != holders.port_users.end() && user->second != service)
      return in_use_by(user->second) + ", which also uses port " + port.str();
  }
  return std::nullopt;
}

const std::set<model::IpAddress>& Holdings::ips_with_sharing_key(const std::string& sharing_key) const {
  static const std::set<model::IpAddress> kNone;
  auto it = by_sharing_key_.find(sharing_key);
  return it == by_sharing_key_.end() ? kNone : it->second;
}

std::optional<model::IpAddress> Holdings::lowest_free(model::Family family, NumberRange range) const {
  auto free = held_[family_index(family)].lowest_absent(range);
  if (!free) return std::nullopt;
  return to_address(*free, family);
}

uint64_t Holdings::held_count(model::Family family, NumberRange range) const {
  return held_[family_index(family)].count_in(range);
}

}  // namespace kvlb::ipam
