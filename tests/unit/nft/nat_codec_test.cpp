// Byte-level checks of what kvlb sends for its nftables table.
#include "kernel/nft/nat_codec.h"

#include <gtest/gtest.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "kernel/nft/nat_layout.h"
#include "nft_test_support.h"

namespace kvlb::kernel {
namespace {

using model::Protocol;
using nft_test::from_hex;
using nft_test::snat;
using nft_test::to_hex;

struct Header {
  uint32_t len;
  uint16_t type, flags;
  uint32_t seq, pid;
};

// Splits an encoded batch back into (header, payload) pairs.
std::vector<std::pair<Header, std::vector<uint8_t>>> messages_of(const EncodedNftBatch& batch) {
  std::vector<std::pair<Header, std::vector<uint8_t>>> out;
  std::size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= batch.bytes.size()) {
    nlmsghdr h;
    std::memcpy(&h, batch.bytes.data() + offset, sizeof h);
    out.push_back({{h.nlmsg_len, h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, h.nlmsg_pid},
                   {batch.bytes.begin() + offset + sizeof h, batch.bytes.begin() + offset + h.nlmsg_len}});
    offset += NLMSG_ALIGN(h.nlmsg_len);
  }
  EXPECT_EQ(offset, batch.bytes.size());
  return out;
}

constexpr uint16_t nft(uint16_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

// Drops one top-level attribute from an nfnetlink payload (nfgenmsg + attrs).
std::vector<uint8_t> without_attribute(const std::vector<uint8_t>& payload, uint16_t type) {
  std::vector<uint8_t> out(payload.begin(), payload.begin() + 4);
  for (std::size_t offset = 4; offset + 4 <= payload.size();) {
    uint16_t len, attr_type;
    std::memcpy(&len, &payload[offset], 2);
    std::memcpy(&attr_type, &payload[offset + 2], 2);
    const std::size_t aligned = NLA_ALIGN(len);
    if ((attr_type & NLA_TYPE_MASK) != type)
      out.insert(out.end(), payload.begin() + offset, payload.begin() + offset + aligned);
    offset += aligned;
  }
  return out;
}

// ---- map keys ----

TEST(NatKeyEncoding, Ipv4KeyIsAddressThenPaddedProtocolThenPaddedPort) {
  // 20.20.20.1 . tcp . 80: each field starts on a 32-bit register.
  const std::vector<uint8_t> expected = {20, 20, 20, 1,  // VIP
                                         6, 0, 0, 0,     // IPPROTO_TCP, 3 bytes padding
                                         0, 80, 0, 0};   // port 80 big endian, 2 bytes padding
  EXPECT_EQ(encode_snat_key({nft_test::ip("20.20.20.1"), 80, Protocol::Tcp}), expected);
}

TEST(NatKeyEncoding, Ipv6KeyIs24Bytes) {
  auto key = encode_snat_key({nft_test::ip("fd00::1"), 53, Protocol::Udp});
  EXPECT_EQ(to_hex(key), "fd000000000000000000000000000001" "11000000" "00350000");
}

TEST(NatKeyEncoding, SctpAndHighPortsUseNetworkByteOrder) {
  auto key = encode_snat_key({nft_test::ip("10.0.0.1"), 0xbeef, Protocol::Sctp});
  EXPECT_EQ(to_hex(key), "0a000001" "84000000" "beef0000");
}

TEST(NatKeyEncoding, DecodeInvertsEncode) {
  for (const auto& key : {model::VsKey{nft_test::ip("20.20.20.1"), 80, Protocol::Tcp},
                          model::VsKey{nft_test::ip("fd00::7"), 65535, Protocol::Sctp},
                          model::VsKey{nft_test::ip("0.0.0.0"), 0, Protocol::Udp}}) {
    auto decoded = decode_snat_key(encode_snat_key(key));
    ASSERT_TRUE(decoded) << key.str();
    EXPECT_EQ(*decoded, key);
  }
}

TEST(NatKeyEncoding, DecodeRejectsWhatKvlbNeverWrites) {
  EXPECT_FALSE(decode_snat_key(from_hex("141414010600000000500000ff")));       // wrong length
  EXPECT_FALSE(decode_snat_key(from_hex("141414010100000000000000")));         // icmp
  EXPECT_FALSE(decode_snat_key(from_hex("141414010601000000500000")));         // protocol padding not zero
  EXPECT_FALSE(decode_snat_key(from_hex("141414010600000000500001")));         // port padding not zero
}

TEST(NatKeyEncoding, AddressValueIsRawBytes) {
  EXPECT_EQ(to_hex(encode_address(nft_test::ip("20.20.20.1"))), "14141401");
  EXPECT_EQ(*decode_address(from_hex("14141401")), nft_test::ip("20.20.20.1"));
  EXPECT_FALSE(decode_address(from_hex("141414")));
}

// ---- whole messages ----

TEST(NatBatchEncoding, OneElementAddIsBeginAddEndWithExactBytes) {
  NatBatch batch;
  batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1")};
  auto encoded = encode_nat_batch(batch, 100);
  ASSERT_TRUE(encoded.ok());
  auto messages = messages_of(*encoded);
  ASSERT_EQ(messages.size(), 3u);

  // BATCH_BEGIN: nfgenmsg with res_id = NFNL_SUBSYS_NFTABLES (big endian).
  EXPECT_EQ(messages[0].first.type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(messages[0].first.seq, 100u);
  EXPECT_EQ(to_hex(messages[0].second), "0000000a");

  const auto& [header, payload] = messages[1];
  EXPECT_EQ(header.len, 84u);
  EXPECT_EQ(header.type, nft(NFT_MSG_NEWSETELEM));
  EXPECT_EQ(header.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);  // last one before END is acked
  EXPECT_EQ(header.seq, 101u);
  EXPECT_EQ(header.pid, 0u);
  EXPECT_EQ(to_hex(payload),
            "01000000"                              // nfgenmsg: NFPROTO_INET, version 0, res_id 0
            "0900" "0100" "6b766c62" "00000000"     // NFTA_SET_ELEM_LIST_TABLE "kvlb"
            "0a00" "0200" "736e617434" "000000"     // NFTA_SET_ELEM_LIST_SET "snat4"
            "2800" "0380"                           // NFTA_SET_ELEM_LIST_ELEMENTS (nested)
            "2400" "0180"                           //   NFTA_LIST_ELEM
            "1400" "0180"                           //     NFTA_SET_ELEM_KEY
            "1000" "0100" "14141401060000000050" "0000"  // NFTA_DATA_VALUE: 20.20.20.1 . tcp . 80
            "0c00" "0280"                           //     NFTA_SET_ELEM_DATA
            "0800" "0100" "14141401");              //       NFTA_DATA_VALUE: 20.20.20.1

  EXPECT_EQ(messages[2].first.type, NFNL_MSG_BATCH_END);
  EXPECT_EQ(messages[2].first.seq, 102u);
  EXPECT_EQ(encoded->acked_seq(), 101u);
  EXPECT_EQ(encoded->find(101)->context, "nft add snat 20.20.20.1:80/tcp -> 20.20.20.1");
}

TEST(NatBatchEncoding, DeletionSendsTheKeyOnly) {
  NatBatch batch;
  batch.remove = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto messages = messages_of(*encoded);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1].first.type, nft(NFT_MSG_DELSETELEM));
  EXPECT_EQ(messages[1].first.flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(to_hex(messages[1].second),
            "01000000" "09000100" "6b766c6200000000" "0a000200" "736e617434000000"
            "1c000380" "18000180" "14000180" "10000100" "141414010600000000500000");
  EXPECT_EQ(encoded->find(2)->context, "nft delete snat 20.20.20.1:80/tcp -> 20.20.20.1");
}

TEST(NatBatchEncoding, RemovalsComeBeforeAdditionsSoAKeyCanChangeItsAddress) {
  NatBatch batch;
  batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "10.0.0.2"), snat("fd00::1", 80, Protocol::Tcp, "fd00::2")};
  batch.remove = {snat("20.20.20.1", 80, Protocol::Tcp, "10.0.0.1")};
  auto encoded = encode_nat_batch(batch, 7);
  ASSERT_TRUE(encoded.ok());
  std::vector<std::string> contexts;
  for (const auto& m : encoded->messages) contexts.push_back(m.context);
  EXPECT_EQ(contexts, (std::vector<std::string>{"nft batch begin", "nft delete snat 20.20.20.1:80/tcp -> 10.0.0.1",
                                                "nft add snat 20.20.20.1:80/tcp -> 10.0.0.2",
                                                "nft add snat [fd00::1]:80/tcp -> fd00::2", "nft batch end"}));
  // The IPv6 element goes to snat6 with a 24-byte key.
  auto messages = messages_of(*encoded);
  EXPECT_NE(to_hex(messages[3].second).find(to_hex(std::vector<uint8_t>{'s', 'n', 'a', 't', '6'})), std::string::npos);
}

TEST(NatBatchEncoding, RecreateIsOneTransactionWithFixedLayoutAndIgnoresRemovals) {
  NatBatch batch;
  batch.recreate_table = true;
  batch.remove = {snat("1.1.1.1", 1, Protocol::Tcp, "1.1.1.1")};
  for (int i = 0; i < 1000; ++i)
    batch.add.push_back(snat("20.20." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 80,
                             Protocol::Tcp, "20.20.0.1"));
  auto encoded = encode_nat_batch(batch, 500);
  ASSERT_TRUE(encoded.ok());
  auto messages = messages_of(*encoded);
  ASSERT_EQ(messages.size(), encoded->messages.size());

  std::map<uint16_t, int> count;
  for (const auto& [header, payload] : messages) ++count[header.type];
  EXPECT_EQ(count[NFNL_MSG_BATCH_BEGIN], 1);
  EXPECT_EQ(count[nft(NFT_MSG_NEWTABLE)], 2);  // ensure + create
  EXPECT_EQ(count[nft(NFT_MSG_DELTABLE)], 1);
  EXPECT_EQ(count[nft(NFT_MSG_NEWSET)], 4);
  EXPECT_EQ(count[nft(NFT_MSG_NEWCHAIN)], 2);
  EXPECT_EQ(count[nft(NFT_MSG_NEWRULE)], 4);  // no rule per service: 1000 services, still 4 rules
  EXPECT_EQ(count[nft(NFT_MSG_NEWSETELEM)], 1000);
  EXPECT_EQ(count[nft(NFT_MSG_DELSETELEM)], 0);  // removals are meaningless in a fresh table
  EXPECT_EQ(count[NFNL_MSG_BATCH_END], 1);

  // Order and flags of the table part; sequence numbers are consecutive.
  EXPECT_EQ(messages[1].first.type, nft(NFT_MSG_NEWTABLE));
  EXPECT_EQ(messages[1].first.flags, NLM_F_REQUEST | NLM_F_CREATE);  // tolerates an existing table
  EXPECT_EQ(messages[2].first.type, nft(NFT_MSG_DELTABLE));
  EXPECT_EQ(messages[3].first.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].first.seq, 500 + i);
    const bool acked = messages[i].first.flags & NLM_F_ACK;
    EXPECT_EQ(acked, i == messages.size() - 2) << "message " << i;
  }
  EXPECT_EQ(encoded->messages[2].context, "nft delete table inet kvlb");
  EXPECT_EQ(encoded->messages[4].context, "nft create map snat4");
  EXPECT_EQ(encoded->messages[6].context, "nft create set drop_vips4");
  EXPECT_EQ(encoded->messages[8].context, "nft create chain postrouting");
}

TEST(NatBatchEncoding, RejectsEmptyBatchesAndMixedFamilies) {
  auto empty = encode_nat_batch(NatBatch{}, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, std::errc::invalid_argument);

  NatBatch mixed;
  mixed.add = {snat("20.20.20.1", 80, Protocol::Tcp, "fd00::1")};
  auto encoded = encode_nat_batch(mixed, 1);
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.error().context, "nft snat 20.20.20.1:80/tcp -> fd00::1: VIP and SNAT address families differ");
}

// ---- drop set elements ----

// What nft 1.0.6 sends for `nft add element inet kvlb drop_vips4 { 20.20.20.2 }`
// and `... drop_vips6 { fd00::1 }` (nft --debug=mnl), minus the
// NFTA_SET_ELEM_LIST_SET_ID nft adds: the payload after the nlmsghdr.
constexpr const char* kCliDropElement4 =
    "01000000"                                     // nfgenmsg: NFPROTO_INET
    "0900" "0100" "6b766c62" "00000000"            // NFTA_SET_ELEM_LIST_TABLE "kvlb"
    "0f00" "0200" "64726f705f7669707334" "0000"    // NFTA_SET_ELEM_LIST_SET "drop_vips4"
    "1400" "0380"                                  // NFTA_SET_ELEM_LIST_ELEMENTS (nested)
    "1000" "0180"                                  //   NFTA_LIST_ELEM
    "0c00" "0180"                                  //     NFTA_SET_ELEM_KEY
    "0800" "0100" "14141402";                      //       NFTA_DATA_VALUE: 20.20.20.2 (no value: a set)
constexpr const char* kCliDropElement6 =
    "01000000" "0900" "0100" "6b766c62" "00000000" "0f00" "0200" "64726f705f7669707336" "0000"
    "2000" "0380" "1c00" "0180" "1800" "0180" "1400" "0100" "fd000000000000000000000000000001";

TEST(NatBatchEncoding, DropElementsAreByteIdenticalToTheNftCli) {
  NatBatch batch;
  batch.drop_add = {nft_test::ip("20.20.20.2"), nft_test::ip("fd00::1")};
  EXPECT_FALSE(batch.empty());
  auto encoded = encode_nat_batch(batch, 40);
  ASSERT_TRUE(encoded.ok());
  auto messages = messages_of(*encoded);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[1].first.type, nft(NFT_MSG_NEWSETELEM));
  // The same flags as SNAT elements: NLM_F_EXCL makes an existing element
  // EEXIST (without it the kernel accepts it silently).
  EXPECT_EQ(messages[1].first.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(messages[2].first.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  EXPECT_EQ(to_hex(messages[1].second), kCliDropElement4);
  EXPECT_EQ(to_hex(messages[2].second), kCliDropElement6);
  EXPECT_EQ(messages[1].first.len, 16u + 4u + 12u + 16u + 20u);
  EXPECT_EQ(encoded->find(41)->context, "nft add drop 20.20.20.2");
  EXPECT_EQ(encoded->find(42)->context, "nft add drop fd00::1");
}

TEST(NatBatchEncoding, DropDeletionSendsTheSameElementWithoutCreateFlags) {
  NatBatch batch;
  batch.drop_remove = {nft_test::ip("20.20.20.2")};
  EXPECT_FALSE(batch.empty());
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto messages = messages_of(*encoded);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1].first.type, nft(NFT_MSG_DELSETELEM));
  EXPECT_EQ(messages[1].first.flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(to_hex(messages[1].second), kCliDropElement4);
  EXPECT_EQ(encoded->find(2)->context, "nft delete drop 20.20.20.2");
}

TEST(NatBatchEncoding, DropAndSnatElementsShareOneTransactionDeletionsFirst) {
  NatBatch batch;
  batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1")};
  batch.remove = {snat("20.20.20.1", 53, Protocol::Udp, "20.20.20.1")};
  batch.drop_add = {nft_test::ip("20.20.20.1")};
  batch.drop_remove = {nft_test::ip("fd00::1")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  std::vector<std::string> contexts;
  for (const auto& m : encoded->messages) contexts.push_back(m.context);
  EXPECT_EQ(contexts, (std::vector<std::string>{"nft batch begin", "nft delete snat 20.20.20.1:53/udp -> 20.20.20.1",
                                                "nft delete drop fd00::1",
                                                "nft add snat 20.20.20.1:80/tcp -> 20.20.20.1",
                                                "nft add drop 20.20.20.1", "nft batch end"}));
  const auto messages = messages_of(*encoded);
  EXPECT_EQ(std::count_if(messages.begin(), messages.end(),
                          [](const auto& m) { return m.first.type == NFNL_MSG_BATCH_BEGIN; }),
            1);
}

TEST(NatBatchEncoding, RecreateAddsDropElementsAfterTheLayoutAndIgnoresDropRemovals) {
  NatBatch batch;
  batch.recreate_table = true;
  batch.drop_add = {nft_test::ip("20.20.20.1"), nft_test::ip("fd00::1")};
  batch.drop_remove = {nft_test::ip("20.20.20.9")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  const auto& m = encoded->messages;
  ASSERT_EQ(m.size(), 1u + 3u + 4u + 2u + 4u + 2u + 1u);  // begin, table x3, sets, chains, rules, drops, end
  EXPECT_EQ(m[m.size() - 3].context, "nft add drop 20.20.20.1");
  EXPECT_EQ(m[m.size() - 2].context, "nft add drop fd00::1");
  for (const auto& message : m) EXPECT_EQ(message.context.find("delete drop"), std::string::npos);
}

// ---- cross-check with what the nft CLI itself sends ----

class NatBatchVersusNftCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto& [name, payload] : nft_test::read_named_hex("golden/nft/nft_cli_messages.txt")) cli_[name] = payload;
    ASSERT_EQ(cli_.size(), 11u);
    NatBatch batch;
    batch.recreate_table = true;
    batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1"), snat("fd00::1", 53, Protocol::Udp, "fd00::2")};
    auto encoded = encode_nat_batch(batch, 1);
    ASSERT_TRUE(encoded.ok());
    for (std::size_t i = 0; i < encoded->messages.size(); ++i) ours_[encoded->messages[i].context] =
                                                                   messages_of(*encoded)[i].second;
  }
  std::map<std::string, std::vector<uint8_t>> cli_, ours_;
};

TEST_F(NatBatchVersusNftCli, TableChainsSetsAndGuardRulesAreByteIdentical) {
  EXPECT_EQ(to_hex(ours_["nft create table inet kvlb"]), to_hex(cli_["table"]));
  EXPECT_EQ(to_hex(ours_["nft create chain postrouting"]), to_hex(cli_["chain:postrouting"]));
  EXPECT_EQ(to_hex(ours_["nft create chain prerouting_guard"]), to_hex(cli_["chain:prerouting_guard"]));
  EXPECT_EQ(to_hex(ours_["nft create set drop_vips4"]), to_hex(cli_["set:drop_vips4"]));
  EXPECT_EQ(to_hex(ours_["nft create set drop_vips6"]), to_hex(cli_["set:drop_vips6"]));
  EXPECT_EQ(to_hex(ours_["nft add rule 3 to chain prerouting_guard"]), to_hex(cli_["rule:prerouting_guard:1"]));
  EXPECT_EQ(to_hex(ours_["nft add rule 4 to chain prerouting_guard"]), to_hex(cli_["rule:prerouting_guard:2"]));
}

TEST_F(NatBatchVersusNftCli, MapsMatchExceptNftPrivateUserdata) {
  // nft 1.0.6 also stores a "typeof" hint in the userdata; kvlb stores only the
  // byte order hints. Everything the kernel acts on is identical.
  EXPECT_EQ(to_hex(without_attribute(ours_["nft create map snat4"], NFTA_SET_USERDATA)),
            to_hex(without_attribute(cli_["set:snat4"], NFTA_SET_USERDATA)));
  EXPECT_EQ(to_hex(without_attribute(ours_["nft create map snat6"], NFTA_SET_USERDATA)),
            to_hex(without_attribute(cli_["set:snat6"], NFTA_SET_USERDATA)));
}

TEST_F(NatBatchVersusNftCli, ElementsMatchExceptTheSetIdNftAddsForNewSets) {
  EXPECT_EQ(to_hex(ours_["nft add snat 20.20.20.1:80/tcp -> 20.20.20.1"]),
            to_hex(without_attribute(cli_["elements:snat4"], NFTA_SET_ELEM_LIST_SET_ID)));
  EXPECT_EQ(to_hex(ours_["nft add snat [fd00::1]:53/udp -> fd00::2"]),
            to_hex(without_attribute(cli_["elements:snat6"], NFTA_SET_ELEM_LIST_SET_ID)));
}

// ---- the SNAT rules' expressions (nft 1.0.6 cannot produce these) ----

TEST(NatRuleLayout, TwoSnatRulesAndTwoGuardRules) {
  const auto& rules = nat_rule_specs();
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].chain, "postrouting");
  EXPECT_EQ(rules[1].chain, "postrouting");
  EXPECT_EQ(rules[2].chain, "prerouting_guard");
  EXPECT_EQ(rules[3].chain, "prerouting_guard");
}

TEST(NatRuleLayout, Ipv4SnatRuleConcatenatesConntrackOriginalTupleInConsecutiveRegisters) {
  // Same register layout nft uses for `ip daddr . meta l4proto . th dport`:
  // 4-byte address in reg 1 (= 32-bit reg 8), protocol in 32-bit reg 9,
  // port in 32-bit reg 10; the map lookup reads 12 bytes from reg 1.
  EXPECT_EQ(nat_rule_specs()[0].expressions,
            (std::vector<std::string>{
                "meta load 15 => reg 1",       // NFT_META_NFPROTO
                "cmp op 0 reg 1 0x02",         // == NFPROTO_IPV4
                "ct load 20 dir 0 => reg 1",   // NFT_CT_DST_IP, original
                "ct load 10 dir - => reg 9",   // NFT_CT_PROTOCOL
                "ct load 12 dir 0 => reg 10",  // NFT_CT_PROTO_DST, original
                "lookup reg 1 set snat4 => reg 1",
                "nat type 0 family 2 addr_min reg 1",  // NFT_NAT_SNAT, NFPROTO_IPV4
            }));
}

TEST(NatRuleLayout, Ipv6SnatRuleUsesRegistersAfterThe16ByteAddress) {
  EXPECT_EQ(nat_rule_specs()[1].expressions,
            (std::vector<std::string>{
                "meta load 15 => reg 1",
                "cmp op 0 reg 1 0x0a",         // NFPROTO_IPV6
                "ct load 22 dir 0 => reg 1",   // NFT_CT_DST_IP6
                "ct load 10 dir - => reg 2",   // 32-bit reg 12, named reg 2 like nft does
                "ct load 12 dir 0 => reg 13",
                "lookup reg 1 set snat6 => reg 1",
                "nat type 0 family 10 addr_min reg 1",
            }));
}

TEST(NatRuleLayout, GuardRulesMatchOnlyTheDestinationAddressAndDropSilently) {
  // No L4 match, so every protocol and port to a listed VIP is dropped; the
  // verdict is NF_DROP (0), not a reject expression.
  EXPECT_EQ(nat_rule_specs()[2].expressions,
            (std::vector<std::string>{
                "meta load 15 => reg 1",              // NFT_META_NFPROTO
                "cmp op 0 reg 1 0x02",                // == NFPROTO_IPV4
                "payload load 4b @ base 1 + 16 => reg 1",  // network header: IPv4 daddr
                "lookup reg 1 set drop_vips4",
                "immediate verdict 0",                // NF_DROP
            }));
  EXPECT_EQ(nat_rule_specs()[3].expressions,
            (std::vector<std::string>{
                "meta load 15 => reg 1",
                "cmp op 0 reg 1 0x0a",                // NFPROTO_IPV6
                "payload load 16b @ base 1 + 24 => reg 1",  // IPv6 daddr
                "lookup reg 1 set drop_vips6",
                "immediate verdict 0",
            }));
  // The chain runs at raw priority, before conntrack (-200) creates entries.
  EXPECT_EQ(nat_chain_specs()[1].name, "prerouting_guard");
  EXPECT_EQ(nat_chain_specs()[1].priority, -300);
  EXPECT_EQ(nat_set_specs()[2].key_len, 4u);
  EXPECT_EQ(nat_set_specs()[3].key_len, 16u);
}

TEST(NatRuleLayout, MapKeyLengthsMatchTheRegisterLayout) {
  const auto& sets = nat_set_specs();
  EXPECT_EQ(sets[0].key_len, 12u);
  EXPECT_EQ(sets[1].key_len, 24u);
  EXPECT_EQ(sets[0].key_type, 0x730du);  // ipv4_addr . inet_proto . inet_service
  EXPECT_EQ(sets[1].key_type, 0x830du);  // ipv6_addr . inet_proto . inet_service
}

// ---- read() requests ----

TEST(NatReadRequests, DumpsAreFilteredToKvlbsTable) {
  auto chains = encode_dump_nat_chains(9);
  nlmsghdr h;
  std::memcpy(&h, chains.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_type, nft(NFT_MSG_GETCHAIN));
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_seq, 9u);
  EXPECT_EQ(to_hex({chains.data() + sizeof h, chains.size() - sizeof h}), "01000000" "09000100" "6b766c6200000000");

  auto elements = encode_dump_set_elements("snat6", 10);
  EXPECT_EQ(to_hex({elements.data() + sizeof h, elements.size() - sizeof h}),
            "01000000" "09000100" "6b766c6200000000" "0a000200" "736e617436000000");

  auto table = encode_get_nat_table(11);
  std::memcpy(&h, table.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
}

}  // namespace
}  // namespace kvlb::kernel
