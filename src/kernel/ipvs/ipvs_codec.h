#pragma once
// Pure encoding and decoding of IPVS generic netlink messages (layouts from
// linux/ip_vs.h). No sockets here: encoders return the exact bytes of one
// message, decoders read bytes received from the kernel, so both are unit
// tested byte for byte.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "kernel/ipvs/ipvs_table.h"
#include "model/types.h"
#include "util/result.h"

namespace kvlb::kernel::ipvs {

using Bytes = std::vector<uint8_t>;

// The netmask kvlb always programs (ipvsadm's default): the model only
// observes it (VirtualService::netmask_bits, kFullNetmask for these).
inline constexpr uint32_t kNetmaskV4 = 0xffffffff;
inline constexpr uint32_t kNetmaskV6 = 128;  // a prefix length for IPv6

// One state-changing request (NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST) with
// NLM_F_REQUEST | NLM_F_ACK. Service commands carry the full service for
// add/update and only its identity for delete; real-server commands carry the
// service identity and the full destination (identity only for delete).
// Forwarding is always masquerading, without connection thresholds, and a
// service gets a full netmask and no flags besides persistence, whatever the
// model's observed-only fields say.
Bytes encode_command(const IpvsCommand& command, uint16_t family_id, uint32_t seq);
// Same bytes appended to `out`, for packing many requests into one send.
void append_command(Bytes& out, const IpvsCommand& command, uint16_t family_id, uint32_t seq);

// Dump requests (NLM_F_REQUEST | NLM_F_DUMP).
Bytes encode_service_dump(uint16_t family_id, uint32_t seq);
Bytes encode_dest_dump(const model::VsKey& service, uint16_t family_id, uint32_t seq);

// One netlink message found in a datagram read from the socket.
struct Reply {
  uint16_t type = 0;   // NLMSG_ERROR, NLMSG_DONE, or the IPVS family id
  uint16_t flags = 0;
  uint32_t seq = 0;
  int error = 0;       // NLMSG_ERROR only: 0 for an ack, else a positive errno
  std::span<const uint8_t> message;  // the whole message, header included
};

// Splits a datagram into its messages; an error if the framing is broken.
Result<std::vector<Reply>> split_replies(std::span<const uint8_t> datagram);

// A message of a GET_SERVICE dump. nullopt for services kvlb's model cannot
// describe (firewall-mark services, protocols other than tcp/udp/sctp): they
// are never kvlb's, so callers leave them alone. The netmask and flags other
// than persistence are reported in netmask_bits and extra_flags.
Result<std::optional<model::VirtualService>> decode_service(std::span<const uint8_t> message);

// A message of a GET_DEST dump, including connection counters, forwarding
// method (masquerade or not) and thresholds. Destinations without
// IPVS_DEST_ATTR_ADDR_FAMILY (kernels before 3.18) take the service's family.
Result<model::RealServer> decode_dest(std::span<const uint8_t> message, model::Family service_family);

}  // namespace kvlb::kernel::ipvs
