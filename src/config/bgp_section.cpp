// The `bgp:` section: BIRD announces the VIPs to upstream routers, and the
// `communities` of services and pools.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "config/parser.h"

namespace kvlb::config::detail {

namespace {

// The password file's content without its trailing line break(s), or
// nullopt with why it cannot be read in `error`.
std::optional<std::string> read_password_file(const std::string& path, std::string& error) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, n);
    if (text.size() > 4096) {
      error = "larger than 4096 bytes";
      return std::nullopt;
    }
  }
  if (std::ferror(file.get())) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::optional<std::string> Parser::absolute_path_of(const YamlNode& node, const std::string& field,
                                                    std::size_t max_bytes) {
  auto text = string_of(node, field);
  if (!text) return std::nullopt;
  if (text->empty() || (*text)[0] != '/') fail(node, field, "must be an absolute path (got \"" + *text + "\")");
  else if (text->size() > max_bytes) fail(node, field, "longer than " + std::to_string(max_bytes) + " bytes");
  else return text;
  return std::nullopt;
}

void Parser::parse_bgp(const YamlNode& node, model::BgpSettings& out) {
  if (node.is_null()) return;
  if (!require_map(node, "bgp")) return;
  check_keys(node, "bgp", {"localAS", "routerId", "peers", "master", "backup", "birdConfig", "birdSocket"});
  out.enabled = true;
  if (auto as = required(node, "localAS", "bgp.localAS"))
    if (auto v = uint_of(*as, "bgp.localAS", 1, UINT32_MAX)) out.local_as = static_cast<uint32_t>(*v);
  if (auto id = required(node, "routerId", "bgp.routerId")) {
    if (auto text = string_of(*id, "bgp.routerId")) {
      auto ip = IpAddress::parse(*text);
      if (!ip || !ip->is_v4()) fail(*id, "bgp.routerId", "must be an IPv4 address (got " + *text + ")");
      else if (*ip == IpAddress{}) fail(*id, "bgp.routerId", "must not be 0.0.0.0");
      else out.router_id = *ip;
    }
  }
  if (auto peers = required(node, "peers", "bgp.peers")) {
    if (!peers->is_sequence() || peers->size() == 0) {
      fail(*peers, "bgp.peers", "must be a non-empty list of the routers to announce to");
    } else {
      std::map<IpAddress, std::size_t> seen;
      for (std::size_t i = 0; i < peers->size(); ++i) {
        const std::string field = "bgp.peers[" + std::to_string(i) + "]";
        model::BgpPeer peer;
        std::size_t errors_before = errors.size();
        parse_bgp_peer(peers->item(i), field, out.local_as, peer);
        if (errors.size() != errors_before) continue;
        if (auto [it, inserted] = seen.emplace(peer.address, i); !inserted) {
          fail(*peers->item(i).find("address"), field + ".address",
               "duplicate peer " + peer.address.str() + " (also bgp.peers[" + std::to_string(it->second) + "])");
          continue;
        }
        out.peers.push_back(std::move(peer));
      }
    }
  }
  if (auto master = node.find("master")) parse_bgp_master(*master, out.master);
  if (auto backup = node.find("backup")) parse_bgp_backup(*backup, out.backup);
  // AS path prepends are for eBGP only (a router drops routes whose AS path
  // holds its own AS): made worse for an iBGP peer means LOCAL_PREF or MED.
  if (out.backup.mode == model::BgpBackupMode::Worse && !out.backup.local_pref && !out.backup.med) {
    for (std::size_t i = 0; i < out.peers.size(); ++i) {
      if (!out.peers[i].ibgp(out.local_as)) continue;
      auto backup = node.find("backup");
      fail(backup ? *backup : node, "bgp.backup",
           "mode worse needs localPref or med for iBGP peer " + out.peers[i].address.str() +
               " (AS path prepends are for eBGP peers only)");
      break;
    }
  }
  if (auto path = node.find("birdConfig"))
    if (auto text = absolute_path_of(*path, "bgp.birdConfig", 4095)) out.bird_config = *text;
  if (auto path = node.find("birdSocket"))
    if (auto text = absolute_path_of(*path, "bgp.birdSocket", 107)) out.bird_socket = *text;  // sun_path, with its NUL
}

void Parser::parse_bgp_peer(const YamlNode& node, const std::string& field, uint32_t local_as, model::BgpPeer& out) {
  if (!require_map(node, field)) return;
  check_keys(node, field,
             {"address", "as", "localAddress", "passwordFile", "multihop", "ttlSecurity", "bfd", "gracefulRestart"});
  bool address_ok = false;
  if (auto address = required(node, "address", field + ".address")) {
    if (auto ip = ip_of(*address, field + ".address")) {
      const bool link_local = !ip->is_v4() && ip->bytes()[0] == 0xfe && (ip->bytes()[1] & 0xc0) == 0x80;  // fe80::/10
      if (link_local)
        fail(*address, field + ".address",
             "a link-local neighbor needs an interface; use a global address (got " + ip->str() + ")");
      else if (!ip->is_v4() && ip->str().find('.') != std::string::npos)
        fail(*address, field + ".address",
             "an IPv4 address inside IPv6; give the IPv4 address (got " + ip->str() + ")");
      else {
        out.address = *ip;
        address_ok = true;
      }
    }
  }
  if (auto as = required(node, "as", field + ".as"))
    if (auto v = uint_of(*as, field + ".as", 1, UINT32_MAX)) out.as = static_cast<uint32_t>(*v);
  if (auto local = node.find("localAddress")) {
    if (auto ip = ip_of(*local, field + ".localAddress")) {
      if (address_ok && ip->family() != out.address.family())
        fail(*local, field + ".localAddress", "address family differs from the peer's");
      else if (address_ok && *ip == out.address) fail(*local, field + ".localAddress", "is the peer's own address");
      else out.local_address = *ip;
    }
  }
  if (auto file = node.find("passwordFile")) {
    if (auto path = string_of(*file, field + ".passwordFile")) {
      if (path->empty()) {
        fail(*file, field + ".passwordFile", "must be a path");
      } else {
        std::string error;
        auto password = read_password_file(*path, error);
        if (!password) fail(*file, field + ".passwordFile", "cannot read " + *path + ": " + error);
        else if (auto problem = model::bgp_password_problem(*password))
          fail(*file, field + ".passwordFile", "the password in " + *path + " " + *problem);
        else out.password = std::move(*password);
      }
    }
  }
  if (auto multihop = node.find("multihop"))
    if (auto v = uint_of(*multihop, field + ".multihop", 1, 255)) out.multihop = static_cast<uint8_t>(*v);
  if (auto ttl = node.find("ttlSecurity"))
    if (auto v = bool_of(*ttl, field + ".ttlSecurity")) out.ttl_security = *v;
  if (auto gr = node.find("gracefulRestart"))
    if (auto v = bool_of(*gr, field + ".gracefulRestart")) out.graceful_restart = *v;
  if (auto bfd = node.find("bfd")) parse_bgp_bfd(*bfd, field + ".bfd", out.bfd);
  // BIRD treats iBGP sessions as multihop unless told otherwise, and runs BFD
  // for a multihop session only from a given local address.
  const bool multihop_session = out.multihop.has_value() || (local_as != 0 && out.as != 0 && out.ibgp(local_as));
  if (out.bfd.enabled && multihop_session && !out.local_address)
    fail(node, field + ".localAddress", "is required with bfd on an iBGP or multihop session (BFD's source address)");
}

void Parser::parse_bgp_bfd(const YamlNode& node, const std::string& field, model::BgpBfd& out) {
  if (node.is_scalar()) {  // bfd: true, with the default timers
    if (auto v = bool_of(node, field)) out.enabled = *v;
    return;
  }
  if (!node.is_mapping()) {
    fail(node, field, "must be true, false or a mapping");
    return;
  }
  check_keys(node, field, {"enabled", "minRxMs", "minTxMs", "multiplier"});
  out.enabled = true;
  if (auto enabled = node.find("enabled"))
    if (auto v = bool_of(*enabled, field + ".enabled")) out.enabled = *v;
  if (auto rx = node.find("minRxMs"))
    if (auto v = uint_of(*rx, field + ".minRxMs", 10, 10000)) out.min_rx_ms = static_cast<uint32_t>(*v);
  if (auto tx = node.find("minTxMs"))
    if (auto v = uint_of(*tx, field + ".minTxMs", 10, 10000)) out.min_tx_ms = static_cast<uint32_t>(*v);
  if (auto multiplier = node.find("multiplier"))
    if (auto v = uint_of(*multiplier, field + ".multiplier", 1, 255)) out.multiplier = static_cast<uint8_t>(*v);
}

void Parser::parse_bgp_master(const YamlNode& node, model::BgpMasterExport& out) {
  if (!require_map(node, "bgp.master")) return;
  check_keys(node, "bgp.master", {"med", "localPref"});
  if (auto med = node.find("med"))
    if (auto v = uint_of(*med, "bgp.master.med", 0, UINT32_MAX)) out.med = static_cast<uint32_t>(*v);
  if (auto pref = node.find("localPref"))
    if (auto v = uint_of(*pref, "bgp.master.localPref", 0, UINT32_MAX)) out.local_pref = static_cast<uint32_t>(*v);
}

void Parser::parse_bgp_backup(const YamlNode& node, model::BgpBackupExport& out) {
  if (!require_map(node, "bgp.backup")) return;
  check_keys(node, "bgp.backup", {"mode", "asPathPrepend", "med", "localPref"});
  if (auto mode = node.find("mode")) {
    if (auto text = string_of(*mode, "bgp.backup.mode")) {
      if (auto parsed = model::parse_bgp_backup_mode(*text)) out.mode = *parsed;
      else fail(*mode, "bgp.backup.mode", "unknown mode '" + *text + "' (withhold, worse)");
    }
  }
  if (auto prepend = node.find("asPathPrepend"))
    if (auto v = uint_of(*prepend, "bgp.backup.asPathPrepend", 0, 10)) out.as_path_prepend = static_cast<uint8_t>(*v);
  if (auto med = node.find("med"))
    if (auto v = uint_of(*med, "bgp.backup.med", 0, UINT32_MAX)) out.med = static_cast<uint32_t>(*v);
  if (auto pref = node.find("localPref"))
    if (auto v = uint_of(*pref, "bgp.backup.localPref", 0, UINT32_MAX)) out.local_pref = static_cast<uint32_t>(*v);
}

void Parser::parse_communities(const YamlNode& node, const std::string& field, std::vector<model::Community>& out) {
  if (node.is_null()) return;
  if (!node.is_sequence()) {
    fail(node, field, "must be a list");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string cfield = field + "[" + std::to_string(i) + "]";
    auto text = string_of(node.item(i), cfield);
    if (!text) continue;
    auto community = model::Community::parse(*text);
    if (!community) {
      fail(node.item(i), cfield,
           "not a BGP community (got " + *text +
               "): asn:value with both 0..65535, or a large community a:b:c with each 0..4294967295");
    } else if (std::find(out.begin(), out.end(), *community) != out.end()) {
      fail(node.item(i), cfield, "duplicate community " + community->str());
    } else {
      out.push_back(*community);
    }
  }
}

}  // namespace kvlb::config::detail
