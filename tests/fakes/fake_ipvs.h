#pragma once
// In-memory IPVS table that answers like the kernel (ip_vs_ctl.c):
//   add existing service          -> EEXIST
//   update/delete missing service -> ESRCH (also for any real-server command)
//   unknown scheduler             -> ENOENT
//   add existing real server      -> EEXIST
//   update/delete missing one     -> ENOENT
//   real server of the other family (masquerading cannot mix) or an address
//   that is not unicast           -> EINVAL
//   weight above INT32_MAX        -> ERANGE
// Error contexts are the netlink table's ("add vs 20.20.20.1:80/tcp").
// Like the netlink table's commands, adds and updates program masquerading
// without thresholds, a full netmask and no extra service flags, whatever the
// command's observed-only fields say.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/ipvs/ipvs_table.h"

namespace kvlb::fakes {

class FakeIpvsTable final : public kernel::IpvsTable {
 public:
  // The table itself; tests may seed it (e.g. a foreign service, connection
  // counts for drain tests) or inspect it directly.
  std::map<model::VsKey, model::VirtualService> services;

  Result<std::vector<model::VirtualService>> list() override;
  std::vector<Status> apply(const std::vector<kernel::IpvsCommand>& commands) override;
  // Every command passed to apply(), failed ones included (each is one message).
  uint64_t writes() const override { return writes_; }

  // What was applied successfully, in order: "add vs 20.20.20.1:80/tcp rr",
  // "update vs 20.20.20.1:80/tcp wlc persistent 300",
  // "add rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight 3",
  // "delete rs 20.20.20.1:80/tcp -> 10.0.1.11:8080", "delete vs 20.20.20.1:80/tcp".
  const std::vector<std::string>& op_log() const { return op_log_; }
  void clear_op_log() { op_log_.clear(); }

  // Injected failures, kept until cleared: every command on the service (its
  // real servers included), or on one real server, fails with `err`.
  void fail_service(const model::VsKey& service, int err);
  void fail_real_server(const model::VsKey& service, const model::RealServerKey& server, int err);
  // list() fails with `err`.
  void fail_list(int err) { list_error_ = err; }
  void clear_failures();

  // Someone else's edits, as ipvsadm -e / -E make them: the table changes
  // behind kvlb's back (no write counted, nothing logged). False if the
  // service or real server does not exist.
  bool route_directly(const model::VsKey& service, const model::RealServerKey& server);  // -e ... -g
  bool set_thresholds(const model::VsKey& service, const model::RealServerKey& server, uint32_t upper,
                      uint32_t lower);                                               // -e ... -x U -y L
  bool set_netmask_bits(const model::VsKey& service, uint32_t bits);                 // -E ... -M
  bool set_extra_flags(const model::VsKey& service, uint32_t flags);                 // -E ... -o, -b

 private:
  Status apply_one(const kernel::IpvsCommand& command);
  std::optional<int> injected_error(const kernel::IpvsCommand& command) const;
  model::RealServer* find_real_server(const model::VsKey& service, const model::RealServerKey& server);

  uint64_t writes_ = 0;
  std::vector<std::string> op_log_;
  std::map<model::VsKey, int> service_failures_;
  std::map<std::pair<model::VsKey, model::RealServerKey>, int> server_failures_;
  std::optional<int> list_error_;
};

}  // namespace kvlb::fakes
