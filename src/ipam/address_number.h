#pragma once
// An address as a 128-bit unsigned number, so that ranges can be searched and
// counted without ever enumerating them (an IPv6 pool may be a /64).
#include <cstddef>
#include <cstdint>
#include <optional>

#include "model/address.h"

namespace kvlb::ipam {

struct AddressNumber {
  uint64_t high = 0;  // IPv4 addresses leave this 0
  uint64_t low = 0;
  auto operator<=>(const AddressNumber&) const = default;  // high first: numeric order
};

inline constexpr AddressNumber kLargestAddressNumber{UINT64_MAX, UINT64_MAX};

AddressNumber to_number(const model::IpAddress& ip);
model::IpAddress to_address(AddressNumber number, model::Family family);

// nullopt past the largest (smallest) number: callers stop there instead of wrapping.
std::optional<AddressNumber> successor(AddressNumber number);
std::optional<AddressNumber> predecessor(AddressNumber number);

// last - first + 1 for first <= last, saturating at UINT64_MAX (a /64 and
// larger hold more addresses than a uint64_t counts).
uint64_t count_inclusive(AddressNumber first, AddressNumber last);
uint64_t add_saturating(uint64_t a, uint64_t b);

// An inclusive range of numbers of one family (first <= last).
struct NumberRange {
  AddressNumber first;
  AddressNumber last;
  bool contains(AddressNumber n) const { return first <= n && n <= last; }
  auto operator<=>(const NumberRange&) const = default;
};

// Per-family tables are arrays indexed by this.
inline constexpr std::size_t kFamilyCount = 2;
inline std::size_t family_index(model::Family family) { return family == model::Family::V4 ? 0 : 1; }
const char* family_name(model::Family family);  // "IPv4", "IPv6"

}  // namespace kvlb::ipam
