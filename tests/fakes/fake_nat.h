#pragma once
// In-memory kvlb nftables table with the kernel's semantics: SNAT map elements
// are keyed by VsKey, drop set elements by address; adding an existing key
// fails with EEXIST, deleting a missing one (or touching elements while the
// table is absent) with ENOENT; a batch is one transaction, so any failure
// leaves the state untouched.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernel/nft/nat_table.h"

namespace kvlb::fakes {

class FakeNatTable final : public kernel::NatTable {
 public:
  Result<kernel::NatObserved> read() override;
  Status apply(const kernel::NatBatch& batch) override;
  uint64_t writes() const override { return writes_; }

  // --- inspection ---
  bool table_present() const { return table_.has_value(); }
  bool intact() const { return table_ && !layout_damaged_; }
  std::set<model::SnatRule> snat() const;  // elements as the kernel holds them
  std::set<model::IpAddress> dropped_vips() const;
  // One line per committed change: "RECREATE table inet kvlb",
  // "ADD snat 20.20.20.1:80/tcp -> 20.20.20.1", "DEL snat ...",
  // "ADD drop 20.20.20.1", "DEL drop ...".
  const std::vector<std::string>& ops() const { return ops_; }
  void clear_ops() { ops_.clear(); }
  uint64_t failed_applies() const { return failed_applies_; }

  // --- drift made by other processes ---
  void delete_table();        // nft delete table inet kvlb
  void damage_layout();       // a chain or rule deleted: table present, elements kept, not intact
  void put_element(const model::SnatRule& rule);   // nft add element (overwrites; no-op without table)
  void erase_element(const model::VsKey& key);     // nft delete element
  void put_drop(const model::IpAddress& vip);      // nft add element ... drop_vips4 (no-op without table)
  void erase_drop(const model::IpAddress& vip);    // nft delete element ... drop_vips4

  // --- failure injection: the next call fails with `error`, state unchanged ---
  void fail_next_apply(Error error) { next_apply_error_ = std::move(error); }
  void fail_next_read(Error error) { next_read_error_ = std::move(error); }

 private:
  struct Elements {
    std::map<model::VsKey, model::IpAddress> snat;
    std::set<model::IpAddress> drop;
  };
  std::optional<Elements> table_;  // nullopt: table absent
  bool layout_damaged_ = false;
  uint64_t writes_ = 0;
  uint64_t failed_applies_ = 0;
  std::vector<std::string> ops_;
  std::optional<Error> next_apply_error_;
  std::optional<Error> next_read_error_;
};

}  // namespace kvlb::fakes
