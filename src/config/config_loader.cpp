#include "config/config_loader.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include "config/field_checks.h"
#include "config/parser.h"
#include "config/yaml_tree.h"

namespace kvlb::config::detail {

using model::IpAddress;

inline constexpr uint64_t kMaxPersistenceSeconds = 2592000;  // 30 days: the kernel keeps timeout*HZ in a u32

void Parser::parse_root(const YamlNode& root, model::DesiredState& state) {
  if (root.is_null()) {
    fail(root, "", "empty config");
    return;
  }
  if (!require_map(root, "(top level)")) return;
  check_keys(root, "", {"node", "api", "reconcile", "kubernetes", "pools", "ha", "bgp", "services"});
  if (auto node = required(root, "node", "node")) parse_node(*node, state.node);
  if (auto kubernetes = root.find("kubernetes")) parse_kubernetes(*kubernetes, state.kubernetes);
  if (auto pools = root.find("pools")) parse_pools(*pools, state.pools);
  if (auto api = root.find("api")) parse_api(*api, state.settings);
  if (auto reconcile = root.find("reconcile")) parse_reconcile(*reconcile, state.settings);
  if (auto ha = root.find("ha")) parse_ha(*ha, state.ha);
  if (auto bgp = root.find("bgp")) parse_bgp(*bgp, state.bgp);
  auto services = root.find("services");
  if (!services || services->is_null()) return;
  if (!services->is_sequence()) {
    fail(*services, "services", "must be a list");
    return;
  }
  // Usually empty here: the items were streamed to parse_service() while the
  // document was read (see load_config_text).
  for (std::size_t i = 0; i < services->size(); ++i) parse_service(services->item(i), i, state.services);
}

void Parser::parse_node(const YamlNode& node, model::NodeConfig& out) {
  if (!require_map(node, "node")) return;
  check_keys(node, "node", {"name", "interface"});
  if (auto name = required(node, "name", "node.name"))
    if (auto text = name_of(*name, "node.name")) out.name = *text;
  if (auto ifname = required(node, "interface", "node.interface")) {
    if (auto text = string_of(*ifname, "node.interface")) {
      if (text->empty() || text->size() > 15)
        fail(*ifname, "node.interface", "must be an interface name of 1..15 characters");
      out.interface = *text;
    }
  }
}

void Parser::parse_api(const YamlNode& node, model::Settings& out) {
  if (!require_map(node, "api")) return;
  check_keys(node, "api", {"listen"});
  if (auto listen = node.find("listen")) {
    if (auto text = string_of(*listen, "api.listen")) {
      if (auto problem = listen_problem(*text)) fail(*listen, "api.listen", *problem);
      else out.api_listen = *text;
    }
  }
}

void Parser::parse_reconcile(const YamlNode& node, model::Settings& out) {
  if (!require_map(node, "reconcile")) return;
  check_keys(node, "reconcile", {"drainTimeoutSeconds", "resyncIntervalSeconds"});
  if (auto drain = node.find("drainTimeoutSeconds"))
    if (auto v = uint_of(*drain, "reconcile.drainTimeoutSeconds", 0, 86400))
      out.drain_timeout_seconds = static_cast<uint32_t>(*v);
  if (auto resync = node.find("resyncIntervalSeconds"))
    if (auto v = uint_of(*resync, "reconcile.resyncIntervalSeconds", 1, 3600))
      out.resync_interval_seconds = static_cast<uint32_t>(*v);
}

std::optional<bool> Parser::bool_of(const YamlNode& node, const std::string& field) {
  if (node.is_scalar() && node.text() == "true") return true;
  if (node.is_scalar() && node.text() == "false") return false;
  fail(node, field, "must be true or false");
  return std::nullopt;
}

void Parser::parse_kubernetes(const YamlNode& node, model::KubernetesSettings& out) {
  if (node.is_null()) return;
  if (!require_map(node, "kubernetes")) return;
  check_keys(node, "kubernetes",
             {"kubeconfig", "inCluster", "loadBalancerClass", "includeClassless", "endpoints", "ipMode",
              "maxPortsPerService"});
  out.enabled = true;
  if (auto path = node.find("kubeconfig"))
    if (auto text = string_of(*path, "kubernetes.kubeconfig")) out.kubeconfig = *text;
  if (auto in_cluster = node.find("inCluster"))
    if (auto v = bool_of(*in_cluster, "kubernetes.inCluster")) out.in_cluster = *v;
  if (out.kubeconfig.empty() == !out.in_cluster)
    fail(node, "kubernetes", "set exactly one of kubeconfig (a path) and inCluster: true");
  if (auto cls = node.find("loadBalancerClass")) {
    if (auto text = string_of(*cls, "kubernetes.loadBalancerClass")) {
      if (text->empty() || text->size() > 253) fail(*cls, "kubernetes.loadBalancerClass", "must be 1..253 characters");
      else out.load_balancer_class = *text;
    }
  }
  if (auto classless = node.find("includeClassless"))
    if (auto v = bool_of(*classless, "kubernetes.includeClassless")) out.include_classless = *v;
  if (auto endpoints = node.find("endpoints")) {
    if (auto text = string_of(*endpoints, "kubernetes.endpoints")) {
      if (*text == "podIP") out.node_port_targets = false;
      else if (*text == "nodePort") out.node_port_targets = true;
      else fail(*endpoints, "kubernetes.endpoints", "unknown value '" + *text + "' (podIP, nodePort)");
    }
  }
  if (auto mode = node.find("ipMode")) {
    if (auto text = string_of(*mode, "kubernetes.ipMode")) {
      if (*text == "VIP" || *text == "Proxy") out.ip_mode = *text;
      else fail(*mode, "kubernetes.ipMode", "unknown value '" + *text + "' (VIP, Proxy)");
    }
  }
  if (auto max = node.find("maxPortsPerService"))
    if (auto v = uint_of(*max, "kubernetes.maxPortsPerService", 1, 1000))
      out.max_ports_per_service = static_cast<uint32_t>(*v);
}

void Parser::parse_pools(const YamlNode& node, std::vector<model::IpPool>& out) {
  if (node.is_null()) return;
  if (!node.is_sequence()) {
    fail(node, "pools", "must be a list");
    return;
  }
  std::map<std::string, std::size_t> names;
  // Every range seen so far, to refuse overlaps (an IP must belong to one pool).
  std::vector<std::pair<model::IpRange, std::string>> ranges;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string field = "pools[" + std::to_string(i) + "]";
    auto item = node.item(i);
    if (!require_map(item, field)) continue;
    check_keys(item, field, {"name", "addresses", "autoAssign", "communities"});
    model::IpPool pool;
    if (auto name = required(item, "name", field + ".name")) {
      if (auto text = name_of(*name, field + ".name")) {
        if (auto [it, inserted] = names.emplace(*text, i); !inserted)
          fail(*name, field + ".name", "duplicate pool name (also pools[" + std::to_string(it->second) + "])");
        pool.name = *text;
      }
    }
    if (auto auto_assign = item.find("autoAssign"))
      if (auto v = bool_of(*auto_assign, field + ".autoAssign")) pool.auto_assign = *v;
    if (auto communities = item.find("communities")) parse_communities(*communities, field + ".communities", pool.communities);
    auto addresses = required(item, "addresses", field + ".addresses");
    if (!addresses) continue;
    if (!addresses->is_sequence() || addresses->size() == 0) {
      fail(*addresses, field + ".addresses", "must be a non-empty list");
      continue;
    }
    for (std::size_t j = 0; j < addresses->size(); ++j) {
      const std::string afield = field + ".addresses[" + std::to_string(j) + "]";
      auto text = string_of(addresses->item(j), afield);
      if (!text) continue;
      auto parsed = parse_address_range(*text);
      if (auto* problem = std::get_if<std::string>(&parsed)) {
        fail(addresses->item(j), afield, *problem);
        continue;
      }
      auto range = std::get<model::IpRange>(parsed);
      bool overlaps = false;
      for (const auto& [other, where] : ranges) {
        if (other.first.family() == range.first.family() && !(range.last < other.first) &&
            !(other.last < range.first)) {
          fail(addresses->item(j), afield, "overlaps " + where);
          overlaps = true;
          break;
        }
      }
      if (overlaps) continue;
      ranges.emplace_back(range, afield + " (" + *text + ")");
      pool.ranges.push_back(range);
    }
    out.push_back(std::move(pool));
  }
}

void Parser::parse_service(const YamlNode& node, std::size_t index, std::vector<model::Service>& out) {
  const std::string field = "services[" + std::to_string(index) + "]";
  if (!require_map(node, field)) return;
  check_keys(node, field,
             {"name", "vip", "port", "protocol", "scheduler", "persistence", "mode", "snatAddress", "endpoints",
              "instance", "communities"});
  model::Service svc;
  std::size_t errors_before = errors.size();
  if (auto name = required(node, "name", field + ".name"))
    if (auto text = name_of(*name, field + ".name")) svc.name = std::move(*text);
  bool vip_ok = false;
  if (auto vip = required(node, "vip", field + ".vip")) {
    if (auto ip = ip_of(*vip, field + ".vip")) {
      svc.key.vip = *ip;
      vip_ok = true;
    }
  }
  if (auto port = required(node, "port", field + ".port"))
    if (auto v = uint_of(*port, field + ".port", 1, 65535)) svc.key.port = static_cast<uint16_t>(*v);
  if (auto protocol = node.find("protocol")) {
    if (auto text = string_of(*protocol, field + ".protocol")) {
      if (auto proto = model::parse_protocol(*text)) svc.key.protocol = *proto;
      else fail(*protocol, field + ".protocol", "unknown protocol '" + *text + "' (tcp, udp, sctp)");
    }
  }
  if (auto scheduler = node.find("scheduler")) {
    if (auto text = string_of(*scheduler, field + ".scheduler")) {
      if (model::is_known_scheduler(*text)) svc.scheduler = *text;
      else
        fail(*scheduler, field + ".scheduler",
             "unknown scheduler '" + *text + "' (rr wrr lc wlc sh mh sed nq dh lblc lblcr fo ovf twos)");
    }
  }
  if (auto persistence = node.find("persistence"))
    if (auto v = uint_of(*persistence, field + ".persistence", 0, kMaxPersistenceSeconds))
      svc.persistence_seconds = static_cast<uint32_t>(*v);
  if (auto mode = node.find("mode")) {
    if (auto text = string_of(*mode, field + ".mode")) {
      if (auto parsed = model::parse_nat_mode(*text)) svc.mode = *parsed;
      else fail(*mode, field + ".mode", "unknown mode '" + *text + "' (default, onearm, fullnat)");
    }
  }
  if (auto snat = node.find("snatAddress")) {
    if (auto ip = ip_of(*snat, field + ".snatAddress")) {
      if (vip_ok && ip->family() != svc.key.vip.family())
        fail(*snat, field + ".snatAddress", "address family differs from the vip");
      if (svc.mode == model::NatMode::Default)
        fail(*snat, field + ".snatAddress", "only valid with mode onearm or fullnat");
      svc.snat_address = *ip;
    }
  }
  if (auto instance = node.find("instance")) {
    if (auto text = name_of(*instance, field + ".instance")) {
      svc.instance = *text;
      instance_lines_[index] = instance->line();
    }
  }
  if (auto communities = node.find("communities"))
    parse_communities(*communities, field + ".communities", svc.communities);
  auto endpoints = node.find("endpoints");
  if (endpoints && !endpoints->is_null()) {
    if (!endpoints->is_sequence()) {
      fail(*endpoints, field + ".endpoints", "must be a list");
    } else {
      svc.endpoints.reserve(endpoints->size());
      std::set<model::RealServerKey> seen;
      for (std::size_t i = 0; i < endpoints->size(); ++i)
        parse_endpoint(endpoints->item(i), field + ".endpoints[" + std::to_string(i) + "]", svc, vip_ok, seen);
    }
  }
  if (errors.size() != errors_before) return;
  auto [it, inserted] = seen_.emplace(svc.key, index);
  if (!inserted) {
    fail(node, field,
         "duplicate vip:port/protocol " + svc.key.str() + " (also in services[" + std::to_string(it->second) + "])");
    return;
  }
  out.push_back(std::move(svc));
}

void Parser::parse_endpoint(const YamlNode& node, const std::string& field, model::Service& svc, bool vip_ok,
                            std::set<model::RealServerKey>& seen) {
  if (!require_map(node, field)) return;
  check_keys(node, field, {"ip", "port", "weight"});
  model::Endpoint ep;
  std::optional<IpAddress> ip;
  std::optional<uint64_t> port;
  if (auto value = required(node, "ip", field + ".ip")) ip = ip_of(*value, field + ".ip");
  if (auto value = required(node, "port", field + ".port")) port = uint_of(*value, field + ".port", 1, 65535);
  if (auto weight = node.find("weight"))
    if (auto w = uint_of(*weight, field + ".weight", 0, model::kMaxWeight)) ep.weight = static_cast<uint32_t>(*w);
  if (!ip || !port || !vip_ok) return;
  if (ip->family() != svc.key.vip.family()) {
    fail(*node.find("ip"), field + ".ip",
         std::string("IPv") + (ip->is_v4() ? "4" : "6") + " endpoint for an IPv" + (svc.key.vip.is_v4() ? "4" : "6") +
             " vip");
    return;
  }
  ep.ip = *ip;
  ep.port = static_cast<uint16_t>(*port);
  if (!seen.insert({ep.ip, ep.port}).second) {
    fail(node, field, "duplicate endpoint " + ep.ip.with_port(ep.port));
    return;
  }
  svc.endpoints.push_back(ep);
}

}  // namespace kvlb::config::detail

namespace kvlb::config {

using detail::Parser;

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
  // Each service is checked as soon as it has been read and its nodes are
  // dropped: a YAML tree of 10,000 services x 10 endpoints never exists.
  auto doc = YamlDocument::parse(text, "services", [&](const YamlNode& service, std::size_t index) {
    parser.parse_service(service, index, result.state.services);
  });
  if (const auto& error = doc.error()) {
    result.state = {};
    result.errors.push_back({name, error->line, "", error->message});
    return result;
  }
  auto root = doc.root();
  if (!root) {
    result.errors.push_back({name, 0, "", "empty config"});
    return result;
  }
  parser.parse_root(*root, result.state);
  parser.check_instances(result.state);
  for (const auto& inst : result.state.ha.instances) result.state.kubernetes.ha_instances.push_back(inst.name);
  // Services were checked before the rest of the file: report in file order.
  std::stable_sort(parser.errors.begin(), parser.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  result.errors = std::move(parser.errors);
  return result;
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back({path, 0, "", "cannot read file"});
    return result;
  }
  std::string text;
  if (auto size = in.seekg(0, std::ios::end).tellg(); size > 0) text.reserve(static_cast<std::size_t>(size));
  in.clear();  // a pipe cannot seek: then read it from where it is
  in.seekg(0, std::ios::beg);
  in.clear();
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) text.append(buffer, static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    LoadResult result;
    result.errors.push_back({path, 0, "", "cannot read file"});
    return result;
  }
  return load_config_text(text, path);
}

}  // namespace kvlb::config
