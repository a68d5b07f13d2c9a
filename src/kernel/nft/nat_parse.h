#pragma once
// Pure parsing of the kernel's nftables replies: acks/errors of a batch, and
// the dumps read() collects, turned into the plain layout types of
// nat_layout.h so they can be compared with what kvlb creates.
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "kernel/nft/nat_layout.h"
#include "model/types.h"
#include "util/result.h"

namespace kvlb::kernel {

// One netlink message, header included.
using NlMessage = std::vector<uint8_t>;

// Splits a receive buffer into messages; stops at a truncated one.
std::vector<NlMessage> split_netlink_messages(std::span<const uint8_t> buffer);

// An NLMSG_ERROR message: error 0 is an ack. `seq` is the sequence number of
// the request it answers; `kernel_message` is the extended-ack text, if any.
struct NlAck {
  uint32_t seq = 0;
  int error = 0;  // positive errno
  std::string kernel_message;
};
std::optional<NlAck> parse_ack(const NlMessage& message);

// What a GETGEN / GETTABLE reply says.
Result<uint32_t> parse_generation(const NlMessage& message);
struct ObservedNftTable {
  std::string name;
  uint32_t flags = 0;  // NFT_TABLE_F_DORMANT means our rules do nothing
};
Result<ObservedNftTable> parse_table(const NlMessage& message);

// kvlb's table as dumped: everything needed to decide whether it is intact.
struct ObservedNatLayout {
  std::vector<NftChainSpec> chains;
  std::vector<NftSetSpec> sets;
  std::vector<NftRuleSpec> rules;  // in dump order (= chain order)
};
// Dump messages of another table are skipped (older kernels ignore the filter).
Result<std::vector<NftChainSpec>> parse_chains(const std::vector<NlMessage>& dump);
Result<std::vector<NftSetSpec>> parse_sets(const std::vector<NlMessage>& dump);
Result<std::vector<NftRuleSpec>> parse_rules(const std::vector<NlMessage>& dump);

// Why the table is not what kvlb creates (missing/extra/changed chain, rule or
// set, dormant table), or nullopt when it is intact.
std::optional<std::string> nat_layout_problem(const ObservedNftTable& table, const ObservedNatLayout& layout);

// Elements of snat4/snat6. An element kvlb cannot represent (unknown L4
// protocol, wrong lengths, family mismatch) yields an error: such a table is
// not one kvlb wrote, and recreating it is the repair.
// repeated_keys (optional) counts elements whose key the dump carried more than
// once: a dump that spans several messages can repeat some elements and miss
// as many when the kernel's hash table resizes between the parts (no
// NLM_F_DUMP_INTR is set for that), so such a dump must be taken again.
Result<std::set<model::SnatRule>> parse_snat_elements(const std::vector<NlMessage>& dump,
                                                      std::size_t* repeated_keys = nullptr);

// Elements of drop_vips4/drop_vips6, on the same terms (an element with a
// value or a key that is not an address of the set's family is an error).
Result<std::set<model::IpAddress>> parse_drop_elements(const std::vector<NlMessage>& dump,
                                                       std::size_t* repeated_keys = nullptr);

}  // namespace kvlb::kernel
