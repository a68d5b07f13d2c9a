#pragma once
// NatTable over nfnetlink (libnftnl + libmnl): every apply() is one atomic
// nftables transaction on one long-lived socket. Not thread-safe: meant for
// the single reconcile loop that owns it.
#include <cstdint>
#include <memory>
#include <string>

#include "kernel/nft/nat_table.h"

namespace kvlb::kernel {

class NftSocket;

class NetlinkNatTable final : public NatTable {
 public:
  // Fails when the netlink socket cannot be opened (e.g. no NETLINK_NETFILTER).
  static Result<std::unique_ptr<NetlinkNatTable>> open();
  ~NetlinkNatTable() override;

  Result<NatObserved> read() override;
  Status apply(const NatBatch& batch) override;
  uint64_t writes() const override { return writes_; }

  // Why the last read() reported intact=false ("" when it was intact).
  const std::string& last_damage() const { return last_damage_; }

 private:
  explicit NetlinkNatTable(std::unique_ptr<NftSocket> socket);
  Result<NatObserved> read_once(bool& ruleset_changed);
  Result<uint32_t> generation();

  std::unique_ptr<NftSocket> socket_;
  uint64_t writes_ = 0;
  std::string last_damage_;
};

}  // namespace kvlb::kernel
