#include "kernel/ipvs/ipvs_codec.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "kernel/ipvs/ipvs_message.h"

namespace kvlb::kernel::ipvs {
namespace {

constexpr uint16_t kWriteFlags = NLM_F_REQUEST | NLM_F_ACK;
constexpr uint16_t kDumpFlags = NLM_F_REQUEST | NLM_F_DUMP;

void put_service_identity(MessageWriter& w, const model::VsKey& key) {
  w.put_u16(IPVS_SVC_ATTR_AF, static_cast<uint16_t>(key.vip.af()));
  w.put_u16(IPVS_SVC_ATTR_PROTOCOL, static_cast<uint16_t>(model::ip_protocol_number(key.protocol)));
  w.put_address(IPVS_SVC_ATTR_ADDR, key.vip);
  w.put_be16(IPVS_SVC_ATTR_PORT, key.port);
}

void put_service(MessageWriter& w, const model::VirtualService& service, bool full) {
  std::size_t nest = w.begin_nest(IPVS_CMD_ATTR_SERVICE);
  put_service_identity(w, service.key);
  if (full) {
    w.put_string(IPVS_SVC_ATTR_SCHED_NAME, service.scheduler);
    // mask = all bits: the service's flags become exactly ours (as ipvsadm does).
    ip_vs_flags flags{};
    flags.flags = service.persistence_seconds > 0 ? IP_VS_SVC_F_PERSISTENT : 0;
    flags.mask = ~0U;
    w.put(IPVS_SVC_ATTR_FLAGS, &flags, sizeof flags);
    w.put_u32(IPVS_SVC_ATTR_TIMEOUT, service.persistence_seconds);
    w.put_u32(IPVS_SVC_ATTR_NETMASK, service.key.vip.is_v4() ? kNetmaskV4 : kNetmaskV6);
  }
  w.end_nest(nest);
}

void put_dest(MessageWriter& w, const model::RealServer& server, bool full) {
  std::size_t nest = w.begin_nest(IPVS_CMD_ATTR_DEST);
  w.put_address(IPVS_DEST_ATTR_ADDR, server.key.ip);
  w.put_be16(IPVS_DEST_ATTR_PORT, server.key.port);
  w.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, static_cast<uint16_t>(server.key.ip.af()));
  if (full) {
    w.put_u32(IPVS_DEST_ATTR_FWD_METHOD, IP_VS_CONN_F_MASQ);
    w.put_u32(IPVS_DEST_ATTR_WEIGHT, server.weight);
    w.put_u32(IPVS_DEST_ATTR_U_THRESH, 0);  // 0 = no connection limits
    w.put_u32(IPVS_DEST_ATTR_L_THRESH, 0);
  }
  w.end_nest(nest);
}

uint8_t command_number(IpvsCommand::Kind kind) {
  using Kind = IpvsCommand::Kind;
  switch (kind) {
    case Kind::AddService: return IPVS_CMD_NEW_SERVICE;
    case Kind::UpdateService: return IPVS_CMD_SET_SERVICE;
    case Kind::DeleteService: return IPVS_CMD_DEL_SERVICE;
    case Kind::AddRealServer: return IPVS_CMD_NEW_DEST;
    case Kind::UpdateRealServer: return IPVS_CMD_SET_DEST;
    case Kind::DeleteRealServer: return IPVS_CMD_DEL_DEST;
  }
  return IPVS_CMD_UNSPEC;
}

// --- decoding ---

Error malformed(std::string what) { return Error::from_errno(EBADMSG, "decode ipvs reply: " + std::move(what)); }

// Room for every attribute type of the service, destination and top-level tables.
constexpr std::size_t kMaxAttr = 32;
using AttrTable = std::array<Payload, kMaxAttr>;

std::optional<model::IpAddress> read_address(const Payload& payload, int af) {
  if (!payload) return std::nullopt;
  if (af == AF_INET && payload->size() >= 4) {
    std::array<uint8_t, 4> raw{};
    std::memcpy(raw.data(), payload->data(), raw.size());
    return model::IpAddress::from_v4(raw);
  }
  if (af == AF_INET6 && payload->size() >= 16) {
    std::array<uint8_t, 16> raw{};
    std::memcpy(raw.data(), payload->data(), raw.size());
    return model::IpAddress::from_v6(raw);
  }
  return std::nullopt;
}

// IPVS_SVC_ATTR_NETMASK as VirtualService::netmask_bits. The kernel keeps an
// IPv4 netmask as a mask in network byte order and an IPv6 one as a prefix
// length in host byte order.
uint32_t netmask_bits(uint32_t raw, int af) {
  if (af == AF_INET6) return raw == 128 ? model::VirtualService::kFullNetmask : raw;
  uint32_t mask = ntohl(raw);
  if (mask == 0xffffffff) return model::VirtualService::kFullNetmask;
  return static_cast<uint32_t>(std::countl_one(mask));
}

// The nested attributes under `top_type` of one IPVS message.
Result<AttrTable> nested_attrs(std::span<const uint8_t> message, uint16_t top_type, const char* what) {
  constexpr std::size_t kHeaders = NLMSG_HDRLEN + GENL_HDRLEN;
  nlmsghdr header{};
  if (message.size() < kHeaders) return malformed(std::string(what) + ": short message");
  std::memcpy(&header, message.data(), sizeof header);
  if (header.nlmsg_len < kHeaders || header.nlmsg_len > message.size())
    return malformed(std::string(what) + ": bad length");
  AttrTable top;
  if (!parse_attrs(message.subspan(kHeaders, header.nlmsg_len - kHeaders), top) || !top[top_type])
    return malformed(std::string(what) + ": no attributes");
  AttrTable inner;
  if (!parse_attrs(*top[top_type], inner)) return malformed(std::string(what) + ": bad nested attributes");
  return inner;
}

}  // namespace

void append_command(Bytes& out, const IpvsCommand& command, uint16_t family_id, uint32_t seq) {
  using Kind = IpvsCommand::Kind;
  MessageWriter w(out, family_id, kWriteFlags, seq, command_number(command.kind));
  switch (command.kind) {
    case Kind::AddService:
    case Kind::UpdateService: put_service(w, command.service, /*full=*/true); break;
    case Kind::DeleteService: put_service(w, command.service, /*full=*/false); break;
    case Kind::AddRealServer:
    case Kind::UpdateRealServer:
      put_service(w, command.service, /*full=*/false);
      put_dest(w, command.real_server, /*full=*/true);
      break;
    case Kind::DeleteRealServer:
      put_service(w, command.service, /*full=*/false);
      put_dest(w, command.real_server, /*full=*/false);
      break;
  }
  w.finish();
}

Bytes encode_command(const IpvsCommand& command, uint16_t family_id, uint32_t seq) {
  Bytes out;
  append_command(out, command, family_id, seq);
  return out;
}

Bytes encode_service_dump(uint16_t family_id, uint32_t seq) {
  Bytes out;
  MessageWriter w(out, family_id, kDumpFlags, seq, IPVS_CMD_GET_SERVICE);
  w.finish();
  return out;
}

Bytes encode_dest_dump(const model::VsKey& service, uint16_t family_id, uint32_t seq) {
  Bytes out;
  MessageWriter w(out, family_id, kDumpFlags, seq, IPVS_CMD_GET_DEST);
  std::size_t nest = w.begin_nest(IPVS_CMD_ATTR_SERVICE);
  put_service_identity(w, service);
  w.end_nest(nest);
  w.finish();
  return out;
}

Result<std::vector<Reply>> split_replies(std::span<const uint8_t> datagram) {
  std::vector<Reply> replies;
  std::size_t off = 0;
  while (off < datagram.size()) {
    nlmsghdr header{};
    if (datagram.size() - off < sizeof header) return malformed("truncated message header");
    std::memcpy(&header, datagram.data() + off, sizeof header);
    if (header.nlmsg_len < sizeof header || header.nlmsg_len > datagram.size() - off)
      return malformed("bad message length");
    Reply reply;
    reply.type = header.nlmsg_type;
    reply.flags = header.nlmsg_flags;
    reply.seq = header.nlmsg_seq;
    reply.message = datagram.subspan(off, header.nlmsg_len);
    // An ack or error carries a negative errno; so does the end of a dump
    // (an error met while dumping shows up there).
    if (header.nlmsg_type == NLMSG_ERROR || header.nlmsg_type == NLMSG_DONE) {
      int error = 0;
      if (header.nlmsg_len >= NLMSG_LENGTH(sizeof error)) {
        std::memcpy(&error, datagram.data() + off + NLMSG_HDRLEN, sizeof error);
      } else if (header.nlmsg_type == NLMSG_ERROR) {
        return malformed("truncated error message");
      }
      reply.error = -error;
    }
    replies.push_back(reply);
    off += NLMSG_ALIGN(header.nlmsg_len);
  }
  return replies;
}

Result<std::optional<model::VirtualService>> decode_service(std::span<const uint8_t> message) {
  auto attrs = nested_attrs(message, IPVS_CMD_ATTR_SERVICE, "service");
  if (!attrs) return attrs.error();
  const AttrTable& a = *attrs;
  if (a[IPVS_SVC_ATTR_FWMARK]) return std::optional<model::VirtualService>{};

  auto af = read_scalar<uint16_t>(a[IPVS_SVC_ATTR_AF]);
  if (!af) return malformed("service: no address family");
  if (*af != AF_INET && *af != AF_INET6) return malformed("service: unknown address family " + std::to_string(*af));
  auto protocol_number = read_scalar<uint16_t>(a[IPVS_SVC_ATTR_PROTOCOL]);
  auto vip = read_address(a[IPVS_SVC_ATTR_ADDR], *af);
  auto port = read_scalar<uint16_t>(a[IPVS_SVC_ATTR_PORT]);
  if (!protocol_number || !vip || !port) return malformed("service: incomplete identity");
  auto protocol = model::protocol_from_number(*protocol_number);
  if (!protocol) return std::optional<model::VirtualService>{};

  model::VirtualService service;
  service.key = model::VsKey{*vip, ntohs(*port), *protocol};
  if (const auto& sched = a[IPVS_SVC_ATTR_SCHED_NAME]) {
    std::string_view text(reinterpret_cast<const char*>(sched->data()), sched->size());
    service.scheduler = std::string(text.substr(0, text.find('\0')));
  }
  auto flags = read_scalar<ip_vs_flags>(a[IPVS_SVC_ATTR_FLAGS]);
  auto timeout = read_scalar<uint32_t>(a[IPVS_SVC_ATTR_TIMEOUT]);
  if (!flags) return malformed("service " + service.key.str() + ": no flags");
  service.persistence_seconds = (flags->flags & IP_VS_SVC_F_PERSISTENT) && timeout ? *timeout : 0;
  // HASHED is the kernel's own; PERSISTENT counts only with a timeout, as
  // persistence_seconds shows it.
  uint32_t accounted = IP_VS_SVC_F_HASHED | (service.persistence_seconds ? IP_VS_SVC_F_PERSISTENT : 0U);
  service.extra_flags = flags->flags & ~accounted;
  if (auto netmask = read_scalar<uint32_t>(a[IPVS_SVC_ATTR_NETMASK]))
    service.netmask_bits = netmask_bits(*netmask, *af);
  return std::optional<model::VirtualService>{std::move(service)};
}

Result<model::RealServer> decode_dest(std::span<const uint8_t> message, model::Family service_family) {
  auto attrs = nested_attrs(message, IPVS_CMD_ATTR_DEST, "destination");
  if (!attrs) return attrs.error();
  const AttrTable& a = *attrs;
  int af = service_family == model::Family::V4 ? AF_INET : AF_INET6;
  if (auto reported = read_scalar<uint16_t>(a[IPVS_DEST_ATTR_ADDR_FAMILY])) af = *reported;
  auto ip = read_address(a[IPVS_DEST_ATTR_ADDR], af);
  auto port = read_scalar<uint16_t>(a[IPVS_DEST_ATTR_PORT]);
  auto weight = read_scalar<uint32_t>(a[IPVS_DEST_ATTR_WEIGHT]);
  if (!ip || !port || !weight) return malformed("destination: incomplete attributes");

  model::RealServer server;
  server.key = model::RealServerKey{*ip, ntohs(*port)};
  server.weight = *weight;
  server.active_conns = read_scalar<uint32_t>(a[IPVS_DEST_ATTR_ACTIVE_CONNS]).value_or(0);
  server.inactive_conns = read_scalar<uint32_t>(a[IPVS_DEST_ATTR_INACT_CONNS]).value_or(0);
  if (auto method = read_scalar<uint32_t>(a[IPVS_DEST_ATTR_FWD_METHOD]))
    server.masquerade = (*method & IP_VS_CONN_F_FWD_MASK) == IP_VS_CONN_F_MASQ;
  server.upper_threshold = read_scalar<uint32_t>(a[IPVS_DEST_ATTR_U_THRESH]).value_or(0);
  server.lower_threshold = read_scalar<uint32_t>(a[IPVS_DEST_ATTR_L_THRESH]).value_or(0);
  return server;
}

}  // namespace kvlb::kernel::ipvs
