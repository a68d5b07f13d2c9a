#pragma once
// The configured pools as the allocator searches them: ranges as numbers,
// split by family, with every address appearing at most once per pool so
// that sizes and usage counts are exact even if ranges overlap.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipam/address_number.h"
#include "model/address.h"
#include "model/types.h"

namespace kvlb::ipam {

struct Pool {
  std::string name;
  bool auto_assign = true;
  // Config order; a range overlapping an earlier one of the same pool keeps
  // only the part not already covered.
  std::array<std::vector<NumberRange>, kFamilyCount> ranges;
  std::array<uint64_t, kFamilyCount> size{};  // saturating

  const std::vector<NumberRange>& ranges_of(model::Family family) const { return ranges[family_index(family)]; }
  bool has(model::Family family) const { return !ranges_of(family).empty(); }
  bool contains(const model::IpAddress& ip) const;
};

class PoolSet {
 public:
  // Ranges whose ends differ in family or are reversed are left out (the
  // config loader refuses them); of two pools with one name the first counts.
  explicit PoolSet(const std::vector<model::IpPool>& pools);

  const std::vector<Pool>& pools() const { return pools_; }  // config order
  std::optional<std::size_t> find(const std::string& name) const;

 private:
  std::vector<Pool> pools_;
  std::map<std::string, std::size_t> by_name_;
};

}  // namespace kvlb::ipam
