#include "kernel/nft/nat_parse.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "kernel/nft/nat_builders.h"
#include "kernel/nft/nat_table.h"

namespace kvlb::kernel {
namespace {

const nlmsghdr* header(const NlMessage& message) { return reinterpret_cast<const nlmsghdr*>(message.data()); }

bool is_nft_message(const NlMessage& message, uint16_t msg) {
  return message.size() >= sizeof(nlmsghdr) &&
         header(message)->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | msg);
}

Error malformed(const std::string& what) { return Error::from_errno(EPROTO, "nft read: malformed " + what); }

std::string str_or_empty(const char* text) { return text ? text : ""; }

template <typename Object, typename IsSet, typename GetU32>
uint32_t u32_or_zero(const Object* object, uint16_t attr, IsSet is_set, GetU32 get) {
  return is_set(object, attr) ? get(object, attr) : 0;
}

uint32_t chain_u32(const nftnl_chain* c, uint16_t attr) {
  return u32_or_zero(c, attr, nftnl_chain_is_set, nftnl_chain_get_u32);
}
uint32_t set_u32(const nftnl_set* s, uint16_t attr) { return u32_or_zero(s, attr, nftnl_set_is_set, nftnl_set_get_u32); }

// `what` differs between expected and observed lists of named objects.
template <typename Spec>
std::optional<std::string> named_objects_problem(const std::vector<Spec>& expected, const std::vector<Spec>& observed,
                                                 const char* what) {
  for (const auto& spec : expected) {
    auto it = std::find_if(observed.begin(), observed.end(), [&](const Spec& o) { return o.name == spec.name; });
    if (it == observed.end()) return std::string(what) + " " + spec.name + " is missing";
    if (!(*it == spec)) return std::string(what) + " " + spec.name + " is not what kvlb creates";
  }
  for (const auto& o : observed) {
    auto it = std::find_if(expected.begin(), expected.end(), [&](const Spec& e) { return e.name == o.name; });
    if (it == expected.end()) return std::string("unexpected ") + what + " " + o.name;
  }
  return std::nullopt;
}

// One element of a dump as raw bytes; no value for plain sets.
struct RawElement {
  std::span<const uint8_t> key;
  std::optional<std::span<const uint8_t>> value;
};

// Calls accept(family, element) for every element of the sets named in
// `names` (v4, v6; elements of other sets are skipped). An element accept()
// refuses makes the whole dump an error: such a set is not one kvlb wrote,
// and recreating the table is the repair. `kind` is "map" or "set".
template <typename Accept>
Status for_each_element(const std::vector<NlMessage>& dump, const char* kind,
                        std::pair<const char*, const char*> names, Accept&& accept) {
  struct Visit {
    std::remove_reference_t<Accept>* accept;
    model::Family family;
    bool refused = false;
  };
  for (const auto& message : dump) {
    if (!is_nft_message(message, NFT_MSG_NEWSETELEM)) continue;
    nftnl::SetPtr set(nftnl_set_alloc());
    if (nftnl_set_elems_nlmsg_parse(header(message), set.get()) < 0) return malformed("element dump");
    const std::string set_name = str_or_empty(nftnl_set_get_str(set.get(), NFTNL_SET_NAME));
    if (set_name != names.first && set_name != names.second) continue;

    Visit visit{&accept, set_name == names.first ? model::Family::V4 : model::Family::V6, false};
    nftnl_set_elem_foreach(
        set.get(),
        [](nftnl_set_elem* e, void* data) {
          auto& v = *static_cast<Visit*>(data);
          RawElement element;
          uint32_t key_len = 0, value_len = 0;
          if (const auto* key = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &key_len)))
            element.key = {key, key_len};
          const auto* value = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &value_len));
          if (value) element.value = std::span<const uint8_t>(value, value_len);
          if ((*v.accept)(v.family, element)) return 0;
          v.refused = true;
          return -1;  // stop: the caller reports the set as not kvlb's
        },
        &visit);
    if (visit.refused)
      return Error::from_errno(EPROTO, "nft read: element of " + std::string(kind) + " " + set_name +
                                           " that kvlb does not write");
  }
  return ok_status();
}

}  // namespace

std::vector<NlMessage> split_netlink_messages(std::span<const uint8_t> buffer) {
  std::vector<NlMessage> out;
  int remaining = static_cast<int>(buffer.size());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
  while (mnl_nlmsg_ok(nlh, remaining)) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
    out.emplace_back(bytes, bytes + nlh->nlmsg_len);
    nlh = mnl_nlmsg_next(nlh, &remaining);
  }
  return out;
}

std::optional<NlAck> parse_ack(const NlMessage& message) {
  if (message.size() < sizeof(nlmsghdr) + sizeof(nlmsgerr) || header(message)->nlmsg_type != NLMSG_ERROR)
    return std::nullopt;
  const nlmsghdr* nlh = header(message);
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  NlAck ack{err->msg.nlmsg_seq, err->error < 0 ? -err->error : err->error, {}};
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    // Extended ack attributes follow the echoed request (only its header when capped).
    std::size_t offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    const std::size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
    if (offset < payload_len) {
      const auto* attrs =
          reinterpret_cast<const nlattr*>(static_cast<const uint8_t*>(mnl_nlmsg_get_payload(nlh)) + offset);
      const nlattr* attr = nullptr;
      mnl_attr_for_each_payload(attrs, payload_len - offset) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
          ack.kernel_message = mnl_attr_get_str(attr);
      }
    }
  }
  return ack;
}

Result<uint32_t> parse_generation(const NlMessage& message) {
  if (!is_nft_message(message, NFT_MSG_NEWGEN)) return malformed("generation reply");
  nftnl::GenPtr gen(nftnl_gen_alloc());
  if (nftnl_gen_nlmsg_parse(header(message), gen.get()) < 0 || !nftnl_gen_is_set(gen.get(), NFTNL_GEN_ID))
    return malformed("generation reply");
  return nftnl_gen_get_u32(gen.get(), NFTNL_GEN_ID);
}

Result<ObservedNftTable> parse_table(const NlMessage& message) {
  if (!is_nft_message(message, NFT_MSG_NEWTABLE)) return malformed("table reply");
  nftnl::TablePtr table(nftnl_table_alloc());
  if (nftnl_table_nlmsg_parse(header(message), table.get()) < 0) return malformed("table reply");
  ObservedNftTable out{str_or_empty(nftnl_table_get_str(table.get(), NFTNL_TABLE_NAME)), 0};
  if (nftnl_table_is_set(table.get(), NFTNL_TABLE_FLAGS)) out.flags = nftnl_table_get_u32(table.get(), NFTNL_TABLE_FLAGS);
  return out;
}

Result<std::vector<NftChainSpec>> parse_chains(const std::vector<NlMessage>& dump) {
  std::vector<NftChainSpec> out;
  for (const auto& message : dump) {
    if (!is_nft_message(message, NFT_MSG_NEWCHAIN)) continue;
    nftnl::ChainPtr chain(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(header(message), chain.get()) < 0) return malformed("chain dump");
    if (str_or_empty(nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_TABLE)) != kNatTableName) continue;
    out.push_back({str_or_empty(nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_NAME)),
                   str_or_empty(nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_TYPE)),
                   chain_u32(chain.get(), NFTNL_CHAIN_HOOKNUM),
                   static_cast<int32_t>(chain_u32(chain.get(), NFTNL_CHAIN_PRIO)),
                   chain_u32(chain.get(), NFTNL_CHAIN_POLICY)});
  }
  return out;
}

Result<std::vector<NftSetSpec>> parse_sets(const std::vector<NlMessage>& dump) {
  std::vector<NftSetSpec> out;
  for (const auto& message : dump) {
    if (!is_nft_message(message, NFT_MSG_NEWSET)) continue;
    nftnl::SetPtr set(nftnl_set_alloc());
    if (nftnl_set_nlmsg_parse(header(message), set.get()) < 0) return malformed("set dump");
    if (str_or_empty(nftnl_set_get_str(set.get(), NFTNL_SET_TABLE)) != kNatTableName) continue;
    out.push_back({str_or_empty(nftnl_set_get_str(set.get(), NFTNL_SET_NAME)), set_u32(set.get(), NFTNL_SET_FLAGS),
                   set_u32(set.get(), NFTNL_SET_KEY_TYPE), set_u32(set.get(), NFTNL_SET_KEY_LEN),
                   set_u32(set.get(), NFTNL_SET_DATA_TYPE), set_u32(set.get(), NFTNL_SET_DATA_LEN)});
  }
  return out;
}

Result<std::vector<NftRuleSpec>> parse_rules(const std::vector<NlMessage>& dump) {
  std::vector<NftRuleSpec> out;
  for (const auto& message : dump) {
    if (!is_nft_message(message, NFT_MSG_NEWRULE)) continue;
    nftnl::RulePtr rule(nftnl_rule_alloc());
    if (nftnl_rule_nlmsg_parse(header(message), rule.get()) < 0) return malformed("rule dump");
    if (str_or_empty(nftnl_rule_get_str(rule.get(), NFTNL_RULE_TABLE)) != kNatTableName) continue;
    out.push_back({str_or_empty(nftnl_rule_get_str(rule.get(), NFTNL_RULE_CHAIN)), nftnl::describe_rule(rule.get())});
  }
  return out;
}

std::optional<std::string> nat_layout_problem(const ObservedNftTable& table, const ObservedNatLayout& layout) {
  if (table.flags & NFT_TABLE_F_DORMANT) return "table is dormant";
  if (auto problem = named_objects_problem(nat_set_specs(), layout.sets, "set")) return problem;
  if (auto problem = named_objects_problem(nat_chain_specs(), layout.chains, "chain")) return problem;

  std::map<std::string, std::vector<const NftRuleSpec*>> expected, observed;
  for (const auto& rule : nat_rule_specs()) expected[rule.chain].push_back(&rule);
  for (const auto& rule : layout.rules) observed[rule.chain].push_back(&rule);
  for (const auto& [chain, rules] : expected) {
    const auto& seen = observed[chain];
    if (seen.size() != rules.size())
      return "chain " + chain + " has " + std::to_string(seen.size()) + " rules, expected " +
             std::to_string(rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i)
      if (seen[i]->expressions != rules[i]->expressions)
        return "rule " + std::to_string(i + 1) + " of chain " + chain + " is not what kvlb creates";
  }
  return std::nullopt;
}

Result<std::set<model::SnatRule>> parse_snat_elements(const std::vector<NlMessage>& dump,
                                                      std::size_t* repeated_keys) {
  std::set<model::SnatRule> out;
  std::set<model::VsKey> keys;
  std::size_t repeated = 0;
  auto accept = [&](model::Family family, const RawElement& element) {
    std::optional<model::VsKey> match;
    std::optional<model::IpAddress> to;
    if (!element.key.empty()) match = decode_snat_key(element.key);
    if (element.value) to = decode_address(*element.value);
    if (!match || !to || match->vip.family() != family || to->family() != family) return false;
    if (!keys.insert(*match).second) ++repeated;
    out.insert(model::SnatRule{*match, *to});
    return true;
  };
  auto status = for_each_element(dump, "map", {kSnatMap4, kSnatMap6}, accept);
  if (!status.ok()) return status.error();
  if (repeated_keys) *repeated_keys = repeated;
  return out;
}

Result<std::set<model::IpAddress>> parse_drop_elements(const std::vector<NlMessage>& dump,
                                                       std::size_t* repeated_keys) {
  std::set<model::IpAddress> out;
  std::size_t repeated = 0;
  auto accept = [&](model::Family family, const RawElement& element) {
    auto vip = decode_address(element.key);
    if (!vip || vip->family() != family || element.value) return false;
    if (!out.insert(*vip).second) ++repeated;
    return true;
  };
  auto status = for_each_element(dump, "set", {kDropVipSet4, kDropVipSet6}, accept);
  if (!status.ok()) return status.error();
  if (repeated_keys) *repeated_keys = repeated;
  return out;
}

}  // namespace kvlb::kernel
