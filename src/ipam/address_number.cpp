#include "ipam/address_number.h"

#include <array>

namespace kvlb::ipam {

AddressNumber to_number(const model::IpAddress& ip) {
  const auto& b = ip.bytes();
  AddressNumber n;
  if (ip.is_v4()) {
    for (std::size_t i = 0; i < 4; ++i) n.low = (n.low << 8) | b[i];
    return n;
  }
  for (std::size_t i = 0; i < 8; ++i) n.high = (n.high << 8) | b[i];
  for (std::size_t i = 8; i < 16; ++i) n.low = (n.low << 8) | b[i];
  return n;
}

model::IpAddress to_address(AddressNumber number, model::Family family) {
  if (family == model::Family::V4) {
    std::array<uint8_t, 4> b{};
    for (std::size_t i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(number.low >> (8 * (3 - i)));
    return model::IpAddress::from_v4(b);
  }
  std::array<uint8_t, 16> b{};
  for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(number.high >> (8 * (7 - i)));
  for (std::size_t i = 0; i < 8; ++i) b[8 + i] = static_cast<uint8_t>(number.low >> (8 * (7 - i)));
  return model::IpAddress::from_v6(b);
}

std::optional<AddressNumber> successor(AddressNumber number) {
  if (number == kLargestAddressNumber) return std::nullopt;
  if (number.low == UINT64_MAX) return AddressNumber{number.high + 1, 0};
  return AddressNumber{number.high, number.low + 1};
}

std::optional<AddressNumber> predecessor(AddressNumber number) {
  if (number == AddressNumber{}) return std::nullopt;
  if (number.low == 0) return AddressNumber{number.high - 1, UINT64_MAX};
  return AddressNumber{number.high, number.low - 1};
}

uint64_t count_inclusive(AddressNumber first, AddressNumber last) {
  if (last < first) return 0;
  uint64_t high_difference = last.high - first.high;
  if (high_difference > 1) return UINT64_MAX;
  // The difference fits in 64 bits only when high differs by at most one and
  // the low word wraps; unsigned arithmetic gives it modulo 2^64.
  uint64_t low_difference = last.low - first.low;
  if (high_difference == 1 && last.low >= first.low) return UINT64_MAX;
  return add_saturating(low_difference, 1);
}

uint64_t add_saturating(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

const char* family_name(model::Family family) { return family == model::Family::V4 ? "IPv4" : "IPv6"; }

}  // namespace kvlb::ipam
