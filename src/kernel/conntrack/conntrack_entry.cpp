#include "kernel/conntrack/conntrack_entry.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace kvlb::kernel {
namespace {

struct TupleAttributes {
  nf_conntrack_attr ipv4;
  nf_conntrack_attr ipv6;
  nf_conntrack_attr port;
};

// Where each ConnEntry field comes from: original src/dst is what the client
// sent (client -> VIP); reply src/dst is what comes back after NAT
// (endpoint -> SNAT source, which is the client itself without SNAT).
constexpr TupleAttributes kOrigSrc{ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, ATTR_ORIG_PORT_SRC};
constexpr TupleAttributes kOrigDst{ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, ATTR_ORIG_PORT_DST};
constexpr TupleAttributes kReplSrc{ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, ATTR_REPL_PORT_SRC};
constexpr TupleAttributes kReplDst{ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST, ATTR_REPL_PORT_DST};

bool read_endpoint(const nf_conntrack* ct, bool v4, const TupleAttributes& attrs, model::IpAddress& ip,
                   uint16_t& port) {
  if (v4) {
    if (!nfct_attr_is_set(ct, attrs.ipv4)) return false;
    std::array<uint8_t, 4> bytes;
    std::memcpy(bytes.data(), nfct_get_attr(ct, attrs.ipv4), bytes.size());
    ip = model::IpAddress::from_v4(bytes);
  } else {
    if (!nfct_attr_is_set(ct, attrs.ipv6)) return false;
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), nfct_get_attr(ct, attrs.ipv6), bytes.size());
    ip = model::IpAddress::from_v6(bytes);
  }
  port = nfct_attr_is_set(ct, attrs.port) ? ntohs(nfct_get_attr_u16(ct, attrs.port)) : 0;
  return true;
}

uint64_t u64_or_zero(const nf_conntrack* ct, nf_conntrack_attr attr) {
  return nfct_attr_is_set(ct, attr) ? nfct_get_attr_u64(ct, attr) : 0;
}

struct Protocols {
  bool v4;
  model::Protocol l4;
};

// IPv4 or IPv6, and TCP, UDP or SCTP; nullopt for anything else.
std::optional<Protocols> protocols_of(const nf_conntrack* ct) {
  if (!nfct_attr_is_set(ct, ATTR_ORIG_L3PROTO) || !nfct_attr_is_set(ct, ATTR_ORIG_L4PROTO))
    return std::nullopt;
  const uint8_t l3 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
  if (l3 != AF_INET && l3 != AF_INET6) return std::nullopt;
  auto protocol = model::protocol_from_number(nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO));
  if (!protocol) return std::nullopt;
  return Protocols{l3 == AF_INET, *protocol};
}

}  // namespace

std::string_view tcp_state_name(uint8_t state) {
  static constexpr std::array<std::string_view, 10> kNames = {
      "NONE",       "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
      "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",       "SYN_SENT2"};
  return state < kNames.size() ? kNames[state] : std::string_view();
}

std::string_view sctp_state_name(uint8_t state) {
  static constexpr std::array<std::string_view, 10> kNames = {
      "NONE",          "CLOSED",        "COOKIE_WAIT",       "COOKIE_ECHOED",  "ESTABLISHED",
      "SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"};
  return state < kNames.size() ? kNames[state] : std::string_view();
}

std::optional<ConnEntry> conn_entry_from(const nf_conntrack* ct) {
  auto protocols = protocols_of(ct);
  if (!protocols) return std::nullopt;

  ConnEntry e;
  e.protocol = protocols->l4;
  const bool v4 = protocols->v4;
  if (!read_endpoint(ct, v4, kOrigSrc, e.client, e.client_port) ||
      !read_endpoint(ct, v4, kOrigDst, e.vip, e.vip_port) ||
      !read_endpoint(ct, v4, kReplSrc, e.endpoint, e.endpoint_port) ||
      !read_endpoint(ct, v4, kReplDst, e.snat_source, e.snat_port))
    return std::nullopt;

  if (e.protocol == model::Protocol::Tcp && nfct_attr_is_set(ct, ATTR_TCP_STATE))
    e.state = tcp_state_name(nfct_get_attr_u8(ct, ATTR_TCP_STATE));
  if (e.protocol == model::Protocol::Sctp && nfct_attr_is_set(ct, ATTR_SCTP_STATE))
    e.state = sctp_state_name(nfct_get_attr_u8(ct, ATTR_SCTP_STATE));

  // Counters exist only with net.netfilter.nf_conntrack_acct=1 (else 0).
  e.bytes = u64_or_zero(ct, ATTR_ORIG_COUNTER_BYTES) + u64_or_zero(ct, ATTR_REPL_COUNTER_BYTES);
  e.packets = u64_or_zero(ct, ATTR_ORIG_COUNTER_PACKETS) + u64_or_zero(ct, ATTR_REPL_COUNTER_PACKETS);
  if (nfct_attr_is_set(ct, ATTR_TIMEOUT)) e.timeout = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
  return e;
}

std::optional<ConnKey> original_destination_of(const nf_conntrack* ct) {
  auto protocols = protocols_of(ct);
  if (!protocols) return std::nullopt;
  ConnKey key;
  key.protocol = protocols->l4;
  if (!read_endpoint(ct, protocols->v4, kOrigDst, key.vip, key.port)) return std::nullopt;
  return key;
}

}  // namespace kvlb::kernel
