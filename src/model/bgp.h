#pragma once
// BGP announcement of the service IPs (through BIRD 2) as plain values: the
// session settings, the export policy per role, and BGP communities.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/address.h"

namespace kvlb::model {

// A BGP community attached to an announced VIP: standard (RFC 1997,
// asn16:value16, text "65000:100") or large (RFC 8092, a:b:c of 32 bits each,
// text "4200000000:1:2"). Standard ones sort before large ones.
struct Community {
  enum class Kind : uint8_t { Standard, Large };
  Kind kind = Kind::Standard;
  uint32_t global = 0;  // standard: the AS (16 bits); large: the global administrator
  uint32_t local1 = 0;  // standard: the value (16 bits)
  uint32_t local2 = 0;  // large only
  static std::optional<Community> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Community&) const = default;
};

struct BgpBfd {
  bool enabled = false;
  uint32_t min_rx_ms = 300;  // 10..10000
  uint32_t min_tx_ms = 300;  // 10..10000
  uint8_t multiplier = 3;    // 1..255
  auto operator<=>(const BgpBfd&) const = default;
};

struct BgpPeer {
  IpAddress address;                    // the neighbor; its family is the session's (ipv4 or ipv6 channel)
  uint32_t as = 0;                      // 1..4294967295; equal to the local AS: iBGP
  std::optional<IpAddress> local_address;  // the session's source (BIRD needs it for BFD on multihop sessions)
  std::optional<std::string> password;  // TCP MD5 (RFC 2385), read from the config's passwordFile
  std::optional<uint8_t> multihop;      // eBGP multihop TTL 1..255; absent: a directly connected neighbor
  bool ttl_security = false;            // GTSM (RFC 5082)
  BgpBfd bfd;
  bool graceful_restart = false;        // false: BIRD's default (aware, not restarting)

  // The BIRD protocol name, derived from the address: peer_10_0_0_1,
  // peer_fd00__1 (distinct addresses give distinct names).
  std::string name() const;
  bool ibgp(uint32_t local_as) const { return as == local_as; }
  auto operator<=>(const BgpPeer&) const = default;
};

// What the MASTER of an instance adds to its VIPs' routes (all optional).
struct BgpMasterExport {
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;  // iBGP peers only: LOCAL_PREF is never sent to eBGP peers
  auto operator<=>(const BgpMasterExport&) const = default;
};

// What a BACKUP does with the VIPs of an instance it does not hold.
enum class BgpBackupMode : uint8_t {
  Withhold,  // not announced at all
  Worse,     // announced, made worse: AS path prepends, MED, LOCAL_PREF
};
std::string_view to_string(BgpBackupMode m);
std::optional<BgpBackupMode> parse_bgp_backup_mode(std::string_view text);

struct BgpBackupExport {
  BgpBackupMode mode = BgpBackupMode::Worse;
  uint8_t as_path_prepend = 3;         // 0..10: how many times the local AS is prepended
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;  // iBGP peers only
  auto operator<=>(const BgpBackupExport&) const = default;
};

// The bgp section (absent from the config: no BGP).
struct BgpSettings {
  bool enabled = false;
  uint32_t local_as = 0;  // 1..4294967295
  IpAddress router_id;    // IPv4
  std::vector<BgpPeer> peers;
  BgpMasterExport master;
  BgpBackupExport backup;
  std::string bird_config = "/run/kvlb/bird.conf";  // where kvlbd writes BIRD's config
  std::string bird_socket = "/run/bird/bird.ctl";   // BIRD's control socket
  auto operator<=>(const BgpSettings&) const = default;
};

// TCP MD5 keys are at most 80 bytes (TCP_MD5SIG_MAXKEYLEN), and BIRD reads a
// quoted string up to the next '"' or end of line, without escapes.
inline constexpr std::size_t kMaxBgpPasswordBytes = 80;
// Why `password` cannot be a BGP password, or nullopt.
std::optional<std::string> bgp_password_problem(std::string_view password);

}  // namespace kvlb::model
