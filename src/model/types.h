#pragma once
// Desired and observed state as plain value types. Identity (keys) is kept
// apart from content (scheduler, weights) so the diff can match by key.
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/address.h"
#include "model/bgp.h"

namespace kvlb::model {

enum class Protocol : uint8_t { Tcp, Udp, Sctp };
std::string_view to_string(Protocol p);
std::optional<Protocol> parse_protocol(std::string_view text);
int ip_protocol_number(Protocol p);  // IPPROTO_TCP / _UDP / _SCTP
std::optional<Protocol> protocol_from_number(int number);

enum class NatMode : uint8_t { Default, OneArm, FullNat };
std::string_view to_string(NatMode m);
std::optional<NatMode> parse_nat_mode(std::string_view text);

// Every scheduler the IPVS kernel code ships.
bool is_known_scheduler(std::string_view name);
const std::vector<std::string>& known_schedulers();

// Identity of a virtual service: vip:port/proto.
struct VsKey {
  IpAddress vip;
  uint16_t port = 0;
  Protocol protocol = Protocol::Tcp;
  std::string str() const;  // 20.20.20.1:80/tcp, [fd00::1]:80/udp
  auto operator<=>(const VsKey&) const = default;
};

struct RealServerKey {
  IpAddress ip;
  uint16_t port = 0;
  std::string str() const;
  auto operator<=>(const RealServerKey&) const = default;
};

// IPVS weights are signed 32-bit in the kernel; 0 means "take no new connections".
inline constexpr uint32_t kMaxWeight = 65535;

struct RealServer {
  RealServerKey key;
  uint32_t weight = 1;
  // Observed only (ignored when comparing desired with observed).
  uint32_t active_conns = 0;
  uint32_t inactive_conns = 0;
  // Observed only, and compared: kvlb always programs masquerading without
  // connection thresholds, which these defaults describe, so a real server
  // someone else switched to another forwarding method (ipvsadm -g/-i) or
  // gave thresholds (-x/-y) differs from the desired one and is updated back.
  // Commands ignore them.
  bool masquerade = true;        // false: direct routing, tunnelling or local
  uint32_t upper_threshold = 0;  // 0 = no limit
  uint32_t lower_threshold = 0;
  // Everything a real-server update programs (all but key and counters).
  bool same_settings(const RealServer& o) const {
    return weight == o.weight && masquerade == o.masquerade && upper_threshold == o.upper_threshold &&
           lower_threshold == o.lower_threshold;
  }
  bool operator==(const RealServer& o) const { return key == o.key && same_settings(o); }
};

// What one IPVS virtual service holds (forwarding is always masquerading).
struct VirtualService {
  VsKey key;
  std::string scheduler = "rr";
  uint32_t persistence_seconds = 0;  // 0 = not persistent
  std::map<RealServerKey, RealServer> real_servers;
  // Observed only, and compared, like RealServer::masquerade: kvlb always
  // programs a full netmask (/32, /128) and no service flags besides
  // persistence, so anything else is someone else's change (ipvsadm -M, -o,
  // -b) and is updated back. Commands ignore them.
  static constexpr uint32_t kFullNetmask = UINT32_MAX;  // /32 for IPv4, /128 for IPv6
  uint32_t netmask_bits = kFullNetmask;  // else the prefix length (leading ones of an IPv4 mask)
  // IP_VS_SVC_F_* bits that persistence_seconds does not account for (one-packet
  // scheduling, scheduler flags, persistence without a timeout); 0 = none.
  uint32_t extra_flags = 0;
  bool same_settings(const VirtualService& o) const {
    return scheduler == o.scheduler && persistence_seconds == o.persistence_seconds &&
           netmask_bits == o.netmask_bits && extra_flags == o.extra_flags;
  }
  bool operator==(const VirtualService& o) const {
    return key == o.key && same_settings(o) && real_servers == o.real_servers;
  }
};

// One SNAT entry in kvlb's nftables table: flows whose conntrack original
// destination is `match` leave with source address `to`.
struct SnatRule {
  VsKey match;
  IpAddress to;
  std::string str() const;  // 20.20.20.1:80/tcp -> 20.20.20.1
  auto operator<=>(const SnatRule&) const = default;
};

// The whole kernel state kvlb owns, desired or observed.
struct KernelState {
  std::map<VsKey, VirtualService> ipvs;
  std::set<SnatRule> snat;
  bool nat_table_present = true;  // observed: false if kvlb's table is missing or damaged
  std::set<IpAddress> vips;       // addresses on the node interface tagged as kvlb's
  // VIPs whose traffic kvlb's table drops silently (a node taking over, before its state is in place).
  std::set<IpAddress> dropped_vips;
  // Observed: the interface's other addresses. A VIP an operator configured
  // by hand is used as it is: never added again, never removed.
  std::set<IpAddress> foreign_addresses;
};

// --- configuration-level model ---

struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;
  uint32_t weight = 1;
  bool operator==(const Endpoint&) const = default;
};

struct Service {
  std::string name;  // namespace/name
  VsKey key;
  std::string scheduler = "rr";
  uint32_t persistence_seconds = 0;
  NatMode mode = NatMode::Default;
  std::optional<IpAddress> snat_address;
  std::vector<Endpoint> endpoints;
  std::string instance = "default";  // the HA cluster instance whose MASTER serves it
  std::vector<Community> communities;  // BGP communities on the VIP's route (besides its pool's)
  bool operator==(const Service&) const = default;
};

struct NodeConfig {
  std::string name;
  std::string interface;
};

struct Settings {
  uint32_t drain_timeout_seconds = 30;
  uint32_t resync_interval_seconds = 2;
  std::string api_listen = "127.0.0.1:7711";
};

// An inclusive address range of one family (a CIDR is a range too).
struct IpRange {
  IpAddress first;
  IpAddress last;
  auto operator<=>(const IpRange&) const = default;
};

// A named pool of service IPs handed out to Kubernetes Services.
struct IpPool {
  std::string name;
  std::vector<IpRange> ranges;  // in config order
  bool auto_assign = true;      // false: only used when a Service names the pool or asks for an IP in it
  std::vector<Community> communities;  // BGP communities on the routes of every VIP in the pool
  auto operator<=>(const IpPool&) const = default;
};

// How kvlbd reads a Kubernetes cluster (absent from the config: no cluster).
struct KubernetesSettings {
  bool enabled = false;
  std::string kubeconfig;  // path; empty with in_cluster
  bool in_cluster = false; // service account token + CA of the pod
  std::string load_balancer_class = "kvlb.io/lb";
  bool include_classless = false;   // also take LoadBalancer Services without a class
  bool node_port_targets = false;   // endpoints are NodeIP:nodePort instead of pod IPs
  std::string ip_mode = "VIP";      // status.loadBalancer.ingress[].ipMode: VIP or Proxy
  uint32_t max_ports_per_service = 100;
  // Not read from the kubernetes section: the names of the ha section's
  // instances, for the kvlb.io/instance annotation (empty without HA).
  std::vector<std::string> ha_instances;
  auto operator<=>(const KubernetesSettings&) const = default;
};

// One HA cluster instance: a set of services with its own MASTER, so the
// services can be split across the pair (active-active by instance).
struct HaInstance {
  std::string name;
  uint8_t priority = 100;           // 1..254; higher wins, then the higher address
  bool preempt = false;             // take over from a lower-priority MASTER (only once synced)
  uint32_t preempt_delay_ms = 0;
  // Addresses that move with the instance besides its VIPs: the endpoints'
  // gateway in default mode, the onearm SNAT source.
  std::vector<IpAddress> floating_addresses;
  auto operator<=>(const HaInstance&) const = default;
};

// Connection-state sync between the pair (absent from the config: none).
struct SyncSettings {
  std::string interface;            // the dedicated sync link
  std::optional<IpAddress> address; // this node's address on it (conntrackd's UDP source)
  std::optional<IpAddress> peer;    // the peer's address on it
  uint32_t ipvs_sync_id = 1;        // 0..255, the same on both nodes
  bool conntrackd = true;           // sync netfilter conntrack (NAT mappings) with conntrackd
  bool manage_conntrackd = true;    // kvlbd starts and supervises conntrackd (else systemd does)
  std::string conntrackd_config = "/run/kvlb/conntrackd.conf";
  std::string conntrackd_socket = "/run/kvlb/conntrackd.ctl";
  uint16_t conntrackd_port = 3780;
  auto operator<=>(const SyncSettings&) const = default;
};

// VRRP-like mastership between kvlbd nodes (absent from the config: a single
// node that is always MASTER).
struct HaSettings {
  bool enabled = false;
  std::optional<IpAddress> address;  // this node's advert address (source and identity)
  std::vector<IpAddress> peers;      // unicast advert destinations
  uint16_t port = 7712;
  std::string key_file;              // shared HMAC-SHA256 key
  uint32_t interval_ms = 100;
  std::vector<HaInstance> instances;
  SyncSettings sync;
  auto operator<=>(const HaSettings&) const = default;
};

// What this node does with an instance's addresses right now (set by the HA
// runner; without HA every instance is held).
struct InstanceHold {
  bool addresses = false;  // its VIPs and floating addresses are on the interface
  bool drop = false;       // its VIPs' traffic is dropped (taking over)
  auto operator<=>(const InstanceHold&) const = default;
};

struct DesiredState {
  NodeConfig node;
  Settings settings;
  std::vector<Service> services;  // from the config file (static services)
  std::vector<IpPool> pools;
  KubernetesSettings kubernetes;
  HaSettings ha;
  BgpSettings bgp;
  // Runtime, not config: per instance what this node holds. Empty with HA
  // off (everything held); with HA on, an instance not listed is held by the peer.
  std::map<std::string, InstanceHold> holds;
};

}  // namespace kvlb::model
