#include "unit/ha/sim_network.h"

#include <algorithm>
#include <stdexcept>

#include "unit/ha/ha_test_support.h"

namespace kvlb::testing {

using namespace std::chrono_literals;

uint64_t SimNetwork::FollowingWallClock::now_ns() const {
  constexpr uint64_t kEpoch = 1'700'000'000'000'000'000;
  return kEpoch + static_cast<uint64_t>(
                      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now().time_since_epoch()).count());
}

SimNetwork::SimNetwork(std::vector<NodeSpec> nodes, std::chrono::milliseconds delay) : delay_(delay) {
  for (auto& spec : nodes) {
    for (auto& instance : spec.instances) instance.self = ip(spec.address);
    nodes_.push_back(Node{std::move(spec)});
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) build(i);
}

void SimNetwork::build(std::size_t index) {
  Node& node = nodes_[index];
  ha::GateConfig gate_config{key(), {}, {}};
  for (const auto& other : nodes_)
    if (&other != &node) gate_config.peers.push_back(ip(other.spec.address));
  node.machines.clear();
  for (const auto& instance : node.spec.instances) {
    gate_config.instances[instance.name] = instance.config_digest;
    node.machines[instance.name] = std::make_unique<ha::Mastership>(instance, clock_);
  }
  node.gate = std::make_unique<ha::AdvertGate>(std::move(gate_config), wall_);
  node.sequencer = std::make_unique<ha::AdvertSequencer>(wall_);
}

void SimNetwork::start_all(bool synced) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (auto& [name, machine] : nodes_[i].machines) {
      machine->set_synced(synced);
      machine->start();
    }
    flush(i);
  }
}

void SimNetwork::run(std::chrono::milliseconds duration) {
  for (auto t = 0ms; t < duration; t += 1ms) step();
}

std::optional<std::chrono::milliseconds> SimNetwork::run_until(const std::function<bool()>& done,
                                                               std::chrono::milliseconds limit) {
  for (auto t = 0ms; t <= limit; t += 1ms) {
    if (done()) return t;
    step();
  }
  return std::nullopt;
}

void SimNetwork::step() {
  clock_.advance(1ms);
  deliver_due();
  fire_timers();
  for (std::size_t i = 0; i < nodes_.size(); ++i) flush(i);
}

void SimNetwork::deliver_due() {
  auto due = std::stable_partition(in_flight_.begin(), in_flight_.end(),
                                   [&](const Datagram& d) { return d.deliver_at <= clock_.now(); });
  std::vector<Datagram> arriving(std::make_move_iterator(in_flight_.begin()), std::make_move_iterator(due));
  in_flight_.erase(in_flight_.begin(), due);
  for (const auto& datagram : arriving) {
    Node& node = nodes_[datagram.to];
    if (!node.alive) continue;
    auto admission = node.gate->admit(datagram.bytes, ip(nodes_[datagram.from].spec.address));
    if (!admission) continue;
    auto machine = node.machines.find(admission->advert.instance);
    if (machine != node.machines.end()) machine->second->on_advert(admission->advert);
  }
}

void SimNetwork::fire_timers() {
  for (auto& node : nodes_) {
    if (!node.alive) continue;
    for (auto& [name, machine] : node.machines)
      if (clock_.now() >= machine->next_deadline()) machine->on_timer();
  }
}

void SimNetwork::flush(std::size_t from) {
  Node& node = nodes_[from];
  if (!node.alive) return;
  std::bernoulli_distribution lost(loss_);
  for (auto& [name, machine] : node.machines) {
    for (auto& change : machine->take_role_changes()) node.changes.push_back(std::move(change));
    for (auto& advert : machine->take_outgoing()) {
      advert.sequence = node.sequencer->next();
      ha::Bytes bytes = ha::encode_advert(advert, key());
      for (std::size_t to = 0; to < nodes_.size(); ++to) {
        if (to == from || is_cut(from, to) || (loss_ > 0 && lost(random_))) continue;
        in_flight_.push_back(Datagram{clock_.now() + delay_, from, to, bytes});
      }
    }
  }
}

void SimNetwork::cut(std::size_t a, std::size_t b) { cuts_.insert(std::minmax(a, b)); }

void SimNetwork::heal(std::size_t a, std::size_t b) { cuts_.erase(std::minmax(a, b)); }

void SimNetwork::cut_all() {
  for (std::size_t a = 0; a < nodes_.size(); ++a)
    for (std::size_t b = a + 1; b < nodes_.size(); ++b) cut(a, b);
}

bool SimNetwork::is_cut(std::size_t a, std::size_t b) const { return cuts_.contains(std::minmax(a, b)); }

void SimNetwork::kill(std::size_t node) { nodes_.at(node).alive = false; }

void SimNetwork::revive(std::size_t index, bool synced) {
  build(index);
  Node& node = nodes_[index];
  node.alive = true;
  for (auto& [name, machine] : node.machines) {
    machine->set_synced(synced);
    machine->start();
  }
  flush(index);
}

ha::Mastership& SimNetwork::machine(std::size_t node, const std::string& instance) {
  auto found = nodes_.at(node).machines.find(instance);
  if (found == nodes_.at(node).machines.end()) throw std::out_of_range("no instance " + instance);
  return *found->second;
}

std::size_t SimNetwork::masters(const std::string& instance) const {
  return static_cast<std::size_t>(std::count_if(nodes_.begin(), nodes_.end(), [&](const Node& node) {
    auto found = node.machines.find(instance);
    return node.alive && found != node.machines.end() && found->second->role() == ha::Role::Master;
  }));
}

std::optional<std::size_t> SimNetwork::master_of(const std::string& instance) const {
  if (masters(instance) != 1) return std::nullopt;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto found = nodes_[i].machines.find(instance);
    if (nodes_[i].alive && found != nodes_[i].machines.end() && found->second->role() == ha::Role::Master) return i;
  }
  return std::nullopt;
}

}  // namespace kvlb::testing
