#include "fakes/fake_ipvs_sync.h"

#include <algorithm>
#include <cerrno>

namespace kvlb::fakes {
namespace {

using kernel::SyncDaemon;
using kernel::SyncRole;

constexpr std::size_t kMaxInterfaceName = 15;

bool is_multicast(const model::IpAddress& ip) {
  return ip.is_v4() ? (ip.data()[0] & 0xf0) == 0xe0 : ip.data()[0] == 0xff;
}

// What start_sync_thread keeps for `asked` on a device with `mtu`.
SyncDaemon with_kernel_defaults(SyncDaemon asked, uint32_t mtu) {
  SyncDaemon d = std::move(asked);
  if (!d.group) d.group = kernel::default_sync_group();
  if (!d.port) d.port = kernel::kDefaultSyncPort;
  if (!d.ttl) d.ttl = kernel::kDefaultSyncTtl;
  uint32_t headers = d.group->is_v4() ? 20 + 8 : 40 + 8;
  bool backup = d.role == SyncRole::Backup;
  if (d.sync_maxlen) {
    uint32_t min = backup ? 1024 : 1;
    d.sync_maxlen = static_cast<uint16_t>(std::clamp<uint32_t>(d.sync_maxlen, min, 65535 - headers));
  } else {
    uint32_t packet = backup ? std::clamp<uint32_t>(mtu, 1500, 65535) : 1500;
    d.sync_maxlen = static_cast<uint16_t>(packet - headers);
  }
  return d;
}

std::string op_text(const SyncDaemon& d) {
  std::string text = "start " + std::string(kernel::sync_role_name(d.role)) + " " + d.interface + " syncid " +
                     std::to_string(d.sync_id);
  if (d.group) text += " group " + d.group->str();
  if (d.port) text += " port " + std::to_string(d.port);
  if (d.ttl) text += " ttl " + std::to_string(d.ttl);
  if (d.sync_maxlen) text += " maxlen " + std::to_string(d.sync_maxlen);
  return text;
}

}  // namespace

Result<std::vector<SyncDaemon>> FakeIpvsSyncDaemons::list() {
  if (list_error_) return Error::from_errno(*list_error_, "list IPVS sync daemons");
  std::vector<SyncDaemon> out;
  for (SyncRole role : {SyncRole::Master, SyncRole::Backup})
    if (auto it = running.find(role); it != running.end()) out.push_back(it->second);
  return out;
}

Status FakeIpvsSyncDaemons::start(const SyncDaemon& daemon) {
  ++writes_;
  auto fail = [&](int err) { return Status(Error::from_errno(err, kernel::sync_start_context(daemon))); };
  if (auto it = role_failures_.find(daemon.role); it != role_failures_.end()) return fail(it->second);
  if (daemon.interface.size() > kMaxInterfaceName) return fail(EINVAL);
  if (daemon.group && !is_multicast(*daemon.group)) return fail(EINVAL);
  auto device = interfaces.find(daemon.interface);
  if (device == interfaces.end()) return fail(ENODEV);
  if (running.contains(daemon.role)) return fail(EEXIST);
  if (daemon.role == SyncRole::Master && !device->second.up) return fail(ENETUNREACH);
  running[daemon.role] = with_kernel_defaults(daemon, device->second.mtu);
  op_log_.push_back(op_text(daemon));
  return ok_status();
}

Status FakeIpvsSyncDaemons::stop(SyncRole role) {
  ++writes_;
  auto fail = [&](int err) { return Status(Error::from_errno(err, kernel::sync_stop_context(role))); };
  if (auto it = role_failures_.find(role); it != role_failures_.end()) return fail(it->second);
  if (running.erase(role) == 0) return fail(ESRCH);
  op_log_.push_back("stop " + std::string(kernel::sync_role_name(role)));
  return ok_status();
}

void FakeIpvsSyncDaemons::clear_failures() {
  role_failures_.clear();
  list_error_.reset();
}

}  // namespace kvlb::fakes
