#pragma once
// Narrow interface to the kernel's IPVS table. Implementations: the generic
// netlink one (NetlinkIpvsTable) and the stateful fake in tests/fakes.
#include <cstdint>
#include <vector>

#include "model/types.h"
#include "util/result.h"

namespace kvlb::kernel {

struct IpvsCommand {
  enum class Kind { AddService, UpdateService, DeleteService, AddRealServer, UpdateRealServer, DeleteRealServer };
  Kind kind;
  model::VirtualService service;  // key and settings; real_servers is ignored
  model::RealServer real_server;  // used by the *RealServer kinds
};

class IpvsTable {
 public:
  virtual ~IpvsTable() = default;
  // Every virtual service with its real servers (including connection counts).
  virtual Result<std::vector<model::VirtualService>> list() = 0;
  // Applies the commands in order; returns one Status per command. A failed
  // command does not stop the ones after it.
  virtual std::vector<Status> apply(const std::vector<IpvsCommand>& commands) = 0;
  // Number of state-changing messages sent so far (for "zero writes" checks).
  virtual uint64_t writes() const = 0;
};

}  // namespace kvlb::kernel
