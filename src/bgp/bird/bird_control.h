#pragma once
// What kvlbd asks of a running BIRD 2: load a config file, check one before
// loading it, and read back its protocols and route counts. Value types and
// errors only (header-only), so fakes need no library.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "util/result.h"

namespace kvlb::bgp {

// One channel of a protocol, from `show protocols all` ("Channel ipv4" block).
struct BirdChannel {
  std::string name;   // "ipv4", "ipv6"
  std::string state;  // "UP", "DOWN", "START", "FEED", "FLUSHING"... as BIRD prints it
  std::string table;  // "master4"
  // The "Routes:" line; `filtered` only appears with `import keep filtered`.
  std::uint32_t imported = 0;
  std::uint32_t filtered = 0;
  std::uint32_t exported = 0;
  std::uint32_t preferred = 0;

  bool operator==(const BirdChannel&) const = default;
};

// The BGP part of `show protocols all <bgp protocol>`.
struct BirdBgpSession {
  std::string state;  // "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "Down"
  std::string neighbor_address;  // "192.0.2.1", "fe80::1%eth0"
  std::uint32_t neighbor_as = 0;
  std::uint32_t local_as = 0;
  std::string neighbor_id;  // the peer's router id, once the session has been opened
  std::string source_address;
  std::string last_error;  // "Error: Invalid next hop", "Received: Administrative shutdown"...

  bool established() const { return state == "Established"; }
  bool operator==(const BirdBgpSession&) const = default;
};

// One protocol instance as `show protocols [all]` lists it.
struct BirdProtocol {
  std::string name;   // "peer1", "device1"
  std::string proto;  // "BGP", "Static", "Device", "BFD", "Kernel", "Direct"...
  std::string table;  // the main channel's table, "---" when there is none or several
  std::string state;  // "up", "down", "start", "stop", "flush", "wait", "feed"
  std::string since;  // when the state last changed, in BIRD's own time format
  std::string info;   // "Established", "Active", "Error: ..." (empty for most protocols when up)
  std::string description;            // the protocol's `description`, if any
  std::vector<BirdChannel> channels;  // empty without `all`
  std::optional<BirdBgpSession> bgp;  // BGP protocols listed with `all`

  bool up() const { return state == "up"; }
  std::uint64_t imported() const {
    std::uint64_t sum = 0;
    for (const auto& channel : channels) sum += channel.imported;
    return sum;
  }
  std::uint64_t exported() const {
    std::uint64_t sum = 0;
    for (const auto& channel : channels) sum += channel.exported;
    return sum;
  }
  bool operator==(const BirdProtocol&) const = default;
};

// One table of `show route count`: "3 of 3 routes for 3 networks in table master4".
struct BirdTableRoutes {
  std::string table;
  std::uint64_t routes = 0;        // routes the command counted
  std::uint64_t total_routes = 0;  // routes in the table
  std::uint64_t networks = 0;

  bool operator==(const BirdTableRoutes&) const = default;
};

struct BirdRouteCount {
  std::vector<BirdTableRoutes> tables;
  std::uint64_t routes = 0;  // over all tables
  std::uint64_t networks = 0;

  const BirdTableRoutes* table(const std::string& name) const {
    for (const auto& entry : tables)
      if (entry.table == name) return &entry;
    return nullptr;
  }
  bool operator==(const BirdRouteCount&) const = default;
};

// `show status`.
struct BirdDaemonStatus {
  std::string version;    // "2.0.12"
  std::string router_id;  // "10.0.0.1"
  std::string last_reboot;           // when this BIRD process started, BIRD's time format
  std::string last_reconfiguration;  // BIRD's time format
  std::string message;    // "Daemon is up and running", "Reconfiguration in progress", "Shutdown in progress"

  bool operator==(const BirdDaemonStatus&) const = default;
};

struct BirdError {
  enum class Kind {
    NotRunning,     // no socket, or nobody listening on it (ENOENT, ECONNREFUSED)
    Timeout,        // no complete reply (or no finished reconfiguration, or check) in time
    Protocol,       // something BIRD would not send, or the connection closed mid-reply
    CommandFailed,  // BIRD answered with a run-time (8xxx) or parse (9xxx) error
    InvalidConfig,  // the config file does not parse (BIRD keeps running the old one)
    BadArgument,    // a path BIRD's command syntax cannot carry
    Io,             // socket, exec or other system error
  };
  Kind kind = Kind::Io;
  std::string operation;    // `configure "/run/kvlb/bird.conf"`, `bird -p -c /run/kvlb/bird.conf`
  std::string socket_path;  // empty for work not done over the socket
  int code = 0;             // BIRD's reply code for CommandFailed and InvalidConfig (via the socket)
  std::string detail;       // BIRD's message, or what went wrong

  // `bird configure "/x.conf" via /run/bird/bird.ctl: /x.conf:3:17 syntax error, unexpected S`
  std::string describe() const {
    std::string text = "bird " + operation;
    if (!socket_path.empty()) text += " via " + socket_path;
    return text + ": " + detail;
  }
};

template <typename T>
using BirdResult = Result<T, BirdError>;
using BirdDone = BirdResult<std::monostate>;

class BirdControl {
 public:
  virtual ~BirdControl() = default;

  // Loads `path` (`configure "path"`) and returns once BIRD has switched to it,
  // including protocols it had to restart. A file that does not parse is
  // InvalidConfig with BIRD's "file:line:column message"; BIRD keeps the old config.
  virtual BirdDone configure(const std::string& path) = 0;
  // Parses `path` as BIRD would (`bird -p -c path`) without a running daemon.
  virtual BirdDone check_config(const std::string& path) = 0;
  // Has the running BIRD parse `path` without using it (`configure check
  // "path"`): the same check, without starting a process.
  virtual BirdDone check_config_in_daemon(const std::string& path) = 0;
  // `show protocols all`: every protocol with its channels and BGP session.
  virtual BirdResult<std::vector<BirdProtocol>> protocols() = 0;
  // `show route count`.
  virtual BirdResult<BirdRouteCount> route_count() = 0;
  // `show status`.
  virtual BirdResult<BirdDaemonStatus> status() = 0;
};

}  // namespace kvlb::bgp
