#pragma once
// IpvsSyncDaemons over the kernel's "IPVS" generic netlink family, with a
// socket of its own (daemon changes are rare: one request at a time).
// The kernel handles a start or stop inside the send, which returns once the
// daemon's threads exist (start) or have ended (stop). A stop that catches
// the daemon's thread before it first ran is not acked (kthread_stop says
// EINTR, and netlink drops the ack of an EINTR); the outcome of an unacked
// request is read from a fresh list instead. Not thread-safe: one caller at
// a time.
#include <cstdint>
#include <memory>

#include "kernel/ipvs/ipvs_sync.h"
#include "util/result.h"

namespace kvlb::kernel {

class NetlinkIpvsSyncDaemons final : public IpvsSyncDaemons {
 public:
  // How long to wait for each datagram of a list.
  static constexpr int kDefaultReplyTimeoutMs = 30000;

  // Opens the socket and resolves the IPVS family; fails with ENOENT when the
  // kernel has no IPVS (ip_vs module not loaded).
  static Result<std::unique_ptr<NetlinkIpvsSyncDaemons>> open(int reply_timeout_ms = kDefaultReplyTimeoutMs);
  ~NetlinkIpvsSyncDaemons() override;
  NetlinkIpvsSyncDaemons(const NetlinkIpvsSyncDaemons&) = delete;
  NetlinkIpvsSyncDaemons& operator=(const NetlinkIpvsSyncDaemons&) = delete;

  Result<std::vector<SyncDaemon>> list() override;
  Status start(const SyncDaemon& daemon) override;
  Status stop(SyncRole role) override;

  // Requests the kernel did not ack, so far (for tests).
  uint64_t unacked_requests() const;

 private:
  struct Impl;
  explicit NetlinkIpvsSyncDaemons(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvlb::kernel
