#include "config/field_checks.h"

#include <charconv>
#include <cstdint>
#include <cstdio>

#include "model/address.h"

namespace kvlb::config {
namespace {

// Decodes one UTF-8 sequence at text[at]; nullopt if it is malformed,
// overlong, a surrogate or above U+10FFFF.
std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& at) {
  auto byte = [&](std::size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(at);
  if (lead < 0x80) {
    ++at;
    return lead;
  }
  std::size_t length;
  char32_t cp, min;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, cp = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, cp = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (at + length > text.size()) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(at + i) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  at += length;
  return cp;
}

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); }

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 1 || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxNameBytes)
    return "must be at most " + std::to_string(kMaxNameBytes) + " bytes (got " + std::to_string(name.size()) + ")";
  for (std::size_t at = 0; at < name.size();) {
    std::size_t start = at;
    auto cp = decode_utf8(name, at);
    if (!cp) return "is not valid UTF-8 (at byte " + std::to_string(start) + ")";
    if (is_control(*cp)) {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(*cp));
      return "must not contain control characters (" + std::string(code) + " at byte " + std::to_string(start) + ")";
    }
  }
  return std::nullopt;
}

std::optional<std::string> listen_problem(std::string_view listen) {
  if (listen == "off") return std::nullopt;
  bool ok = false;
  auto colon = listen.rfind(':');
  if (colon != std::string_view::npos && parse_port(listen.substr(colon + 1))) {
    auto host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      auto ip = model::IpAddress::parse(host.substr(1, host.size() - 2));
      ok = ip && !ip->is_v4();
    } else {
      auto ip = model::IpAddress::parse(host);
      ok = ip && ip->is_v4();
    }
  }
  if (ok) return std::nullopt;
  return "must be \"off\", IPv4:port or [IPv6]:port with port 1..65535 (got " + std::string(listen) + ")";
}

namespace {

std::string trimmed(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return std::string(text);
}

// The last address of prefix/length.
model::IpAddress last_of(const model::IpPrefix& prefix) {
  auto bytes = prefix.address.bytes();
  int bits = prefix.address.max_prefix();
  for (int bit = prefix.length; bit < bits; ++bit) bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  if (prefix.address.is_v4()) return model::IpAddress::from_v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  return model::IpAddress::from_v6(bytes);
}

}  // namespace

std::variant<model::IpRange, std::string> parse_address_range(std::string_view text) {
  model::IpRange range;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    auto first = model::IpAddress::parse(trimmed(text.substr(0, dash)));
    auto last = model::IpAddress::parse(trimmed(text.substr(dash + 1)));
    if (!first || !last) return "not a range of two addresses (got " + std::string(text) + ")";
    if (first->family() != last->family()) return "range mixes IPv4 and IPv6 (got " + std::string(text) + ")";
    if (*last < *first) return "range ends before it starts (got " + std::string(text) + ")";
    range = {*first, *last};
  } else if (text.find('/') != std::string_view::npos) {
    auto prefix = model::IpPrefix::parse(text);
    if (!prefix) return "not a CIDR (got " + std::string(text) + ")";
    range = {prefix->address, last_of(*prefix)};
    // 192.0.2.5/28 means 192.0.2.0/28: start at the network address.
    auto bytes = prefix->address.bytes();
    for (int bit = prefix->length; bit < prefix->address.max_prefix(); ++bit)
      bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    range.first = prefix->address.is_v4() ? model::IpAddress::from_v4({bytes[0], bytes[1], bytes[2], bytes[3]})
                                          : model::IpAddress::from_v6(bytes);
  } else {
    auto single = model::IpAddress::parse(trimmed(text));
    if (!single) return "not a CIDR, range or address (got " + std::string(text) + ")";
    range = {*single, *single};
  }
  // Unusable addresses sit at the edges of their blocks (0/8, 127/8, 224/4,
  // 255.255.255.255, ::, ::1, ff00::/8): checking both ends and the classes in
  // between is enough for ranges that do not span those blocks.
  if (!range.first.is_usable_unicast() || !range.last.is_usable_unicast())
    return "must hold only unicast addresses, not unspecified, loopback, multicast or broadcast (got " +
           std::string(text) + ")";
  if (range.first.is_v4()) {
    auto a = range.first.bytes()[0], b = range.last.bytes()[0];
    if ((a < 127 && b >= 127) || (a < 224 && b >= 224))
      return "must hold only unicast addresses (got " + std::string(text) + ")";
  }
  return range;
}

}  // namespace kvlb::config
