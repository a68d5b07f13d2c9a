#include "ha/conntrackd/conntrackd_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <optional>
#include <string_view>

#include <kainjow/mustache.hpp>

#include "ha/conntrackd/conntrackd_conf_template.h"  // generated: kConntrackdConfTemplate
#include "model/address.h"

namespace kvlb::ha {
namespace {

using Problems = std::vector<std::string>;

// conntrackd's lexer reads a name as [a-zA-Z][a-zA-Z0-9._-]*, except the
// words it takes for values (on, no, ftfw...).
void check_interface(const std::string& name, Problems& problems) {
  static constexpr std::array<std::string_view, 10> kValueWords = {
      "on", "off", "yes", "no", "ftfw", "alarm", "notrack", "nack", "persistent", "for"};
  const auto bad = [&](const std::string& why) { problems.push_back("sync_interface: " + why); };
  if (name.empty()) return bad("empty");
  if (name.size() > 15) return bad("longer than 15 bytes (got \"" + name + "\")");
  const bool first_ok = std::isalpha(static_cast<unsigned char>(name[0]));
  const bool rest_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool value_word = std::find(kValueWords.begin(), kValueWords.end(), lower) != kValueWords.end();
  if (!first_ok || !rest_ok || value_word)
    bad("conntrackd cannot read \"" + name + "\" (a letter, then letters, digits, '.', '-', '_')");
}

std::optional<model::IpAddress> check_sync_address(const std::string& field, const std::string& text,
                                                   Problems& problems) {
  auto address = model::IpAddress::parse(text);
  if (!address || !address->is_v4() || !address->is_usable_unicast()) {
    problems.push_back(field + ": not a unicast IPv4 address (got \"" + text + "\")");
    return std::nullopt;
  }
  return address;
}

// conntrackd's lexer reads IPv6 only in plain hex groups (no embedded IPv4).
bool conntrackd_can_read(const model::IpAddress& address) {
  return address.is_v4() || address.str().find('.') == std::string::npos;
}

// Paths are read up to a space or quote; '#' and braces would confuse a reader.
void check_path(const std::string& field, const std::string& path, std::size_t max_bytes, Problems& problems) {
  if (path.empty() || path[0] != '/') {
    problems.push_back(field + ": must be an absolute path (got \"" + path + "\")");
  } else if (path.size() > max_bytes) {
    problems.push_back(field + ": longer than " + std::to_string(max_bytes) + " bytes");
  } else if (path.find_first_of(" \t\r\n\"#{}") != std::string::npos) {
    problems.push_back(field + ": must not contain spaces, quotes, '#' or braces (got \"" + path + "\")");
  }
}

// conntrackd reads numbers into an int.
void check_count(const std::string& field, uint32_t value, Problems& problems) {
  if (value == 0 || value > INT_MAX)
    problems.push_back(field + ": must be 1.." + std::to_string(INT_MAX) + " (got " + std::to_string(value) + ")");
}

Problems find_problems(const ConntrackdSettings& s) {
  Problems problems;
  check_interface(s.sync_interface, problems);
  auto local = check_sync_address("local_sync_address", s.local_sync_address, problems);
  auto peer = check_sync_address("peer_sync_address", s.peer_sync_address, problems);
  if (local && peer && *local == *peer) problems.push_back("peer_sync_address: same as local_sync_address");
  if (s.port == 0) problems.push_back("port: must be 1..65535 (got 0)");
  for (std::size_t i = 0; i < s.own_addresses.size(); ++i) {
    auto address = model::IpAddress::parse(s.own_addresses[i]);
    if (!address || !conntrackd_can_read(*address))
      problems.push_back("own_addresses[" + std::to_string(i) + "]: not an IP address conntrackd can read (got \"" +
                         s.own_addresses[i] + "\")");
  }
  check_path("unix_socket", s.unix_socket, 107, problems);  // sun_path, with its NUL
  check_path("lock_file", s.lock_file, 255, problems);
  if (!s.log_file.empty()) check_path("log_file", s.log_file, 255, problems);
  check_count("resend_queue_size", s.resend_queue_size, problems);
  check_count("ack_window_size", s.ack_window_size, problems);
  check_count("purge_timeout_seconds", s.purge_timeout_seconds, problems);
  check_count("hash_size", s.hash_size, problems);
  check_count("hash_limit", s.hash_limit, problems);
  check_count("netlink_buffer_size", s.netlink_buffer_size, problems);
  check_count("netlink_buffer_size_max_growth", s.netlink_buffer_size_max_growth, problems);
  check_count("socket_buffer_size", s.socket_buffer_size, problems);
  if (s.netlink_buffer_size_max_growth < s.netlink_buffer_size)
    problems.push_back("netlink_buffer_size_max_growth: smaller than netlink_buffer_size");
  return problems;
}

// Loopback, the sync address and the node's own addresses, sorted and unique.
kainjow::mustache::list ignore_list(const ConntrackdSettings& s) {
  std::vector<model::IpAddress> addresses = {*model::IpAddress::parse("127.0.0.1"), *model::IpAddress::parse("::1"),
                                             *model::IpAddress::parse(s.local_sync_address)};
  for (const auto& text : s.own_addresses) addresses.push_back(*model::IpAddress::parse(text));
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  kainjow::mustache::list list;
  for (const auto& address : addresses) {
    kainjow::mustache::object entry;
    entry["keyword"] = address.is_v4() ? "IPv4_address" : "IPv6_address";
    entry["address"] = address.str();
    list.push_back(entry);
  }
  return list;
}

}  // namespace

Status validate_conntrackd_settings(const ConntrackdSettings& settings) {
  Problems problems = find_problems(settings);
  if (problems.empty()) return ok_status();
  std::string joined;
  for (const auto& problem : problems) joined += (joined.empty() ? "" : "; ") + problem;
  return Error::invalid("conntrackd settings: " + joined);
}

Result<std::string> render_conntrackd_conf(const ConntrackdSettings& s) {
  if (auto valid = validate_conntrackd_settings(s); !valid) return valid.error();
  kainjow::mustache::mustache tmpl{std::string(kConntrackdConfTemplate)};
  if (!tmpl.is_valid()) return Error::invalid("conntrackd.conf template: " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& text) { return text; });  // a config file, not HTML

  kainjow::mustache::data data;
  data.set("sync_interface", s.sync_interface);
  data.set("local_sync_address", model::IpAddress::parse(s.local_sync_address)->str());
  data.set("peer_sync_address", model::IpAddress::parse(s.peer_sync_address)->str());
  data.set("port", std::to_string(s.port));
  data.set("unix_socket", s.unix_socket);
  data.set("lock_file", s.lock_file);
  data.set("log_file", s.log_file.empty() ? "off" : s.log_file);
  data.set("syslog", s.syslog ? "on" : "off");
  data.set("resend_queue_size", std::to_string(s.resend_queue_size));
  data.set("ack_window_size", std::to_string(s.ack_window_size));
  data.set("purge_timeout", std::to_string(s.purge_timeout_seconds));
  data.set("hash_size", std::to_string(s.hash_size));
  data.set("hash_limit", std::to_string(s.hash_limit));
  data.set("netlink_buffer_size", std::to_string(s.netlink_buffer_size));
  data.set("netlink_buffer_size_max_growth", std::to_string(s.netlink_buffer_size_max_growth));
  data.set("socket_buffer_size", std::to_string(s.socket_buffer_size));
  data.set("ignore_addresses", ignore_list(s));
  return tmpl.render(data);
}

}  // namespace kvlb::ha
