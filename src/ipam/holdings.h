#pragma once
// Who holds which IP: the allocator's whole mutable state, indexed for the
// questions it asks (is this IP free, may this service share it, which IPs
// does a sharing key hold, what is the lowest free address of a range).
// Holdings records what it is told; the allocator checks sharing first.
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ipam/address_intervals.h"
#include "ipam/address_number.h"
#include "ipam/types.h"
#include "model/address.h"

namespace kvlb::ipam {

struct Allocation {
  std::vector<model::IpAddress> ips;  // in the order the request asked for them
  std::string sharing_key;
  std::vector<PortUse> ports;  // sorted, no duplicates
};

// The form in which Allocation keeps ports.
std::vector<PortUse> sorted_ports(std::vector<PortUse> ports);

class Holdings {
 public:
  const Allocation* find(const std::string& service) const;
  void record(const std::string& service, Allocation allocation);  // replaces the service's previous one
  void erase(const std::string& service);

  // Why `service`, with this sharing key and these (sorted) ports, may not
  // hold `ip` next to its other holders, e.g. "192.0.2.5 is in use by
  // default/other"; nullopt if it may (or nobody else holds it).
  std::optional<std::string> why_not_shareable(const model::IpAddress& ip, const std::string& service,
                                               const std::string& sharing_key,
                                               const std::vector<PortUse>& ports) const;

  // IPs held under a (non-empty) sharing key, in address order.
  const std::set<model::IpAddress>& ips_with_sharing_key(const std::string& sharing_key) const;

  std::optional<model::IpAddress> lowest_free(model::Family family, NumberRange range) const;
  uint64_t held_count(model::Family family, NumberRange range) const;

 private:
  // The services on one IP. All have the same sharing key and no two use
  // the same port (the allocator checks before recording), so one lookup per
  // port tells whether a newcomer conflicts, however many share the IP.
  struct Holders {
    std::set<std::string> services;  // never empty
    std::map<PortUse, std::string> port_users;
  };
  std::map<std::string, Allocation> by_service_;
  std::map<model::IpAddress, Holders> holders_;
  std::map<std::string, std::set<model::IpAddress>> by_sharing_key_;
  std::array<AddressIntervals, kFamilyCount> held_;  // every IP with a holder
};

}  // namespace kvlb::ipam
