#include "ha/mastership.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace kvlb::ha {
namespace {

constexpr TimePoint kNever = TimePoint::max();

std::string ms_since(TimePoint then, TimePoint now) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count()) + " ms";
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::Init: return "INIT";
    case Role::Backup: return "BACKUP";
    case Role::Master: return "MASTER";
    case Role::Fault: return "FAULT";
    case Role::Stopped: return "STOPPED";
  }
  return "UNKNOWN";
}

std::optional<std::string> check_instance_config(const InstanceConfig& config) {
  if (!is_valid_instance_name(config.name))
    return "instance name must be 1..32 characters of A-Z a-z 0-9 _ . - (got \"" + config.name + "\")";
  if (config.priority == 0) return "priority 0 is reserved for stepping down";
  if (config.interval.count() < 1 || config.interval.count() > 65535)
    return "interval must be 1..65535 ms (got " + std::to_string(config.interval.count()) + ")";
  if (config.preempt_delay.count() < 0) return "preempt delay must not be negative";
  if (config.startup_wait.count() < 0) return "startup wait must not be negative";
  if (!config.self.is_usable_unicast()) return "own advert address " + config.self.str() + " is not a unicast address";
  return std::nullopt;
}

std::chrono::microseconds skew_time(uint8_t priority, std::chrono::milliseconds master_interval) {
  return std::chrono::microseconds((256 - priority) * std::chrono::microseconds(master_interval).count() / 256);
}

std::chrono::microseconds master_down_interval(uint8_t priority, std::chrono::milliseconds master_interval) {
  return 3 * std::chrono::microseconds(master_interval) + skew_time(priority, master_interval);
}

Mastership::Mastership(InstanceConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      master_interval_(config_.interval),
      master_down_at_(kNever),
      preempt_at_(kNever),
      advert_at_(kNever) {
  if (auto problem = check_instance_config(config_)) {
    std::fprintf(stderr, "kvlb ha: instance %s: %s\n", config_.name.c_str(), problem->c_str());
    std::abort();  // the configuration loader checks this first
  }
}

void Mastership::start() {
  if (role_ != Role::Init && role_ != Role::Stopped) return;
  if (fault_) {
    change_role(Role::Fault, fault_reason_.empty() ? "fault" : fault_reason_);
    return;
  }
  master_interval_ = config_.interval;
  become_backup("started");
  master_down_at_ = std::max(master_down_at_, clock_.now() + config_.startup_wait);
}

bool Mastership::beats_me(const Advert& advert) const {
  return advert.priority > config_.priority || (advert.priority == config_.priority && advert.sender > config_.self);
}

void Mastership::on_advert(const Advert& advert) {
  if (advert.probe || advert.sender == config_.self || advert.instance != config_.name) return;
  if (role_ != Role::Backup && role_ != Role::Master) return;
  ++stats_.adverts_received;
  const TimePoint now = clock_.now();

  if (role_ == Role::Master) {
    if (advert.priority != 0 && beats_me(advert)) {
      ++stats_.split_brain_resolved;
      std::string reason = advert.priority > config_.priority
                               ? "higher priority " + std::to_string(advert.priority) + " from " + advert.sender.str()
                               : "equal priority " + std::to_string(advert.priority) + " from higher address " +
                                     advert.sender.str();
      become_backup(std::move(reason));
      heard_master(advert, now);
      return;
    }
    // A peer stepping down wants fresh news of us; a weaker Master must hear
    // at once that it lost (split brain ends within one interval).
    queue_advert(config_.priority);
    advert_at_ = now + config_.interval;
    return;
  }

  if (advert.priority == 0) {
    master_down_at_ = now + skew_time(config_.priority, master_interval_);
    stepped_down_ = advert.sender;
    weaker_master_.reset();
    preempt_at_ = kNever;
    return;
  }
  heard_master(advert, now);
  if (!config_.preempt || beats_me(advert)) {
    weaker_master_.reset();
    preempt_at_ = kNever;
    return;
  }
  // We are better, but the master stays until our state is synced: its down
  // timer keeps being reset meanwhile.
  weaker_master_ = KnownMaster{advert.priority, advert.sender};
  maybe_preempt();
}

void Mastership::on_hello() {
  if (role_ != Role::Master) return;
  queue_advert(config_.priority);
  advert_at_ = clock_.now() + config_.interval;
}

void Mastership::heard_master(const Advert& advert, TimePoint now) {
  master_interval_ = std::chrono::milliseconds(advert.interval_ms);
  stats_.master = advert.sender;
  stats_.last_advert_from_master = now;
  last_heard_ = now;
  stepped_down_.reset();
  master_down_at_ = now + master_down_interval(config_.priority, master_interval_);
}

bool Mastership::ready_to_preempt() const {
  return role_ == Role::Backup && config_.preempt && synced_ && weaker_master_.has_value();
}

void Mastership::maybe_preempt() {
  if (!ready_to_preempt() || preempt_at_ != kNever) return;
  if (config_.preempt_delay.count() > 0)
    preempt_at_ = clock_.now() + config_.preempt_delay;
  else
    preempt();
}

void Mastership::preempt() {
  const KnownMaster master = *weaker_master_;
  std::string comparison = std::to_string(config_.priority) + (master.priority < config_.priority ? " > " : " = ") +
                           std::to_string(master.priority);
  std::string tie = master.priority == config_.priority ? ", higher address" : "";
  become_master("preempting: priority " + comparison + " of " + master.address.str() + tie + ", state synced");
}

void Mastership::on_timer() {
  const TimePoint now = clock_.now();
  if (role_ == Role::Master) {
    if (now < advert_at_) return;
    queue_advert(config_.priority);
    advert_at_ = now + config_.interval;
  } else if (role_ == Role::Backup) {
    if (now >= master_down_at_) {
      become_master(stepped_down_ ? "peer " + stepped_down_->str() + " stepped down (priority 0)"
                                  : "master down: no advert for " + ms_since(last_heard_, now));
    } else if (now >= preempt_at_) {
      preempt_at_ = kNever;
      if (ready_to_preempt()) preempt();
    }
  }
}

void Mastership::stop() {
  if (role_ == Role::Init || role_ == Role::Stopped) return;
  if (role_ == Role::Master) queue_advert(0);
  clear_timers();
  change_role(Role::Stopped, "stopped");
}

void Mastership::set_synced(bool synced) {
  synced_ = synced;
  if (!synced) {
    preempt_at_ = kNever;
    return;
  }
  maybe_preempt();
}

void Mastership::set_serving(uint64_t term) {
  if (role_ != Role::Master || term != stats_.became_master || serving_) return;
  serving_ = true;
  queue_advert(config_.priority);
  advert_at_ = clock_.now() + config_.interval;
}

void Mastership::set_fault(bool fault, std::string reason) {
  fault_ = fault;
  fault_reason_ = reason.empty() ? (fault ? "fault" : "fault cleared") : std::move(reason);
  if (role_ == Role::Init || role_ == Role::Stopped) return;  // start() honours the flag
  if (fault && role_ != Role::Fault) {
    if (role_ == Role::Master) queue_advert(0);
    clear_timers();
    change_role(Role::Fault, fault_reason_);
  } else if (!fault && role_ == Role::Fault) {
    master_interval_ = config_.interval;
    become_backup(fault_reason_);
  }
}

TimePoint Mastership::next_deadline() const {
  if (role_ == Role::Master) return advert_at_;
  if (role_ == Role::Backup) return std::min(master_down_at_, preempt_at_);
  return kNever;
}

std::vector<Advert> Mastership::take_outgoing() { return std::exchange(outgoing_, {}); }

std::vector<RoleChange> Mastership::take_role_changes() { return std::exchange(changes_, {}); }

void Mastership::become_master(std::string reason) {
  clear_timers();
  ++stats_.became_master;
  change_role(Role::Master, std::move(reason));
  stats_.master = config_.self;
  queue_advert(config_.priority);
  advert_at_ = clock_.now() + config_.interval;
}

void Mastership::become_backup(std::string reason) {
  clear_timers();
  change_role(Role::Backup, std::move(reason));
  ++stats_.became_backup;
  last_heard_ = clock_.now();
  master_down_at_ = last_heard_ + master_down_interval(config_.priority, master_interval_);
}

void Mastership::change_role(Role to, std::string reason) {
  changes_.push_back(RoleChange{config_.name, role_, to, std::move(reason), to == Role::Master ? stats_.became_master : 0});
  role_ = to;
  serving_ = false;
}

void Mastership::queue_advert(uint8_t priority) {
  Advert advert;
  advert.instance = config_.name;
  advert.priority = priority;
  advert.interval_ms = static_cast<uint16_t>(config_.interval.count());
  advert.sender = config_.self;
  advert.synced = synced_;
  advert.serving = serving_ && priority != 0;
  advert.config_digest = config_.config_digest;
  outgoing_.push_back(std::move(advert));
  ++stats_.adverts_sent;
}

void Mastership::clear_timers() {
  master_down_at_ = preempt_at_ = advert_at_ = kNever;
  stepped_down_.reset();
  weaker_master_.reset();
}

}  // namespace kvlb::ha
