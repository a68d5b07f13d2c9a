#pragma once
// The fixed layout of kvlb's nftables table and the byte encoding of its map
// elements. Per-service data lives only in map elements, so the layout (two
// chains, four rules, four sets) never grows with services.
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/address.h"
#include "model/types.h"

namespace kvlb::kernel {

inline constexpr const char* kSnatMap4 = "snat4";
inline constexpr const char* kSnatMap6 = "snat6";
inline constexpr const char* kDropVipSet4 = "drop_vips4";
inline constexpr const char* kDropVipSet6 = "drop_vips6";
inline constexpr const char* kPostroutingChain = "postrouting";
inline constexpr const char* kGuardChain = "prerouting_guard";

// srcnat: the standard place for SNAT, after IPVS has rewritten the destination.
inline constexpr int32_t kPostroutingPriority = 100;
// raw (-300): the guard must drop VIP traffic *before* conntrack (-200) sees it,
// otherwise conntrack would create fresh entries during takeover that clash
// with the ones conntrackd is about to commit.
inline constexpr int32_t kGuardPriority = -300;

// A set or map as the kernel reports it (NFTA_SET_*).
struct NftSetSpec {
  std::string name;
  uint32_t flags = 0;
  uint32_t key_type = 0;
  uint32_t key_len = 0;
  uint32_t data_type = 0;
  uint32_t data_len = 0;
  auto operator<=>(const NftSetSpec&) const = default;
};

// A base chain as the kernel reports it (NFTA_CHAIN_*).
struct NftChainSpec {
  std::string name;
  std::string type;  // "nat", "filter"
  uint32_t hook = 0;
  int32_t priority = 0;
  uint32_t policy = 0;
  auto operator<=>(const NftChainSpec&) const = default;
};

// A rule as a list of normalized expression descriptions (see describe_rule),
// so that what we build and what the kernel dumps compare as plain strings.
struct NftRuleSpec {
  std::string chain;
  std::vector<std::string> expressions;
  auto operator<=>(const NftRuleSpec&) const = default;
};

const std::vector<NftSetSpec>& nat_set_specs();
const std::vector<NftChainSpec>& nat_chain_specs();
const std::vector<NftRuleSpec>& nat_rule_specs();  // in chain order

// Name of the SNAT map holding keys of this address family.
const char* snat_map_name(model::Family family);
// Name of the set of dropped VIPs of this address family (key: the address).
const char* drop_set_name(model::Family family);

// Map key: VIP . L4 protocol . port, each field padded to a 32-bit register
// (nftables concatenation layout): 4+4+4 bytes for IPv4, 16+4+4 for IPv6.
// The protocol is one byte, the port is in network byte order.
std::vector<uint8_t> encode_snat_key(const model::VsKey& key);
std::optional<model::VsKey> decode_snat_key(std::span<const uint8_t> bytes);

// Map value: the SNAT source address (4 or 16 bytes); also the key of the
// drop sets.
std::vector<uint8_t> encode_address(const model::IpAddress& address);
std::optional<model::IpAddress> decode_address(std::span<const uint8_t> bytes);

}  // namespace kvlb::kernel
