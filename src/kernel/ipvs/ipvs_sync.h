#pragma once
// The kernel's IPVS connection-sync daemons (ipvsadm --start-daemon): the
// MASTER node multicasts its connection table, the BACKUP node receives it,
// so a takeover keeps established connections. Implementations: the generic
// netlink one (NetlinkIpvsSyncDaemons) and the stateful fake in tests/fakes.
//
// kvlb expects net.ipv4.vs.sync_version = 1 (the kernel's default) on every
// node: only version 1 messages carry IPv6, persistence templates and
// timeouts, and a version 0 receiver drops them. kvlb does not write it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/address.h"
#include "util/result.h"

namespace kvlb::kernel {

enum class SyncRole { Master, Backup };

// One running daemon as the kernel reports it, or one to start.
struct SyncDaemon {
  SyncRole role = SyncRole::Master;
  std::string interface;  // multicast interface (at most 15 characters)
  uint32_t sync_id = 0;   // 0..255; a backup with 0 accepts every sync id
  // Optional: unset or 0 is the kernel's default (224.0.0.81, port 8848,
  // ttl 1, a payload size from the interface's MTU). The kernel reports the
  // values it uses, defaults filled in.
  std::optional<model::IpAddress> group;
  uint16_t port = 0;
  uint8_t ttl = 0;
  uint16_t sync_maxlen = 0;  // UDP payload bytes
  bool operator==(const SyncDaemon&) const = default;
};

class IpvsSyncDaemons {
 public:
  virtual ~IpvsSyncDaemons() = default;
  // The running daemons, at most one per role.
  virtual Result<std::vector<SyncDaemon>> list() = 0;
  // Fails with EEXIST when a daemon of that role already runs, ENODEV for an
  // unknown interface.
  virtual Status start(const SyncDaemon& daemon) = 0;
  // Fails with ESRCH when no daemon of that role runs.
  virtual Status stop(SyncRole role) = 0;
};

// The kernel's defaults (ip_vs_sync.c).
inline constexpr uint16_t kDefaultSyncPort = 8848;
inline constexpr uint8_t kDefaultSyncTtl = 1;
inline model::IpAddress default_sync_group() { return model::IpAddress::from_v4({224, 0, 0, 81}); }

// True when `running`, as listed, is what starting `wanted` gives: unset
// fields of either side stand for the kernel's default, and an unset
// sync_maxlen in `wanted` accepts whatever the kernel chose.
bool runs_as_wanted(const SyncDaemon& running, const SyncDaemon& wanted);

// Makes the running daemons equal `wanted` (at most one per role): stops the
// ones not wanted or different, then starts the missing ones, so a role
// switch frees the interface before the new daemon takes it. A daemon that
// already runs as wanted is left alone (its sync state survives). Refuses,
// before touching anything, settings the kernel would silently change (a
// sync id above 255, a sync_maxlen it would clamp), as those would never
// compare equal and restart the daemon on every call. Returns the first
// error; a failed stop skips the start of that role.
Status ensure_sync_daemons(IpvsSyncDaemons& daemons, const std::vector<SyncDaemon>& wanted);

inline std::string_view sync_role_name(SyncRole role) { return role == SyncRole::Master ? "master" : "backup"; }

// "master on eth1 syncid 5", then " group 239.1.1.1 port 9000 ttl 4 maxlen
// 1400" for the optional fields that are set.
inline std::string sync_daemon_text(const SyncDaemon& daemon) {
  std::string text = std::string(sync_role_name(daemon.role)) + " on " + daemon.interface + " syncid " +
                     std::to_string(daemon.sync_id);
  if (daemon.group) text += " group " + daemon.group->str();
  if (daemon.port) text += " port " + std::to_string(daemon.port);
  if (daemon.ttl) text += " ttl " + std::to_string(daemon.ttl);
  if (daemon.sync_maxlen) text += " maxlen " + std::to_string(daemon.sync_maxlen);
  return text;
}

// Error contexts, shared by the netlink implementation and the fake.
inline std::string sync_start_context(const SyncDaemon& daemon) {
  return "start IPVS sync daemon " + sync_daemon_text(daemon);
}
inline std::string sync_stop_context(SyncRole role) {
  return "stop IPVS sync daemon " + std::string(sync_role_name(role));
}

}  // namespace kvlb::kernel
