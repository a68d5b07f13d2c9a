#pragma once
// The config parser's internals, shared by the files that parse its sections.
#include <charconv>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.h"
#include "config/field_checks.h"
#include "config/yaml_tree.h"

namespace kvlb::config::detail {

using model::IpAddress;

// Walks the YAML tree, collecting errors instead of stopping at the first.
// Every node it is handed exists: a missing key is reported by the caller,
// at the line of the mapping that lacks it.
class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  std::vector<ConfigError> errors;

  void fail(const YamlNode& node, const std::string& field, const std::string& message) {
    errors.push_back({file_, node.line(), field, message});
  }

  // Refuses keys the schema does not know (a typo must not be silently
  // ignored), keys that are not strings and a key given twice.
  void check_keys(const YamlNode& map, const std::string& field, std::initializer_list<std::string_view> allowed) {
    int first_line[16] = {};  // per allowed key (the schema has at most 11): line first seen on, 0 if not yet
    for (std::size_t i = 0; i < map.size(); ++i) {
      auto key = map.key(i);
      if (!key.is_scalar() && !key.is_null()) {
        fail(key, field.empty() ? "(top level)" : field, "keys must be strings");
        continue;
      }
      auto text = key.text();
      std::size_t slot = 0;
      for (auto name : allowed) {
        if (name == text) break;
        ++slot;
      }
      if (slot == allowed.size()) fail(key, join(field, text), "unknown key");
      else if (slot >= std::size(first_line)) continue;
      else if (first_line[slot])
        fail(key, join(field, text), "duplicate key (first on line " + std::to_string(first_line[slot]) + ")");
      else first_line[slot] = key.line();
    }
  }

  // The value under `key`, or nullopt after reporting it missing.
  std::optional<YamlNode> required(const YamlNode& map, std::string_view key, const std::string& field) {
    auto value = map.find(key);
    if (!value) fail(map, field, "is required");
    return value;
  }

  bool require_map(const YamlNode& node, const std::string& field) {
    if (node.is_mapping()) return true;
    fail(node, field, "must be a mapping");
    return false;
  }

  std::optional<std::string> string_of(const YamlNode& node, const std::string& field) {
    if (!node.is_scalar()) {
      fail(node, field, "must be a string");
      return std::nullopt;
    }
    return std::string(node.text());
  }

  std::optional<std::string> name_of(const YamlNode& node, const std::string& field) {
    auto name = string_of(node, field);
    if (!name) return std::nullopt;
    if (auto problem = name_problem(*name)) {
      fail(node, field, *problem);
      return std::nullopt;
    }
    return name;
  }

  std::optional<uint64_t> uint_of(const YamlNode& node, const std::string& field, uint64_t min, uint64_t max) {
    if (!node.is_scalar()) {
      fail(node, field, "must be a number");
      return std::nullopt;
    }
    auto text = node.text();
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
      fail(node, field,
           "must be " + std::to_string(min) + ".." + std::to_string(max) + " (got " + std::string(text) + ")");
      return std::nullopt;
    }
    return value;
  }

  // An address kvlb can program: a VIP, an endpoint or a SNAT source.
  std::optional<IpAddress> ip_of(const YamlNode& node, const std::string& field) {
    auto text = string_of(node, field);
    if (!text) return std::nullopt;
    auto ip = IpAddress::parse(*text);
    if (!ip) {
      fail(node, field, "not an IPv4 or IPv6 address (got " + *text + ")");
      return std::nullopt;
    }
    if (!ip->is_usable_unicast()) {
      fail(node, field,
           "must be a unicast address, not unspecified, loopback, multicast or broadcast (got " + *text + ")");
      return std::nullopt;
    }
    return ip;
  }

  static std::string join(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  }

  void parse_root(const YamlNode& root, model::DesiredState& state);
  void parse_service(const YamlNode& node, std::size_t index, std::vector<model::Service>& out);
  // After the whole file: every service's instance exists, a VIP is in one instance.
  void check_instances(const model::DesiredState& state);

 private:
  void parse_node(const YamlNode& node, model::NodeConfig& out);
  void parse_api(const YamlNode& node, model::Settings& out);
  void parse_reconcile(const YamlNode& node, model::Settings& out);
  void parse_kubernetes(const YamlNode& node, model::KubernetesSettings& out);
  void parse_pools(const YamlNode& node, std::vector<model::IpPool>& out);
  void parse_ha(const YamlNode& node, model::HaSettings& out);
  void parse_ha_instances(const YamlNode& node, std::vector<model::HaInstance>& out);
  void parse_sync(const YamlNode& node, model::SyncSettings& out);
  void parse_bgp(const YamlNode& node, model::BgpSettings& out);
  void parse_bgp_peer(const YamlNode& node, const std::string& field, uint32_t local_as, model::BgpPeer& out);
  void parse_bgp_bfd(const YamlNode& node, const std::string& field, model::BgpBfd& out);
  void parse_bgp_master(const YamlNode& node, model::BgpMasterExport& out);
  void parse_bgp_backup(const YamlNode& node, model::BgpBackupExport& out);
  // A list of BGP communities ("65000:100", large "4200000000:1:2") of a service or a pool.
  void parse_communities(const YamlNode& node, const std::string& field, std::vector<model::Community>& out);
  std::optional<std::string> absolute_path_of(const YamlNode& node, const std::string& field, std::size_t max_bytes);
  void fail_at_line(int line, const std::string& field, const std::string& message) {
    errors.push_back({file_, line, field, message});
  }
  std::optional<bool> bool_of(const YamlNode& node, const std::string& field);
  void parse_endpoint(const YamlNode& node, const std::string& field, model::Service& service, bool vip_ok,
                      std::set<model::RealServerKey>& seen);

  std::string file_;
  std::map<model::VsKey, std::size_t> seen_;  // duplicate detection: key -> index of its first service
  std::map<std::size_t, int> instance_lines_;  // service index -> line of its instance key
  int ha_line_ = 0;
};

}  // namespace kvlb::config::detail
