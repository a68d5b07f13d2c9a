// NetlinkAddressTable against the real kernel, in a namespace of its own.
#include <gtest/gtest.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "kernel/addr/address_messages.h"
#include "kernel/addr/netlink_address_table.h"
#include "kernel/addr/rtnl_socket.h"
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

  std::size_t owned_count(const char* ifname) {
    auto listed = table->list(ifname);
    EXPECT_TRUE(listed) << listed.error().describe();
    if (!listed) return 0;
    return static_cast<std::size_t>(
        std::count_if(listed->begin(), listed->end(), [](const InterfaceAddress& a) { return a.owned; }));
  }

  // Deletes kv0 (and its peer) and creates them again: same name, new ifindex.
  void recreate_kv0() {
    unsigned before = ::if_nametoindex("kv0");
    must_run("ip link del kv0 && ip link add kv0 type veth peer name kv1 && ip link set kv0 up && ip link set kv1 up");
    ASSERT_NE(::if_nametoindex("kv0"), before);
  }

  std::unique_ptr<NetlinkAddressTable> table;
};

std::string host_of(const model::IpAddress& vip) { return vip.str() + "/" + std::to_string(vip.max_prefix()); }

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

TEST_F(AddressKernelTest, ManyVipsAreAddedAndDeleted) {
  std::vector<model::IpAddress> vips;
  for (std::size_t i = 0; i < 2000; ++i)
    vips.push_back(model::IpAddress::from_v4({10, 100, static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i % 256)}));
  for (std::size_t i = 0; i < 300; ++i)
    vips.push_back(model::IpAddress::from_v6(
        {0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i % 256)}));
  must_run("ip addr add 10.1.0.1/24 dev kv0");  // the node's own address stays

  for (const auto& vip : vips) ASSERT_TRUE(table->add_vip("kv0", vip)) << vip.str();
  // Half of them deleted before the interface was ever listed, the rest after.
  const std::size_t half = vips.size() / 2;
  for (std::size_t i = 0; i < half; ++i) ASSERT_TRUE(table->delete_vip("kv0", vips[i])) << vips[i].str();
  EXPECT_EQ(owned_count("kv0"), vips.size() - half);
  for (std::size_t i = half; i < vips.size(); ++i) ASSERT_TRUE(table->delete_vip("kv0", vips[i])) << vips[i].str();

  EXPECT_EQ(owned_count("kv0"), 0u);
  EXPECT_EQ(output_of("ip addr show dev kv0 | grep -c -e 'inet 10.100' -e 'inet6 fd00:100:'"), "0\n");
  EXPECT_TRUE(find("kv0", prefix("10.1.0.1/24")));
  EXPECT_EQ(table->writes(), 2 * vips.size());

  for (const auto& vip : {vips.front(), vips.back()}) {
    auto again = table->delete_vip("kv0", vip);
    ASSERT_FALSE(again) << vip.str();
    EXPECT_EQ(again.error().code.value(), EADDRNOTAVAIL) << again.error().describe();
  }
}

TEST_F(AddressKernelTest, VipReaddedUntaggedBySomeoneElseIsNotDeleted) {
  // Between kvlb's requests another tool deletes a VIP and adds it back
  // without the tag: it is theirs now, whether kvlb last learnt of the
  // address from its own add or from a list().
  for (int round = 0; round < 4; ++round) {
    for (const char* text : {"20.20.20.1", "fd00::1"}) {
      const auto vip = ip(text);
      const std::string host = host_of(vip);
      ASSERT_TRUE(table->add_vip("kv0", vip)) << text;
      if (round % 2 == 1) {
        ASSERT_TRUE(table->list("kv0"));
      }
      must_run("ip addr del " + host + " dev kv0 && ip addr add " + host + " dev kv0" + (vip.is_v4() ? "" : " nodad"));

      auto st = table->delete_vip("kv0", vip);
      ASSERT_FALSE(st) << text << " in round " << round;
      EXPECT_EQ(st.error().code.value(), EPERM) << st.error().describe();
      EXPECT_EQ(st.error().describe(),
                "delete vip " + vip.str() + " on kv0: address is not tagged as kvlb's: Operation not permitted");
      auto found = find("kv0", prefix(host.c_str()));
      ASSERT_TRUE(found) << text;
      EXPECT_FALSE(found->owned);
      must_run("ip addr del " + host + " dev kv0");
    }
  }
  EXPECT_EQ(table->writes(), 8u);  // the adds only
}

// Another tool's request adding vip without kvlb's tag: kvlb's own request
// without its last attribute, IFA_PROTO (8 bytes with padding).
rtnl::Message untagged_add(uint32_t seq, int ifindex, const model::IpAddress& vip) {
  rtnl::Message msg = rtnl::new_vip_request(seq, ifindex, vip);
  msg.resize(msg.size() - 8);
  reinterpret_cast<nlmsghdr*>(msg.data())->nlmsg_len = static_cast<uint32_t>(msg.size());
  return msg;
}

TEST_F(AddressKernelTest, Ipv6VipReaddedUntaggedRightBeforeTheDeleteIsNotDeleted) {
  // The kernel notifies an IPv6 address added with nodad from its DAD work,
  // a moment after the add returned: re-added from another socket right
  // before kvlb's delete, the address is often not notified yet.
  auto other = RtnlSocket::open();
  ASSERT_TRUE(other) << other.error().describe();
  const int ifindex = static_cast<int>(::if_nametoindex("kv0"));
  const auto vip = ip("fd00::1");
  for (int round = 0; round < 300; ++round) {
    ASSERT_TRUE(table->add_vip("kv0", vip));
    uint32_t seq = (*other)->next_seq();
    ASSERT_TRUE((*other)->transact(rtnl::delete_vip_request(seq, ifindex, vip), seq, "delete"));
    seq = (*other)->next_seq();
    ASSERT_TRUE((*other)->transact(untagged_add(seq, ifindex, vip), seq, "add untagged"));
    auto st = table->delete_vip("kv0", vip);
    ASSERT_FALSE(st) << "round " << round;
    EXPECT_EQ(st.error().code.value(), EPERM) << st.error().describe();
    seq = (*other)->next_seq();
    ASSERT_TRUE((*other)->transact(rtnl::delete_vip_request(seq, ifindex, vip), seq, "delete"));
  }
}

TEST_F(AddressKernelTest, MissedNotificationsMeanAFreshRead) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  ASSERT_TRUE(table->list("kv0"));  // 20.20.20.1 known as kvlb's
  // More address changes than the notification queue holds, so the kernel
  // drops those that follow: the VIP deleted and added back untagged.
  must_run("awk 'BEGIN { for (i = 0; i < 6000; i++) printf \"addr add 10.200.%d.%d/32 dev kv1\\n\", i / 256, i % 256 }'"
           " | ip -batch -");
  must_run("ip addr del 20.20.20.1/32 dev kv0 && ip addr add 20.20.20.1/32 dev kv0");

  auto st = table->delete_vip("kv0", ip("20.20.20.1"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code.value(), EPERM) << st.error().describe();
  EXPECT_TRUE(find("kv0", prefix("20.20.20.1/32")));

  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.2")));
  ASSERT_TRUE(table->delete_vip("kv0", ip("20.20.20.2")));
  EXPECT_FALSE(find("kv0", prefix("20.20.20.2/32")));
}

TEST_F(AddressKernelTest, InterfaceRecreatedUnderTheSameNameIsUsed) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  ASSERT_TRUE(table->list("kv0"));  // link and addresses known
  recreate_kv0();
  if (HasFatalFailure()) return;

  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.2")));
  EXPECT_NE(output_of("ip addr show dev kv0").find("inet 20.20.20.2/32 scope global kv0"), std::string::npos);
  auto gone = table->delete_vip("kv0", ip("20.20.20.1"));  // went with the old interface
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code.value(), EADDRNOTAVAIL) << gone.error().describe();
  must_run("ip addr add 20.20.20.3/32 dev kv0");
  auto foreign = table->delete_vip("kv0", ip("20.20.20.3"));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code.value(), EPERM) << foreign.error().describe();
  ASSERT_TRUE(table->delete_vip("kv0", ip("20.20.20.2")));

  // Again without a list(), the deletes knowing the addresses of the old interface.
  recreate_kv0();
  if (HasFatalFailure()) return;
  must_run("ip addr add 20.20.20.3/32 dev kv0");
  foreign = table->delete_vip("kv0", ip("20.20.20.3"));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code.value(), EPERM) << foreign.error().describe();
  ASSERT_TRUE(table->add_vip("kv0", ip("fd00::2")));
  ASSERT_TRUE(table->delete_vip("kv0", ip("fd00::2")));

  // Gone for good: named as before.
  must_run("ip link del kv0");
  auto missing = table->add_vip("kv0", ip("20.20.20.4"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().describe(), "add vip 20.20.20.4 on kv0: no interface kv0: No such device");
  missing = table->delete_vip("kv0", ip("20.20.20.2"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code.value(), ENODEV);
  EXPECT_FALSE(table->list("kv0"));
}

}  // namespace
}  // namespace kvlb::kernel
