#include "daemon/takeover.h"

#include <algorithm>
#include <cstdio>

namespace kvlb::daemon {
namespace {

constexpr std::size_t kHistoryKept = 20;

std::string ms(std::chrono::microseconds us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(us.count()) / 1000.0);
  return buf;
}

}  // namespace

std::string TakeoverReport::summary() const {
  std::string out = instance + (to_master ? " MASTER" : " BACKUP") + " in " + ms(took) + ":";
  for (std::size_t i = 0; i < steps.size(); ++i) {
    out += (i ? ", " : " ") + steps[i].name + " " + ms(steps[i].took);
    if (!steps[i].ok) out += " FAILED (" + steps[i].error + ")";
  }
  if (to_master && !hitless) out += "; NOT hitless: connection state was incomplete";
  return out;
}

std::vector<std::string> TakeoverReport::step_names() const {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(s.ok ? s.name : s.name + " FAILED");
  return out;
}

nlohmann::json TakeoverReport::json() const {
  nlohmann::json steps_json = nlohmann::json::array();
  for (const auto& s : steps) {
    nlohmann::json j{{"step", s.name}, {"ok", s.ok}, {"us", s.took.count()}};
    if (!s.ok) j["error"] = s.error;
    steps_json.push_back(j);
  }
  return {{"instance", instance}, {"to", to_master ? "MASTER" : "BACKUP"}, {"reason", reason},
          {"hitless", hitless},   {"us", took.count()},                     {"steps", steps_json}};
}

Takeover::Takeover(TakeoverHooks hooks, const Clock& clock) : hooks_(std::move(hooks)), clock_(clock) {}

void Takeover::step(TakeoverReport& report, const std::string& name, const std::function<Status()>& action,
                    bool sync_step) {
  auto start = clock_.now();
  auto status = action();
  TakeoverStep s{name, status.ok(), status.ok() ? "" : status.error().describe(),
                 std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - start)};
  if (!s.ok && sync_step) report.hitless = false;
  report.steps.push_back(std::move(s));
}

void Takeover::counted_step(TakeoverReport& report, const std::string& name,
                            const std::function<Result<std::size_t>()>& action) {
  std::size_t count = 0;
  step(report, name, [&]() -> Status {
    auto n = action();
    if (!n.ok()) return n.error();
    count = *n;
    return ok_status();
  }, true);
  report.steps.back().name += " (" + std::to_string(count) + ")";
}

void Takeover::apply(TakeoverReport& report, const std::string& name) {
  step(report, name, [&] { return hooks_.apply_holds(holds_); }, false);
}

void Takeover::sync_daemons(TakeoverReport& report) {
  if (!hooks_.set_ipvs_sync || master_.empty()) return;
  bool any_master = std::any_of(master_.begin(), master_.end(), [](const auto& m) { return m.second; });
  bool any_backup = std::any_of(master_.begin(), master_.end(), [](const auto& m) { return !m.second; });
  step(report, any_master ? (any_backup ? "ipvs-sync master+backup" : "ipvs-sync master") : "ipvs-sync backup",
       [&] { return hooks_.set_ipvs_sync(any_master, any_backup); }, true);
}

TakeoverReport Takeover::finish(TakeoverReport report, TimePoint started) {
  report.took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - started);
  if (report.to_master) {
    ++takeovers_;
    if (!report.hitless) ++not_hitless_;
  }
  history_.push_back(report);
  while (history_.size() > kHistoryKept) history_.pop_front();
  return report;
}

TakeoverReport Takeover::start_as_backup(const std::vector<std::string>& instances) {
  auto started = clock_.now();
  for (const auto& instance : instances) master_[instance] = false;
  TakeoverReport report{"(all)", false, "start"};
  sync_daemons(report);
  if (hooks_.conntrackd_after_stepdown)
    step(report, "conntrackd backup", [&] { return hooks_.conntrackd_after_stepdown(false); }, true);
  return finish(std::move(report), started);
}

TakeoverReport Takeover::become_master(const std::string& instance, const std::string& reason) {
  auto started = clock_.now();
  TakeoverReport report{instance, true, reason};
  master_[instance] = true;
  // 1. Traffic to the VIPs is dropped silently until the state is in place.
  holds_[instance] = {false, true};
  apply(report, "drop");
  // 2. Connection state: conntrack's (IPVS's own table is already filled by
  // the backup sync daemon).
  if (hooks_.conntrackd_commit) step(report, "conntrackd commit", hooks_.conntrackd_commit, true);
  if (hooks_.repair_nat_ports) counted_step(report, "repair sctp nat", [&] { return hooks_.repair_nat_ports(instance); });
  // 3. Only then the addresses (with GARP / NA), and the drop is lifted last.
  holds_[instance] = {true, true};
  apply(report, "addresses");
  holds_[instance] = {true, false};
  apply(report, "open");
  if (hooks_.serving) hooks_.serving(instance);
  // The sync daemons switch after traffic flows: stopping the backup daemon
  // waits for kernel threads, and the synced connections stay in the table.
  sync_daemons(report);
  // conntrackd's own caches: a fresh internal cache and a bulk to the peer.
  if (hooks_.conntrackd_after_takeover)
    step(report, "conntrackd resync", hooks_.conntrackd_after_takeover, false);
  return finish(std::move(report), started);
}

TakeoverReport Takeover::become_backup(const std::string& instance, const std::string& reason) {
  auto started = clock_.now();
  TakeoverReport report{instance, false, reason};
  master_[instance] = false;
  // Addresses go first: traffic stops arriving before anything else changes.
  holds_.erase(instance);
  apply(report, "addresses removed");
  sync_daemons(report);
  bool still_master = std::any_of(master_.begin(), master_.end(), [](const auto& m) { return m.second; });
  if (hooks_.conntrackd_after_stepdown)
    step(report, "conntrackd backup", [&] { return hooks_.conntrackd_after_stepdown(still_master); }, true);
  return finish(std::move(report), started);
}

}  // namespace kvlb::daemon
