// ConnEntry from libnetfilter_conntrack objects built in memory (no kernel).
#include "kernel/conntrack/conntrack_entry.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>

#include <memory>

namespace kvlb::kernel {
namespace {

using Conntrack = std::unique_ptr<nf_conntrack, decltype(&nfct_destroy)>;

Conntrack make_conntrack() { return Conntrack(nfct_new(), &nfct_destroy); }

void set_v4(nf_conntrack* ct, nf_conntrack_attr attr, const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  nfct_set_attr_u32(ct, attr, a.s_addr);
}

void set_v6(nf_conntrack* ct, nf_conntrack_attr attr, const char* text) {
  in6_addr a{};
  inet_pton(AF_INET6, text, &a);
  nfct_set_attr(ct, attr, &a);
}

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

TEST(ConnEntryFrom, MapsTuplesOfAFullNatTcpFlow) {
  auto ct = make_conntrack();
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L4PROTO, IPPROTO_TCP);
  set_v4(ct.get(), ATTR_ORIG_IPV4_SRC, "10.0.0.9");    // client
  set_v4(ct.get(), ATTR_ORIG_IPV4_DST, "20.20.20.1");  // VIP
  set_v4(ct.get(), ATTR_REPL_IPV4_SRC, "31.31.31.1");  // endpoint
  set_v4(ct.get(), ATTR_REPL_IPV4_DST, "20.20.20.1");  // SNAT to the VIP
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(40000));
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(80));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(8080));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(61000));
  nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  // Counters cannot be set on an nf_conntrack object (the library only
  // reads them from the kernel): conntrack_kernel_test checks their sum.
  nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, 431999);

  auto e = conn_entry_from(ct.get());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->protocol, model::Protocol::Tcp);
  EXPECT_EQ(e->client, ip("10.0.0.9"));
  EXPECT_EQ(e->client_port, 40000);
  EXPECT_EQ(e->vip, ip("20.20.20.1"));
  EXPECT_EQ(e->vip_port, 80);
  EXPECT_EQ(e->endpoint, ip("31.31.31.1"));
  EXPECT_EQ(e->endpoint_port, 8080);
  EXPECT_EQ(e->snat_source, ip("20.20.20.1"));
  EXPECT_EQ(e->snat_port, 61000);
  EXPECT_EQ(e->state, "ESTABLISHED");
  EXPECT_EQ(e->bytes, 0u);
  EXPECT_EQ(e->timeout, 431999u);
}

TEST(ConnEntryFrom, Ipv6UdpWithoutAccountingHasNoStateOrCounters) {
  auto ct = make_conntrack();
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L3PROTO, AF_INET6);
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L4PROTO, IPPROTO_UDP);
  set_v6(ct.get(), ATTR_ORIG_IPV6_SRC, "fd00::9");
  set_v6(ct.get(), ATTR_ORIG_IPV6_DST, "fd00::1");
  set_v6(ct.get(), ATTR_REPL_IPV6_SRC, "fd01::5");
  set_v6(ct.get(), ATTR_REPL_IPV6_DST, "fd00::9");
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(5353));
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(53));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(53));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(5353));

  auto e = conn_entry_from(ct.get());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->protocol, model::Protocol::Udp);
  EXPECT_EQ(e->client, ip("fd00::9"));
  EXPECT_EQ(e->vip.with_port(e->vip_port), "[fd00::1]:53");
  EXPECT_EQ(e->endpoint, ip("fd01::5"));
  EXPECT_EQ(e->snat_source, ip("fd00::9"));
  EXPECT_EQ(e->state, "");
  EXPECT_EQ(e->bytes, 0u);
  EXPECT_EQ(e->packets, 0u);
}

TEST(ConnEntryFrom, SkipsProtocolsItCannotDescribe) {
  auto ct = make_conntrack();
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L4PROTO, IPPROTO_ICMP);
  set_v4(ct.get(), ATTR_ORIG_IPV4_SRC, "10.0.0.9");
  set_v4(ct.get(), ATTR_ORIG_IPV4_DST, "20.20.20.1");
  set_v4(ct.get(), ATTR_REPL_IPV4_SRC, "20.20.20.1");
  set_v4(ct.get(), ATTR_REPL_IPV4_DST, "10.0.0.9");
  EXPECT_FALSE(conn_entry_from(ct.get()));

  auto empty = make_conntrack();
  EXPECT_FALSE(conn_entry_from(empty.get()));
}

TEST(OriginalDestinationOf, IsTheOriginalTuplesDestinationNotTheReplys) {
  auto ct = make_conntrack();
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L4PROTO, IPPROTO_SCTP);
  set_v4(ct.get(), ATTR_ORIG_IPV4_SRC, "10.0.0.9");
  set_v4(ct.get(), ATTR_ORIG_IPV4_DST, "20.20.20.1");
  set_v4(ct.get(), ATTR_REPL_IPV4_SRC, "10.0.1.11");
  set_v4(ct.get(), ATTR_REPL_IPV4_DST, "10.0.0.9");
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(40000));
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(9999));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(8080));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(40000));
  auto key = original_destination_of(ct.get());
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, (ConnKey{model::Protocol::Sctp, ip("20.20.20.1"), 9999}));

  auto v6 = make_conntrack();
  nfct_set_attr_u8(v6.get(), ATTR_ORIG_L3PROTO, AF_INET6);
  nfct_set_attr_u8(v6.get(), ATTR_ORIG_L4PROTO, IPPROTO_UDP);
  set_v6(v6.get(), ATTR_ORIG_IPV6_DST, "fd00::1");
  nfct_set_attr_u16(v6.get(), ATTR_ORIG_PORT_DST, htons(53));
  EXPECT_EQ(original_destination_of(v6.get()), (ConnKey{model::Protocol::Udp, ip("fd00::1"), 53}));

  auto icmp = make_conntrack();
  nfct_set_attr_u8(icmp.get(), ATTR_ORIG_L3PROTO, AF_INET);
  nfct_set_attr_u8(icmp.get(), ATTR_ORIG_L4PROTO, IPPROTO_ICMP);
  set_v4(icmp.get(), ATTR_ORIG_IPV4_DST, "20.20.20.1");
  EXPECT_FALSE(original_destination_of(icmp.get()));
  EXPECT_FALSE(original_destination_of(make_conntrack().get()));
}

TEST(OriginalDestination, OfAConnEntryIsItsVipPortAndProtocol) {
  ConnEntry entry;
  entry.protocol = model::Protocol::Udp;
  entry.vip = ip("20.20.20.1");
  entry.vip_port = 53;
  entry.endpoint = ip("10.0.1.11");
  entry.endpoint_port = 5353;
  EXPECT_EQ(original_destination(entry), (ConnKey{model::Protocol::Udp, ip("20.20.20.1"), 53}));
}

TEST(StateNames, MatchConntrackTool) {
  EXPECT_EQ(tcp_state_name(TCP_CONNTRACK_SYN_SENT), "SYN_SENT");
  EXPECT_EQ(tcp_state_name(TCP_CONNTRACK_ESTABLISHED), "ESTABLISHED");
  EXPECT_EQ(tcp_state_name(TCP_CONNTRACK_TIME_WAIT), "TIME_WAIT");
  EXPECT_EQ(tcp_state_name(TCP_CONNTRACK_SYN_SENT2), "SYN_SENT2");
  EXPECT_EQ(tcp_state_name(200), "");
  EXPECT_EQ(sctp_state_name(4), "ESTABLISHED");
  EXPECT_EQ(sctp_state_name(2), "COOKIE_WAIT");
  EXPECT_EQ(sctp_state_name(200), "");
}

}  // namespace
}  // namespace kvlb::kernel
