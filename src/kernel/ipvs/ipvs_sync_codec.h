#pragma once
// Pure encoding and decoding of the IPVS sync-daemon messages (NEW_DAEMON,
// DEL_DAEMON, GET_DAEMON; layouts from linux/ip_vs.h, as ipvsadm sends them
// and ip_vs_ctl.c parses and fills them). Exact bytes, tested byte for byte;
// split_replies in ipvs_codec.h frames what the kernel sends back.
#include <cstdint>
#include <span>

#include "kernel/ipvs/ipvs_codec.h"
#include "kernel/ipvs/ipvs_sync.h"
#include "util/result.h"

namespace kvlb::kernel::ipvs {

// NEW_DAEMON with NLM_F_REQUEST | NLM_F_ACK: state, interface and sync id,
// then only the optional settings that are set (the kernel fills in the
// rest). An IPv6 group goes as MCAST_GROUP6, an IPv4 one as MCAST_GROUP.
Bytes encode_daemon_start(const SyncDaemon& daemon, uint16_t family_id, uint32_t seq);

// DEL_DAEMON with NLM_F_REQUEST | NLM_F_ACK; the kernel needs only the state.
Bytes encode_daemon_stop(SyncRole role, uint16_t family_id, uint32_t seq);

// GET_DAEMON with NLM_F_REQUEST | NLM_F_DUMP (the kernel only dumps daemons).
Bytes encode_daemon_dump(uint16_t family_id, uint32_t seq);

// One message of a GET_DAEMON dump. Kernels before 4.3 send only state,
// interface and sync id; the other fields then stay unset.
Result<SyncDaemon> decode_daemon(std::span<const uint8_t> message);

}  // namespace kvlb::kernel::ipvs
