#pragma once
// In-memory AddressTable with the kernel's answers: ENODEV for an unknown
// interface, EEXIST adding an address that is there, EADDRNOTAVAIL deleting
// one that is not, and (like NetlinkAddressTable) EPERM deleting an address
// kvlb did not add.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernel/addr/address_table.h"

namespace kvlb::fakes {

class FakeAddressTable final : public kernel::AddressTable {
 public:
  FakeAddressTable() = default;
  explicit FakeAddressTable(const std::vector<std::string>& interfaces);

  void add_interface(const std::string& ifname);
  // An address someone else configured (untagged), e.g. the node's own /24.
  void seed_foreign(const std::string& ifname, const model::IpPrefix& prefix);
  // Every later add or delete of ip fails with err (a positive errno) and
  // changes nothing; the write still counts, as it reached the "kernel".
  void fail_address(const model::IpAddress& ip, int err);
  void clear_failures() { failures_.clear(); }

  Result<std::vector<kernel::InterfaceAddress>> list(const std::string& ifname) override;
  Status add_vip(const std::string& ifname, const model::IpAddress& vip) override;
  Status delete_vip(const std::string& ifname, const model::IpAddress& vip) override;
  // Add and delete requests that reached an existing interface, failed or not.
  uint64_t writes() const override { return writes_; }
  uint64_t announce_failures() const override { return announce_failures_; }
  void fail_announcements() { ++announce_failures_; }  // as if a GARP send had failed

  // Same role as NetlinkAddressTable::announce.
  Status announce(const std::string& ifname, const model::IpAddress& vip);

  // Changes made, in order: "ADD vip 20.20.20.1 on eth1",
  // "DEL vip fd00::1 on eth1", "ANNOUNCE vip 20.20.20.1 on eth1" (add_vip
  // logs its announcement too). Failed requests are not logged.
  const std::vector<std::string>& op_log() const { return op_log_; }
  void clear_op_log() { op_log_.clear(); }

 private:
  using Addresses = std::map<model::IpPrefix, bool>;  // prefix -> owned
  Result<Addresses*> find(const std::string& ifname, const std::string& context);

  std::map<std::string, Addresses> interfaces_;
  std::map<model::IpAddress, int> failures_;
  std::vector<std::string> op_log_;
  uint64_t writes_ = 0;
  uint64_t announce_failures_ = 0;
};

}  // namespace kvlb::fakes
