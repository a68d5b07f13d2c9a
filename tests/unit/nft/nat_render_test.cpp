// Golden tests of the rendered `nft list table inet kvlb` text. The real nft
// CLI is compared with the same renderer in netlink_nat_kernel_test.cpp.
#include "kernel/nft/nat_render.h"

#include <gtest/gtest.h>

#include "nft_test_support.h"

namespace kvlb::kernel {
namespace {

using model::Protocol;
using nft_test::snat;

std::set<model::SnatRule> mixed_services() {
  return {
      snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1"),  // fullnat: SNAT to the VIP
      snat("20.20.20.1", 443, Protocol::Tcp, "20.20.20.1"),
      snat("20.20.20.1", 53, Protocol::Udp, "20.20.20.1"),
      snat("20.20.20.2", 9999, Protocol::Sctp, "192.168.50.10"),  // onearm: floating address
      snat("10.96.0.10", 8080, Protocol::Tcp, "192.168.50.10"),
      snat("fd00::1", 80, Protocol::Tcp, "fd00::1"),
      snat("fd00::1", 53, Protocol::Udp, "fd00::1"),
      snat("2001:db8::5", 443, Protocol::Sctp, "2001:db8::ff"),
  };
}

TEST(NatRender, EmptyTableMatchesGolden) {
  EXPECT_EQ(render_nft_text({}), nft_test::read_text("golden/nft/empty.nft"));
}

TEST(NatRender, MixedServicesMatchGolden) {
  EXPECT_EQ(render_nft_text(mixed_services()), nft_test::read_text("golden/nft/mixed.nft"));
}

TEST(NatRender, SingleElementPerMapStaysOnOneLine) {
  auto text = render_nft_text({snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1")});
  EXPECT_NE(text.find("\t\telements = { 20.20.20.1 . tcp . 80 : 20.20.20.1 }\n"), std::string::npos);
  EXPECT_EQ(text.find("elements = { fd00"), std::string::npos);
}

TEST(NatRender, RuleCountDoesNotGrowWithServices) {
  std::set<model::SnatRule> many;
  for (int i = 1; i <= 200; ++i) many.insert(snat("20.20.20." + std::to_string(i), 80, Protocol::Tcp, "20.20.20.1"));
  auto text = render_nft_text(many);
  std::size_t snat_rules = 0;
  for (std::size_t at = text.find("snat ip"); at != std::string::npos; at = text.find("snat ip", at + 1)) ++snat_rules;
  EXPECT_EQ(snat_rules, 2u);  // "snat ip to" and "snat ip6 to"
}

TEST(NatRender, DroppedVipsAreListedSortedLikeNft) {
  // nft sorts set elements by value and prints two IPv4 addresses per line,
  // one IPv6 address per line.
  std::set<model::IpAddress> dropped;
  for (const char* vip : {"20.20.200.1", "20.20.3.1", "20.20.17.1", "20.20.1.1", "20.20.9.1", "fd00::9",
                          "2001:db8::1", "fd00::1"})
    dropped.insert(nft_test::ip(vip));
  auto text = render_nft_text({}, dropped);
  EXPECT_NE(text.find("\tset drop_vips4 {\n"
                      "\t\ttype ipv4_addr\n"
                      "\t\telements = { 20.20.1.1, 20.20.3.1,\n"
                      "\t\t\t     20.20.9.1, 20.20.17.1,\n"
                      "\t\t\t     20.20.200.1 }\n"
                      "\t}\n\n"
                      "\tset drop_vips6 {\n"
                      "\t\ttype ipv6_addr\n"
                      "\t\telements = { 2001:db8::1,\n"
                      "\t\t\t     fd00::1,\n"
                      "\t\t\t     fd00::9 }\n"
                      "\t}\n"),
            std::string::npos)
      << text;
  // Everything else is the empty table's text.
  EXPECT_EQ(render_nft_text({}, {}), nft_test::read_text("golden/nft/empty.nft"));
  EXPECT_EQ(render_nft_text(mixed_services(), {}), render_nft_text(mixed_services()));
}

TEST(NatRender, GuardRulesDropWithoutRejecting) {
  auto text = render_nft_text({}, {nft_test::ip("20.20.20.1")});
  EXPECT_NE(text.find("\t\tip daddr @drop_vips4 drop\n"), std::string::npos);
  EXPECT_NE(text.find("\t\tip6 daddr @drop_vips6 drop\n"), std::string::npos);
  EXPECT_EQ(text.find("reject"), std::string::npos);
}

}  // namespace
}  // namespace kvlb::kernel
