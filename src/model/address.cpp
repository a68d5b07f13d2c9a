#include "model/address.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace kvlb::model {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes_.data()) == 1) {
    ip.family_ = Family::V4;
    return ip;
  }
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes_.data()) == 1) {
    ip.family_ = Family::V6;
    return ip;
  }
  return std::nullopt;
}

IpAddress IpAddress::from_v4(const std::array<uint8_t, 4>& bytes) {
  IpAddress ip;
  ip.family_ = Family::V4;
  std::memcpy(ip.bytes_.data(), bytes.data(), 4);
  return ip;
}

IpAddress IpAddress::from_v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress ip;
  ip.family_ = Family::V6;
  ip.bytes_ = bytes;
  return ip;
}

int IpAddress::af() const { return is_v4() ? AF_INET : AF_INET6; }

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(af(), bytes_.data(), buf, sizeof buf);
  return buf;
}

std::string IpAddress::with_port(uint16_t port) const {
  return is_v4() ? str() + ":" + std::to_string(port) : "[" + str() + "]:" + std::to_string(port);
}

namespace {
bool is_usable_unicast_v4(const uint8_t* b) {
  if (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) return false;          // unspecified
  if (b[0] == 127) return false;                                               // loopback 127/8
  if ((b[0] & 0xf0) == 0xe0) return false;                                     // multicast 224/4
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return false;  // limited broadcast
  return true;
}
}  // namespace

bool IpAddress::is_usable_unicast() const {
  if (is_v4()) return is_usable_unicast_v4(bytes_.data());
  static constexpr std::array<uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes_.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0)
    return is_usable_unicast_v4(bytes_.data() + 12);
  if (bytes_[0] == 0xff) return false;  // multicast ff00::/8
  bool zero_but_last = std::all_of(bytes_.begin(), bytes_.begin() + 15, [](uint8_t b) { return b == 0; });
  if (zero_but_last && (bytes_[15] == 0 || bytes_[15] == 1)) return false;  // :: and ::1
  return true;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int length = ip->max_prefix();
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || length < 0 ||
        length > ip->max_prefix())
      return std::nullopt;
  }
  return IpPrefix{*ip, length};
}

bool IpPrefix::contains(const IpAddress& ip) const {
  if (ip.family() != address.family()) return false;
  int full = length / 8, rest = length % 8;
  if (std::memcmp(ip.data(), address.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip.data()[full] & mask) == (address.data()[full] & mask);
}

std::string IpPrefix::str() const { return address.str() + "/" + std::to_string(length); }

}  // namespace kvlb::model
