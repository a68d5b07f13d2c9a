#pragma once
// Who is MASTER of one cluster instance: RFC 5798 (VRRPv3) adapted to kvlb.
// The machine is pure: the caller feeds it admitted adverts, calls
// on_timer() at next_deadline(), sends take_outgoing() and acts on
// take_role_changes() (VIPs, conntrackd commit, BGP). Time comes from an
// injected kvlb::Clock.
//
// Differences from RFC 5798 that matter for hitless failover:
// - a Backup that would preempt waits until its connection state is synced
//   (set_synced(true)) and then preempt_delay, and keeps the current master's
//   down timer running meanwhile;
// - a Master answers a weaker Master's advert at once, so a split brain ends
//   within one interval (plus the link delay) of the link healing;
// - a Master answers a starting peer's hello at once (see on_hello), and a
//   starting Backup waits at least startup_wait for a MASTER;
// - a Master entering Fault sends a priority-0 advert (if the link can still
//   carry it, the peer takes over within its skew time instead of 3 intervals).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ha/advert.h"
#include "model/address.h"
#include "util/clock.h"

namespace kvlb::ha {

enum class Role { Init, Backup, Master, Fault, Stopped };

const char* to_string(Role role);  // "INIT", "BACKUP", "MASTER", "FAULT", "STOPPED"

struct InstanceConfig {
  std::string name;                          // 1..32 bytes, [A-Za-z0-9_.-]
  uint8_t priority = 100;                    // 1..255
  std::chrono::milliseconds interval{100};   // 1..65535 ms
  bool preempt = false;
  std::chrono::milliseconds preempt_delay{0};
  model::IpAddress self;                     // this node's advert address
  uint32_t config_digest = 0;
  // A starting Backup waits at least this long for a MASTER before its first
  // master-down: the answer to its hello (or the MASTER's next advert) may
  // take longer than 3 short intervals on a loaded node, and a node that
  // claims the instance for lack of news takes it from a healthy MASTER.
  // Zero: the master-down interval alone, as RFC 5798.
  std::chrono::milliseconds startup_wait{0};
};

// The first thing wrong with `config` ("priority 0 is reserved for stepping
// down"), or nullopt. Mastership's constructor aborts on such a config.
std::optional<std::string> check_instance_config(const InstanceConfig& config);

// RFC 5798 timers, to the microsecond:
//   skew        = (256 - priority) * master_interval / 256
//   master_down = 3 * master_interval + skew
std::chrono::microseconds skew_time(uint8_t priority, std::chrono::milliseconds master_interval);
std::chrono::microseconds master_down_interval(uint8_t priority, std::chrono::milliseconds master_interval);

struct RoleChange {
  std::string instance;
  Role from = Role::Init;
  Role to = Role::Init;
  // e.g. "master down: no advert for 361 ms", "higher priority 150 from 10.0.0.2",
  // "peer 10.0.0.2 stepped down (priority 0)", "preempting: priority 150 > 100 of 10.0.0.1, state synced"
  std::string reason;
  // To Master: how many times this node has become MASTER of the instance,
  // this change included (a takeover hands it back to set_serving()); else 0.
  uint64_t term = 0;
  bool operator==(const RoleChange&) const = default;
};

class Mastership {
 public:
  struct Stats {
    uint64_t adverts_sent = 0;
    uint64_t adverts_received = 0;
    uint64_t became_master = 0;
    uint64_t became_backup = 0;
    uint64_t split_brain_resolved = 0;          // stepped down from Master for a stronger Master
    std::optional<model::IpAddress> master;     // last known master (self while Master)
    TimePoint last_advert_from_master{};
  };

  Mastership(InstanceConfig config, const Clock& clock);

  void start();                       // Init (or Stopped) -> Backup, master-down timer armed
  void on_advert(const Advert& advert);  // admitted by the gate; probes and own adverts are ignored
  // A peer that has just started asks who is MASTER (a hello): a Master
  // answers at once, so the newcomer need not wait for the next interval,
  // nor, after a long outage, for its own master-down timer to expire first.
  void on_hello();
  void on_timer();                    // call when clock.now() >= next_deadline()
  void stop();                        // Master: queues a priority-0 advert; -> Stopped
  void set_synced(bool synced);       // local connection state complete (gates preemption)
  // The takeover of `term` is done (VIPs up, forwarding): from now on adverts
  // say so, starting with one at once. A stopping peer removes its addresses
  // only when it hears this, so the VIP is never unheld. Ignored unless still
  // Master of that term.
  void set_serving(uint64_t term);
  bool serving() const { return serving_; }
  // The instance's configuration changed (services, floating addresses):
  // adverts carry the new digest.
  void set_config_digest(uint32_t digest) { config_.config_digest = digest; }
  // E.g. the advert interface is down: Fault (no adverts, no VIPs); clearing
  // it -> Backup with the master-down timer armed. `reason` goes into the RoleChange.
  void set_fault(bool fault, std::string reason = {});

  Role role() const { return role_; }
  const InstanceConfig& config() const { return config_; }
  TimePoint next_deadline() const;    // TimePoint::max() when nothing is due

  // Adverts to send now: instance, priority, interval, synced, digest and
  // sender are filled; the caller stamps the sequence.
  std::vector<Advert> take_outgoing();
  std::vector<RoleChange> take_role_changes();
  Stats stats() const { return stats_; }

 private:
  struct KnownMaster {
    uint8_t priority = 0;
    model::IpAddress address;
  };

  bool beats_me(const Advert& advert) const;
  void heard_master(const Advert& advert, TimePoint now);
  bool ready_to_preempt() const;
  void maybe_preempt();  // arms the preempt delay, or preempts at once without one
  void preempt();
  void become_master(std::string reason);
  void become_backup(std::string reason);
  void change_role(Role to, std::string reason);
  void queue_advert(uint8_t priority);
  void clear_timers();

  InstanceConfig config_;
  const Clock& clock_;
  Role role_ = Role::Init;
  bool synced_ = false;
  bool serving_ = false;                             // Master: the takeover of this term is done
  bool fault_ = false;
  std::string fault_reason_;
  std::chrono::milliseconds master_interval_;        // the master's advert interval, as it advertises it
  TimePoint master_down_at_;                         // Backup
  TimePoint last_heard_{};                           // Backup: when the master-down timer was last reset
  std::optional<model::IpAddress> stepped_down_;     // Backup: the master that sent priority 0
  std::optional<KnownMaster> weaker_master_;         // Backup: the master we would preempt
  TimePoint preempt_at_;                             // Backup
  TimePoint advert_at_;                              // Master: next periodic advert
  std::vector<Advert> outgoing_;
  std::vector<RoleChange> changes_;
  Stats stats_;
};

}  // namespace kvlb::ha
