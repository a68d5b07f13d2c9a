#pragma once
// rtnetlink messages about interface addresses and links, built and parsed
// by pure functions so the encoding is checked byte for byte in tests.
#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernel/addr/address_table.h"
#include "kernel/addr/mac_address.h"
#include "model/address.h"

namespace kvlb::kernel::rtnl {

using Message = std::vector<uint8_t>;

// RTM_NEWADDR (create, exclusive, ack) for vip/32 or vip/128, scope global,
// tagged with kKvlbAddressProto; IPv6 with IFA_F_NODAD, because a VIP that
// moves between nodes must be usable at once, not tentative for seconds.
Message new_vip_request(uint32_t seq, int ifindex, const model::IpAddress& vip);

// RTM_DELADDR (ack) for vip/32 or vip/128.
Message delete_vip_request(uint32_t seq, int ifindex, const model::IpAddress& vip);

// RTM_GETADDR dump of every address of both families.
Message dump_addresses_request(uint32_t seq);

// RTM_GETLINK (ack) for one interface by name.
Message get_link_request(uint32_t seq, const std::string& ifname);

struct AddressMessage {
  int ifindex = 0;
  InterfaceAddress address;
};
// An RTM_NEWADDR message; nullopt for other messages or families.
std::optional<AddressMessage> parse_address(const nlmsghdr& msg);

// What the kernel tells RTMGRP_IPV4_IFADDR / RTMGRP_IPV6_IFADDR listeners:
// RTM_NEWADDR (an address added or changed, with its whole state) or
// RTM_DELADDR (removed); nullopt for other messages or families.
struct AddressChange {
  AddressMessage address;
  bool removed = false;
};
std::optional<AddressChange> parse_address_change(const nlmsghdr& msg);

struct LinkInfo {
  int ifindex = 0;
  bool ethernet = false;  // ARPHRD_ETHER: announcements make sense
  MacAddress mac{};
};
// An RTM_NEWLINK message; nullopt for other messages.
std::optional<LinkInfo> parse_link(const nlmsghdr& msg);

// What the kernel tells RTMGRP_LINK listeners: RTM_NEWLINK (a link added or
// changed: name, address, state...) or RTM_DELLINK; nullopt for other messages.
struct LinkChange {
  int ifindex = 0;
  bool removed = false;
};
std::optional<LinkChange> parse_link_change(const nlmsghdr& msg);

}  // namespace kvlb::kernel::rtnl
