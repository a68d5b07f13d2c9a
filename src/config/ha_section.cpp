// The `ha:` section: mastership between kvlbd nodes and connection-state sync.
#include <algorithm>

#include "config/parser.h"

namespace kvlb::config::detail {

void Parser::parse_ha(const YamlNode& node, model::HaSettings& out) {
  if (node.is_null()) return;
  if (!require_map(node, "ha")) return;
  ha_line_ = node.line();
  check_keys(node, "ha", {"address", "peers", "port", "keyFile", "intervalMs", "instances", "sync"});
  out.enabled = true;
  if (auto address = required(node, "address", "ha.address")) out.address = ip_of(*address, "ha.address");
  if (auto peers = required(node, "peers", "ha.peers")) {
    if (!peers->is_sequence() || peers->size() == 0) {
      fail(*peers, "ha.peers", "must be a non-empty list of the other nodes' advert addresses");
    } else {
      for (std::size_t i = 0; i < peers->size(); ++i) {
        const std::string field = "ha.peers[" + std::to_string(i) + "]";
        auto ip = ip_of(peers->item(i), field);
        if (!ip) continue;
        if (out.address && *ip == *out.address) fail(peers->item(i), field, "is this node's own ha.address");
        else if (std::find(out.peers.begin(), out.peers.end(), *ip) != out.peers.end())
          fail(peers->item(i), field, "duplicate peer " + ip->str());
        else out.peers.push_back(*ip);
      }
    }
  }
  if (auto port = node.find("port"))
    if (auto v = uint_of(*port, "ha.port", 1, 65535)) out.port = static_cast<uint16_t>(*v);
  if (auto key = required(node, "keyFile", "ha.keyFile")) {
    if (auto text = string_of(*key, "ha.keyFile")) {
      if (text->empty()) fail(*key, "ha.keyFile", "must be a path (adverts are always authenticated)");
      else out.key_file = *text;
    }
  }
  // Below 20 ms a loaded node misses adverts; above 10 s takeover is no longer hitless.
  if (auto interval = node.find("intervalMs"))
    if (auto v = uint_of(*interval, "ha.intervalMs", 20, 10000)) out.interval_ms = static_cast<uint32_t>(*v);
  if (auto instances = required(node, "instances", "ha.instances")) parse_ha_instances(*instances, out.instances);
  if (auto sync = node.find("sync")) parse_sync(*sync, out.sync);
}

void Parser::parse_ha_instances(const YamlNode& node, std::vector<model::HaInstance>& out) {
  if (!node.is_sequence() || node.size() == 0) {
    fail(node, "ha.instances", "must be a non-empty list");
    return;
  }
  std::set<IpAddress> floating_seen;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string field = "ha.instances[" + std::to_string(i) + "]";
    auto item = node.item(i);
    if (!require_map(item, field)) continue;
    check_keys(item, field, {"name", "priority", "preempt", "preemptDelayMs", "floatingAddresses"});
    model::HaInstance inst;
    if (auto name = required(item, "name", field + ".name")) {
      if (auto text = name_of(*name, field + ".name")) {
        if (text->size() > 32) fail(*name, field + ".name", "at most 32 characters (it travels in every advert)");
        else if (std::any_of(out.begin(), out.end(), [&](const auto& o) { return o.name == *text; }))
          fail(*name, field + ".name", "duplicate instance name");
        inst.name = *text;
      }
    }
    // 255 is VRRP's address owner and 0 means "stepping down" on the wire.
    if (auto priority = item.find("priority"))
      if (auto v = uint_of(*priority, field + ".priority", 1, 254)) inst.priority = static_cast<uint8_t>(*v);
    if (auto preempt = item.find("preempt"))
      if (auto v = bool_of(*preempt, field + ".preempt")) inst.preempt = *v;
    if (auto delay = item.find("preemptDelayMs"))
      if (auto v = uint_of(*delay, field + ".preemptDelayMs", 0, 3600000)) inst.preempt_delay_ms = static_cast<uint32_t>(*v);
    if (auto floating = item.find("floatingAddresses")) {
      if (!floating->is_sequence()) {
        fail(*floating, field + ".floatingAddresses", "must be a list");
      } else {
        for (std::size_t j = 0; j < floating->size(); ++j) {
          const std::string afield = field + ".floatingAddresses[" + std::to_string(j) + "]";
          auto ip = ip_of(floating->item(j), afield);
          if (!ip) continue;
          if (!floating_seen.insert(*ip).second) fail(floating->item(j), afield, "used twice (an address moves with one instance)");
          else inst.floating_addresses.push_back(*ip);
        }
      }
    }
    out.push_back(std::move(inst));
  }
}

void Parser::parse_sync(const YamlNode& node, model::SyncSettings& out) {
  if (!require_map(node, "ha.sync")) return;
  check_keys(node, "ha.sync",
             {"interface", "address", "peer", "ipvsSyncId", "conntrackd", "manageConntrackd", "conntrackdConfig",
              "conntrackdSocket", "conntrackdPort"});
  if (auto ifname = required(node, "interface", "ha.sync.interface")) {
    if (auto text = string_of(*ifname, "ha.sync.interface")) {
      if (text->empty() || text->size() > 15)
        fail(*ifname, "ha.sync.interface", "must be an interface name of 1..15 characters");
      else out.interface = *text;
    }
  }
  if (auto address = node.find("address")) out.address = ip_of(*address, "ha.sync.address");
  if (auto peer = node.find("peer")) out.peer = ip_of(*peer, "ha.sync.peer");
  if (auto id = node.find("ipvsSyncId"))
    if (auto v = uint_of(*id, "ha.sync.ipvsSyncId", 0, 255)) out.ipvs_sync_id = static_cast<uint32_t>(*v);
  if (auto ctd = node.find("conntrackd"))
    if (auto v = bool_of(*ctd, "ha.sync.conntrackd")) out.conntrackd = *v;
  if (auto manage = node.find("manageConntrackd"))
    if (auto v = bool_of(*manage, "ha.sync.manageConntrackd")) out.manage_conntrackd = *v;
  if (auto path = node.find("conntrackdConfig"))
    if (auto text = string_of(*path, "ha.sync.conntrackdConfig")) out.conntrackd_config = *text;
  if (auto path = node.find("conntrackdSocket"))
    if (auto text = string_of(*path, "ha.sync.conntrackdSocket")) out.conntrackd_socket = *text;
  if (auto port = node.find("conntrackdPort"))
    if (auto v = uint_of(*port, "ha.sync.conntrackdPort", 1, 65535)) out.conntrackd_port = static_cast<uint16_t>(*v);
  if (out.conntrackd) {
    if (!out.address) fail(node, "ha.sync.address", "is required with conntrackd (its UDP source on the sync link)");
    if (!out.peer) fail(node, "ha.sync.peer", "is required with conntrackd (the peer's address on the sync link)");
  }
}

void Parser::check_instances(const model::DesiredState& state) {
  std::map<IpAddress, std::string> vip_instance;
  for (std::size_t i = 0; i < state.services.size(); ++i) {
    const auto& svc = state.services[i];
    auto line_it = instance_lines_.find(i);
    int line = line_it == instance_lines_.end() ? ha_line_ : line_it->second;
    const std::string field = "services[" + std::to_string(i) + "].instance";
    if (!state.ha.enabled) {
      if (line_it != instance_lines_.end()) fail_at_line(line, field, "needs an ha section that defines it");
      continue;
    }
    bool known = std::any_of(state.ha.instances.begin(), state.ha.instances.end(),
                             [&](const auto& inst) { return inst.name == svc.instance; });
    if (!known) {
      fail_at_line(line, field, "unknown instance '" + svc.instance + "' (service " + svc.name + "; see ha.instances)");
      continue;
    }
    auto [it, inserted] = vip_instance.emplace(svc.key.vip, svc.instance);
    if (!inserted && it->second != svc.instance)
      fail_at_line(line, field,
                   "vip " + svc.key.vip.str() + " is in instance '" + it->second + "' already (a VIP moves with one instance)");
  }
}

}  // namespace kvlb::config::detail
