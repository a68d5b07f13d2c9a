#include "kernel/nft/nat_codec.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "kernel/nft/nat_builders.h"

namespace kvlb::kernel {
namespace {

// Room for one message; ours are well under 1 KiB (MNL_SOCKET_BUFFER_SIZE is
// not a constant expression).
constexpr std::size_t kMessageBuffer = 8192;


// Appends complete messages to one contiguous buffer and remembers, per
// sequence number, what each message does.
class BatchWriter {
 public:
  explicit BatchWriter(uint32_t first_seq) : seq_(first_seq) {}

  void begin() { append(nftnl_batch_begin(scratch(), seq_), "nft batch begin"); }
  void end() { append(nftnl_batch_end(scratch(), seq_), "nft batch end"); }

  template <typename BuildPayload>
  void add(uint16_t msg, uint16_t flags, std::string context, BuildPayload&& build_payload) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(scratch(), msg, NFPROTO_INET, flags, seq_);
    build_payload(nlh);
    append(nlh, std::move(context));
  }

  EncodedNftBatch finish() && {
    // Ack the last message before BATCH_END: its reply is the last one queued.
    auto* last = reinterpret_cast<nlmsghdr*>(batch_.bytes.data() + offsets_[offsets_.size() - 2]);
    last->nlmsg_flags |= NLM_F_ACK;
    return std::move(batch_);
  }

 private:
  char* scratch() {
    std::fill(scratch_.begin(), scratch_.end(), 0);
    return scratch_.data();
  }

  void append(const nlmsghdr* nlh, std::string context) {
    offsets_.push_back(batch_.bytes.size());
    const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
    batch_.bytes.insert(batch_.bytes.end(), bytes, bytes + NLMSG_ALIGN(nlh->nlmsg_len));
    batch_.messages.push_back({seq_++, nlh->nlmsg_type, std::move(context)});
  }

  uint32_t seq_;
  std::array<char, kMessageBuffer> scratch_{};  // one message at a time
  std::vector<std::size_t> offsets_;
  EncodedNftBatch batch_;
};

void add_table_creation(BatchWriter& writer) {
  const std::string table = std::string("table inet ") + kNatTableName;
  auto table_payload = [](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, nftnl::build_table().get()); };
  // "Delete if present" inside one transaction: creating without NLM_F_EXCL is
  // a no-op when the table exists, so the deletion that follows cannot fail.
  writer.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, "nft ensure " + table, table_payload);
  writer.add(NFT_MSG_DELTABLE, 0, "nft delete " + table, table_payload);
  writer.add(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "nft create " + table, table_payload);

  for (const auto& spec : nat_set_specs()) {
    const char* kind = spec.data_len ? "map " : "set ";
    writer.add(NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, std::string("nft create ") + kind + spec.name,
               [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, nftnl::build_set(spec).get()); });
  }
  for (const auto& spec : nat_chain_specs())
    writer.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, "nft create chain " + spec.name,
               [&](nlmsghdr* nlh) { nftnl::build_chain_message(nlh, spec); });
  auto rules = nftnl::build_rules();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string chain = nftnl_rule_get_str(rules[i].get(), NFTNL_RULE_CHAIN);
    writer.add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
               "nft add rule " + std::to_string(i + 1) + " to chain " + chain,
               [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rules[i].get()); });
  }
}

void add_element(BatchWriter& writer, const model::SnatRule& rule, bool adding) {
  writer.add(adding ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
             adding ? NLM_F_CREATE | NLM_F_EXCL : 0,
             std::string(adding ? "nft add snat " : "nft delete snat ") + rule.str(),
             // Deletion matches by key only (as the kernel does), so send no value.
             [&](nlmsghdr* nlh) { nftnl::build_snat_element_message(nlh, rule, adding); });
}

// Same flags as SNAT elements: without NLM_F_EXCL the kernel would accept an
// existing element silently, and kvlb's view and the kernel's could drift
// apart unnoticed.
void add_drop_element(BatchWriter& writer, const model::IpAddress& vip, bool adding) {
  writer.add(adding ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, adding ? NLM_F_CREATE | NLM_F_EXCL : 0,
             std::string(adding ? "nft add drop " : "nft delete drop ") + vip.str(),
             [&](nlmsghdr* nlh) { nftnl::build_drop_element_message(nlh, vip); });
}

std::vector<uint8_t> message_bytes(const nlmsghdr* nlh) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
  return {bytes, bytes + nlh->nlmsg_len};
}

template <typename BuildPayload>
std::vector<uint8_t> request(uint16_t msg, uint16_t family, uint16_t flags, uint32_t seq,
                             BuildPayload&& build_payload) {
  std::array<char, kMessageBuffer> buffer{};
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buffer.data(), msg, family, flags, seq);
  build_payload(nlh);
  return message_bytes(nlh);
}

}  // namespace

const NftMessage* EncodedNftBatch::find(uint32_t seq) const {
  auto it = std::find_if(messages.begin(), messages.end(), [seq](const NftMessage& m) { return m.seq == seq; });
  return it == messages.end() ? nullptr : &*it;
}

Result<EncodedNftBatch> encode_nat_batch(const NatBatch& batch, uint32_t first_seq) {
  if (batch.empty()) return Error::invalid("nft batch: nothing to do");
  const bool recreate = batch.recreate_table;
  for (const auto* list : {&batch.add, &batch.remove}) {
    if (recreate && list == &batch.remove) continue;
    for (const auto& rule : *list)
      if (rule.match.vip.family() != rule.to.family())
        return Error::invalid("nft snat " + rule.str() + ": VIP and SNAT address families differ");
  }

  BatchWriter writer(first_seq);
  writer.begin();
  if (recreate) {
    add_table_creation(writer);
  } else {
    for (const auto& rule : batch.remove) add_element(writer, rule, false);
    for (const auto& vip : batch.drop_remove) add_drop_element(writer, vip, false);
  }
  for (const auto& rule : batch.add) add_element(writer, rule, true);
  for (const auto& vip : batch.drop_add) add_drop_element(writer, vip, true);
  writer.end();
  return std::move(writer).finish();
}

std::vector<uint8_t> encode_get_generation(uint32_t seq) {
  return request(NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq, [](nlmsghdr*) {});
}

std::vector<uint8_t> encode_get_nat_table(uint32_t seq) {
  return request(NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq,
                 [](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, kNatTableName); });
}

std::vector<uint8_t> encode_dump_nat_chains(uint32_t seq) {
  return request(NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_DUMP, seq,
                 [](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, kNatTableName); });
}

std::vector<uint8_t> encode_dump_nat_sets(uint32_t seq) {
  return request(NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP, seq,
                 [](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_SET_TABLE, kNatTableName); });
}

std::vector<uint8_t> encode_dump_nat_rules(uint32_t seq) {
  return request(NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq,
                 [](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, kNatTableName); });
}

std::vector<uint8_t> encode_dump_set_elements(const std::string& set_name, uint32_t seq) {
  return request(NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, seq, [&](nlmsghdr* nlh) {
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, kNatTableName);
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set_name.c_str());
  });
}

}  // namespace kvlb::kernel
