#pragma once
// The mastership runtime of one kvlbd node: the advert sockets and a thread
// of their own, so adverts keep their interval whatever the reconcile loop
// is doing (a long full read, a conntrackd commit). Role changes and sync
// link events are queued for the main loop, which carries out takeovers.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ha/advert_gate.h"
#include "ha/mastership.h"
#include "ha/wall_clock.h"
#include "model/types.h"
#include "util/clock.h"
#include "util/pi_mutex.h"
#include "util/result.h"
#include "util/unique_fd.h"

namespace kvlb::daemon {

// Reads the shared advert key: the file's bytes without trailing whitespace,
// at least 16 of them.
Result<ha::Bytes> read_advert_key(const std::string& path);

// A digest of what both nodes must agree on for an instance (its services'
// identities and floating addresses), carried in adverts to spot a peer
// configured differently.
std::map<std::string, uint32_t> instance_digests(const model::DesiredState& state);

struct SyncLinkEvent {
  bool up = false;        // the peer's probes arrive again (after an alarm)
  std::string message;    // for the log
};

class HaNode {
 public:
  // notify: called from the HA thread whenever something was queued.
  HaNode(model::HaSettings settings, ha::Bytes key, std::map<std::string, uint32_t> digests, const Clock& clock,
         const ha::WallClock& wall, std::function<void()> notify);
  ~HaNode();
  HaNode(const HaNode&) = delete;
  HaNode& operator=(const HaNode&) = delete;

  // Binds the advert socket (and the sync probe socket) and starts the thread.
  Status start();
  // Masters send priority 0 so the peer takes over at once, and return once
  // the peer advertises that it serves the instance (its VIPs are up), so
  // someone holds every VIP throughout. Gives up after a second without a
  // peer MASTER, or three with one still taking over.
  void stop();
  // The takeover of `instance` in mastership term `term` is done: its
  // adverts say so (see ha::Mastership::set_serving).
  void set_serving(const std::string& instance, uint64_t term);

  std::vector<ha::RoleChange> take_role_changes();
  std::vector<SyncLinkEvent> take_link_events();
  // The desired state changed: adverts carry, and compare against, these
  // instance digests (see instance_digests).
  void set_digests(const std::map<std::string, uint32_t>& digests);
  // This node's connection state is complete (gates preemption).
  void set_synced(bool synced);
  std::map<std::string, ha::Role> roles() const;
  nlohmann::json status() const;
  bool sync_link_alarm() const;
  // How long the peer's probes have been arriving over the sync link without
  // an alarm (since start without a sync link); zero before the first one.
  std::chrono::nanoseconds sync_link_up_for() const;

 private:
  void run();
  void wait_for_successors(std::set<std::string> instances);
  void handle_datagram(int fd);
  void note_peer_configuration(const ha::Advert& advert, bool mismatch);
  void send_outgoing(ha::Mastership& machine);
  bool looking_for_master() const;
  void send_hello_if_due();
  void send_probe_if_due();
  void check_sync_link();
  TimePoint next_wake() const;
  void send_to(int fd, const ha::Advert& advert, const model::IpAddress& to);

  model::HaSettings settings_;
  ha::Bytes key_;
  const Clock& clock_;
  const ha::WallClock& wall_;
  std::function<void()> notify_;

  // Guards everything below that other threads read. The advert thread runs
  // at realtime priority: priority inheritance keeps a reader from stalling it.
  mutable PiMutex mutex_;
  ha::AdvertGate gate_;
  ha::AdvertSequencer sequencer_;
  std::map<std::string, std::unique_ptr<ha::Mastership>> machines_;
  std::vector<ha::RoleChange> role_changes_;
  std::vector<SyncLinkEvent> link_events_;
  std::map<std::string, std::string> last_reason_;  // instance -> reason of its last role change
  std::map<std::string, std::string> last_drop_;    // reason -> detail of the last dropped advert
  std::map<std::string, uint32_t> peer_mismatch_;   // instance -> the differing digest last reported
  bool synced_ = false;

  // Sync link liveness, from the peer's probes over the sync link.
  TimePoint next_probe_{};
  TimePoint last_probe_heard_{};
  std::optional<TimePoint> probes_since_;  // first probe since start or the last alarm
  TimePoint started_{};
  TimePoint next_hello_{};
  uint64_t hellos_sent_ = 0;
  bool link_alarm_ = false;
  uint64_t link_alarms_ = 0;
  uint64_t send_errors_ = 0;

  UniqueFd advert_fd_;
  UniqueFd probe_fd_;  // none without a sync link
  UniqueFd wake_fd_;   // eventfd: stop
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kvlb::daemon
