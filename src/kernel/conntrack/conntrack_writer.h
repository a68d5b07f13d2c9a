#pragma once
// Changes connection tracking entries (ctnetlink) on a node taking over:
// conntrackd commits every synced entry to the kernel, but cannot carry all
// of an entry (see repair_dnat_ports).
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>

#include "kernel/conntrack/conntrack_reader.h"
#include "model/types.h"
#include "util/result.h"

namespace kvlb::kernel {

// An original-direction destination: what clients connected to.
struct ConnKey {
  model::Protocol protocol = model::Protocol::Tcp;
  model::IpAddress vip;
  uint16_t port = 0;
  auto operator<=>(const ConnKey&) const = default;
};

inline ConnKey original_destination(const ConnEntry& entry) { return {entry.protocol, entry.vip, entry.vip_port}; }

class ConntrackWriter {
 public:
  virtual ~ConntrackWriter() = default;
  // conntrackd does not carry the destination port rewrite of SCTP entries:
  // committed, an entry DNATs to the endpoint's address but keeps the
  // service's port, and the endpoint answers with an ABORT. Re-creates every
  // entry of `endpoint_ports`' services whose DNAT port differs from the
  // port of its endpoint address there; returns how many were repaired.
  virtual Result<std::size_t> repair_dnat_ports(
      const std::map<ConnKey, std::map<model::IpAddress, uint16_t>>& endpoint_ports) = 0;
};

}  // namespace kvlb::kernel
