#pragma once
// An IPv4 or IPv6 address as a plain value (no socket or libnl types).
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvlb::model {

enum class Family : uint8_t { V4 = 4, V6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress from_v4(const std::array<uint8_t, 4>& bytes);
  static IpAddress from_v6(const std::array<uint8_t, 16>& bytes);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::V4; }
  int af() const;              // AF_INET / AF_INET6
  std::size_t size() const { return is_v4() ? 4 : 16; }
  const uint8_t* data() const { return bytes_.data(); }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  int max_prefix() const { return is_v4() ? 32 : 128; }

  std::string str() const;     // canonical text form
  std::string with_port(uint16_t port) const;  // 1.2.3.4:80 or [::1]:80

  // True for an address that can be a VIP, a real server or a SNAT source:
  // not unspecified (0.0.0.0, ::), loopback (127/8, ::1), multicast (224/4,
  // ff00::/8) or the limited broadcast 255.255.255.255. An IPv4-mapped IPv6
  // address (::ffff:a.b.c.d) is judged by its IPv4 address.
  bool is_usable_unicast() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::V4;
  std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first 4 bytes
};

// A prefix such as 20.20.20.0/24 (used for interface addresses and ranges).
struct IpPrefix {
  IpAddress address;
  int length = 0;
  static std::optional<IpPrefix> parse(std::string_view text);
  bool contains(const IpAddress& ip) const;
  std::string str() const;
  auto operator<=>(const IpPrefix&) const = default;
};

}  // namespace kvlb::model
