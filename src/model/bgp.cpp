#include "model/bgp.h"

#include <charconv>
#include <cstdint>

namespace kvlb::model {

namespace {

// Digits only (no sign, no spaces), at most `max`.
std::optional<uint32_t> number(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > max) return std::nullopt;
  return static_cast<uint32_t>(value);
}

}  // namespace

std::optional<Community> Community::parse(std::string_view text) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  Community c;
  if (parts.size() == 2) {
    auto global = number(parts[0], 0xffff);
    auto local = number(parts[1], 0xffff);
    if (!global || !local) return std::nullopt;
    c.kind = Kind::Standard;
    c.global = *global;
    c.local1 = *local;
    return c;
  }
  if (parts.size() == 3) {
    auto global = number(parts[0], UINT32_MAX);
    auto local1 = number(parts[1], UINT32_MAX);
    auto local2 = number(parts[2], UINT32_MAX);
    if (!global || !local1 || !local2) return std::nullopt;
    c.kind = Kind::Large;
    c.global = *global;
    c.local1 = *local1;
    c.local2 = *local2;
    return c;
  }
  return std::nullopt;
}

std::string Community::str() const {
  std::string text = std::to_string(global) + ":" + std::to_string(local1);
  if (kind == Kind::Large) text += ":" + std::to_string(local2);
  return text;
}

std::string BgpPeer::name() const {
  // IPv4: dots become '_'. IPv6: colons become '_' and the dots of an
  // embedded IPv4 address 'x' (never a hex digit), so no two addresses meet:
  // an IPv4 name has three '_' and no "__", an IPv6 one seven or a "__".
  std::string name = "peer_";
  for (char c : address.str()) {
    if (c == '.') name += address.is_v4() ? '_' : 'x';
    else if (c == ':') name += '_';
    else name += c;
  }
  return name;
}

std::string_view to_string(BgpBackupMode m) {
  switch (m) {
    case BgpBackupMode::Withhold: return "withhold";
    case BgpBackupMode::Worse: return "worse";
  }
  return "?";
}

std::optional<BgpBackupMode> parse_bgp_backup_mode(std::string_view text) {
  if (text == "withhold") return BgpBackupMode::Withhold;
  if (text == "worse") return BgpBackupMode::Worse;
  return std::nullopt;
}

std::optional<std::string> bgp_password_problem(std::string_view password) {
  if (password.empty()) return "is empty";
  if (password.size() > kMaxBgpPasswordBytes)
    return "longer than " + std::to_string(kMaxBgpPasswordBytes) + " bytes (the TCP MD5 key limit)";
  for (unsigned char c : password) {
    if (c == '"') return "must not contain '\"' (BIRD cannot quote it)";
    if (c < 0x20 || c == 0x7f) return "must not contain control characters or line breaks";
  }
  return std::nullopt;
}

}  // namespace kvlb::model
