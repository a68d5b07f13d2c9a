#include "model/types.h"

#include <netinet/in.h>

#include <algorithm>

namespace kvlb::model {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::Tcp: return "tcp";
    case Protocol::Udp: return "udp";
    case Protocol::Sctp: return "sctp";
  }
  return "?";
}

std::optional<Protocol> parse_protocol(std::string_view text) {
  if (text == "tcp") return Protocol::Tcp;
  if (text == "udp") return Protocol::Udp;
  if (text == "sctp") return Protocol::Sctp;
  return std::nullopt;
}

int ip_protocol_number(Protocol p) {
  switch (p) {
    case Protocol::Tcp: return IPPROTO_TCP;
    case Protocol::Udp: return IPPROTO_UDP;
    case Protocol::Sctp: return IPPROTO_SCTP;
  }
  return 0;
}

std::optional<Protocol> protocol_from_number(int number) {
  switch (number) {
    case IPPROTO_TCP: return Protocol::Tcp;
    case IPPROTO_UDP: return Protocol::Udp;
    case IPPROTO_SCTP: return Protocol::Sctp;
    default: return std::nullopt;
  }
}

std::string_view to_string(NatMode m) {
  switch (m) {
    case NatMode::Default: return "default";
    case NatMode::OneArm: return "onearm";
    case NatMode::FullNat: return "fullnat";
  }
  return "?";
}

std::optional<NatMode> parse_nat_mode(std::string_view text) {
  if (text == "default") return NatMode::Default;
  if (text == "onearm") return NatMode::OneArm;
  if (text == "fullnat") return NatMode::FullNat;
  return std::nullopt;
}

const std::vector<std::string>& known_schedulers() {
  // twos (random of two) needs Linux >= 6.7; older kernels refuse it per service.
  static const std::vector<std::string> names = {"rr", "wrr",  "lc",    "wlc", "sh",  "mh",  "sed",
                                                 "nq", "dh",   "lblc",  "lblcr", "fo", "ovf", "twos"};
  return names;
}

bool is_known_scheduler(std::string_view name) {
  const auto& names = known_schedulers();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string VsKey::str() const { return vip.with_port(port) + "/" + std::string(to_string(protocol)); }

std::string RealServerKey::str() const { return ip.with_port(port); }

std::string SnatRule::str() const { return match.str() + " -> " + to.str(); }

}  // namespace kvlb::model
