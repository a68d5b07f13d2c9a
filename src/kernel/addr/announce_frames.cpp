#include "kernel/addr/announce_frames.h"

#include <cassert>

namespace kvlb::kernel {
namespace {

constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr std::size_t kEthernetMinimumFrame = 60;  // without the FCS
constexpr uint8_t kIcmpv6NeighbourAdvert = 136;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint8_t kOptionTargetLinkLayerAddress = 2;
constexpr uint8_t kNaOverrideFlag = 0x20;

void put16(Frame& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v & 0xff));
}

void put_bytes(Frame& f, const uint8_t* data, std::size_t size) { f.insert(f.end(), data, data + size); }

void put_ethernet_header(Frame& f, const MacAddress& dst, const MacAddress& src, uint16_t type) {
  put_bytes(f, dst.data(), dst.size());
  put_bytes(f, src.data(), src.size());
  put16(f, type);
}

}  // namespace

uint16_t internet_checksum(const uint8_t* data, std::size_t size, uint32_t partial_sum) {
  uint32_t sum = partial_sum;
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (size % 2 == 1) sum += static_cast<uint32_t>(data[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

Frame garp_frame(const MacAddress& mac, const model::IpAddress& ip) {
  assert(ip.is_v4());
  static constexpr MacAddress kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static constexpr MacAddress kUnknown = {};
  Frame f;
  f.reserve(kEthernetMinimumFrame);
  put_ethernet_header(f, kBroadcast, mac, kEtherTypeArp);
  put16(f, 1);       // hardware type: Ethernet
  put16(f, 0x0800);  // protocol type: IPv4
  f.push_back(6);    // hardware address length
  f.push_back(4);    // protocol address length
  put16(f, 1);       // operation: request (what RFC 5227 announcements use)
  put_bytes(f, mac.data(), mac.size());
  put_bytes(f, ip.data(), 4);
  put_bytes(f, kUnknown.data(), kUnknown.size());
  put_bytes(f, ip.data(), 4);
  f.resize(kEthernetMinimumFrame, 0);  // veth and friends do not pad short frames
  return f;
}

Frame unsolicited_na(const MacAddress& mac, const model::IpAddress& ip) {
  assert(!ip.is_v4());
  static constexpr MacAddress kAllNodesMac = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
  static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

  // ICMPv6 message: type, code, checksum, flags + reserved, target, option.
  Frame icmp;
  icmp.push_back(kIcmpv6NeighbourAdvert);
  icmp.push_back(0);
  put16(icmp, 0);  // checksum, filled in below
  icmp.push_back(kNaOverrideFlag);
  icmp.insert(icmp.end(), 3, 0);
  put_bytes(icmp, ip.data(), 16);
  icmp.push_back(kOptionTargetLinkLayerAddress);
  icmp.push_back(1);  // option length in units of 8 bytes
  put_bytes(icmp, mac.data(), mac.size());

  // Checksum over the IPv6 pseudo-header (source, destination, length, next header).
  uint32_t pseudo = 0;
  for (int i = 0; i < 16; i += 2) {
    pseudo += static_cast<uint32_t>(ip.data()[i] << 8 | ip.data()[i + 1]);
    pseudo += static_cast<uint32_t>(kAllNodes[i] << 8 | kAllNodes[i + 1]);
  }
  pseudo += static_cast<uint32_t>(icmp.size());
  pseudo += kIpProtoIcmpv6;
  uint16_t checksum = internet_checksum(icmp.data(), icmp.size(), pseudo);
  icmp[2] = static_cast<uint8_t>(checksum >> 8);
  icmp[3] = static_cast<uint8_t>(checksum & 0xff);

  Frame f;
  put_ethernet_header(f, kAllNodesMac, mac, kEtherTypeIpv6);
  put16(f, 0x6000);  // version 6, traffic class 0, flow label 0
  put16(f, 0);
  put16(f, static_cast<uint16_t>(icmp.size()));  // payload length
  f.push_back(kIpProtoIcmpv6);
  f.push_back(255);  // hop limit: receivers drop neighbour discovery with any other value
  put_bytes(f, ip.data(), 16);
  put_bytes(f, kAllNodes, 16);
  f.insert(f.end(), icmp.begin(), icmp.end());
  return f;
}

Frame announcement_frame(const MacAddress& mac, const model::IpAddress& ip) {
  return ip.is_v4() ? garp_frame(mac, ip) : unsolicited_na(mac, ip);
}

}  // namespace kvlb::kernel
