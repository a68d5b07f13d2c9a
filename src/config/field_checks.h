#pragma once
// Checks on single config values that need more than a range: each returns
// why the value is refused, or nullopt when it is fine.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "model/types.h"

namespace kvlb::config {

inline constexpr std::size_t kMaxNameBytes = 253;

// A service or node name: shown by kvlbctl and serialized as JSON by the REST
// API, so it must be 1..253 bytes of valid UTF-8 without control characters
// (C0, DEL, C1).
std::optional<std::string> name_problem(std::string_view name);

// api.listen: "off", "IPv4:port" or "[IPv6]:port" with port 1..65535.
std::optional<std::string> listen_problem(std::string_view listen);

// A pool entry: a CIDR ("192.0.2.0/28", "2001:db8::/120") or an inclusive
// range ("192.0.2.10-192.0.2.20"). Every address in it must be usable
// unicast. Returns the range, or why the text is refused.
std::variant<model::IpRange, std::string> parse_address_range(std::string_view text);

}  // namespace kvlb::config
