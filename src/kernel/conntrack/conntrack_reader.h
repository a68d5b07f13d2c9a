#pragma once
// Reads the connection tracking table (ctnetlink) for `kvlbctl get ct`.
#include <cstdint>
#include <string>
#include <vector>

#include "model/types.h"
#include "util/result.h"

namespace kvlb::kernel {

struct ConnEntry {
  model::Protocol protocol = model::Protocol::Tcp;
  model::IpAddress client;       // original source
  uint16_t client_port = 0;
  model::IpAddress vip;          // original destination
  uint16_t vip_port = 0;
  model::IpAddress endpoint;     // reply source (after IPVS/NAT)
  uint16_t endpoint_port = 0;
  model::IpAddress snat_source;  // reply destination (== client when no SNAT)
  uint16_t snat_port = 0;
  std::string state;             // TCP/SCTP state name, or "" for UDP
  uint64_t bytes = 0;            // both directions (needs nf_conntrack_acct)
  uint64_t packets = 0;
  uint32_t timeout = 0;
};

class ConntrackReader {
 public:
  virtual ~ConntrackReader() = default;
  virtual Result<std::vector<ConnEntry>> list() = 0;
};

}  // namespace kvlb::kernel
