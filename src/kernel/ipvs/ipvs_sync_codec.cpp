#include "kernel/ipvs/ipvs_sync_codec.h"

#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "kernel/ipvs/ipvs_message.h"

namespace kvlb::kernel::ipvs {
namespace {

uint32_t state_of(SyncRole role) { return role == SyncRole::Master ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP; }

Error malformed(std::string what) { return Error::from_errno(EBADMSG, "decode ipvs daemon reply: " + std::move(what)); }

using Attrs = std::array<Payload, IPVS_DAEMON_ATTR_MAX + 1>;

template <std::size_t N>
std::optional<std::array<uint8_t, N>> read_bytes(const Payload& payload) {
  if (!payload || payload->size() < N) return std::nullopt;
  std::array<uint8_t, N> raw{};
  std::memcpy(raw.data(), payload->data(), N);
  return raw;
}

}  // namespace

Bytes encode_daemon_start(const SyncDaemon& daemon, uint16_t family_id, uint32_t seq) {
  Bytes out;
  MessageWriter w(out, family_id, NLM_F_REQUEST | NLM_F_ACK, seq, IPVS_CMD_NEW_DAEMON);
  std::size_t nest = w.begin_nest(IPVS_CMD_ATTR_DAEMON);
  w.put_u32(IPVS_DAEMON_ATTR_STATE, state_of(daemon.role));
  w.put_string(IPVS_DAEMON_ATTR_MCAST_IFN, daemon.interface);
  w.put_u32(IPVS_DAEMON_ATTR_SYNC_ID, daemon.sync_id);
  // Port and maxlen are host order (nla_get_u16), the group network order.
  if (daemon.sync_maxlen) w.put_u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, daemon.sync_maxlen);
  if (daemon.port) w.put_u16(IPVS_DAEMON_ATTR_MCAST_PORT, daemon.port);
  if (daemon.ttl) w.put_u8(IPVS_DAEMON_ATTR_MCAST_TTL, daemon.ttl);
  if (daemon.group) {
    uint16_t type = daemon.group->is_v4() ? IPVS_DAEMON_ATTR_MCAST_GROUP : IPVS_DAEMON_ATTR_MCAST_GROUP6;
    w.put(type, daemon.group->data(), daemon.group->size());
  }
  w.end_nest(nest);
  w.finish();
  return out;
}

Bytes encode_daemon_stop(SyncRole role, uint16_t family_id, uint32_t seq) {
  Bytes out;
  MessageWriter w(out, family_id, NLM_F_REQUEST | NLM_F_ACK, seq, IPVS_CMD_DEL_DAEMON);
  std::size_t nest = w.begin_nest(IPVS_CMD_ATTR_DAEMON);
  w.put_u32(IPVS_DAEMON_ATTR_STATE, state_of(role));
  w.end_nest(nest);
  w.finish();
  return out;
}

Bytes encode_daemon_dump(uint16_t family_id, uint32_t seq) {
  Bytes out;
  MessageWriter(out, family_id, NLM_F_REQUEST | NLM_F_DUMP, seq, IPVS_CMD_GET_DAEMON).finish();
  return out;
}

Result<SyncDaemon> decode_daemon(std::span<const uint8_t> message) {
  constexpr std::size_t kHeaders = NLMSG_HDRLEN + GENL_HDRLEN;
  if (message.size() < kHeaders) return malformed("short message");
  nlmsghdr header{};
  std::memcpy(&header, message.data(), sizeof header);
  if (header.nlmsg_len < kHeaders || header.nlmsg_len > message.size()) return malformed("bad length");
  std::array<Payload, IPVS_CMD_ATTR_MAX + 1> top{};
  if (!parse_attrs(message.subspan(kHeaders, header.nlmsg_len - kHeaders), top) || !top[IPVS_CMD_ATTR_DAEMON])
    return malformed("no daemon attribute");
  Attrs a{};
  if (!parse_attrs(*top[IPVS_CMD_ATTR_DAEMON], a)) return malformed("bad daemon attributes");

  auto state = read_scalar<uint32_t>(a[IPVS_DAEMON_ATTR_STATE]);
  auto sync_id = read_scalar<uint32_t>(a[IPVS_DAEMON_ATTR_SYNC_ID]);
  const Payload& ifn = a[IPVS_DAEMON_ATTR_MCAST_IFN];
  if (!state || !sync_id || !ifn) return malformed("incomplete daemon");
  if (*state != IP_VS_STATE_MASTER && *state != IP_VS_STATE_BACKUP)
    return malformed("unknown daemon state " + std::to_string(*state));

  SyncDaemon daemon;
  daemon.role = *state == IP_VS_STATE_MASTER ? SyncRole::Master : SyncRole::Backup;
  std::string_view name(reinterpret_cast<const char*>(ifn->data()), ifn->size());
  daemon.interface = std::string(name.substr(0, name.find('\0')));
  daemon.sync_id = *sync_id;
  daemon.sync_maxlen = read_scalar<uint16_t>(a[IPVS_DAEMON_ATTR_SYNC_MAXLEN]).value_or(0);
  daemon.port = read_scalar<uint16_t>(a[IPVS_DAEMON_ATTR_MCAST_PORT]).value_or(0);
  daemon.ttl = read_scalar<uint8_t>(a[IPVS_DAEMON_ATTR_MCAST_TTL]).value_or(0);
  if (const auto& v4 = a[IPVS_DAEMON_ATTR_MCAST_GROUP]) {
    auto raw = read_bytes<4>(v4);
    if (!raw) return malformed("short multicast group");
    daemon.group = model::IpAddress::from_v4(*raw);
  } else if (const auto& v6 = a[IPVS_DAEMON_ATTR_MCAST_GROUP6]) {
    auto raw = read_bytes<16>(v6);
    if (!raw) return malformed("short multicast group");
    daemon.group = model::IpAddress::from_v6(*raw);
  }
  return daemon;
}

}  // namespace kvlb::kernel::ipvs
