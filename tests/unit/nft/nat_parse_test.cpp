// Parsing of the kernel's replies: recorded dumps from a real kernel, acks,
// and the decision whether kvlb's table is intact.
#include "kernel/nft/nat_parse.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernel/nft/nat_codec.h"
#include "nft_test_support.h"

namespace kvlb::kernel {
namespace {

using model::Protocol;
using nft_test::snat;

// The recorded replies, grouped by the request they answer.
std::map<std::string, std::vector<NlMessage>> recorded_dump() {
  std::map<std::string, std::vector<NlMessage>> out;
  for (auto& [request, message] : nft_test::read_named_hex("golden/nft/kernel_dump.txt"))
    out[request].push_back(message);
  return out;
}

struct Parsed {
  ObservedNftTable table;
  ObservedNatLayout layout;
};

Parsed parse_recorded() {
  auto dump = recorded_dump();
  Parsed parsed;
  parsed.table = parse_table(dump["table"].at(0)).value();
  parsed.layout.chains = parse_chains(dump["chain"]).value();
  parsed.layout.sets = parse_sets(dump["set"]).value();
  parsed.layout.rules = parse_rules(dump["rule"]).value();
  return parsed;
}

TEST(NatParse, RecordedKernelDumpIsIntact) {
  auto parsed = parse_recorded();
  EXPECT_EQ(parsed.table.name, "kvlb");
  EXPECT_EQ(parsed.layout.chains.size(), 2u);
  EXPECT_EQ(parsed.layout.sets.size(), 4u);
  EXPECT_EQ(parsed.layout.rules.size(), 4u);
  // The kernel adds attributes kvlb never sends (lookup flags 0, nat addr_max
  // and MAP_IPS, no direction for ct protocol); the comparison ignores them.
  EXPECT_EQ(nat_layout_problem(parsed.table, parsed.layout), std::nullopt);
}

TEST(NatParse, RecordedElementsDecodeToSnatRules) {
  auto elements = parse_snat_elements(recorded_dump()["elements"]);
  ASSERT_TRUE(elements.ok()) << elements.error().describe();
  EXPECT_EQ(*elements, (std::set<model::SnatRule>{snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.1"),
                                                  snat("20.20.20.2", 443, Protocol::Sctp, "10.0.0.1"),
                                                  snat("fd00::1", 53, Protocol::Udp, "fd00::2")}));
}

TEST(NatParse, MissingRuleIsDamage) {
  auto parsed = parse_recorded();
  parsed.layout.rules.erase(parsed.layout.rules.begin());
  EXPECT_EQ(nat_layout_problem(parsed.table, parsed.layout), "chain postrouting has 1 rules, expected 2");
}

TEST(NatParse, ChangedRuleIsDamage) {
  auto parsed = parse_recorded();
  parsed.layout.rules[2].expressions.back() = "immediate verdict 1";  // drop -> accept
  EXPECT_EQ(nat_layout_problem(parsed.table, parsed.layout), "rule 1 of chain prerouting_guard is not what kvlb creates");
}

TEST(NatParse, ExtraRuleIsDamage) {
  auto parsed = parse_recorded();
  parsed.layout.rules.push_back({"postrouting", {"counter (not built by kvlb)"}});
  EXPECT_EQ(nat_layout_problem(parsed.table, parsed.layout), "chain postrouting has 3 rules, expected 2");
}

TEST(NatParse, MissingOrChangedChainOrSetIsDamage) {
  auto parsed = parse_recorded();
  auto no_chain = parsed;
  no_chain.layout.chains.pop_back();
  EXPECT_EQ(nat_layout_problem(no_chain.table, no_chain.layout), "chain prerouting_guard is missing");

  auto moved_chain = parsed;
  moved_chain.layout.chains[0].priority = 0;
  EXPECT_EQ(nat_layout_problem(moved_chain.table, moved_chain.layout),
            "chain postrouting is not what kvlb creates");

  auto no_map = parsed;
  no_map.layout.sets.erase(no_map.layout.sets.begin());
  EXPECT_EQ(nat_layout_problem(no_map.table, no_map.layout), "set snat4 is missing");

  auto retyped = parsed;
  retyped.layout.sets[1].flags |= 0x10;  // NFT_SET_TIMEOUT
  EXPECT_EQ(nat_layout_problem(retyped.table, retyped.layout), "set snat6 is not what kvlb creates");

  auto extra = parsed;
  extra.layout.chains.push_back({"mine", "", 0, 0, 0});
  EXPECT_EQ(nat_layout_problem(extra.table, extra.layout), "unexpected chain mine");
}

TEST(NatParse, DormantTableIsDamage) {
  auto parsed = parse_recorded();
  parsed.table.flags = 1;  // NFT_TABLE_F_DORMANT: rules present but inactive
  EXPECT_EQ(nat_layout_problem(parsed.table, parsed.layout), "table is dormant");
}

TEST(NatParse, OwnRulesParseBackToTheExpectedLayout) {
  NatBatch batch;
  batch.recreate_table = true;
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto messages = split_netlink_messages(encoded->bytes);
  auto rules = parse_rules(messages);
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(*rules, nat_rule_specs());
}

TEST(NatParse, OwnElementMessagesParseBack) {
  // A NEWSETELEM request has the same shape as a dump reply.
  NatBatch batch;
  batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.9"), snat("fd00::1", 443, Protocol::Sctp, "fd00::9")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto elements = parse_snat_elements(split_netlink_messages(encoded->bytes));
  ASSERT_TRUE(elements.ok());
  EXPECT_EQ(*elements, std::set<model::SnatRule>(batch.add.begin(), batch.add.end()));
}

TEST(NatParse, RepeatedKeysInADumpAreCounted) {
  // What a dump looks like when the kernel's hash table resized between parts.
  NatBatch batch;
  batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.9")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto messages = split_netlink_messages(encoded->bytes);
  std::size_t repeated = 99;
  ASSERT_TRUE(parse_snat_elements(messages, &repeated).ok());
  EXPECT_EQ(repeated, 0u);
  auto twice = messages;
  twice.insert(twice.end(), messages.begin(), messages.end());
  auto elements = parse_snat_elements(twice, &repeated);
  ASSERT_TRUE(elements.ok());
  EXPECT_EQ(elements->size(), 1u);
  EXPECT_EQ(repeated, 1u);
}

TEST(NatParse, ForeignElementIsReportedNotDropped) {
  auto dump = recorded_dump()["elements"];
  auto& first = dump.at(0);
  // Turn the first element's protocol byte (tcp or sctp) into icmp.
  auto key = nft_test::from_hex("1414140106000000");
  auto at = std::search(first.begin(), first.end(), key.begin(), key.end());
  if (at == first.end()) {
    key = nft_test::from_hex("1414140284000000");
    at = std::search(first.begin(), first.end(), key.begin(), key.end());
  }
  ASSERT_NE(at, first.end());
  at[4] = 1;
  auto elements = parse_snat_elements(dump);
  ASSERT_FALSE(elements.ok());
  EXPECT_EQ(elements.error().context, "nft read: element of map snat4 that kvlb does not write");
}

TEST(NatParse, OwnDropElementMessagesParseBackAndStayApartFromSnat) {
  NatBatch batch;
  batch.add = {snat("20.20.20.1", 80, Protocol::Tcp, "20.20.20.9")};
  batch.drop_add = {nft_test::ip("20.20.20.1"), nft_test::ip("20.20.20.2"), nft_test::ip("fd00::1")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto messages = split_netlink_messages(encoded->bytes);
  std::size_t repeated = 99;
  auto dropped = parse_drop_elements(messages, &repeated);
  ASSERT_TRUE(dropped.ok()) << dropped.error().describe();
  EXPECT_EQ(*dropped, std::set<model::IpAddress>(batch.drop_add.begin(), batch.drop_add.end()));
  EXPECT_EQ(repeated, 0u);
  auto elements = parse_snat_elements(messages);
  ASSERT_TRUE(elements.ok());
  EXPECT_EQ(*elements, std::set<model::SnatRule>(batch.add.begin(), batch.add.end()));

  auto twice = messages;
  twice.insert(twice.end(), messages.begin(), messages.end());
  ASSERT_TRUE(parse_drop_elements(twice, &repeated).ok());
  EXPECT_EQ(repeated, 3u);
}

TEST(NatParse, RecordedDumpHasNoDropElements) {
  auto dropped = parse_drop_elements(recorded_dump()["elements"]);
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE(dropped->empty());
}

TEST(NatParse, ForeignDropElementIsReported) {
  // An IPv6 address in drop_vips4: the IPv6 element's message with the set
  // name changed (same length).
  NatBatch batch;
  batch.drop_add = {nft_test::ip("fd00::1")};
  auto encoded = encode_nat_batch(batch, 1);
  ASSERT_TRUE(encoded.ok());
  auto messages = split_netlink_messages(encoded->bytes);
  const std::string v6 = "drop_vips6";
  bool renamed = false;
  for (auto& message : messages) {
    auto at = std::search(message.begin(), message.end(), v6.begin(), v6.end());
    if (at != message.end()) {
      at[9] = '4';
      renamed = true;
    }
  }
  ASSERT_TRUE(renamed);
  auto dropped = parse_drop_elements(messages);
  ASSERT_FALSE(dropped.ok());
  EXPECT_EQ(dropped.error().context, "nft read: element of set drop_vips4 that kvlb does not write");
}

std::vector<uint8_t> error_message(uint32_t seq, int error, const std::string& text, bool capped) {
  // nlmsghdr | nlmsgerr{error, echoed header} [| echoed payload] | NLMSGERR_ATTR_MSG
  std::vector<uint8_t> echoed_payload = capped ? std::vector<uint8_t>{} : std::vector<uint8_t>(8, 0xab);
  nlmsghdr echoed{static_cast<uint32_t>(sizeof(nlmsghdr) + echoed_payload.size()), 0x0a0c, 0, seq, 0};
  nlmsgerr err{-error, echoed};
  const uint16_t attr_len = static_cast<uint16_t>(4 + text.size() + 1);
  std::vector<uint8_t> attr(NLA_ALIGN(attr_len), 0);
  uint16_t attr_type = NLMSGERR_ATTR_MSG;
  std::memcpy(attr.data(), &attr_len, 2);
  std::memcpy(attr.data() + 2, &attr_type, 2);
  std::memcpy(attr.data() + 4, text.data(), text.size());
  nlmsghdr outer{0, NLMSG_ERROR, static_cast<uint16_t>(NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0)), seq, 0};
  outer.nlmsg_len = static_cast<uint32_t>(sizeof outer + sizeof err + echoed_payload.size() + attr.size());
  std::vector<uint8_t> out(outer.nlmsg_len);
  std::memcpy(out.data(), &outer, sizeof outer);
  std::memcpy(out.data() + sizeof outer, &err, sizeof err);
  std::copy(echoed_payload.begin(), echoed_payload.end(), out.begin() + sizeof outer + sizeof err);
  std::copy(attr.begin(), attr.end(), out.end() - static_cast<long>(attr.size()));
  return out;
}

TEST(NatParse, AcksAndErrorsWithExtendedAckText) {
  for (bool capped : {true, false}) {
    auto bytes = error_message(42, EEXIST, "element exists", capped);
    auto messages = split_netlink_messages(bytes);
    ASSERT_EQ(messages.size(), 1u);
    auto ack = parse_ack(messages[0]);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->seq, 42u);
    EXPECT_EQ(ack->error, EEXIST);
    EXPECT_EQ(ack->kernel_message, "element exists") << "capped=" << capped;
  }
  auto not_an_ack = split_netlink_messages(recorded_dump()["table"].at(0));
  EXPECT_FALSE(parse_ack(not_an_ack.at(0)));
}

TEST(NatParse, SplitStopsAtTruncatedMessage) {
  auto bytes = recorded_dump()["set"].at(0);
  auto two = bytes;
  two.insert(two.end(), bytes.begin(), bytes.end() - 8);  // second one cut short
  EXPECT_EQ(split_netlink_messages(two).size(), 1u);
}

}  // namespace
}  // namespace kvlb::kernel
