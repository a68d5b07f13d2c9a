// Byte-for-byte checks of the rtnetlink messages (host byte order, as netlink uses).
#include "kernel/addr/address_messages.h"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>

namespace kvlb::kernel::rtnl {
namespace {

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

// Builds expected messages field by field in native byte order.
class Bytes {
 public:
  Bytes& u8(std::initializer_list<uint8_t> values) {
    data_.insert(data_.end(), values);
    return *this;
  }
  Bytes& u16(uint16_t v) { return raw(&v, sizeof v); }
  Bytes& u32(uint32_t v) { return raw(&v, sizeof v); }
  Bytes& nlmsg(uint32_t len, uint16_t type, uint16_t flags, uint32_t seq) {
    return u32(len).u16(type).u16(flags).u32(seq).u32(0);
  }
  Bytes& attr_header(uint16_t len, uint16_t type) { return u16(len).u16(type); }
  const Message& get() const { return data_; }

 private:
  Bytes& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data_.insert(data_.end(), b, b + n);
    return *this;
  }
  Message data_;
};

constexpr uint16_t kRequest = 0x1, kAck = 0x4, kDump = 0x300, kExcl = 0x200, kCreate = 0x400;
constexpr uint16_t kNewAddr = 20, kDelAddr = 21, kGetAddr = 22, kGetLink = 18, kNewLink = 16, kDelLink = 17;
constexpr uint16_t kIfaAddress = 1, kIfaLocal = 2, kIfaFlags = 8, kIfaProto = 11;

TEST(NewVipRequest, Ipv4HostAddressTaggedAsKvlb) {
  Bytes expected;
  expected.nlmsg(48, kNewAddr, kRequest | kAck | kExcl | kCreate, 7)
      .u8({2, 32, 0, 0}).u32(3)  // ifaddrmsg: AF_INET, /32, no flags, scope global, ifindex 3
      .attr_header(8, kIfaLocal).u8({20, 20, 20, 1})
      .attr_header(8, kIfaAddress).u8({20, 20, 20, 1})
      .attr_header(5, kIfaProto).u8({0x6b, 0, 0, 0});  // proto + padding
  EXPECT_EQ(new_vip_request(7, 3, ip("20.20.20.1")), expected.get());
}

TEST(NewVipRequest, Ipv6HostAddressWithoutDad) {
  const std::initializer_list<uint8_t> fd00_1 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Bytes expected;
  expected.nlmsg(80, kNewAddr, kRequest | kAck | kExcl | kCreate, 9)
      .u8({10, 128, 0x02, 0}).u32(4)  // AF_INET6, /128, IFA_F_NODAD, scope global, ifindex 4
      .attr_header(20, kIfaLocal).u8(fd00_1)
      .attr_header(20, kIfaAddress).u8(fd00_1)
      .attr_header(8, kIfaFlags).u32(0x02)
      .attr_header(5, kIfaProto).u8({0x6b, 0, 0, 0});
  EXPECT_EQ(new_vip_request(9, 4, ip("fd00::1")), expected.get());
}

TEST(DeleteVipRequest, NamesHostAddress) {
  Bytes expected;
  expected.nlmsg(40, kDelAddr, kRequest | kAck, 11)
      .u8({2, 32, 0, 0}).u32(3)
      .attr_header(8, kIfaLocal).u8({20, 20, 20, 1})
      .attr_header(8, kIfaAddress).u8({20, 20, 20, 1});
  EXPECT_EQ(delete_vip_request(11, 3, ip("20.20.20.1")), expected.get());
}

TEST(DumpAddressesRequest, CoversBothFamilies) {
  Bytes expected;
  expected.nlmsg(24, kGetAddr, kRequest | kDump, 5).u8({0, 0, 0, 0}).u32(0);
  EXPECT_EQ(dump_addresses_request(5), expected.get());
}

TEST(GetLinkRequest, ByName) {
  Bytes expected;
  expected.nlmsg(44, kGetLink, kRequest | kAck, 6)
      .u8({0, 0}).u16(0).u32(0).u32(0).u32(0)  // ifinfomsg, all zero
      .attr_header(9, 3).u8({'e', 't', 'h', '1', 0, 0, 0, 0});  // IFLA_IFNAME "eth1\0" + padding
  EXPECT_EQ(get_link_request(6, "eth1"), expected.get());
}

const nlmsghdr& as_header(const Message& m) { return *reinterpret_cast<const nlmsghdr*>(m.data()); }

TEST(ParseAddress, ReadsOurOwnAddMessageAsOwned) {
  // The kernel reports an address with the same attributes we add it with.
  for (const char* text : {"20.20.20.1", "fd00::1"}) {
    Message msg = new_vip_request(1, 3, ip(text));
    auto parsed = parse_address(as_header(msg));
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(parsed->ifindex, 3);
    EXPECT_EQ(parsed->address.prefix, *model::IpPrefix::parse(std::string(text) + (ip(text).is_v4() ? "/32" : "/128")));
    EXPECT_TRUE(parsed->address.owned);
  }
}

TEST(ParseAddress, UntaggedOrOtherProtoIsForeign) {
  Bytes untagged;
  untagged.nlmsg(44, kNewAddr, 0, 0)
      .u8({10, 64, 0x80, 253}).u32(2)  // fe80::1/64, permanent, scope link
      .attr_header(20, kIfaAddress).u8({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  auto parsed = parse_address(as_header(untagged.get()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->address.prefix, *model::IpPrefix::parse("fe80::1/64"));
  EXPECT_FALSE(parsed->address.owned);

  Bytes kernel_lo;  // proto 1 (IFAPROT_KERNEL_LO)
  kernel_lo.nlmsg(40, kNewAddr, 0, 0)
      .u8({2, 24, 0, 0}).u32(2)
      .attr_header(8, kIfaLocal).u8({10, 0, 0, 5})
      .attr_header(5, kIfaProto).u8({1, 0, 0, 0});
  parsed = parse_address(as_header(kernel_lo.get()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->address.prefix, *model::IpPrefix::parse("10.0.0.5/24"));
  EXPECT_FALSE(parsed->address.owned);
}

TEST(ParseAddress, IgnoresOtherMessages) {
  Message msg = delete_vip_request(1, 3, ip("20.20.20.1"));
  EXPECT_FALSE(parse_address(as_header(msg)));
}

TEST(ParseAddressChange, AddedOrRemoved) {
  Bytes removed;  // what the kernel tells listeners when 20.20.20.1/32 (kvlb's) goes
  removed.nlmsg(40, kDelAddr, 0, 0)
      .u8({2, 32, 0x80, 0}).u32(3)
      .attr_header(8, kIfaLocal).u8({20, 20, 20, 1})
      .attr_header(5, kIfaProto).u8({0x6b, 0, 0, 0});
  auto change = parse_address_change(as_header(removed.get()));
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->removed);
  EXPECT_EQ(change->address.ifindex, 3);
  EXPECT_EQ(change->address.address.prefix, *model::IpPrefix::parse("20.20.20.1/32"));
  EXPECT_TRUE(change->address.address.owned);
  EXPECT_FALSE(parse_address(as_header(removed.get())));  // not an address that is there

  Message added = new_vip_request(1, 4, ip("fd00::1"));
  change = parse_address_change(as_header(added));
  ASSERT_TRUE(change);
  EXPECT_FALSE(change->removed);
  EXPECT_EQ(change->address.ifindex, 4);
  EXPECT_EQ(change->address.address.prefix, *model::IpPrefix::parse("fd00::1/128"));

  Message link = get_link_request(1, "eth1");
  EXPECT_FALSE(parse_address_change(as_header(link)));
}

TEST(ParseLinkChange, NewOrDeletedLink) {
  for (uint16_t type : {kNewLink, kDelLink}) {
    Bytes msg;
    msg.nlmsg(32, type, 0, 0).u8({0, 0}).u16(1).u32(7).u32(0).u32(0);  // ifindex 7
    auto change = parse_link_change(as_header(msg.get()));
    ASSERT_TRUE(change) << type;
    EXPECT_EQ(change->ifindex, 7);
    EXPECT_EQ(change->removed, type == kDelLink);
  }
  Message address = new_vip_request(1, 7, ip("20.20.20.1"));
  EXPECT_FALSE(parse_link_change(as_header(address)));
}

TEST(ParseLink, ReadsIndexAndMac) {
  Bytes ether;
  ether.nlmsg(44, kNewLink, 0, 0)
      .u8({0, 0}).u16(1).u32(5).u32(0).u32(0)  // ARPHRD_ETHER, ifindex 5
      .attr_header(10, 1).u8({0x02, 0, 0, 0, 0, 0x07, 0, 0});  // IFLA_ADDRESS + padding
  auto link = parse_link(as_header(ether.get()));
  ASSERT_TRUE(link);
  EXPECT_EQ(link->ifindex, 5);
  EXPECT_TRUE(link->ethernet);
  EXPECT_EQ(link->mac, (MacAddress{0x02, 0, 0, 0, 0, 0x07}));

  Bytes loopback;
  loopback.nlmsg(44, kNewLink, 0, 0)
      .u8({0, 0}).u16(772).u32(1).u32(0).u32(0)  // ARPHRD_LOOPBACK
      .attr_header(10, 1).u8({0, 0, 0, 0, 0, 0, 0, 0});
  link = parse_link(as_header(loopback.get()));
  ASSERT_TRUE(link);
  EXPECT_EQ(link->ifindex, 1);
  EXPECT_FALSE(link->ethernet);
}

}  // namespace
}  // namespace kvlb::kernel::rtnl
