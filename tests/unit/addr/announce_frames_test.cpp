// Byte-for-byte checks of the announcement frames.
#include "kernel/addr/announce_frames.h"

#include <gtest/gtest.h>

namespace kvlb::kernel {
namespace {

const MacAddress kMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

TEST(GarpFrame, IsBroadcastArpRequestWithSenderEqualTarget) {
  const Frame expected = {
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // Ethernet destination: broadcast
      0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // Ethernet source: our MAC
      0x08, 0x06,                          // EtherType ARP
      0x00, 0x01,                          // hardware type Ethernet
      0x08, 0x00,                          // protocol type IPv4
      0x06, 0x04,                          // address lengths
      0x00, 0x01,                          // request
      0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // sender MAC
      20,   20,   20,   1,                 // sender IP = VIP
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // target MAC unknown
      20,   20,   20,   1,                 // target IP = VIP
      0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // padding to 60
  };
  EXPECT_EQ(garp_frame(kMac, ip("20.20.20.1")), expected);
}

TEST(UnsolicitedNa, IsOverrideAdvertisementToAllNodes) {
  const Frame expected = {
      0x33, 0x33, 0x00, 0x00, 0x00, 0x01,  // Ethernet destination: all-nodes multicast
      0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // Ethernet source: our MAC
      0x86, 0xdd,                          // EtherType IPv6
      0x60, 0x00, 0x00, 0x00,              // version 6
      0x00, 0x20,                          // payload length 32
      58,                                  // next header ICMPv6
      255,                                 // hop limit
      0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,     // source fd00::1
      0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  // destination ff02::1
      136, 0,                              // neighbour advertisement, code 0
      0x5a, 0x9b,                          // checksum (computed independently)
      0x20, 0x00, 0x00, 0x00,              // flags: override only
      0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,     // target fd00::1
      2, 1,                                // option: target link-layer address, 8 bytes
      0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // our MAC
  };
  EXPECT_EQ(unsolicited_na(kMac, ip("fd00::1")), expected);
}

TEST(UnsolicitedNa, ChecksumVerifiesToZeroForOtherAddresses) {
  // A receiver sums pseudo-header and message including the checksum: the
  // result must be zero.
  for (const char* text : {"2001:db8::abcd", "fd00:1234:5678::ff"}) {
    Frame f = unsolicited_na({0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, ip(text));
    const uint8_t* src = f.data() + 22;
    const uint8_t* dst = f.data() + 38;
    uint32_t pseudo = 0;
    for (int i = 0; i < 16; i += 2) {
      pseudo += static_cast<uint32_t>(src[i] << 8 | src[i + 1]);
      pseudo += static_cast<uint32_t>(dst[i] << 8 | dst[i + 1]);
    }
    pseudo += 32 + 58;
    EXPECT_EQ(internet_checksum(f.data() + 54, f.size() - 54, pseudo), 0) << text;
  }
}

TEST(AnnouncementFrame, PicksByFamily) {
  EXPECT_EQ(announcement_frame(kMac, ip("10.0.0.1")), garp_frame(kMac, ip("10.0.0.1")));
  EXPECT_EQ(announcement_frame(kMac, ip("fd00::2")), unsolicited_na(kMac, ip("fd00::2")));
}

TEST(InternetChecksum, MatchesRfc1071Example) {
  // RFC 1071 section 3 example: the one's complement sum is 0xddf2.
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(data, sizeof data), static_cast<uint16_t>(~0xddf2));
}

TEST(MacAddress, PrintsColonHex) { EXPECT_EQ(to_string(kMac), "02:00:00:00:00:01"); }

}  // namespace
}  // namespace kvlb::kernel
