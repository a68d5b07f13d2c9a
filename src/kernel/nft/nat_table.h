#pragma once
// Narrow interface to kvlb's own nftables table (family inet, name "kvlb").
// The table holds a fixed set of chains/rules; per-service data lives only in
// map and set elements, so the rule count does not grow with services or
// endpoints.
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
  // Elements of drop_vips4/drop_vips6: every packet to these addresses, any
  // protocol or port, is dropped silently before conntrack sees it.
  std::set<model::IpAddress> dropped_vips;
};

struct NatBatch {
  // Delete (if present) and create the whole table, then add `add` and
  // `drop_add`; `remove` and `drop_remove` are ignored (the new table is empty).
  bool recreate_table = false;
  std::vector<model::SnatRule> add;
  std::vector<model::SnatRule> remove;
  std::vector<model::IpAddress> drop_add;     // start dropping traffic to these VIPs
  std::vector<model::IpAddress> drop_remove;  // stop dropping it
  bool empty() const {
    return !recreate_table && add.empty() && remove.empty() && drop_add.empty() && drop_remove.empty();
  }
};

class NatTable {
 public:
  virtual ~NatTable() = default;
  virtual Result<NatObserved> read() = 0;
  // Applied as one atomic nftables transaction: all or nothing. Adding an
  // element that exists fails with EEXIST, deleting a missing one with ENOENT
  // (SNAT and drop elements alike).
  virtual Status apply(const NatBatch& batch) = 0;
  virtual uint64_t writes() const = 0;  // batches committed
};

}  // namespace kvlb::kernel
