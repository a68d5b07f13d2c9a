#pragma once
// Narrow interface to kvlb's own nftables table (family inet, name "kvlb").
// The table holds a fixed set of chains/rules; per-service data lives only in
// map elements, so the rule count does not grow with services or endpoints.
#include <cstdint>
#include <set>
#include <vector>

#include "model/types.h"
#include "util/result.h"

namespace kvlb::kernel {

inline constexpr const char* kNatTableName = "kvlb";

struct NatObserved {
  bool intact = false;              // table present with kvlb's expected chains/rules/maps
  std::set<model::SnatRule> snat;   // map elements read back
};

struct NatBatch {
  bool recreate_table = false;      // delete (if present) and create the whole table, then add `add`
  std::vector<model::SnatRule> add;
  std::vector<model::SnatRule> remove;
  bool empty() const { return !recreate_table && add.empty() && remove.empty(); }
};

class NatTable {
 public:
  virtual ~NatTable() = default;
  virtual Result<NatObserved> read() = 0;
  // Applied as one atomic nftables transaction: all or nothing.
  virtual Status apply(const NatBatch& batch) = 0;
  virtual uint64_t writes() const = 0;  // batches committed
};

}  // namespace kvlb::kernel
