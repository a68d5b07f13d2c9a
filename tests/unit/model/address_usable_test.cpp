#include <gtest/gtest.h>

#include "model/address.h"

using kvlb::model::IpAddress;

namespace {
bool usable(const char* text) {
  auto ip = IpAddress::parse(text);
  EXPECT_TRUE(ip) << text;
  return ip && ip->is_usable_unicast();
}
}  // namespace

TEST(IpAddressUsableUnicast, AcceptsOrdinaryUnicast) {
  for (const char* text : {"20.20.20.1", "10.0.1.11", "0.0.0.1", "1.1.1.1", "126.255.255.255", "128.0.0.1",
                           "223.255.255.255", "240.0.0.1", "255.255.255.254", "198.18.0.1",
                           "fd00:20::1", "2001:db8::1", "::2", "fe80::1", "fe00::1", "::ffff:10.0.0.1"})
    EXPECT_TRUE(usable(text)) << text;
}

TEST(IpAddressUsableUnicast, RefusesUnspecifiedLoopbackMulticastAndBroadcast) {
  for (const char* text : {"0.0.0.0", "127.0.0.1", "127.1.2.3", "224.0.0.1", "239.255.255.255",
                           "255.255.255.255", "::", "::1", "ff02::1", "ff00::", "ffff:ffff::1",
                           "::ffff:127.0.0.1", "::ffff:0.0.0.0", "::ffff:224.0.0.5", "::ffff:255.255.255.255"})
    EXPECT_FALSE(usable(text)) << text;
}
