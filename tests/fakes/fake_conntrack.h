#pragma once
// An in-memory conntrack table: list() returns the entries a test seeded (or
// a set error); purge() deletes entries by original destination, as the
// kernel implementation does, so a later list() no longer shows them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "kernel/conntrack/conntrack_reader.h"
#include "kernel/conntrack/conntrack_writer.h"

namespace kvlb::fakes {

class FakeConntrack final : public kernel::ConntrackReader, public kernel::ConntrackWriter {
 public:
  std::vector<kernel::ConnEntry> entries;
  std::optional<Error> failure;        // when set, list() returns it instead
  std::optional<Error> purge_failure;  // when set, purge() returns it and deletes nothing

  Result<std::vector<kernel::ConnEntry>> list() override;
  Result<std::size_t> purge(const std::set<kernel::ConnKey>& services) override;
  // Records the call; the fake's entries carry no NAT ports to repair.
  Result<std::size_t> repair_dnat_ports(
      const std::map<kernel::ConnKey, std::map<model::IpAddress, uint16_t>>& endpoint_ports) override {
    repairs_.push_back(endpoint_ports);
    return std::size_t{0};
  }
  const std::vector<std::map<kernel::ConnKey, std::map<model::IpAddress, uint16_t>>>& repairs() const {
    return repairs_;
  }

  // Seeds an entry without NAT (the reply comes from the VIP to the client).
  kernel::ConnEntry& add(model::Protocol protocol, std::string_view client, uint16_t client_port,
                         std::string_view vip, uint16_t vip_port);

  int list_calls() const { return list_calls_; }
  // The services of every purge() call, in order (failed ones included).
  const std::vector<std::set<kernel::ConnKey>>& purges() const { return purges_; }
  std::size_t purged_entries() const { return purged_entries_; }  // deleted by all purges

 private:
  int list_calls_ = 0;
  std::vector<std::set<kernel::ConnKey>> purges_;
  std::vector<std::map<kernel::ConnKey, std::map<model::IpAddress, uint16_t>>> repairs_;
  std::size_t purged_entries_ = 0;
};

// The reader alone was its first use; tests written for it keep working.
using FakeConntrackReader = FakeConntrack;

}  // namespace kvlb::fakes
