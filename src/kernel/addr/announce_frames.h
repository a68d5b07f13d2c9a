#pragma once
// Ethernet frames that tell neighbours (and switches) that a VIP now lives
// behind this MAC. Pure functions, so their bytes are checked in tests.
#include <cstdint>
#include <vector>

#include "kernel/addr/mac_address.h"
#include "model/address.h"

namespace kvlb::kernel {

using Frame = std::vector<uint8_t>;

// Gratuitous ARP (RFC 5227 "ARP announcement"): a broadcast ARP request with
// sender and target protocol address both = ip, sender hardware = mac,
// target hardware zero, padded to the 60-byte Ethernet minimum. ip must be IPv4.
Frame garp_frame(const MacAddress& mac, const model::IpAddress& ip);

// Unsolicited neighbour advertisement (RFC 4861 7.2.6): ICMPv6 type 136 from
// ip to ff02::1 (Ethernet 33:33:00:00:00:01), hop limit 255, override flag set
// (solicited and router clear), with a target link-layer address option
// carrying mac. ip must be IPv6.
Frame unsolicited_na(const MacAddress& mac, const model::IpAddress& ip);

// garp_frame for IPv4, unsolicited_na for IPv6.
Frame announcement_frame(const MacAddress& mac, const model::IpAddress& ip);

// The Internet checksum (RFC 1071) over data, starting from a partial sum.
uint16_t internet_checksum(const uint8_t* data, std::size_t size, uint32_t partial_sum = 0);

}  // namespace kvlb::kernel
