#pragma once
// Internal to kernel/nft: libnftnl objects for kvlb's table, built from the
// layout in nat_layout.h, and the normalized description of rules that lets
// read() compare what the kernel holds with what we would create.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernel/nft/nat_layout.h"
#include "kernel/nft/nftnl_objects.h"

struct nlmsghdr;

namespace kvlb::kernel::nftnl {

TablePtr build_table();
// Sets and rules both carry a transaction-local set id (position in
// nat_set_specs() + 1), as nft does, so lookups resolve to sets created in the
// same batch.
uint32_t nat_set_id(const std::string& name);
SetPtr build_set(const NftSetSpec& spec);
// Chains and elements are written attribute by attribute in the order nft
// itself uses, so kvlb's messages are byte-identical to the CLI's (tested).
void build_chain_message(nlmsghdr* nlh, const NftChainSpec& spec);
// Payload of NEWSETELEM/DELSETELEM for one SNAT element (key only when
// `with_value` is false).
void build_snat_element_message(nlmsghdr* nlh, const model::SnatRule& rule, bool with_value);
// Payload of NEWSETELEM/DELSETELEM for one element of drop_vips4/drop_vips6.
void build_drop_element_message(nlmsghdr* nlh, const model::IpAddress& vip);
std::vector<RulePtr> build_rules();  // the table's fixed rules, in chain order

// One string per expression, registers normalized, attributes the kernel adds
// in dumps (zero flags) ignored; unknown expressions are described by name.
std::vector<std::string> describe_rule(nftnl_rule* rule);

}  // namespace kvlb::kernel::nftnl
