#pragma once
// In-memory IPVS sync daemons that answer like the kernel (ip_vs_ctl.c,
// ip_vs_sync.c), checked in this order:
//   interface name over 15 characters   -> EINVAL (attribute policy)
//   group that is not multicast         -> EINVAL
//   interface that does not exist       -> ENODEV (so does an empty name)
//   role already running                -> EEXIST
//   master on an interface that is down -> ENETUNREACH (its socket connects)
//   stop of a role not running          -> ESRCH
// Master and backup run side by side. A started daemon is listed with the
// kernel's defaults filled in: group 224.0.0.81, port 8848, ttl 1, and a
// maxlen of 1500 (master) or the MTU clamped to 1500..65535 (backup) minus
// the IP and UDP headers; a maxlen asked for is clamped to 1..65535 (master)
// or 1024..65535 (backup) minus the headers. Sync ids above 255 are kept as
// asked, as the kernel does (its sync messages carry only the low byte).
// Error contexts are the netlink implementation's.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/ipvs/ipvs_sync.h"

namespace kvlb::fakes {

class FakeIpvsSyncDaemons final : public kernel::IpvsSyncDaemons {
 public:
  struct Interface {
    uint32_t mtu = 1500;
    bool up = true;
  };
  // The network devices that exist; tests add the ones they start daemons on.
  std::map<std::string, Interface> interfaces;
  // The running daemons as the kernel keeps them; tests may seed them
  // (e.g. one started by hand with ipvsadm).
  std::map<kernel::SyncRole, kernel::SyncDaemon> running;

  Result<std::vector<kernel::SyncDaemon>> list() override;  // master first
  Status start(const kernel::SyncDaemon& daemon) override;
  Status stop(kernel::SyncRole role) override;

  // What succeeded, in order: "start master eth1 syncid 5" (then " group
  // 239.1.1.1 port 9000 ttl 4 maxlen 1400" for what the request set),
  // "stop backup".
  const std::vector<std::string>& op_log() const { return op_log_; }
  void clear_op_log() { op_log_.clear(); }
  // Requests sent, failed ones included.
  uint64_t writes() const { return writes_; }

  // Injected failures, kept until cleared: start and stop of `role` fail
  // with `err`; list() fails with `err`.
  void fail_role(kernel::SyncRole role, int err) { role_failures_[role] = err; }
  void fail_list(int err) { list_error_ = err; }
  void clear_failures();

 private:
  std::vector<std::string> op_log_;
  uint64_t writes_ = 0;
  std::map<kernel::SyncRole, int> role_failures_;
  std::optional<int> list_error_;
};

}  // namespace kvlb::fakes
