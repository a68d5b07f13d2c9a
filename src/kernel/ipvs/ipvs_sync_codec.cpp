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

namespace kvlb::kernel::ipvs {
namespace {

// Builds one generic netlink message: headers, then attributes each padded
// to 4 bytes; the lengths are patched in as the message grows.
class Writer {
 public:
  Writer(uint16_t family_id, uint16_t flags, uint32_t seq, uint8_t cmd) {
    nlmsghdr header{};
    header.nlmsg_type = family_id;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = seq;  // pid 0: the kernel takes the sender's port from the socket
    append(&header, sizeof header);
    genlmsghdr genl{};
    genl.cmd = cmd;
    genl.version = IPVS_GENL_VERSION;
    append(&genl, sizeof genl);
  }

  void put(uint16_t type, const void* data, std::size_t len) {
    nlattr attr{};
    attr.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
    attr.nla_type = type;
    append(&attr, sizeof attr);
    append(data, len);
    out_.resize(out_.size() + (NLA_ALIGN(len) - len), 0);
  }
  template <typename T>
  void put_scalar(uint16_t type, T value) {
    put(type, &value, sizeof value);
  }
  void put_string(uint16_t type, const std::string& text) { put(type, text.c_str(), text.size() + 1); }

  void begin_daemon() {
    nest_ = out_.size();
    nlattr attr{};
    attr.nla_len = NLA_HDRLEN;
    attr.nla_type = IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED;
    append(&attr, sizeof attr);
  }
  void end_daemon() { patch<uint16_t>(nest_, out_.size() - nest_); }

  Bytes finish() {
    patch<uint32_t>(0, out_.size());
    return std::move(out_);
  }

 private:
  void append(const void* data, std::size_t len) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), bytes, bytes + len);
  }
  template <typename T>
  void patch(std::size_t at, std::size_t value) {
    auto narrow = static_cast<T>(value);
    std::memcpy(&out_[at], &narrow, sizeof narrow);
  }

  Bytes out_;
  std::size_t nest_ = 0;
};

uint32_t state_of(SyncRole role) { return role == SyncRole::Master ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP; }

Error malformed(std::string what) { return Error::from_errno(EBADMSG, "decode ipvs daemon reply: " + std::move(what)); }

using Payload = std::optional<std::span<const uint8_t>>;
using Attrs = std::array<Payload, IPVS_DAEMON_ATTR_MAX + 1>;

// Attribute payloads by type; false if an attribute overruns `data`.
bool parse_attrs(std::span<const uint8_t> data, std::span<Payload> table) {
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= data.size()) {
    nlattr attr{};
    std::memcpy(&attr, data.data() + off, sizeof attr);
    if (attr.nla_len < NLA_HDRLEN || attr.nla_len > data.size() - off) return false;
    uint16_t type = attr.nla_type & NLA_TYPE_MASK;
    if (type < table.size()) table[type] = data.subspan(off + NLA_HDRLEN, attr.nla_len - NLA_HDRLEN);
    off += NLA_ALIGN(attr.nla_len);
  }
  return true;
}

template <typename T>
std::optional<T> read_scalar(const Payload& payload) {
  if (!payload || payload->size() < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, payload->data(), sizeof value);
  return value;
}

template <std::size_t N>
std::optional<std::array<uint8_t, N>> read_bytes(const Payload& payload) {
  if (!payload || payload->size() < N) return std::nullopt;
  std::array<uint8_t, N> raw{};
  std::memcpy(raw.data(), payload->data(), N);
  return raw;
}

}  // namespace

Bytes encode_daemon_start(const SyncDaemon& daemon, uint16_t family_id, uint32_t seq) {
  Writer w(family_id, NLM_F_REQUEST | NLM_F_ACK, seq, IPVS_CMD_NEW_DAEMON);
  w.begin_daemon();
  w.put_scalar<uint32_t>(IPVS_DAEMON_ATTR_STATE, state_of(daemon.role));
  w.put_string(IPVS_DAEMON_ATTR_MCAST_IFN, daemon.interface);
  w.put_scalar<uint32_t>(IPVS_DAEMON_ATTR_SYNC_ID, daemon.sync_id);
  // Port and maxlen are host order (nla_get_u16), the group network order.
  if (daemon.sync_maxlen) w.put_scalar<uint16_t>(IPVS_DAEMON_ATTR_SYNC_MAXLEN, daemon.sync_maxlen);
  if (daemon.port) w.put_scalar<uint16_t>(IPVS_DAEMON_ATTR_MCAST_PORT, daemon.port);
  if (daemon.ttl) w.put_scalar<uint8_t>(IPVS_DAEMON_ATTR_MCAST_TTL, daemon.ttl);
  if (daemon.group) {
    uint16_t type = daemon.group->is_v4() ? IPVS_DAEMON_ATTR_MCAST_GROUP : IPVS_DAEMON_ATTR_MCAST_GROUP6;
    w.put(type, daemon.group->data(), daemon.group->size());
  }
  w.end_daemon();
  return w.finish();
}

Bytes encode_daemon_stop(SyncRole role, uint16_t family_id, uint32_t seq) {
  Writer w(family_id, NLM_F_REQUEST | NLM_F_ACK, seq, IPVS_CMD_DEL_DAEMON);
  w.begin_daemon();
  w.put_scalar<uint32_t>(IPVS_DAEMON_ATTR_STATE, state_of(role));
  w.end_daemon();
  return w.finish();
}

Bytes encode_daemon_dump(uint16_t family_id, uint32_t seq) {
  return Writer(family_id, NLM_F_REQUEST | NLM_F_DUMP, seq, IPVS_CMD_GET_DAEMON).finish();
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
