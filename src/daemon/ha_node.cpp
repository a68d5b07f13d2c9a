#include "daemon/ha_node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <spdlog/spdlog.h>

namespace kvlb::daemon {
namespace {

using namespace std::chrono_literals;

constexpr auto kProbeInterval = 200ms;
// How long a starting node waits for a MASTER at least (see
// ha::InstanceConfig::startup_wait): its hellos are answered within a round
// trip, so this costs nothing unless the node is alone.
constexpr auto kStartupWait = 1000ms;
// No probe over the sync link for this long raises the alarm (the issue's
// bound is 5 s; 15 missed probes rule out a few lost datagrams).
constexpr auto kSyncLinkTimeout = 3s;

sockaddr_storage socket_address(const model::IpAddress& ip, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (ip.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes().data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, ip.bytes().data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

std::optional<model::IpAddress> address_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, 4);
    return model::IpAddress::from_v4(b);
  }
  if (ss.ss_family == AF_INET6) {
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, 16);
    return model::IpAddress::from_v6(b);
  }
  return std::nullopt;
}

// A UDP socket bound to address:port. IP_FREEBIND lets kvlbd start before
// the address is configured (boot order); adverts flow once it is.
Result<UniqueFd> bound_socket(const model::IpAddress& address, uint16_t port, const std::string& what) {
  UniqueFd owned(socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int fd = owned.get();
  if (fd < 0) return Error::from_errno(errno, what + ": socket");
  int one = 1;
  setsockopt(fd, address.is_v4() ? IPPROTO_IP : IPPROTO_IPV6, address.is_v4() ? IP_FREEBIND : IPV6_FREEBIND, &one,
             sizeof one);
  // Adverts must not wait behind bulk traffic.
  int tos = 0xc0;  // CS6, network control (as VRRP)
  if (address.is_v4()) setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  socklen_t len = 0;
  auto ss = socket_address(address, port, len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Error::from_errno(errno, what + ": bind " + address.with_port(port));
  return owned;
}

uint32_t fnv1a(uint32_t hash, std::string_view text) {
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

}  // namespace

Result<ha::Bytes> read_advert_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("ha.keyFile " + path + ": cannot read");
  ha::Bytes key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!key.empty() && std::isspace(key.back())) key.pop_back();
  if (key.size() < 16)
    return Error::invalid("ha.keyFile " + path + ": the key must have at least 16 bytes (got " +
                          std::to_string(key.size()) + ")");
  return key;
}

std::map<std::string, uint32_t> instance_digests(const model::DesiredState& state) {
  std::map<std::string, std::set<std::string>> facts;
  for (const auto& inst : state.ha.instances) {
    auto& f = facts[inst.name];
    for (const auto& a : inst.floating_addresses) f.insert("floating " + a.str());
  }
  for (const auto& svc : state.services) facts[svc.instance].insert("service " + svc.key.str());
  std::map<std::string, uint32_t> out;
  for (const auto& inst : state.ha.instances) {
    uint32_t hash = 2166136261u;
    for (const auto& fact : facts[inst.name]) hash = fnv1a(fnv1a(hash, fact), "\n");
    out[inst.name] = hash;
  }
  return out;
}

HaNode::HaNode(model::HaSettings settings, ha::Bytes key, std::map<std::string, uint32_t> digests, const Clock& clock,
               const ha::WallClock& wall, std::function<void()> notify)
    : settings_(std::move(settings)),
      key_(std::move(key)),
      clock_(clock),
      wall_(wall),
      notify_(std::move(notify)),
      gate_(
          [&] {
            ha::GateConfig config;
            config.key = key_;
            config.instances = digests;
            config.peers = settings_.peers;
            if (settings_.sync.peer) config.peers.push_back(*settings_.sync.peer);
            return config;
          }(),
          wall),
      sequencer_(wall) {
  for (const auto& inst : settings_.instances) {
    ha::InstanceConfig config;
    config.name = inst.name;
    config.priority = inst.priority;
    config.interval = std::chrono::milliseconds(settings_.interval_ms);
    config.preempt = inst.preempt;
    config.preempt_delay = std::chrono::milliseconds(inst.preempt_delay_ms);
    config.self = *settings_.address;
    config.config_digest = digests[inst.name];
    config.startup_wait = kStartupWait;
    machines_[inst.name] = std::make_unique<ha::Mastership>(config, clock_);
  }
}

HaNode::~HaNode() { stop(); }

Status HaNode::start() {
  auto advert = bound_socket(*settings_.address, settings_.port, "ha adverts");
  if (!advert.ok()) return advert.error();
  advert_fd_ = std::move(*advert);
  if (settings_.sync.address && settings_.sync.peer) {
    auto probe = bound_socket(*settings_.sync.address, settings_.port, "ha sync link probes");
    if (!probe.ok()) return probe.error();
    probe_fd_ = std::move(*probe);
  }
  wake_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  {
    std::lock_guard lock(mutex_);
    started_ = last_probe_heard_ = next_probe_ = next_hello_ = clock_.now();
    for (auto& [name, machine] : machines_) {
      machine->start();
      for (auto& change : machine->take_role_changes()) role_changes_.push_back(change);
    }
  }
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void HaNode::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_.get(), &one, sizeof one);
  thread_.join();
  std::set<std::string> handing_over;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, machine] : machines_) {
      if (machine->role() == ha::Role::Master) handing_over.insert(name);
      machine->stop();
      send_outgoing(*machine);  // priority 0: the peer takes over within its skew time
    }
  }
  wait_for_successors(handing_over);
}

void HaNode::wait_for_successors(std::set<std::string> instances) {
  // The caller removes this node's addresses next. Until a peer advertises
  // that it serves an instance (MASTER, its VIPs up), this node keeps
  // forwarding its traffic: a peer's first MASTER advert leaves before its
  // takeover has added the VIPs, and letting go then would leave them
  // unheld for the length of that takeover.
  constexpr auto kNoMasterLimit = std::chrono::milliseconds(1000);
  constexpr auto kTakeoverLimit = std::chrono::milliseconds(3000);
  const auto started = clock_.now();
  std::set<std::string> taking_over;  // a peer is MASTER, not yet serving
  auto deadline = [&] { return started + (taking_over.empty() ? kNoMasterLimit : kTakeoverLimit); };
  while (!instances.empty() && clock_.now() < deadline()) {
    pollfd pfd{advert_fd_.get(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline() - clock_.now());
    if (poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) continue;
    uint8_t buffer[512];
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(advert_fd_.get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
    auto source = n > 0 ? address_of(from) : std::nullopt;
    if (!source) continue;
    std::lock_guard lock(mutex_);
    auto admission = gate_.admit(std::span<const uint8_t>(buffer, static_cast<std::size_t>(n)), *source);
    if (!admission.ok() || admission->advert.probe || admission->advert.priority == 0) continue;
    const auto& advert = admission->advert;
    if (!instances.count(advert.instance)) continue;
    if (!advert.serving) {
      taking_over.insert(advert.instance);
      continue;
    }
    instances.erase(advert.instance);
    spdlog::info("ha: stopping: {} serves instance {} after {} ms", advert.sender.str(), advert.instance,
                 std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - started).count());
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - started).count();
  for (const auto& instance : instances)
    spdlog::warn("ha: stopping: instance {}: {} within {} ms; removing the addresses anyway", instance,
                 taking_over.count(instance) ? "the new MASTER did not finish its takeover" : "no peer took over",
                 waited);
}

void HaNode::run() {
  pthread_setname_np(pthread_self(), "kvlb-ha");
  // Adverts must leave on time whatever else the node is busy with (as
  // keepalived's vrrp_rt_priority): a BACKUP that misses three of them
  // takes over. Realtime round-robin, low priority: above every normal task,
  // below the kernel's own realtime threads.
  sched_param param{};
  param.sched_priority = 10;
  if (int err = pthread_setschedparam(pthread_self(), SCHED_RR, &param); err != 0)
    spdlog::warn("ha: advert thread stays at normal priority ({}): a loaded node may miss adverts",
                 std::strerror(err));
  while (!stopping_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_wake() - clock_.now());
    pollfd pfds[3] = {{advert_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}, {probe_fd_.get(), POLLIN, 0}};
    poll(pfds, probe_fd_.get() >= 0 ? 3 : 2, static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1000)));
    if (stopping_) break;
    bool queued = false;
    {
      std::lock_guard lock(mutex_);
      auto before = role_changes_.size() + link_events_.size();
      // Read whatever has arrived before acting on a timer, whether or not
      // poll saw it: an advert that came in as poll timed out must still
      // reset the master-down timer it would otherwise let expire.
      handle_datagram(advert_fd_.get());
      if (probe_fd_.get() >= 0) handle_datagram(probe_fd_.get());
      auto now = clock_.now();
      for (auto& [name, machine] : machines_) {
        if (now >= machine->next_deadline()) machine->on_timer();
        send_outgoing(*machine);
        for (auto& change : machine->take_role_changes()) {
          last_reason_[change.instance] = change.reason;
          role_changes_.push_back(std::move(change));
        }
      }
      send_hello_if_due();
      send_probe_if_due();
      check_sync_link();
      queued = role_changes_.size() + link_events_.size() != before;
    }
    if (queued) notify_();
  }
}

void HaNode::handle_datagram(int fd) {
  uint8_t buffer[512];
  for (;;) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return;
    auto source = address_of(from);
    if (!source) continue;
    auto admission = gate_.admit(std::span<const uint8_t>(buffer, static_cast<std::size_t>(n)), *source);
    if (!admission.ok()) {
      auto& d = admission.error();
      auto& last = last_drop_[ha::to_string(d.reason)];
      if (last != d.detail) spdlog::warn("ha: dropped an advert from {}: {}", source->str(), d.describe());
      last = d.detail;
      continue;
    }
    const auto& advert = admission->advert;
    note_peer_configuration(advert, admission->config_mismatch);
    if (advert.probe && fd == probe_fd_.get()) {
      last_probe_heard_ = clock_.now();
      if (!probes_since_) probes_since_ = last_probe_heard_;
      continue;
    }
    if (advert.probe) {  // a starting peer's hello on the advert link
      for (auto& [name, machine] : machines_) machine->on_hello();
      continue;
    }
    if (auto it = machines_.find(advert.instance); it != machines_.end()) it->second->on_advert(advert);
  }
}

void HaNode::note_peer_configuration(const ha::Advert& advert, bool mismatch) {
  // Logged when it starts, changes or ends, not for every advert: in a
  // cluster the two nodes see a Service change moments apart.
  if (advert.probe) return;
  if (mismatch) {
    auto [it, fresh] = peer_mismatch_.try_emplace(advert.instance, advert.config_digest);
    if (!fresh && it->second == advert.config_digest) return;
    it->second = advert.config_digest;
    spdlog::warn("ha: instance {}: {} has a different configuration (its digest {:08x}): its services or floating "
                 "addresses differ from this node's", advert.instance, advert.sender.str(), advert.config_digest);
  } else if (peer_mismatch_.erase(advert.instance)) {
    spdlog::info("ha: instance {}: {} has the same configuration again", advert.instance, advert.sender.str());
  }
}

void HaNode::set_digests(const std::map<std::string, uint32_t>& digests) {
  std::lock_guard lock(mutex_);
  gate_.set_digests(digests);
  for (auto& [name, machine] : machines_)
    if (auto it = digests.find(name); it != digests.end()) machine->set_config_digest(it->second);
}

void HaNode::send_outgoing(ha::Mastership& machine) {
  for (auto& advert : machine.take_outgoing())
    for (const auto& peer : settings_.peers) send_to(advert_fd_.get(), advert, peer);
}

bool HaNode::looking_for_master() const {
  return std::any_of(machines_.begin(), machines_.end(), [](const auto& entry) {
    return entry.second->role() == ha::Role::Backup && !entry.second->stats().master;
  });
}

void HaNode::send_hello_if_due() {
  // Until it has heard a MASTER, a starting node says hello every interval:
  // the MASTER answers at once, and the hello's ARP/ND lookup refreshes the
  // peers' neighbour entry for this node, which may have failed while it was
  // gone (the MASTER's adverts would not reach it until that entry recovers).
  if (!looking_for_master() || clock_.now() < next_hello_) return;
  next_hello_ = clock_.now() + std::chrono::milliseconds(settings_.interval_ms);
  ha::Advert hello;
  hello.instance = machines_.begin()->first;
  hello.interval_ms = static_cast<uint16_t>(settings_.interval_ms);
  hello.sender = *settings_.address;
  hello.probe = true;
  hello.synced = synced_;
  for (const auto& peer : settings_.peers) send_to(advert_fd_.get(), hello, peer);
  ++hellos_sent_;
}

void HaNode::send_probe_if_due() {
  if (probe_fd_.get() < 0 || machines_.empty() || clock_.now() < next_probe_) return;
  next_probe_ = clock_.now() + kProbeInterval;
  ha::Advert probe;
  probe.instance = machines_.begin()->first;
  probe.interval_ms = static_cast<uint16_t>(kProbeInterval.count());
  probe.sender = *settings_.sync.address;
  probe.probe = true;
  probe.synced = synced_;
  send_to(probe_fd_.get(), probe, *settings_.sync.peer);
}

void HaNode::check_sync_link() {
  if (probe_fd_.get() < 0) return;
  auto silent = clock_.now() - last_probe_heard_;
  if (!link_alarm_ && silent > kSyncLinkTimeout) {
    link_alarm_ = true;
    probes_since_.reset();
    ++link_alarms_;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
    link_events_.push_back({false, "sync link " + settings_.sync.interface + ": no probe from " +
                                       settings_.sync.peer->str() + " for " + std::to_string(ms) +
                                       " ms: connection state is not being synced"});
  } else if (link_alarm_ && silent < kProbeInterval * 2) {
    link_alarm_ = false;
    link_events_.push_back({true, "sync link " + settings_.sync.interface + ": probes from " +
                                      settings_.sync.peer->str() + " arrive again; resyncing"});
  }
}

TimePoint HaNode::next_wake() const {
  std::lock_guard lock(mutex_);
  TimePoint wake = clock_.now() + 100ms;
  for (const auto& [name, machine] : machines_) wake = std::min(wake, machine->next_deadline());
  if (probe_fd_.get() >= 0) wake = std::min(wake, next_probe_);
  if (looking_for_master()) wake = std::min(wake, next_hello_);
  return wake;
}

void HaNode::send_to(int fd, const ha::Advert& advert, const model::IpAddress& to) {
  ha::Advert stamped = advert;
  stamped.sequence = sequencer_.next();
  auto bytes = ha::encode_advert(stamped, key_);
  socklen_t len = 0;
  auto ss = socket_address(to, settings_.port, len);
  if (sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) ++send_errors_;
}

void HaNode::set_serving(const std::string& instance, uint64_t term) {
  std::lock_guard lock(mutex_);
  auto it = machines_.find(instance);
  if (it == machines_.end()) return;
  it->second->set_serving(term);
  send_outgoing(*it->second);
}

std::vector<ha::RoleChange> HaNode::take_role_changes() {
  std::lock_guard lock(mutex_);
  return std::exchange(role_changes_, {});
}

std::vector<SyncLinkEvent> HaNode::take_link_events() {
  std::lock_guard lock(mutex_);
  return std::exchange(link_events_, {});
}

void HaNode::set_synced(bool synced) {
  std::lock_guard lock(mutex_);
  if (synced_ == synced) return;
  synced_ = synced;
  for (auto& [name, machine] : machines_) machine->set_synced(synced);
}

std::map<std::string, ha::Role> HaNode::roles() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, ha::Role> out;
  for (const auto& [name, machine] : machines_) out[name] = machine->role();
  return out;
}

std::chrono::nanoseconds HaNode::sync_link_up_for() const {
  std::lock_guard lock(mutex_);
  if (probe_fd_.get() < 0) return clock_.now() - started_;  // no sync link: nothing to wait for
  if (!probes_since_) return std::chrono::nanoseconds(0);
  return clock_.now() - *probes_since_;
}

bool HaNode::sync_link_alarm() const {
  std::lock_guard lock(mutex_);
  return link_alarm_;
}

nlohmann::json HaNode::status() const {
  std::lock_guard lock(mutex_);
  nlohmann::json j;
  j["address"] = settings_.address->str();
  std::vector<std::string> peers;
  for (const auto& p : settings_.peers) peers.push_back(p.str());
  j["peers"] = peers;
  j["intervalMs"] = settings_.interval_ms;
  j["synced"] = synced_;
  auto now = clock_.now();
  nlohmann::json instances = nlohmann::json::array();
  for (const auto& [name, machine] : machines_) {
    auto stats = machine->stats();
    nlohmann::json i{{"name", name},
                     {"role", ha::to_string(machine->role())},
                     {"serving", machine->serving()},
                     {"peerConfigDiffers", peer_mismatch_.count(name) > 0},
                     {"priority", machine->config().priority},
                     {"preempt", machine->config().preempt},
                     {"advertsSent", stats.adverts_sent},
                     {"advertsReceived", stats.adverts_received},
                     {"becameMaster", stats.became_master},
                     {"becameBackup", stats.became_backup},
                     {"splitBrainResolved", stats.split_brain_resolved}};
    i["master"] = stats.master ? stats.master->str() : "";
    if (auto it = last_reason_.find(name); it != last_reason_.end()) i["lastChange"] = it->second;
    instances.push_back(i);
  }
  j["instances"] = instances;
  const auto& c = gate_.counters();
  j["adverts"] = {{"received", c.received},       {"accepted", c.accepted},
                  {"malformed", c.malformed},     {"badAuth", c.bad_auth},
                  {"replayed", c.replayed},       {"sourceMismatch", c.source_mismatch},
                  {"unknownPeer", c.unknown_peer}, {"unknownInstance", c.unknown_instance},
                  {"configMismatch", c.config_mismatch}, {"sendErrors", send_errors_},
                  {"hellosSent", hellos_sent_}};
  if (probe_fd_.get() >= 0) {
    j["syncLink"] = {{"interface", settings_.sync.interface},
                     {"peer", settings_.sync.peer->str()},
                     {"alarm", link_alarm_},
                     {"alarms", link_alarms_},
                     {"lastProbeMsAgo", std::chrono::duration_cast<std::chrono::milliseconds>(now - last_probe_heard_).count()}};
  }
  return j;
}

}  // namespace kvlb::daemon
