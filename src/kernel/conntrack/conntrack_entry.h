#pragma once
// Turning one libnetfilter_conntrack entry into a ConnEntry (pure).
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernel/conntrack/conntrack_reader.h"

struct nf_conntrack;

namespace kvlb::kernel {

// nullopt for entries ConnEntry cannot describe (ICMP, GRE, ... or no tuple).
std::optional<ConnEntry> conn_entry_from(const nf_conntrack* ct);

// Names as conntrack(8) prints them; "" for values the kernel does not define.
std::string_view tcp_state_name(uint8_t state);
std::string_view sctp_state_name(uint8_t state);

}  // namespace kvlb::kernel
