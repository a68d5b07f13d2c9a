#pragma once
// kvlbd's BGP wiring: the VIPs' routes rendered into BIRD's config and loaded
// into the running BIRD, this node's role per HA instance deciding which of
// them are announced plainly (MASTER) and which are withheld or made worse.
// BIRD's troubles never touch the data plane: a config BIRD rejects or a BIRD
// that is down is logged, counted and shown, and loading is retried.
// Runs on the main loop's thread; status() and metrics() may be called from
// the API's threads (they take the same lock).
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bgp/bird/bird_control.h"
#include "bgp/routes.h"
#include "model/types.h"
#include "util/clock.h"

namespace kvlb::daemon {

class BgpRuntime {
 public:
  BgpRuntime(model::BgpSettings settings, bgp::BirdControl& bird, const Clock& clock);

  // The routes for `state` (master_of_instance: this node's role per HA
  // instance; ignored without HA), rendered; apply() loads them into BIRD
  // when they differ from what BIRD runs. Apart, so that the caller can
  // first program the data plane (a takeover adds the VIPs, then raises
  // their BGP preference).
  void update(const model::DesiredState& state, const std::map<std::string, bool>& master_of_instance);
  void apply();
  // New settings (a reloaded config): the next update() renders with them.
  void set_settings(model::BgpSettings settings);
  // Loads a pending config, retries a load that failed (with backoff), and
  // notices a BIRD that was restarted or lost, so it runs kvlb's config again.
  void tick();

  nlohmann::json status();
  std::string metrics();

  // The earliest time tick() has something to do.
  TimePoint next_tick() const;

 private:
  void load();                 // mutex_ held
  void check_bird_running();   // mutex_ held
  // Writes `text` next to the config, has BIRD parse it, and moves it in place.
  std::optional<bgp::BirdError> write_checked(const std::string& text);  // mutex_ held

  model::BgpSettings settings_;
  bgp::BirdControl& bird_;
  const Clock& clock_;
  std::mutex mutex_;
  std::vector<bgp::AnnouncedRoute> routes_;
  std::string wanted_;                  // the rendered config
  bool pending_ = false;                // wanted_ changed since the last load
  std::optional<std::string> running_;  // what BIRD was last told to load successfully
  std::string bird_started_;            // BIRD's "last reboot" after that load: it changes when BIRD restarts
  std::string last_error_;
  std::string last_error_kind_;
  TimePoint retry_at_{TimePoint::max()};
  std::chrono::milliseconds backoff_{250};
  TimePoint next_check_{};
  std::chrono::microseconds last_load_took_{0};    // bird -p and configure
  std::chrono::microseconds last_render_took_{0};  // routes and the config text
  uint64_t loads_ok_ = 0;
  uint64_t loads_rejected_ = 0;     // kvlb's config failed BIRD's parse check
  uint64_t loads_unreachable_ = 0;  // BIRD not running, or not answering
  bool bird_up_ = false;
};

}  // namespace kvlb::daemon
