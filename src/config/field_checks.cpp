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

}  // namespace kvlb::config
