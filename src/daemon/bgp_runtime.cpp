#include "daemon/bgp_runtime.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>

#include "bgp/bird_config.h"

namespace kvlb::daemon {
namespace {

using namespace std::chrono_literals;

// How often a running BIRD is asked whether it still runs kvlb's config
// (it may have been restarted, or reconfigured by hand).
constexpr auto kCheckEvery = 2s;
constexpr std::chrono::milliseconds kMaxBackoff = 10s;

const char* kind_name(bgp::BirdError::Kind kind) {
  switch (kind) {
    case bgp::BirdError::Kind::NotRunning: return "not running";
    case bgp::BirdError::Kind::Timeout: return "timeout";
    case bgp::BirdError::Kind::Protocol: return "protocol";
    case bgp::BirdError::Kind::CommandFailed: return "command failed";
    case bgp::BirdError::Kind::InvalidConfig: return "invalid config";
    case bgp::BirdError::Kind::BadArgument: return "bad argument";
    case bgp::BirdError::Kind::Io: return "io";
  }
  return "unknown";
}

}  // namespace

BgpRuntime::BgpRuntime(model::BgpSettings settings, bgp::BirdControl& bird, const Clock& clock)
    : settings_(std::move(settings)), bird_(bird), clock_(clock) {}

void BgpRuntime::update(const model::DesiredState& state, const std::map<std::string, bool>& master_of_instance) {
  std::lock_guard lock(mutex_);
  const auto started = clock_.now();
  auto routes = bgp::announced_routes(state, master_of_instance);
  // Most changes (endpoints, weights, a takeover's drop) leave the routes as
  // they are: rendering 10,000 of them again would cost the loop for nothing.
  if (!wanted_.empty() && routes == routes_) return;
  auto text = bgp::render_bird_config(settings_, routes);
  routes_ = std::move(routes);
  last_render_took_ = std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - started);
  // Unchanged: a failed load is retried by tick(); a rejected one is not
  // (BIRD would reject the same bytes again).
  if (text == wanted_) return;
  wanted_ = std::move(text);
  pending_ = true;
}

void BgpRuntime::set_settings(model::BgpSettings settings) {
  std::lock_guard lock(mutex_);
  settings_ = std::move(settings);
  routes_.clear();
  wanted_.clear();  // rendered again by the next update(), whatever the routes
}

void BgpRuntime::apply() {
  std::lock_guard lock(mutex_);
  if (!pending_) return;
  pending_ = false;
  load();
}

std::optional<bgp::BirdError> BgpRuntime::write_checked(const std::string& text) {
  const std::filesystem::path path(settings_.bird_config);
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const std::string next = settings_.bird_config + ".next";
  auto io_error = [&](const std::string& what) {
    return bgp::BirdError{bgp::BirdError::Kind::Io, what, "", 0, std::strerror(errno)};
  };
  {
    std::ofstream out(next, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return io_error("write " + next);
  }
  // BIRD parses the file first: a config it rejects never replaces the one
  // it runs. The running BIRD does that without a process to start (which
  // would cost a takeover its time); `bird -p` when there is none.
  auto checked = bird_.check_config_in_daemon(next);
  if (!checked.ok() && checked.error().kind != bgp::BirdError::Kind::InvalidConfig)
    checked = bird_.check_config(next);
  if (!checked.ok()) {
    std::remove(next.c_str());
    return checked.error();
  }
  if (std::rename(next.c_str(), settings_.bird_config.c_str()) != 0)
    return io_error("rename " + next + " to " + settings_.bird_config);
  return std::nullopt;
}

void BgpRuntime::load() {
  const auto started = clock_.now();
  auto fail = [&](const bgp::BirdError& e) {
    const bool rejected = e.kind == bgp::BirdError::Kind::InvalidConfig;
    std::string message = e.describe();
    if (rejected) {
      ++loads_rejected_;
      message = "BIRD rejects kvlb's config and keeps running the previous one: " + message;
    } else if (e.kind == bgp::BirdError::Kind::NotRunning || e.kind == bgp::BirdError::Kind::Timeout) {
      ++loads_unreachable_;
      bird_up_ = false;
      running_.reset();
      message += " (the config is written: a BIRD that starts reads it)";
    }
    if (message != last_error_) spdlog::error("bgp: {}", message);
    last_error_ = message;
    last_error_kind_ = kind_name(e.kind);
    // The same config would be rejected again; anything else may pass later.
    if (rejected) {
      retry_at_ = TimePoint::max();
    } else {
      retry_at_ = clock_.now() + backoff_;
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    }
  };
  if (auto failed = write_checked(wanted_)) return fail(*failed);
  if (auto configured = bird_.configure(settings_.bird_config); !configured.ok()) return fail(configured.error());
  ++loads_ok_;
  bird_up_ = true;
  running_ = wanted_;
  retry_at_ = TimePoint::max();
  backoff_ = 250ms;
  if (auto st = bird_.status(); st.ok()) bird_started_ = st->last_reboot;
  last_load_took_ = std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - started);
  if (!last_error_.empty()) spdlog::info("bgp: BIRD runs kvlb's config again");
  last_error_.clear();
  last_error_kind_.clear();
  std::size_t masters = 0;
  for (const auto& r : routes_) masters += r.master ? 1 : 0;
  spdlog::info("bgp: BIRD loaded {} routes ({} as MASTER, {} as BACKUP): rendered in {} us, checked and loaded in {} us",
               routes_.size(), masters, routes_.size() - masters, last_render_took_.count(), last_load_took_.count());
  next_check_ = clock_.now() + kCheckEvery;
}

void BgpRuntime::check_bird_running() {
  next_check_ = clock_.now() + kCheckEvery;
  auto st = bird_.status();
  if (!st.ok()) {
    if (bird_up_) spdlog::error("bgp: {}", st.error().describe());
    bird_up_ = false;
    running_.reset();
    return;
  }
  bird_up_ = true;
  // A restarted BIRD read the file kvlbd wrote, but loading it again makes
  // sure (and covers a BIRD started with another file).
  if (running_ && st->last_reboot == bird_started_) return;
  if (retry_at_ != TimePoint::max()) return;  // a retry is already due
  if (!running_ && last_error_kind_ == kind_name(bgp::BirdError::Kind::InvalidConfig)) return;
  spdlog::info("bgp: BIRD {} since kvlb loaded its config: loading it again", running_ ? "restarted" : "is back");
  load();
}

void BgpRuntime::tick() {
  std::lock_guard lock(mutex_);
  if (wanted_.empty()) return;
  if (pending_) {
    pending_ = false;
    load();
    return;
  }
  if (clock_.now() >= retry_at_) {
    load();
    return;
  }
  if (clock_.now() >= next_check_) check_bird_running();
}

TimePoint BgpRuntime::next_tick() const { return pending_ ? clock_.now() : std::min(retry_at_, next_check_); }

nlohmann::json BgpRuntime::status() {
  std::lock_guard lock(mutex_);
  nlohmann::json j;
  j["localAs"] = settings_.local_as;
  j["routerId"] = settings_.router_id.str();
  j["config"] = settings_.bird_config;
  j["socket"] = settings_.bird_socket;
  j["birdUp"] = bird_up_;
  j["loaded"] = running_.has_value() && *running_ == wanted_;
  j["lastError"] = last_error_;
  j["lastLoadMicros"] = last_load_took_.count();
  j["lastRenderMicros"] = last_render_took_.count();
  j["loads"] = {{"ok", loads_ok_}, {"rejected", loads_rejected_}, {"unreachable", loads_unreachable_}};
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& r : routes_) {
    std::vector<std::string> communities;
    for (const auto& c : r.communities) communities.push_back(c.str());
    routes.push_back({{"vip", r.vip.str()}, {"role", r.master ? "MASTER" : "BACKUP"}, {"communities", communities}});
  }
  j["routes"] = routes;
  nlohmann::json peers = nlohmann::json::array();
  auto protocols = bird_.protocols();
  if (!protocols.ok()) {
    j["birdError"] = protocols.error().describe();
  } else {
    for (const auto& p : *protocols) {
      if (p.proto != "BGP") continue;
      nlohmann::json peer{{"name", p.name}, {"state", p.state}, {"since", p.since}, {"info", p.info},
                          {"imported", p.imported()}, {"exported", p.exported()}};
      if (p.bgp) {
        peer["address"] = p.bgp->neighbor_address;
        peer["as"] = p.bgp->neighbor_as;
        peer["bgpState"] = p.bgp->state;
        peer["lastError"] = p.bgp->last_error;
      }
      peers.push_back(peer);
    }
  }
  j["peers"] = peers;
  return j;
}

std::string BgpRuntime::metrics() {
  auto s = status();
  std::string out;
  auto line = [&](const std::string& name, const std::string& labels, double value) {
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
  };
  line("kvlb_bgp_bird_up", "", s["birdUp"].get<bool>() ? 1 : 0);
  line("kvlb_bgp_config_loaded", "", s["loaded"].get<bool>() ? 1 : 0);
  for (const auto& [result, value] : s["loads"].items()) line("kvlb_bgp_loads_total", "result=\"" + result + "\"", value.get<double>());
  double masters = 0, backups = 0;
  for (const auto& r : s["routes"]) (r["role"] == "MASTER" ? masters : backups) += 1;
  line("kvlb_bgp_routes", "role=\"master\"", masters);
  line("kvlb_bgp_routes", "role=\"backup\"", backups);
  for (const auto& p : s["peers"]) {
    std::string labels = "peer=\"" + p["name"].get<std::string>() + "\"";
    line("kvlb_bgp_peer_established", labels, p.value("bgpState", "") == "Established" ? 1 : 0);
    line("kvlb_bgp_peer_routes_exported", labels, p["exported"].get<double>());
  }
  return out;
}

}  // namespace kvlb::daemon
