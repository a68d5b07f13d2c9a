#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace kvlb::config {
namespace {

using model::IpAddress;

// Walks the YAML tree, collecting errors instead of stopping at the first.
class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  std::vector<ConfigError> errors;

  void fail(const YAML::Node& node, const std::string& field, const std::string& message) {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    errors.push_back({file_, line, field, message});
  }

  // Refuses keys the schema does not know: a typo must not be silently ignored.
  void check_keys(const YAML::Node& map, const std::string& field, const std::set<std::string>& allowed) {
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>();
      if (!allowed.count(key)) fail(kv.first, join(field, key), "unknown key");
    }
  }

  bool require_map(const YAML::Node& node, const std::string& field) {
    if (node.IsMap()) return true;
    fail(node, field, "must be a mapping");
    return false;
  }

  std::optional<std::string> string_of(const YAML::Node& node, const std::string& field) {
    if (!node.IsScalar()) {
      fail(node, field, node.IsDefined() ? "must be a string" : "is required");
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<uint64_t> uint_of(const YAML::Node& node, const std::string& field, uint64_t min, uint64_t max) {
    if (!node.IsScalar()) {
      fail(node, field, node.IsDefined() ? "must be a number" : "is required");
      return std::nullopt;
    }
    const auto& text = node.Scalar();
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
      fail(node, field,
           "must be " + std::to_string(min) + ".." + std::to_string(max) + " (got " + text + ")");
      return std::nullopt;
    }
    return value;
  }

  std::optional<IpAddress> ip_of(const YAML::Node& node, const std::string& field) {
    auto text = string_of(node, field);
    if (!text) return std::nullopt;
    auto ip = IpAddress::parse(*text);
    if (!ip) fail(node, field, "not an IPv4 or IPv6 address (got " + *text + ")");
    return ip;
  }

  static std::string join(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
  }

  void parse_root(const YAML::Node& root, model::DesiredState& state);

 private:
  void parse_node(const YAML::Node& node, model::NodeConfig& out);
  void parse_api(const YAML::Node& node, model::Settings& out);
  void parse_reconcile(const YAML::Node& node, model::Settings& out);
  void parse_service(const YAML::Node& node, const std::string& field, std::vector<model::Service>& out);
  void parse_endpoint(const YAML::Node& node, const std::string& field, model::Service& service);

  std::string file_;
  std::map<model::VsKey, std::string> seen_;  // duplicate detection: key -> field of first use
};

void Parser::parse_root(const YAML::Node& root, model::DesiredState& state) {
  if (!root.IsDefined() || root.IsNull()) {
    fail(root, "", "empty config");
    return;
  }
  if (!require_map(root, "(top level)")) return;
  check_keys(root, "", {"node", "api", "reconcile", "services"});
  parse_node(root["node"], state.node);
  if (root["api"]) parse_api(root["api"], state.settings);
  if (root["reconcile"]) parse_reconcile(root["reconcile"], state.settings);
  const auto services = root["services"];
  if (!services || services.IsNull()) return;
  if (!services.IsSequence()) {
    fail(services, "services", "must be a list");
    return;
  }
  for (std::size_t i = 0; i < services.size(); ++i)
    parse_service(services[i], "services[" + std::to_string(i) + "]", state.services);
}

void Parser::parse_node(const YAML::Node& node, model::NodeConfig& out) {
  if (!node) {
    fail(node, "node", "is required");
    return;
  }
  if (!require_map(node, "node")) return;
  check_keys(node, "node", {"name", "interface"});
  if (auto name = string_of(node["name"], "node.name")) out.name = *name;
  if (auto ifname = string_of(node["interface"], "node.interface")) {
    if (ifname->empty() || ifname->size() > 15)
      fail(node["interface"], "node.interface", "must be an interface name of 1..15 characters");
    out.interface = *ifname;
  }
}

void Parser::parse_api(const YAML::Node& node, model::Settings& out) {
  if (!require_map(node, "api")) return;
  check_keys(node, "api", {"listen"});
  if (node["listen"]) {
    if (auto listen = string_of(node["listen"], "api.listen")) out.api_listen = *listen;
  }
}

void Parser::parse_reconcile(const YAML::Node& node, model::Settings& out) {
  if (!require_map(node, "reconcile")) return;
  check_keys(node, "reconcile", {"drainTimeoutSeconds", "resyncIntervalSeconds"});
  if (node["drainTimeoutSeconds"])
    if (auto v = uint_of(node["drainTimeoutSeconds"], "reconcile.drainTimeoutSeconds", 0, 86400))
      out.drain_timeout_seconds = static_cast<uint32_t>(*v);
  if (node["resyncIntervalSeconds"])
    if (auto v = uint_of(node["resyncIntervalSeconds"], "reconcile.resyncIntervalSeconds", 1, 3600))
      out.resync_interval_seconds = static_cast<uint32_t>(*v);
}

void Parser::parse_service(const YAML::Node& node, const std::string& field, std::vector<model::Service>& out) {
  if (!require_map(node, field)) return;
  check_keys(node, field,
             {"name", "vip", "port", "protocol", "scheduler", "persistence", "mode", "snatAddress", "endpoints"});
  model::Service svc;
  std::size_t errors_before = errors.size();
  if (auto name = string_of(node["name"], field + ".name")) {
    if (name->empty()) fail(node["name"], field + ".name", "must not be empty");
    svc.name = *name;
  }
  if (auto vip = ip_of(node["vip"], field + ".vip")) svc.key.vip = *vip;
  if (auto port = uint_of(node["port"], field + ".port", 1, 65535)) svc.key.port = static_cast<uint16_t>(*port);
  if (node["protocol"]) {
    if (auto text = string_of(node["protocol"], field + ".protocol")) {
      if (auto proto = model::parse_protocol(*text)) svc.key.protocol = *proto;
      else fail(node["protocol"], field + ".protocol", "unknown protocol '" + *text + "' (tcp, udp, sctp)");
    }
  }
  if (node["scheduler"]) {
    if (auto text = string_of(node["scheduler"], field + ".scheduler")) {
      if (model::is_known_scheduler(*text)) svc.scheduler = *text;
      else
        fail(node["scheduler"], field + ".scheduler",
             "unknown scheduler '" + *text + "' (rr wrr lc wlc sh mh sed nq dh lblc lblcr fo ovf twos)");
    }
  }
  if (node["persistence"])
    if (auto v = uint_of(node["persistence"], field + ".persistence", 0, 31536000))
      svc.persistence_seconds = static_cast<uint32_t>(*v);
  if (node["mode"]) {
    if (auto text = string_of(node["mode"], field + ".mode")) {
      if (auto mode = model::parse_nat_mode(*text)) svc.mode = *mode;
      else fail(node["mode"], field + ".mode", "unknown mode '" + *text + "' (default, onearm, fullnat)");
    }
  }
  if (node["snatAddress"]) {
    if (auto ip = ip_of(node["snatAddress"], field + ".snatAddress")) {
      if (ip->family() != svc.key.vip.family())
        fail(node["snatAddress"], field + ".snatAddress", "address family differs from the vip");
      if (svc.mode == model::NatMode::Default)
        fail(node["snatAddress"], field + ".snatAddress", "only valid with mode onearm or fullnat");
      svc.snat_address = *ip;
    }
  }
  const auto endpoints = node["endpoints"];
  if (endpoints && !endpoints.IsNull()) {
    if (!endpoints.IsSequence()) {
      fail(endpoints, field + ".endpoints", "must be a list");
    } else {
      for (std::size_t i = 0; i < endpoints.size(); ++i)
        parse_endpoint(endpoints[i], field + ".endpoints[" + std::to_string(i) + "]", svc);
    }
  }
  if (errors.size() != errors_before) return;
  auto [it, inserted] = seen_.emplace(svc.key, field);
  if (!inserted) {
    fail(node, field, "duplicate vip:port/protocol " + svc.key.str() + " (also in " + it->second + ")");
    return;
  }
  out.push_back(std::move(svc));
}

void Parser::parse_endpoint(const YAML::Node& node, const std::string& field, model::Service& svc) {
  if (!require_map(node, field)) return;
  check_keys(node, field, {"ip", "port", "weight"});
  model::Endpoint ep;
  auto ip = ip_of(node["ip"], field + ".ip");
  auto port = uint_of(node["port"], field + ".port", 1, 65535);
  if (node["weight"])
    if (auto w = uint_of(node["weight"], field + ".weight", 0, model::kMaxWeight))
      ep.weight = static_cast<uint32_t>(*w);
  if (!ip || !port) return;
  if (ip->family() != svc.key.vip.family()) {
    fail(node["ip"], field + ".ip",
         std::string("IPv") + (ip->is_v4() ? "4" : "6") + " endpoint for an IPv" + (svc.key.vip.is_v4() ? "4" : "6") +
             " vip");
    return;
  }
  ep.ip = *ip;
  ep.port = static_cast<uint16_t>(*port);
  for (const auto& other : svc.endpoints)
    if (other.ip == ep.ip && other.port == ep.port) {
      fail(node, field, "duplicate endpoint " + ep.ip.with_port(ep.port));
      return;
    }
  svc.endpoints.push_back(ep);
}

}  // namespace

std::string ConfigError::str() const {
  std::ostringstream out;
  out << file;
  if (line > 0) out << ":" << line;
  out << ": ";
  if (!field.empty()) out << field << ": ";
  out << message;
  return out.str();
}

LoadResult load_config_text(const std::string& text, const std::string& name) {
  LoadResult result;
  Parser parser(name);
  try {
    parser.parse_root(YAML::Load(text), result.state);
  } catch (const YAML::Exception& e) {
    parser.errors.push_back({name, e.mark.line + 1, "", "YAML syntax: " + e.msg});
  }
  result.errors = std::move(parser.errors);
  return result;
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadResult result;
    result.errors.push_back({path, 0, "", "cannot read file"});
    return result;
  }
  std::stringstream text;
  text << in.rdbuf();
  return load_config_text(text.str(), path);
}

}  // namespace kvlb::config
