#include "bgp/bird_config.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include <kainjow/mustache.hpp>

#include "bgp/bird_conf_template.h"  // generated: kBirdConfTemplate

namespace kvlb::bgp {
namespace {

using Problems = std::vector<std::string>;
namespace mustache = kainjow::mustache;

void check_range(Problems& problems, const std::string& field, uint64_t value, uint64_t min, uint64_t max) {
  if (value < min || value > max)
    problems.push_back(field + ": must be " + std::to_string(min) + ".." + std::to_string(max) + " (got " +
                       std::to_string(value) + ")");
}

Problems find_problems(const model::BgpSettings& s) {
  Problems problems;
  check_range(problems, "local_as", s.local_as, 1, UINT32_MAX);
  if (!s.router_id.is_v4() || s.router_id == model::IpAddress{})
    problems.push_back("router_id: must be a non-zero IPv4 address (got " + s.router_id.str() + ")");
  std::set<model::IpAddress> seen;
  for (std::size_t i = 0; i < s.peers.size(); ++i) {
    const auto& peer = s.peers[i];
    const std::string field = "peers[" + std::to_string(i) + "]";
    if (!peer.address.is_usable_unicast())
      problems.push_back(field + ".address: not a unicast address (got " + peer.address.str() + ")");
    if (!seen.insert(peer.address).second) problems.push_back(field + ".address: duplicate peer " + peer.address.str());
    check_range(problems, field + ".as", peer.as, 1, UINT32_MAX);
    if (peer.local_address && peer.local_address->family() != peer.address.family())
      problems.push_back(field + ".local_address: address family differs from the peer's");
    if (peer.password)
      if (auto problem = model::bgp_password_problem(*peer.password))
        problems.push_back(field + ".password: " + *problem);
    if (peer.multihop) check_range(problems, field + ".multihop", *peer.multihop, 1, 255);
    if (peer.bfd.enabled) {
      check_range(problems, field + ".bfd.min_rx_ms", peer.bfd.min_rx_ms, 10, 10000);
      check_range(problems, field + ".bfd.min_tx_ms", peer.bfd.min_tx_ms, 10, 10000);
      check_range(problems, field + ".bfd.multiplier", peer.bfd.multiplier, 1, 255);
      if ((peer.multihop || peer.ibgp(s.local_as)) && !peer.local_address)
        problems.push_back(field + ".local_address: required with bfd on an iBGP or multihop session");
    }
  }
  check_range(problems, "backup.as_path_prepend", s.backup.as_path_prepend, 0, 10);
  return problems;
}

// An optional number for a section: its text, or false (set explicitly, so
// that a peer's missing value never finds another one further up).
mustache::data number_or_false(const std::optional<uint32_t>& value) {
  return value ? mustache::data(std::to_string(*value)) : mustache::data(false);
}

mustache::object route_data(const AnnouncedRoute& route) {
  std::vector<model::Community> communities = route.communities;
  std::sort(communities.begin(), communities.end());
  communities.erase(std::unique(communities.begin(), communities.end()), communities.end());
  mustache::list standard;
  mustache::list large;
  for (const auto& c : communities) {
    mustache::object entry;
    entry["global"] = std::to_string(c.global);
    entry["local1"] = std::to_string(c.local1);
    if (c.kind == model::Community::Kind::Large) {
      entry["local2"] = std::to_string(c.local2);
      large.push_back(entry);
    } else {
      standard.push_back(entry);
    }
  }
  mustache::object data;
  data["vip"] = route.vip.str();
  data["length"] = std::to_string(route.vip.max_prefix());
  data["tagged"] = mustache::data(!communities.empty());
  data["standard"] = standard;
  data["large"] = large;
  return data;
}

// kvlb_master4, kvlb_master6, kvlb_backup4, kvlb_backup6: always all four,
// so that a role change or a first VIP of a family only changes route lines.
mustache::list statics_data(const std::vector<AnnouncedRoute>& routes) {
  // By VIP, each once: a VIP given twice is MASTER if either says so, with the communities of both.
  std::map<model::IpAddress, AnnouncedRoute> merged;
  for (const auto& route : routes) {
    auto [it, inserted] = merged.try_emplace(route.vip, route);
    if (inserted) continue;
    it->second.master = it->second.master || route.master;
    it->second.communities.insert(it->second.communities.end(), route.communities.begin(), route.communities.end());
  }
  mustache::list statics;
  for (bool master : {true, false}) {
    for (auto family : {model::Family::V4, model::Family::V6}) {
      mustache::list list;
      for (const auto& [vip, route] : merged)
        if (route.master == master && vip.family() == family) list.push_back(route_data(route));
      mustache::object entry;
      entry["master"] = mustache::data(master);
      entry["role"] = master ? "master" : "backup";
      entry["family"] = family == model::Family::V4 ? "4" : "6";
      entry["channel"] = family == model::Family::V4 ? "ipv4" : "ipv6";
      entry["routes"] = list;
      statics.push_back(entry);
    }
  }
  return statics;
}

mustache::object peer_data(const model::BgpSettings& s, const model::BgpPeer& peer) {
  const bool ibgp = peer.ibgp(s.local_as);
  mustache::object data;
  data["name"] = peer.name();
  data["address"] = peer.address.str();
  data["as"] = std::to_string(peer.as);
  data["ibgp"] = mustache::data(ibgp);
  data["family"] = peer.address.is_v4() ? "4" : "6";
  data["channel"] = peer.address.is_v4() ? "ipv4" : "ipv6";
  // LOCAL_PREF is never sent to eBGP peers: only iBGP ones get it.
  data["master_med"] = number_or_false(s.master.med);
  data["master_local_pref"] = number_or_false(ibgp ? s.master.local_pref : std::nullopt);
  const bool withhold = s.backup.mode == model::BgpBackupMode::Withhold;
  data["backup_withhold"] = mustache::data(withhold);
  // Prepending is for eBGP: a router drops routes whose AS path holds its own
  // AS, so iBGP peers get LOCAL_PREF and MED only.
  mustache::list prepends;
  for (unsigned i = 0; !ibgp && i < s.backup.as_path_prepend; ++i) prepends.push_back(mustache::object{});
  data["backup_prepends"] = prepends;
  data["backup_med"] = number_or_false(s.backup.med);
  data["backup_local_pref"] = number_or_false(ibgp ? s.backup.local_pref : std::nullopt);
  data["local_address"] = peer.local_address ? mustache::data(peer.local_address->str()) : mustache::data(false);
  data["password"] = peer.password ? mustache::data(*peer.password) : mustache::data(false);
  data["multihop"] = number_or_false(peer.multihop);
  data["ttl_security"] = mustache::data(peer.ttl_security);
  data["graceful_restart"] = mustache::data(peer.graceful_restart);
  if (peer.bfd.enabled) {
    mustache::object bfd;
    bfd["min_rx_ms"] = std::to_string(peer.bfd.min_rx_ms);
    bfd["min_tx_ms"] = std::to_string(peer.bfd.min_tx_ms);
    bfd["multiplier"] = std::to_string(peer.bfd.multiplier);
    data["bfd"] = bfd;
  } else {
    data["bfd"] = mustache::data(false);
  }
  return data;
}

}  // namespace

Status validate_bgp_settings(const model::BgpSettings& settings) {
  Problems problems = find_problems(settings);
  if (problems.empty()) return ok_status();
  std::string joined;
  for (const auto& problem : problems) joined += (joined.empty() ? "" : "; ") + problem;
  return Error::invalid("bgp settings: " + joined);
}

std::string render_bird_config(const model::BgpSettings& s, const std::vector<AnnouncedRoute>& routes) {
  if (auto valid = validate_bgp_settings(s); !valid) {
    std::fprintf(stderr, "kvlb bgp: %s\n", valid.error().describe().c_str());
    std::abort();  // the configuration loader checks this first
  }
  mustache::mustache tmpl{std::string(kBirdConfTemplate)};
  if (!tmpl.is_valid()) {
    std::fprintf(stderr, "kvlb bgp: bird.conf template: %s\n", tmpl.error_message().c_str());
    std::abort();  // compiled in: checked by the golden tests
  }
  tmpl.set_custom_escape([](const std::string& text) { return text; });  // a config file, not HTML

  std::vector<const model::BgpPeer*> peers;
  for (const auto& peer : s.peers) peers.push_back(&peer);
  std::sort(peers.begin(), peers.end(), [](const auto* a, const auto* b) { return a->address < b->address; });
  mustache::list peer_list;
  bool bfd = false;
  for (const auto* peer : peers) {
    peer_list.push_back(peer_data(s, *peer));
    bfd = bfd || peer->bfd.enabled;
  }

  mustache::data data;
  data.set("router_id", s.router_id.str());
  data.set("local_as", std::to_string(s.local_as));
  data.set("bfd_protocol", mustache::data(bfd));
  data.set("statics", statics_data(routes));
  data.set("peers", peer_list);
  return tmpl.render(data);
}

}  // namespace kvlb::bgp
