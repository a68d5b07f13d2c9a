// The fake AddressTable answers like the kernel does.
#include "fakes/fake_address.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kvlb::fakes {
namespace {

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }
model::IpPrefix prefix(const char* text) { return *model::IpPrefix::parse(text); }

TEST(FakeAddressTable, AddListDeleteTaggedVips) {
  FakeAddressTable table({"eth1"});
  ASSERT_TRUE(table.add_vip("eth1", ip("20.20.20.1")));
  ASSERT_TRUE(table.add_vip("eth1", ip("fd00::1")));
  auto listed = table.list("eth1");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].prefix, prefix("20.20.20.1/32"));
  EXPECT_TRUE((*listed)[0].owned);
  EXPECT_EQ((*listed)[1].prefix, prefix("fd00::1/128"));
  EXPECT_TRUE((*listed)[1].owned);

  ASSERT_TRUE(table.delete_vip("eth1", ip("20.20.20.1")));
  EXPECT_EQ(table.list("eth1")->size(), 1u);
  EXPECT_EQ(table.writes(), 3u);
  EXPECT_EQ(table.op_log(), (std::vector<std::string>{
                                "ADD vip 20.20.20.1 on eth1", "ANNOUNCE vip 20.20.20.1 on eth1",
                                "ADD vip fd00::1 on eth1", "ANNOUNCE vip fd00::1 on eth1",
                                "DEL vip 20.20.20.1 on eth1"}));
}

TEST(FakeAddressTable, KernelErrors) {
  FakeAddressTable table({"eth1"});
  ASSERT_TRUE(table.add_vip("eth1", ip("20.20.20.1")));

  auto again = table.add_vip("eth1", ip("20.20.20.1"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code.value(), EEXIST);
  EXPECT_EQ(again.error().describe(), "add vip 20.20.20.1 on eth1: File exists");

  auto missing = table.delete_vip("eth1", ip("20.20.20.2"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code.value(), EADDRNOTAVAIL);

  auto no_device = table.add_vip("eth9", ip("20.20.20.1"));
  ASSERT_FALSE(no_device);
  EXPECT_EQ(no_device.error().code.value(), ENODEV);
  EXPECT_NE(no_device.error().describe().find("eth9"), std::string::npos);
  EXPECT_FALSE(table.list("eth9"));

  // Requests that reached eth1 count as writes even when they fail; eth9's did not.
  EXPECT_EQ(table.writes(), 3u);
  EXPECT_EQ(table.op_log().size(), 2u);  // only the first add and its announcement
}

TEST(FakeAddressTable, ForeignAddressesAreListedButNotDeleted) {
  FakeAddressTable table({"eth1"});
  table.seed_foreign("eth1", prefix("20.20.20.7/24"));
  table.seed_foreign("eth1", prefix("20.20.20.9/32"));
  auto listed = table.list("eth1");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_FALSE((*listed)[0].owned);
  EXPECT_FALSE((*listed)[1].owned);

  auto st = table.delete_vip("eth1", ip("20.20.20.9"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code.value(), EPERM);
  EXPECT_EQ(table.list("eth1")->size(), 2u);
  // Only a /32 collides with a VIP; the /24 address is another address.
  EXPECT_FALSE(table.add_vip("eth1", ip("20.20.20.9")));
  EXPECT_TRUE(table.add_vip("eth1", ip("20.20.20.7")));
}

TEST(FakeAddressTable, InjectedFailureChangesNothing) {
  FakeAddressTable table({"eth1"});
  table.fail_address(ip("20.20.20.1"), EACCES);
  auto st = table.add_vip("eth1", ip("20.20.20.1"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code.value(), EACCES);
  EXPECT_TRUE(table.list("eth1")->empty());
  EXPECT_TRUE(table.add_vip("eth1", ip("20.20.20.2")));  // other addresses unaffected

  table.clear_failures();
  EXPECT_TRUE(table.add_vip("eth1", ip("20.20.20.1")));
  EXPECT_EQ(table.list("eth1")->size(), 2u);
}

TEST(FakeAddressTable, AnnounceIsLogged) {
  FakeAddressTable table({"eth1"});
  ASSERT_TRUE(table.announce("eth1", ip("20.20.20.1")));
  EXPECT_FALSE(table.announce("eth2", ip("20.20.20.1")));
  EXPECT_EQ(table.op_log(), std::vector<std::string>{"ANNOUNCE vip 20.20.20.1 on eth1"});
  EXPECT_EQ(table.writes(), 0u);
  table.clear_op_log();
  EXPECT_TRUE(table.op_log().empty());
}

}  // namespace
}  // namespace kvlb::fakes
