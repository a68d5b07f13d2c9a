#include "ipam/address_intervals.h"

#include <algorithm>

namespace kvlb::ipam {

std::map<AddressNumber, AddressNumber>::const_iterator AddressIntervals::find_interval(AddressNumber n) const {
  auto it = intervals_.upper_bound(n);  // first interval starting after n
  if (it == intervals_.begin()) return intervals_.end();
  --it;
  return it->second >= n ? it : intervals_.end();
}

bool AddressIntervals::contains(AddressNumber n) const { return find_interval(n) != intervals_.end(); }

void AddressIntervals::insert(AddressNumber n) {
  if (contains(n)) return;
  AddressNumber first = n;
  AddressNumber last = n;
  // Join the interval ending just below n and the one starting just above it.
  if (auto below = predecessor(n)) {
    auto it = find_interval(*below);
    if (it != intervals_.end()) {
      first = it->first;
      intervals_.erase(it);
    }
  }
  if (auto above = successor(n)) {
    auto it = intervals_.find(*above);
    if (it != intervals_.end()) {
      last = it->second;
      intervals_.erase(it);
    }
  }
  intervals_[first] = last;
}

void AddressIntervals::erase(AddressNumber n) {
  auto it = find_interval(n);
  if (it == intervals_.end()) return;
  NumberRange interval{it->first, it->second};
  intervals_.erase(it);
  if (interval.first < n) intervals_[interval.first] = *predecessor(n);
  if (n < interval.last) intervals_[*successor(n)] = interval.last;
}

std::optional<AddressNumber> AddressIntervals::lowest_absent(NumberRange range) const {
  auto it = find_interval(range.first);
  if (it == intervals_.end()) return range.first;
  // Intervals never touch, so the address after this one's end is absent.
  if (it->second >= range.last) return std::nullopt;
  return successor(it->second);
}

uint64_t AddressIntervals::count_in(NumberRange range) const {
  uint64_t count = 0;
  auto it = intervals_.upper_bound(range.first);
  if (it != intervals_.begin()) --it;
  for (; it != intervals_.end() && it->first <= range.last; ++it) {
    AddressNumber first = std::max(it->first, range.first);
    AddressNumber last = std::min(it->second, range.last);
    if (first <= last) count = add_saturating(count, count_inclusive(first, last));
  }
  return count;
}

}  // namespace kvlb::ipam
