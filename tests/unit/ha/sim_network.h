#pragma once
// N kvlb nodes exchanging real advert datagrams (encode_advert, AdvertGate,
// Mastership) over a simulated multicast link with delay, loss and cuts
// between any two nodes. Time is a ManualClock advanced 1 ms per step.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ha/advert_gate.h"
#include "ha/mastership.h"
#include "ha/wall_clock.h"
#include "util/clock.h"

namespace kvlb::testing {

class SimNetwork {
 public:
  struct NodeSpec {
    std::string address;
    std::vector<ha::InstanceConfig> instances;  // `self` is filled from address
  };

  explicit SimNetwork(std::vector<NodeSpec> nodes, std::chrono::milliseconds delay = std::chrono::milliseconds(1));
  SimNetwork(const SimNetwork&) = delete;  // the machines hold references to clock_
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Starts every instance of every node; `synced` is each node's connection state.
  void start_all(bool synced = true);
  void run(std::chrono::milliseconds duration);
  // Steps until `done()` holds; how long that took, or nullopt after `limit`.
  std::optional<std::chrono::milliseconds> run_until(const std::function<bool()>& done,
                                                     std::chrono::milliseconds limit);

  void set_delay(std::chrono::milliseconds delay) { delay_ = delay; }
  void set_loss(double probability) { loss_ = probability; }
  void cut(std::size_t a, std::size_t b);
  void heal(std::size_t a, std::size_t b);
  void cut_all();
  void heal_all() { cuts_.clear(); }

  // A crash: the node goes silent at once (no priority-0 advert).
  void kill(std::size_t node);
  // The node comes back with fresh state (new machines and gate), started,
  // with its connection state synced or not.
  void revive(std::size_t node, bool synced);

  ha::Mastership& machine(std::size_t node, const std::string& instance);
  const ha::AdvertGate& gate(std::size_t node) const { return *nodes_.at(node).gate; }
  std::size_t masters(const std::string& instance) const;  // among live nodes
  bool one_master(const std::string& instance) const { return masters(instance) == 1; }
  std::optional<std::size_t> master_of(const std::string& instance) const;  // when exactly one
  // Every role change of a node so far, oldest first.
  const std::vector<ha::RoleChange>& role_changes(std::size_t node) const { return nodes_.at(node).changes; }
  ManualClock& clock() { return clock_; }

 private:
  // The wall clock of every node: a fixed epoch plus the ManualClock.
  class FollowingWallClock final : public ha::WallClock {
   public:
    explicit FollowingWallClock(const ManualClock& clock) : clock_(clock) {}
    uint64_t now_ns() const override;

   private:
    const ManualClock& clock_;
  };

  struct Node {
    NodeSpec spec;
    bool alive = true;
    std::map<std::string, std::unique_ptr<ha::Mastership>> machines;
    std::unique_ptr<ha::AdvertGate> gate;
    std::unique_ptr<ha::AdvertSequencer> sequencer;
    std::vector<ha::RoleChange> changes;
  };

  struct Datagram {
    TimePoint deliver_at;
    std::size_t from = 0;
    std::size_t to = 0;
    ha::Bytes bytes;
  };

  void build(std::size_t node);
  void step();
  void deliver_due();
  void fire_timers();
  void flush(std::size_t node);
  bool is_cut(std::size_t a, std::size_t b) const;

  ManualClock clock_;
  FollowingWallClock wall_{clock_};
  std::vector<Node> nodes_;
  std::vector<Datagram> in_flight_;
  std::set<std::pair<std::size_t, std::size_t>> cuts_;
  std::chrono::milliseconds delay_;
  double loss_ = 0;
  std::mt19937 random_{7};
};

}  // namespace kvlb::testing
