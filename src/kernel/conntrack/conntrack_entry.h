#pragma once
// Turning one libnetfilter_conntrack entry into a ConnEntry or ConnKey (pure).
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernel/conntrack/conntrack_reader.h"
#include "kernel/conntrack/conntrack_writer.h"

struct nf_conntrack;

namespace kvlb::kernel {

// nullopt for entries ConnEntry cannot describe (ICMP, GRE, ... or no tuple).
std::optional<ConnEntry> conn_entry_from(const nf_conntrack* ct);

// The entry's original destination (VIP, port, protocol); nullopt for
// protocols ConnKey cannot describe, as above. Cheaper than conn_entry_from
// for matching every entry of a large table.
std::optional<ConnKey> original_destination_of(const nf_conntrack* ct);

// Names as conntrack(8) prints them; "" for values the kernel does not define.
std::string_view tcp_state_name(uint8_t state);
std::string_view sctp_state_name(uint8_t state);

}  // namespace kvlb::kernel
