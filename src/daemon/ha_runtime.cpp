#include "daemon/ha_runtime.h"

#include <filesystem>
#include <spdlog/spdlog.h>

#include "ha/conntrackd/conntrackd_config.h"

namespace kvlb::daemon {
namespace {

using namespace std::chrono_literals;

// How long the sync link must have carried the peer's probes before this
// node counts as synced (and may preempt): conntrackd's bulk arrives at once,
// the IPVS sync daemon refreshes every active connection within seconds
// (sync_refresh_period 1 s, or every 50 packets).
constexpr auto kSyncSettleTime = 5s;

std::string dir_of(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

Result<std::unique_ptr<HaRuntime>> HaRuntime::create(const model::DesiredState& desired, const Clock& clock,
                                                     HaCallbacks callbacks) {
  auto key = read_advert_key(desired.ha.key_file);
  if (!key.ok()) return key.error();
  return std::unique_ptr<HaRuntime>(new HaRuntime(desired, clock, std::move(callbacks), std::move(*key)));
}

HaRuntime::HaRuntime(const model::DesiredState& desired, const Clock& clock, HaCallbacks callbacks, ha::Bytes key)
    : settings_(desired.ha), clock_(clock), callbacks_(std::move(callbacks)) {
  node_ = std::make_unique<HaNode>(settings_, std::move(key), instance_digests(desired), clock_, wall_,
                                   callbacks_.notify);
  takeover_ = std::make_unique<Takeover>(hooks(), clock_);
}

HaRuntime::~HaRuntime() { stop(); }

TakeoverHooks HaRuntime::hooks() {
  TakeoverHooks h;
  h.apply_holds = [this](const auto& holds) { return callbacks_.apply_holds(holds); };
  h.serving = [this](const std::string& instance) {
    if (auto it = terms_.find(instance); it != terms_.end()) node_->set_serving(instance, it->second);
  };
  if (!settings_.sync.interface.empty())
    h.set_ipvs_sync = [this](bool master, bool backup) { return set_ipvs_sync(master, backup); };
  if (settings_.sync.conntrackd) {
    h.conntrackd_commit = [this] { return conntrackd(conntrackd_control_->commit()); };
    h.repair_nat_ports = [this](const std::string& instance) -> Result<std::size_t> {
      if (!conntrack_writer_) return Error::invalid("conntrack repair: ctnetlink not open");
      auto endpoints = callbacks_.sctp_endpoints(instance);
      if (endpoints.empty()) return std::size_t{0};
      return conntrack_writer_->repair_dnat_ports(endpoints);
    };
    h.conntrackd_after_takeover = [this]() -> Status {
      if (auto s = conntrackd(conntrackd_control_->flush_caches()); !s.ok()) return s;
      if (auto s = conntrackd(conntrackd_control_->resync_from_kernel()); !s.ok()) return s;
      return conntrackd(conntrackd_control_->send_bulk());
    };
    h.conntrackd_after_stepdown = [this](bool still_master) -> Status {
      // Shortened timers would also expire the flows of instances still served here.
      if (!still_master)
        if (auto s = conntrackd(conntrackd_control_->shorten_timers()); !s.ok()) return s;
      return conntrackd(conntrackd_control_->request_resync());
    };
  }
  return h;
}

Status HaRuntime::conntrackd(ha::ConntrackdStatus status) {
  if (status.ok()) return ok_status();
  conntrackd_error_ = status.error().describe();
  return Error::invalid(conntrackd_error_);
}

Status HaRuntime::set_ipvs_sync(bool master, bool backup) {
  if (!ipvs_sync_) return Error::invalid("IPVS sync daemons: " + ipvs_sync_error_);
  std::vector<kernel::SyncDaemon> wanted;
  if (master) wanted.push_back({kernel::SyncRole::Master, settings_.sync.interface, settings_.sync.ipvs_sync_id});
  if (backup) wanted.push_back({kernel::SyncRole::Backup, settings_.sync.interface, settings_.sync.ipvs_sync_id});
  return kernel::ensure_sync_daemons(*ipvs_sync_, wanted);
}

Status HaRuntime::start() {
  if (!settings_.sync.interface.empty()) {
    auto sync = kernel::NetlinkIpvsSyncDaemons::open();
    if (sync.ok()) ipvs_sync_ = std::move(*sync);
    else {
      ipvs_sync_error_ = sync.error().describe();
      spdlog::error("ha: {}: IPVS connections will not be synced", ipvs_sync_error_);
    }
  }
  if (settings_.sync.conntrackd) {
    auto writer = kernel::NetfilterConntrackWriter::open();
    if (writer.ok()) conntrack_writer_ = std::move(*writer);
    else spdlog::error("ha: SCTP entry repair unavailable: {}", writer.error().describe());
    ha::ConntrackdSettings cs;
    cs.sync_interface = settings_.sync.interface;
    cs.local_sync_address = settings_.sync.address->str();
    cs.peer_sync_address = settings_.sync.peer->str();
    cs.port = settings_.sync.conntrackd_port;
    cs.own_addresses = {settings_.address->str()};
    cs.unix_socket = settings_.sync.conntrackd_socket;
    cs.lock_file = dir_of(settings_.sync.conntrackd_socket) + "/conntrackd.lock";
    cs.log_file = dir_of(settings_.sync.conntrackd_config) + "/conntrackd.log";
    cs.syslog = false;
    conntrackd_control_ = std::make_unique<ha::UnixSocketConntrackdControl>(cs.unix_socket);
    auto text = ha::render_conntrackd_conf(cs);
    if (!text.ok()) return text.error();
    auto options = ha::conntrackd_process_options(cs, settings_.sync.conntrackd_config);
    options.manage_process = settings_.sync.manage_conntrackd;
    options.output_log = dir_of(settings_.sync.conntrackd_config) + "/conntrackd.out";
    std::error_code ec;
    for (const auto& dir : {dir_of(options.config_path), dir_of(options.socket_path)})
      std::filesystem::create_directories(dir, ec);
    conntrackd_process_ = std::make_unique<ha::ConntrackdProcess>(options, *conntrackd_control_, clock_);
    if (auto written = conntrackd_process_->write_config(*text); !written.ok()) return written.error();
    if (settings_.sync.manage_conntrackd) {
      auto started = conntrackd_process_->start();
      if (started.ok()) started = conntrackd_process_->wait_ready(5s);
      if (!started.ok()) {
        conntrackd_error_ = started.error().describe();
        spdlog::error("ha: conntrackd: {}: takeovers will not be hitless for NAT flows", conntrackd_error_);
      } else {
        spdlog::info("ha: conntrackd running (config {})", options.config_path);
      }
    }
  }
  std::vector<std::string> instances;
  for (const auto& inst : settings_.instances) instances.push_back(inst.name);
  auto report = takeover_->start_as_backup(instances);
  spdlog::info("ha: {}", report.summary());
  if (auto st = node_->start(); !st.ok()) return st;
  spdlog::info("ha: adverts on {} to {} peer(s) every {} ms; {} instance(s), all BACKUP until elected",
               settings_.address->with_port(settings_.port), settings_.peers.size(), settings_.interval_ms,
               settings_.instances.size());
  return ok_status();
}

void HaRuntime::on_wake() {
  for (const auto& change : node_->take_role_changes()) {
    spdlog::info("ha: instance {}: {} -> {}: {}", change.instance, ha::to_string(change.from),
                 ha::to_string(change.to), change.reason);
    TakeoverReport report;
    if (change.to == ha::Role::Master) {
      terms_[change.instance] = change.term;
      report = takeover_->become_master(change.instance, change.reason);
    }
    else if (change.from == ha::Role::Master) report = takeover_->become_backup(change.instance, change.reason);
    else continue;
    if (report.hitless) spdlog::info("ha: {}", report.summary());
    else spdlog::error("ha: {}", report.summary());
  }
  for (const auto& event : node_->take_link_events()) {
    if (!event.up) {
      spdlog::error("ha: {}", event.message);
      continue;
    }
    spdlog::info("ha: {}", event.message);
    if (!conntrackd_control_) continue;
    bool master = false;
    for (const auto& [name, role] : node_->roles()) master = master || role == ha::Role::Master;
    auto st = master ? conntrackd_control_->send_bulk() : conntrackd_control_->request_resync();
    if (!st.ok()) spdlog::warn("ha: resync after the sync link healed: {}", st.error().describe());
  }
}

void HaRuntime::desired_changed(const model::DesiredState& desired) {
  node_->set_digests(instance_digests(desired));
}

void HaRuntime::tick() {
  if (conntrackd_process_ && settings_.sync.manage_conntrackd)
    for (const auto& line : conntrackd_process_->poll()) spdlog::warn("ha: {}", line);
  const bool synced = node_->sync_link_up_for() >= kSyncSettleTime;
  if (synced == synced_) return;
  synced_ = synced;
  node_->set_synced(synced);
  if (synced)
    spdlog::info("ha: connection state synced: the sync link has been up for {} s (preemption allowed where "
                 "configured)", std::chrono::duration_cast<std::chrono::seconds>(kSyncSettleTime).count());
  else
    spdlog::warn("ha: connection state no longer synced: the sync link is down (no preemption until it has been "
                 "up for {} s)", std::chrono::duration_cast<std::chrono::seconds>(kSyncSettleTime).count());
}

void HaRuntime::stop() {
  if (stopped_ || !node_) return;
  stopped_ = true;
  node_->stop();  // priority 0: the peer takes over within its skew time
  for (const auto& [name, role] : node_->roles())
    if (takeover_->holds().count(name)) spdlog::info("ha: {}", takeover_->become_backup(name, "stopping").summary());
}

nlohmann::json HaRuntime::status() const {
  auto j = node_->status();
  nlohmann::json history = nlohmann::json::array();
  for (const auto& r : takeover_->history()) history.push_back(r.json());
  j["takeovers"] = history;
  j["takeoverCount"] = takeover_->takeovers();
  j["notHitless"] = takeover_->not_hitless();
  nlohmann::json sync;
  sync["interface"] = settings_.sync.interface;
  sync["ipvsSyncId"] = settings_.sync.ipvs_sync_id;
  if (!ipvs_sync_error_.empty()) sync["ipvsSyncError"] = ipvs_sync_error_;
  if (settings_.sync.conntrackd) {
    bool alive = conntrackd_process_ && conntrackd_process_->alive();
    sync["conntrackd"] = {{"running", alive}, {"socket", settings_.sync.conntrackd_socket},
                          {"lastError", conntrackd_error_}};
  }
  j["sync"] = sync;
  return j;
}

std::string HaRuntime::metrics() const {
  std::string out;
  auto line = [&](const std::string& name, const std::string& labels, double value) {
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
  };
  auto s = node_->status();
  for (const auto& i : s["instances"]) {
    std::string labels = "instance=\"" + i["name"].get<std::string>() + "\"";
    line("kvlb_ha_master", labels, i["role"] == "MASTER" ? 1 : 0);
    line("kvlb_ha_peer_config_differs", labels, i["peerConfigDiffers"].get<bool>() ? 1 : 0);
    line("kvlb_ha_became_master_total", labels, i["becameMaster"].get<double>());
  }
  for (const auto& [reason, value] : s["adverts"].items()) line("kvlb_ha_adverts_total", "kind=\"" + reason + "\"", value.get<double>());
  if (s.contains("syncLink")) {
    line("kvlb_ha_sync_link_up", "", s["syncLink"]["alarm"].get<bool>() ? 0 : 1);
    line("kvlb_ha_sync_link_alarms_total", "", s["syncLink"]["alarms"].get<double>());
  }
  line("kvlb_ha_takeovers_total", "", static_cast<double>(takeover_->takeovers()));
  line("kvlb_ha_takeovers_not_hitless_total", "", static_cast<double>(takeover_->not_hitless()));
  if (!takeover_->history().empty())
    line("kvlb_ha_last_takeover_seconds", "", static_cast<double>(takeover_->history().back().took.count()) / 1e6);
  return out;
}

}  // namespace kvlb::daemon
