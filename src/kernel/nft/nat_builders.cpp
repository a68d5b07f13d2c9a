#include "kernel/nft/nat_builders.h"

// glibc before linux/ headers, so linux/libc-compat.h avoids redefinitions.
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/udata.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "kernel/nft/nat_table.h"

namespace kvlb::kernel::nftnl {
namespace {

// nftables' byte order tags in set userdata (only `nft list` reads them).
constexpr uint32_t kByteorderInvalid = 0;  // concatenations: per field
constexpr uint32_t kByteorderBigEndian = 2;

// Register holding the byte at `offset` of a concatenation. Like nft, use the
// 128-bit register name when the offset is 16-byte aligned; the kernel dumps
// registers the same way.
uint32_t register_at(uint32_t offset) {
  const uint32_t word = offset / NFT_REG32_SIZE;
  return word % 4 == 0 ? NFT_REG_1 + word / 4 : NFT_REG32_00 + word;
}

void add_meta_load(nftnl_rule* rule, uint32_t key, uint32_t dreg) {
  auto* e = nftnl_expr_alloc("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
  nftnl_rule_add_expr(rule, e);
}

void add_cmp_eq_u8(nftnl_rule* rule, uint32_t sreg, uint8_t value) {
  auto* e = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &value, sizeof value);
  nftnl_rule_add_expr(rule, e);
}

void add_ct_original(nftnl_rule* rule, uint32_t key, uint32_t dreg) {
  auto* e = nftnl_expr_alloc("ct");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
  nftnl_rule_add_expr(rule, e);
}

void add_network_payload(nftnl_rule* rule, uint32_t offset, uint32_t len, uint32_t dreg) {
  auto* e = nftnl_expr_alloc("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
  nftnl_rule_add_expr(rule, e);
}

void add_lookup(nftnl_rule* rule, const char* set, uint32_t sreg, std::optional<uint32_t> dreg) {
  auto* e = nftnl_expr_alloc("lookup");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, nat_set_id(set));
  nftnl_rule_add_expr(rule, e);
}

void add_verdict(nftnl_rule* rule, int verdict) {
  auto* e = nftnl_expr_alloc("immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(verdict));
  nftnl_rule_add_expr(rule, e);
}

void add_snat(nftnl_rule* rule, uint32_t family, uint32_t reg_addr) {
  auto* e = nftnl_expr_alloc("nat");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
  nftnl_rule_add_expr(rule, e);
}

RulePtr new_rule(const char* chain) {
  RulePtr rule(nftnl_rule_alloc());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, kNatTableName);
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, chain);
  nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  return rule;
}

// snat ip to ct original ip daddr . ct original protocol . ct original proto-dst map @snat4
// Keys come from the conntrack ORIGINAL tuple: after IPVS rewrote the packet's
// destination to a real server, only conntrack still knows the VIP and port.
RulePtr build_snat_rule(model::Family family) {
  const bool v4 = family == model::Family::V4;
  const uint32_t nfproto = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  const uint32_t address_len = v4 ? 4 : 16;
  auto rule = new_rule(kPostroutingChain);
  add_meta_load(rule.get(), NFT_META_NFPROTO, NFT_REG_1);
  add_cmp_eq_u8(rule.get(), NFT_REG_1, static_cast<uint8_t>(nfproto));
  add_ct_original(rule.get(), v4 ? NFT_CT_DST_IP : NFT_CT_DST_IP6, register_at(0));
  add_ct_original(rule.get(), NFT_CT_PROTOCOL, register_at(address_len));
  add_ct_original(rule.get(), NFT_CT_PROTO_DST, register_at(address_len + NFT_REG32_SIZE));
  add_lookup(rule.get(), snat_map_name(family), NFT_REG_1, NFT_REG_1);
  add_snat(rule.get(), nfproto, NFT_REG_1);
  return rule;
}

// ip daddr @drop_vips4 drop (and the ip6 equivalent). Only the destination
// address is matched, so every packet to a listed VIP is dropped whatever its
// protocol or port; the verdict is a plain drop (no reject: a client must see
// silence, not a reset or an ICMP error, while a new master takes over).
RulePtr build_guard_rule(model::Family family) {
  const bool v4 = family == model::Family::V4;
  auto rule = new_rule(kGuardChain);
  add_meta_load(rule.get(), NFT_META_NFPROTO, NFT_REG_1);
  add_cmp_eq_u8(rule.get(), NFT_REG_1, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
  // Destination address: offset 16 in the IPv4 header, 24 in the IPv6 header.
  add_network_payload(rule.get(), v4 ? 16 : 24, v4 ? 4 : 16, NFT_REG_1);
  add_lookup(rule.get(), v4 ? kDropVipSet4 : kDropVipSet6, NFT_REG_1, std::nullopt);
  add_verdict(rule.get(), NF_DROP);
  return rule;
}

// One element (key, and value for maps) of one set of kvlb's table. Sets are
// named, not referenced by id: they exist before the batch, or are created
// earlier in it, and the kernel resolves names within the transaction.
void put_element(nlmsghdr* nlh, const char* set, const std::vector<uint8_t>& key,
                 const std::optional<std::vector<uint8_t>>& value) {
  auto put_value = [nlh](uint16_t type, const std::vector<uint8_t>& bytes) {
    nlattr* nest = mnl_attr_nest_start(nlh, type);
    mnl_attr_put(nlh, NFTA_DATA_VALUE, bytes.size(), bytes.data());
    mnl_attr_nest_end(nlh, nest);
  };
  mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, kNatTableName);
  mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
  nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
  nlattr* element = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
  put_value(NFTA_SET_ELEM_KEY, key);
  if (value) put_value(NFTA_SET_ELEM_DATA, *value);
  mnl_attr_nest_end(nlh, element);
  mnl_attr_nest_end(nlh, list);
}

// ---- description of expressions (for comparing with kernel dumps) ----

uint32_t u32_or_zero(const nftnl_expr* e, uint16_t attr) {
  return nftnl_expr_is_set(e, attr) ? nftnl_expr_get_u32(e, attr) : 0;
}

std::string reg_name(uint32_t reg) {
  uint32_t word = 0;
  if (reg >= NFT_REG32_00) word = reg - NFT_REG32_00;
  else if (reg >= NFT_REG_1) word = (reg - NFT_REG_1) * 4;
  else return "verdict";
  return "reg " + std::to_string(word % 4 == 0 ? NFT_REG_1 + word / 4 : NFT_REG32_00 + word);
}

std::string hex(const void* data, uint32_t len) {
  std::string out = "0x";
  char byte[3];
  for (uint32_t i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", static_cast<const uint8_t*>(data)[i]);
    out += byte;
  }
  return out;
}

std::string describe_expression(const nftnl_expr* e) {
  const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  auto u32 = [e](uint16_t attr) { return std::to_string(u32_or_zero(e, attr)); };
  if (name == "meta" && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG))
    return "meta load " + u32(NFTNL_EXPR_META_KEY) + " => " + reg_name(u32_or_zero(e, NFTNL_EXPR_META_DREG));
  if (name == "cmp") {
    uint32_t len = 0;
    const void* data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
    return "cmp op " + u32(NFTNL_EXPR_CMP_OP) + " " + reg_name(u32_or_zero(e, NFTNL_EXPR_CMP_SREG)) + " " +
           (data ? hex(data, len) : "-");
  }
  if (name == "ct" && nftnl_expr_is_set(e, NFTNL_EXPR_CT_DREG)) {
    // The protocol numbers are the same in both directions: the kernel accepts
    // a direction for them (older kernels require one) but does not report it.
    const uint32_t key = u32_or_zero(e, NFTNL_EXPR_CT_KEY);
    const bool directional = key != NFT_CT_PROTOCOL && key != NFT_CT_L3PROTOCOL;
    std::string dir = directional && nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)
                          ? std::to_string(nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR)) : "-";
    return "ct load " + u32(NFTNL_EXPR_CT_KEY) + " dir " + dir + " => " +
           reg_name(u32_or_zero(e, NFTNL_EXPR_CT_DREG));
  }
  if (name == "payload" && nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG))
    return "payload load " + u32(NFTNL_EXPR_PAYLOAD_LEN) + "b @ base " + u32(NFTNL_EXPR_PAYLOAD_BASE) + " + " +
           u32(NFTNL_EXPR_PAYLOAD_OFFSET) + " => " + reg_name(u32_or_zero(e, NFTNL_EXPR_PAYLOAD_DREG));
  if (name == "lookup") {
    std::string out = "lookup " + reg_name(u32_or_zero(e, NFTNL_EXPR_LOOKUP_SREG)) + " set " +
                      nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
    if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG))
      out += " => " + reg_name(u32_or_zero(e, NFTNL_EXPR_LOOKUP_DREG));
    if (u32_or_zero(e, NFTNL_EXPR_LOOKUP_FLAGS)) out += " flags " + u32(NFTNL_EXPR_LOOKUP_FLAGS);
    return out;
  }
  if (name == "immediate" && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
      !nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
    return "immediate verdict " + std::to_string(static_cast<int32_t>(u32_or_zero(e, NFTNL_EXPR_IMM_VERDICT)));
  if (name == "nat") {
    const uint32_t addr_min = u32_or_zero(e, NFTNL_EXPR_NAT_REG_ADDR_MIN);
    const uint32_t addr_max = u32_or_zero(e, NFTNL_EXPR_NAT_REG_ADDR_MAX);
    std::string out = "nat type " + u32(NFTNL_EXPR_NAT_TYPE) + " family " + u32(NFTNL_EXPR_NAT_FAMILY);
    if (addr_min) out += " addr_min " + reg_name(addr_min);
    // The kernel reports addr_max == addr_min and the MAP_IPS flag when only
    // addr_min was given; both are implied, so leave them out.
    if (addr_max && addr_max != addr_min) out += " addr_max " + reg_name(addr_max);
    if (nftnl_expr_is_set(e, NFTNL_EXPR_NAT_REG_PROTO_MIN)) out += " proto_min ?";
    uint32_t flags = u32_or_zero(e, NFTNL_EXPR_NAT_FLAGS);
    if (addr_min) flags &= ~static_cast<uint32_t>(NF_NAT_RANGE_MAP_IPS);
    if (flags) out += " flags " + std::to_string(flags);
    return out;
  }
  return name + " (not built by kvlb)";
}

}  // namespace

uint32_t nat_set_id(const std::string& name) {
  const auto& specs = nat_set_specs();
  auto it = std::find_if(specs.begin(), specs.end(), [&](const NftSetSpec& s) { return s.name == name; });
  return static_cast<uint32_t>(it - specs.begin()) + 1;
}

TablePtr build_table() {
  TablePtr table(nftnl_table_alloc());
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, kNatTableName);
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, 0);
  return table;
}

SetPtr build_set(const NftSetSpec& spec) {
  SetPtr set(nftnl_set_alloc());
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, kNatTableName);
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, spec.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, spec.flags);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, spec.key_type);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, spec.key_len);
  const bool is_map = spec.flags & NFT_SET_MAP;
  if (is_map) {
    nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_TYPE, spec.data_type);
    nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_LEN, spec.data_len);
  }
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, nat_set_id(spec.name));
  // Byte order hints for `nft list`, as nft itself stores them.
  std::unique_ptr<nftnl_udata_buf, Deleter<nftnl_udata_buf_free>> udata(nftnl_udata_buf_alloc(64));
  nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, is_map ? kByteorderInvalid : kByteorderBigEndian);
  if (is_map) nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_DATABYTEORDER, kByteorderBigEndian);
  nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata.get()),
                     nftnl_udata_buf_len(udata.get()));
  return set;
}

void build_chain_message(nlmsghdr* nlh, const NftChainSpec& spec) {
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, kNatTableName);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, spec.name.c_str());
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, spec.type.c_str());
  mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(spec.policy));
  nlattr* hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
  mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(spec.hook));
  mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(static_cast<uint32_t>(spec.priority)));
  mnl_attr_nest_end(nlh, hook);
}

std::vector<RulePtr> build_rules() {
  std::vector<RulePtr> rules;
  rules.push_back(build_snat_rule(model::Family::V4));
  rules.push_back(build_snat_rule(model::Family::V6));
  rules.push_back(build_guard_rule(model::Family::V4));
  rules.push_back(build_guard_rule(model::Family::V6));
  return rules;
}

void build_snat_element_message(nlmsghdr* nlh, const model::SnatRule& rule, bool with_value) {
  put_element(nlh, snat_map_name(rule.match.vip.family()), encode_snat_key(rule.match),
              with_value ? std::optional(encode_address(rule.to)) : std::nullopt);
}

void build_drop_element_message(nlmsghdr* nlh, const model::IpAddress& vip) {
  put_element(nlh, drop_set_name(vip.family()), encode_address(vip), std::nullopt);
}

std::vector<std::string> describe_rule(nftnl_rule* rule) {
  std::vector<std::string> out;
  nftnl_expr_foreach(
      rule,
      [](nftnl_expr* e, void* data) {
        static_cast<std::vector<std::string>*>(data)->push_back(describe_expression(e));
        return 0;
      },
      &out);
  return out;
}

}  // namespace kvlb::kernel::nftnl
