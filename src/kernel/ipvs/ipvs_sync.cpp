#include "kernel/ipvs/ipvs_sync.h"

#include <cerrno>
#include <map>

namespace kvlb::kernel {
namespace {

constexpr uint32_t kMaxSyncId = 255;           // sync messages carry it in one byte
constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr uint32_t kMinBackupMaxlen = 1024;    // start_sync_thread clamps a backup's to this

model::IpAddress group_or_default(const SyncDaemon& d) { return d.group.value_or(default_sync_group()); }

// IP and UDP headers in front of the payload.
uint32_t header_bytes(const SyncDaemon& d) { return group_or_default(d).is_v4() ? 20 + 8 : 40 + 8; }

Status validate(const std::vector<SyncDaemon>& wanted) {
  std::map<SyncRole, int> per_role;
  for (const auto& d : wanted) {
    std::string what = "IPVS sync daemon " + sync_daemon_text(d);
    if (++per_role[d.role] > 1)
      return Error::invalid(what + ": more than one " + std::string(sync_role_name(d.role)) + " daemon");
    if (d.interface.empty() || d.interface.size() > kMaxInterfaceName)
      return Error::invalid(what + ": interface name must have 1 to 15 characters");
    if (d.sync_id > kMaxSyncId) return Error::invalid(what + ": sync id above 255");
    uint32_t min = d.role == SyncRole::Backup ? kMinBackupMaxlen : 1;
    uint32_t max = 65535 - header_bytes(d);
    if (d.sync_maxlen != 0 && (d.sync_maxlen < min || d.sync_maxlen > max))
      return Error::invalid(what + ": maxlen outside " + std::to_string(min) + ".." + std::to_string(max));
  }
  return ok_status();
}

const SyncDaemon* find_role(const std::vector<SyncDaemon>& daemons, SyncRole role) {
  for (const auto& d : daemons)
    if (d.role == role) return &d;
  return nullptr;
}

}  // namespace

bool runs_as_wanted(const SyncDaemon& running, const SyncDaemon& wanted) {
  auto port = [](const SyncDaemon& d) { return d.port ? d.port : kDefaultSyncPort; };
  auto ttl = [](const SyncDaemon& d) { return d.ttl ? d.ttl : kDefaultSyncTtl; };
  bool maxlen_ok = wanted.sync_maxlen == 0 || running.sync_maxlen == 0 || running.sync_maxlen == wanted.sync_maxlen;
  return running.role == wanted.role && running.interface == wanted.interface && running.sync_id == wanted.sync_id &&
         group_or_default(running) == group_or_default(wanted) && port(running) == port(wanted) &&
         ttl(running) == ttl(wanted) && maxlen_ok;
}

Status ensure_sync_daemons(IpvsSyncDaemons& daemons, const std::vector<SyncDaemon>& wanted) {
  if (Status valid = validate(wanted); !valid) return valid;
  auto running = daemons.list();
  if (!running) return running.error();

  std::optional<Error> first_error;
  std::map<SyncRole, bool> role_free;
  for (SyncRole role : {SyncRole::Master, SyncRole::Backup}) {
    const SyncDaemon* have = find_role(*running, role);
    const SyncDaemon* want = find_role(wanted, role);
    role_free[role] = true;
    if (!have || (want && runs_as_wanted(*have, *want))) continue;
    Status stopped = daemons.stop(role);
    // ESRCH: it stopped between list and stop, which is what we wanted.
    if (!stopped && stopped.error().code.value() != ESRCH) {
      role_free[role] = false;
      if (!first_error) first_error = stopped.error();
    }
  }
  for (SyncRole role : {SyncRole::Master, SyncRole::Backup}) {
    const SyncDaemon* have = find_role(*running, role);
    const SyncDaemon* want = find_role(wanted, role);
    if (!want || !role_free[role] || (have && runs_as_wanted(*have, *want))) continue;
    if (Status started = daemons.start(*want); !started && !first_error) first_error = started.error();
  }
  if (first_error) return *first_error;
  return ok_status();
}

}  // namespace kvlb::kernel
