#pragma once
// Shared by the BGP tests: the settings and routes behind each golden file in
// tests/golden/bird, file helpers, and the real `bird -p`.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bgp/bird_config.h"
#include "bgp/routes.h"
#include "model/bgp.h"

extern char** environ;

namespace kvlb::bgp_test {

using bgp::AnnouncedRoute;

inline model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }
inline model::Community community(const char* text) { return *model::Community::parse(text); }

inline model::BgpPeer peer(const char* address, uint32_t as) {
  model::BgpPeer p;
  p.address = ip(address);
  p.as = as;
  return p;
}

inline model::BgpSettings base_settings() {
  model::BgpSettings s;
  s.enabled = true;
  s.local_as = 65000;
  s.router_id = ip("192.0.2.11");
  return s;
}

inline AnnouncedRoute route(const char* vip, bool master, std::vector<model::Community> communities = {}) {
  return AnnouncedRoute{ip(vip), master, std::move(communities)};
}

// A golden file: what it is rendered from.
struct Golden {
  std::string file;  // under tests/golden/bird/
  model::BgpSettings settings;
  std::vector<AnnouncedRoute> routes;
};

// one_peer.conf: one directly connected eBGP router, every VIP MASTER, the defaults.
inline Golden one_peer() {
  Golden g{"one_peer.conf", base_settings(), {}};
  g.settings.peers = {peer("192.0.2.1", 64512)};
  g.routes = {route("20.20.20.1", true), route("20.20.20.2", true)};
  return g;
}

// two_peers_bfd_password.conf: an eBGP router (BFD with default timers, TTL
// security, graceful restart) and a route reflector over iBGP (multihop, BFD
// with its own timers from a local address); both with TCP MD5 passwords.
inline Golden two_peers_bfd_password() {
  Golden g{"two_peers_bfd_password.conf", base_settings(), {}};
  auto ebgp = peer("192.0.2.1", 64512);
  ebgp.password = "s3cret-#1 {x};";
  ebgp.bfd.enabled = true;
  ebgp.ttl_security = true;
  ebgp.graceful_restart = true;
  auto ibgp = peer("198.51.100.7", 65000);
  ibgp.password = "another one";
  ibgp.multihop = 3;
  ibgp.local_address = ip("192.0.2.11");
  ibgp.bfd = {true, 100, 200, 5};
  g.settings.peers = {ibgp, ebgp};  // rendered sorted by address
  g.routes = {route("20.20.20.1", true)};
  return g;
}

// export_*.conf: the same two peers (eBGP and iBGP) and VIPs, with MED and
// LOCAL_PREF for both roles; only the roles and the backup mode differ.
inline Golden export_settings(const std::string& file, bool master, model::BgpBackupMode mode) {
  Golden g{file, base_settings(), {}};
  g.settings.peers = {peer("192.0.2.1", 64512), peer("192.0.2.2", 65000)};
  g.settings.master.med = 10;
  g.settings.master.local_pref = 200;
  g.settings.backup.mode = mode;
  g.settings.backup.as_path_prepend = 2;
  g.settings.backup.med = 500;
  g.settings.backup.local_pref = 50;
  g.routes = {route("20.20.20.1", master), route("20.20.20.2", master)};
  return g;
}
inline Golden export_master() { return export_settings("export_master.conf", true, model::BgpBackupMode::Worse); }
inline Golden export_backup_withhold() {
  return export_settings("export_backup_withhold.conf", false, model::BgpBackupMode::Withhold);
}
inline Golden export_backup_worse() {
  return export_settings("export_backup_worse.conf", false, model::BgpBackupMode::Worse);
}

// ipv6.conf: IPv6 and IPv4 VIPs in both roles, an IPv6 and an IPv4 router.
inline Golden ipv6() {
  Golden g{"ipv6.conf", base_settings(), {}};
  g.settings.peers = {peer("2001:db8:1::1", 64512), peer("192.0.2.1", 64512)};
  g.routes = {route("2001:db8:20::1", true), route("2001:db8:20::2", false), route("20.20.20.1", true)};
  return g;
}

// communities.conf: standard and large communities, given unsorted and twice.
inline Golden communities() {
  Golden g{"communities.conf", base_settings(), {}};
  g.settings.peers = {peer("192.0.2.1", 64512)};
  g.routes = {route("20.20.20.2", false, {community("65000:200")}),
              route("20.20.20.1", true,
                    {community("4200000000:1:2"), community("65000:100"), community("64512:7"),
                     community("65000:100")}),
              route("20.20.20.3", true), route("2001:db8:20::1", true, {community("65535:65281")})};
  return g;
}

inline std::vector<Golden> all_goldens() {
  return {one_peer(),   two_peers_bfd_password(), export_master(), export_backup_withhold(), export_backup_worse(),
          ipv6(),       communities()};
}

inline std::string source_path(const std::string& relative) { return std::string(KVLB_TEST_DATA_DIR) + "/" + relative; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// BIRD's daemon: $KVLB_BIRD, else `bird` in PATH, /usr/sbin or /usr/local/sbin.
inline std::optional<std::string> find_bird() {
  if (const char* path = std::getenv("KVLB_BIRD"); path && *path) return std::string(path);
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/usr/local/sbin";
  std::stringstream split(dirs);
  for (std::string dir; std::getline(split, dir, ':');) {
    if (dir.empty()) continue;
    auto candidate = dir + "/bird";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct CommandResult {
  int status = -1;     // exit status, -1 if it did not exit normally or could not start
  std::string output;  // stdout and stderr
};

// Runs `argv` directly (no shell), collecting its output.
inline CommandResult run(const std::vector<std::string>& argv) {
  CommandResult result;
  int out[2];
  if (::pipe(out) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  char buffer[4096];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) result.output.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  if (spawned != 0) {
    result.output += "cannot start " + argv[0];
    return result;
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

}  // namespace kvlb::bgp_test
