#pragma once
// An Ethernet hardware address as a plain value.
#include <array>
#include <cstdint>
#include <string>

namespace kvlb::kernel {

using MacAddress = std::array<uint8_t, 6>;

std::string to_string(const MacAddress& mac);  // "02:00:00:00:00:01"

}  // namespace kvlb::kernel
