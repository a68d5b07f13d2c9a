#pragma once
// An in-memory conntrack table: list() returns the entries a test seeded (or
// a set error); repair_dnat_ports() records its calls.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <map>
#include <string_view>
#include <vector>

#include "kernel/conntrack/conntrack_reader.h"
#include "kernel/conntrack/conntrack_writer.h"

namespace kvlb::fakes {

class FakeConntrack final : public kernel::ConntrackReader, public kernel::ConntrackWriter {
 public:
  std::vector<kernel::ConnEntry> entries;
  std::optional<Error> failure;  // when set, list() returns it instead

  Result<std::vector<kernel::ConnEntry>> list() override;
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

 private:
  int list_calls_ = 0;
  std::vector<std::map<kernel::ConnKey, std::map<model::IpAddress, uint16_t>>> repairs_;
};

// The reader alone was its first use; tests written for it keep working.
using FakeConntrackReader = FakeConntrack;

}  // namespace kvlb::fakes
