#pragma once
// Narrow interface to interface addresses (rtnetlink). VIPs kvlb adds are
// tagged with its own address protocol value so they can be told apart.
#include <cstdint>
#include <string>
#include <vector>

#include "model/address.h"
#include "util/result.h"

namespace kvlb::kernel {

inline constexpr uint8_t kKvlbAddressProto = 0x6b;  // IFA_PROTO value marking kvlb's addresses

struct InterfaceAddress {
  model::IpPrefix prefix;
  bool owned = false;  // carries kvlb's IFA_PROTO tag
};

class AddressTable {
 public:
  virtual ~AddressTable() = default;
  virtual Result<std::vector<InterfaceAddress>> list(const std::string& ifname) = 0;
  // Adds vip/32 (or /128, nodad) tagged as kvlb's, then announces it
  // (gratuitous ARP / unsolicited neighbour advertisement).
  virtual Status add_vip(const std::string& ifname, const model::IpAddress& vip) = 0;
  virtual Status delete_vip(const std::string& ifname, const model::IpAddress& vip) = 0;
  virtual uint64_t writes() const = 0;
  // Gratuitous ARP / NA sends that failed (the address itself was added).
  virtual uint64_t announce_failures() const = 0;
};

}  // namespace kvlb::kernel
