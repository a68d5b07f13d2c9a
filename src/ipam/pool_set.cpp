#include "ipam/pool_set.h"

#include <algorithm>

namespace kvlb::ipam {

namespace {

// The parts of `range` not covered by `taken` (disjoint), in ascending order.
std::vector<NumberRange> uncovered_parts(NumberRange range, std::vector<NumberRange> taken) {
  std::sort(taken.begin(), taken.end());
  std::vector<NumberRange> parts;
  std::optional<AddressNumber> next = range.first;  // lowest address not yet judged
  for (const NumberRange& t : taken) {
    if (!next || t.first > range.last) break;
    if (t.last < *next) continue;
    if (t.first > *next) parts.push_back({*next, *predecessor(t.first)});
    next = t.last < range.last ? successor(t.last) : std::nullopt;
  }
  if (next) parts.push_back({*next, range.last});
  return parts;
}

Pool normalize(const model::IpPool& config) {
  Pool pool{.name = config.name, .auto_assign = config.auto_assign};
  for (const model::IpRange& range : config.ranges) {
    if (range.first.family() != range.last.family() || range.last < range.first) continue;
    std::size_t family = family_index(range.first.family());
    NumberRange numbers{to_number(range.first), to_number(range.last)};
    for (const NumberRange& part : uncovered_parts(numbers, pool.ranges[family])) {
      pool.ranges[family].push_back(part);
      pool.size[family] = add_saturating(pool.size[family], count_inclusive(part.first, part.last));
    }
  }
  return pool;
}

}  // namespace

bool Pool::contains(const model::IpAddress& ip) const {
  AddressNumber n = to_number(ip);
  return std::any_of(ranges_of(ip.family()).begin(), ranges_of(ip.family()).end(),
                     [&](const NumberRange& range) { return range.contains(n); });
}

PoolSet::PoolSet(const std::vector<model::IpPool>& pools) {
  for (const model::IpPool& config : pools) {
    if (by_name_.count(config.name) != 0) continue;
    by_name_[config.name] = pools_.size();
    pools_.push_back(normalize(config));
  }
}

std::optional<std::size_t> PoolSet::find(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

}  // namespace kvlb::ipam
