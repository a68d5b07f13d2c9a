// NetlinkAddressTable against the real kernel, in a namespace of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "kernel/addr/netlink_address_table.h"
#include "netns_support.h"

namespace kvlb::kernel {
namespace {

using kvlb::testing::output_of;

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }
model::IpPrefix prefix(const char* text) { return *model::IpPrefix::parse(text); }

class AddressKernelTest : public kvlb::testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    must_run("ip link add kv0 type veth peer name kv1 && ip link set kv0 up && ip link set kv1 up");
    auto opened = NetlinkAddressTable::open();
    ASSERT_TRUE(opened) << opened.error().describe();
    table = std::move(*opened);
  }

  std::optional<InterfaceAddress> find(const char* ifname, const model::IpPrefix& wanted) {
    auto listed = table->list(ifname);
    EXPECT_TRUE(listed) << listed.error().describe();
    if (!listed) return std::nullopt;
    auto it = std::find_if(listed->begin(), listed->end(),
                           [&](const InterfaceAddress& a) { return a.prefix == wanted; });
    if (it == listed->end()) return std::nullopt;
    return *it;
  }

  std::unique_ptr<NetlinkAddressTable> table;
};

TEST_F(AddressKernelTest, AddsListsAndDeletesTaggedVips) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  ASSERT_TRUE(table->add_vip("kv0", ip("fd00::1")));

  auto v4 = find("kv0", prefix("20.20.20.1/32"));
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->owned);
  auto v6 = find("kv0", prefix("fd00::1/128"));
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->owned);
  EXPECT_FALSE(find("kv1", prefix("20.20.20.1/32")));  // only on the interface asked for

  // What iproute2 sees: global scope, and the IPv6 VIP usable at once (no DAD).
  std::string shown = output_of("ip addr show dev kv0");
  EXPECT_NE(shown.find("inet 20.20.20.1/32 scope global kv0"), std::string::npos) << shown;
  EXPECT_NE(shown.find("inet6 fd00::1/128 scope global nodad"), std::string::npos) << shown;
  EXPECT_EQ(output_of("ip -6 addr show dev kv0 tentative | grep fd00::1"), "") << shown;

  ASSERT_TRUE(table->delete_vip("kv0", ip("20.20.20.1")));
  ASSERT_TRUE(table->delete_vip("kv0", ip("fd00::1")));
  EXPECT_FALSE(find("kv0", prefix("20.20.20.1/32")));
  EXPECT_FALSE(find("kv0", prefix("fd00::1/128")));
  EXPECT_EQ(table->writes(), 4u);
}

TEST_F(AddressKernelTest, KernelErrorsComeBackWithContext) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  auto again = table->add_vip("kv0", ip("20.20.20.1"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code.value(), EEXIST);
  EXPECT_EQ(again.error().describe(), "add vip 20.20.20.1 on kv0: File exists");

  for (const char* missing : {"20.20.20.2", "fd00::2"}) {
    auto st = table->delete_vip("kv0", ip(missing));
    ASSERT_FALSE(st) << missing;
    EXPECT_EQ(st.error().code.value(), EADDRNOTAVAIL) << st.error().describe();
  }
  EXPECT_EQ(table->writes(), 4u);  // each request sent counts
}

TEST_F(AddressKernelTest, ForeignAddressesAreListedUnownedAndNotDeleted) {
  must_run("ip addr add 10.1.0.1/24 dev kv0 && ip addr add 20.20.20.9/32 dev kv0");
  must_run("ip addr add fd00::9/128 dev kv0 nodad");
  for (const char* text : {"10.1.0.1/24", "20.20.20.9/32", "fd00::9/128"}) {
    auto found = find("kv0", prefix(text));
    ASSERT_TRUE(found) << text;
    EXPECT_FALSE(found->owned) << text;
  }
  for (const char* text : {"20.20.20.9", "fd00::9"}) {
    auto st = table->delete_vip("kv0", ip(text));
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().code.value(), EPERM) << st.error().describe();
  }
  EXPECT_TRUE(find("kv0", prefix("20.20.20.9/32")));
  EXPECT_TRUE(find("kv0", prefix("fd00::9/128")));
  EXPECT_EQ(table->writes(), 0u);

  // The VIP equal to a foreign address with another prefix length is a separate address.
  ASSERT_TRUE(table->add_vip("kv0", ip("10.1.0.1")));
  EXPECT_TRUE(find("kv0", prefix("10.1.0.1/32"))->owned);
  EXPECT_FALSE(find("kv0", prefix("10.1.0.1/24"))->owned);
}

TEST_F(AddressKernelTest, MissingInterfaceIsNamed) {
  auto listed = table->list("nosuch0");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code.value(), ENODEV);
  EXPECT_NE(listed.error().describe().find("nosuch0"), std::string::npos);

  auto added = table->add_vip("nosuch0", ip("20.20.20.1"));
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code.value(), ENODEV);
  EXPECT_EQ(added.error().describe(), "add vip 20.20.20.1 on nosuch0: no interface nosuch0: No such device");

  auto deleted = table->delete_vip("nosuch0", ip("20.20.20.1"));
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code.value(), ENODEV);
  EXPECT_EQ(table->writes(), 0u);

  auto bad_name = table->list("an-interface-name-too-long");
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, std::make_error_code(std::errc::invalid_argument));
}

TEST_F(AddressKernelTest, ListSeesChangesMadeByOthers) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  must_run("ip addr del 20.20.20.1/32 dev kv0");
  EXPECT_FALSE(find("kv0", prefix("20.20.20.1/32")));
}

}  // namespace
}  // namespace kvlb::kernel
