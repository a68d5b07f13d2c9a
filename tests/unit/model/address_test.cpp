#include <gtest/gtest.h>

#include "model/address.h"
#include "model/types.h"

using namespace kvlb::model;

TEST(IpAddress, ParsesAndPrintsBothFamilies) {
  auto v4 = IpAddress::parse("20.20.20.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->str(), "20.20.20.1");
  EXPECT_EQ(v4->with_port(80), "20.20.20.1:80");
  auto v6 = IpAddress::parse("fd00:0:0::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(v6->str(), "fd00::1");
  EXPECT_EQ(v6->with_port(80), "[fd00::1]:80");
}

TEST(IpAddress, RejectsGarbage) {
  EXPECT_FALSE(IpAddress::parse("20.20.20.256"));
  EXPECT_FALSE(IpAddress::parse("host.example"));
  EXPECT_FALSE(IpAddress::parse(""));
}

TEST(IpPrefix, Contains) {
  auto p = IpPrefix::parse("10.0.1.0/25");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.0.1.127")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("10.0.1.128")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("fd00::1")));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/33"));
}

TEST(VsKey, OrdersAndPrints) {
  VsKey a{*IpAddress::parse("20.20.20.1"), 80, Protocol::Tcp};
  VsKey b{*IpAddress::parse("20.20.20.1"), 80, Protocol::Udp};
  EXPECT_LT(a, b);
  EXPECT_EQ(b.str(), "20.20.20.1:80/udp");
  EXPECT_EQ((VsKey{*IpAddress::parse("fd00::1"), 53, Protocol::Sctp}.str()), "[fd00::1]:53/sctp");
}

TEST(Schedulers, EveryIpvsSchedulerIsKnown) {
  for (const char* s : {"rr", "wrr", "lc", "wlc", "sh", "mh", "sed", "nq", "dh", "lblc", "lblcr", "fo", "ovf"})
    EXPECT_TRUE(is_known_scheduler(s)) << s;
  EXPECT_FALSE(is_known_scheduler("random"));
}
