#include "kernel/nft/nat_layout.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>

#include "kernel/nft/nat_builders.h"

namespace kvlb::kernel {
namespace {

// nftables' datatype ids (userspace numbering; the kernel stores them opaquely
// but `nft list` uses them to print keys).
constexpr uint32_t kTypeIpv4Addr = 7;
constexpr uint32_t kTypeIpv6Addr = 8;
constexpr uint32_t kTypeInetProto = 12;
constexpr uint32_t kTypeInetService = 13;
constexpr uint32_t kTypeBits = 6;  // concatenated types: id = (a << 12) | (b << 6) | c

constexpr uint32_t concat_type(uint32_t address_type) {
  return (((address_type << kTypeBits) | kTypeInetProto) << kTypeBits) | kTypeInetService;
}

constexpr uint32_t kRegister = 4;  // every concatenated field starts on a 32-bit register

}  // namespace

const std::vector<NftSetSpec>& nat_set_specs() {
  static const std::vector<NftSetSpec> specs = {
      {kSnatMap4, NFT_SET_MAP, concat_type(kTypeIpv4Addr), 4 + kRegister + kRegister, kTypeIpv4Addr, 4},
      {kSnatMap6, NFT_SET_MAP, concat_type(kTypeIpv6Addr), 16 + kRegister + kRegister, kTypeIpv6Addr, 16},
      {kDropVipSet4, 0, kTypeIpv4Addr, 4, 0, 0},
      {kDropVipSet6, 0, kTypeIpv6Addr, 16, 0, 0},
  };
  return specs;
}

const std::vector<NftChainSpec>& nat_chain_specs() {
  static const std::vector<NftChainSpec> specs = {
      {kPostroutingChain, "nat", NF_INET_POST_ROUTING, kPostroutingPriority, NF_ACCEPT},
      {kGuardChain, "filter", NF_INET_PRE_ROUTING, kGuardPriority, NF_ACCEPT},
  };
  return specs;
}

const std::vector<NftRuleSpec>& nat_rule_specs() {
  // Derived from the very builders apply() uses, so the two cannot drift apart.
  static const std::vector<NftRuleSpec> specs = [] {
    std::vector<NftRuleSpec> out;
    for (const auto& rule : nftnl::build_rules())
      out.push_back({nftnl_rule_get_str(rule.get(), NFTNL_RULE_CHAIN), nftnl::describe_rule(rule.get())});
    return out;
  }();
  return specs;
}

const char* snat_map_name(model::Family family) {
  return family == model::Family::V4 ? kSnatMap4 : kSnatMap6;
}

const char* drop_set_name(model::Family family) {
  return family == model::Family::V4 ? kDropVipSet4 : kDropVipSet6;
}

std::vector<uint8_t> encode_snat_key(const model::VsKey& key) {
  std::vector<uint8_t> bytes(key.vip.data(), key.vip.data() + key.vip.size());
  bytes.insert(bytes.end(), {static_cast<uint8_t>(model::ip_protocol_number(key.protocol)), 0, 0, 0});
  bytes.insert(bytes.end(), {static_cast<uint8_t>(key.port >> 8), static_cast<uint8_t>(key.port & 0xff), 0, 0});
  return bytes;
}

std::optional<model::VsKey> decode_snat_key(std::span<const uint8_t> bytes) {
  if (bytes.size() != 12 && bytes.size() != 24) return std::nullopt;
  const std::size_t address_len = bytes.size() - 2 * kRegister;
  auto vip = decode_address(bytes.first(address_len));
  auto protocol_field = bytes.subspan(address_len, kRegister);
  auto port_field = bytes.subspan(address_len + kRegister, kRegister);
  // Padding must be zero: the kernel zeroes it, anything else is not ours.
  if (protocol_field[1] || protocol_field[2] || protocol_field[3] || port_field[2] || port_field[3])
    return std::nullopt;
  auto protocol = model::protocol_from_number(protocol_field[0]);
  if (!vip || !protocol) return std::nullopt;
  return model::VsKey{*vip, static_cast<uint16_t>((port_field[0] << 8) | port_field[1]), *protocol};
}

std::vector<uint8_t> encode_address(const model::IpAddress& address) {
  return {address.data(), address.data() + address.size()};
}

std::optional<model::IpAddress> decode_address(std::span<const uint8_t> bytes) {
  if (bytes.size() == 4) {
    std::array<uint8_t, 4> v4{};
    std::copy(bytes.begin(), bytes.end(), v4.begin());
    return model::IpAddress::from_v4(v4);
  }
  if (bytes.size() == 16) {
    std::array<uint8_t, 16> v6{};
    std::copy(bytes.begin(), bytes.end(), v6.begin());
    return model::IpAddress::from_v6(v6);
  }
  return std::nullopt;
}

}  // namespace kvlb::kernel
