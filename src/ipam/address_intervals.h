#pragma once
// A set of addresses (of one family) kept as disjoint, non-adjacent inclusive
// intervals. Allocation from the bottom of a range fills it as one growing
// interval, so "the lowest address of [first, last] not in the set" is one
// map lookup however many addresses are taken: no rescanning from the start
// of a pool for every allocation.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "ipam/address_number.h"

namespace kvlb::ipam {

class AddressIntervals {
 public:
  void insert(AddressNumber n);
  void erase(AddressNumber n);
  bool contains(AddressNumber n) const;
  std::optional<AddressNumber> lowest_absent(NumberRange range) const;
  uint64_t count_in(NumberRange range) const;  // members within range, saturating
  std::size_t interval_count() const { return intervals_.size(); }

 private:
  // The interval holding n, or end().
  std::map<AddressNumber, AddressNumber>::const_iterator find_interval(AddressNumber n) const;
  std::map<AddressNumber, AddressNumber> intervals_;  // first -> last
};

}  // namespace kvlb::ipam
