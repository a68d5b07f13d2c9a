#pragma once
// What `nft list table inet kvlb` prints for a table holding `snat` and
// `dropped_vips`: used for docs, golden tests, and to cross-check the kernel's
// table with the nft CLI.
#include <set>
#include <string>

#include "model/types.h"

namespace kvlb::kernel {

// Deterministic: map elements in SnatRule order (nft itself prints them in
// hash order, so compare element lists as sets); drop set elements sorted by
// address, as nft prints them. Protocol names as nft prints them from
// /etc/protocols (tcp, udp, sctp).
std::string render_nft_text(const std::set<model::SnatRule>& snat,
                            const std::set<model::IpAddress>& dropped_vips = {});

}  // namespace kvlb::kernel
