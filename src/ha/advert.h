#pragma once
// The advert a MASTER multicasts for each cluster instance (VRRP-like), as a
// plain value with a pure codec: encode_advert() returns the exact bytes of
// one datagram, decode_advert() checks and reads one. No sockets here.
//
// Wire layout (108 bytes, multi-byte fields in network order):
//
//   offset size field
//   ------ ---- -----------------------------------------------------------
//        0    4 magic "KVLB"
//        4    1 version, 1
//        5    1 flags: bit 0 synced, bit 1 probe, bit 2 serving; the other bits are zero
//        6    2 total length, 108 (the HMAC included)
//        8    1 priority (0 = the sender is stepping down)
//        9    1 sender's address family: 4 or 6
//       10    2 interval_ms, 1..65535
//       12    4 config_digest
//       16    8 sequence (sender's wall clock, ns)
//       24   16 sender address (IPv4: 4 bytes, then 12 zero bytes)
//       40    1 instance name length, 1..32
//       41    3 reserved, zero
//       44   32 instance name, zero padded
//       76   32 HMAC-SHA256 (shared key) of bytes 0..75
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/address.h"
#include "util/result.h"

namespace kvlb::ha {

using Bytes = std::vector<uint8_t>;

inline constexpr std::size_t kAdvertSize = 108;
inline constexpr std::size_t kAdvertHmacSize = 32;
inline constexpr std::size_t kMaxInstanceName = 32;
inline constexpr uint8_t kAdvertVersion = 1;

struct Advert {
  std::string instance;          // 1..32 bytes, [A-Za-z0-9_.-]
  uint8_t priority = 100;        // 0 = the sender is stepping down (take over at once); 1..255
  uint16_t interval_ms = 100;    // the sender's advert interval
  model::IpAddress sender;       // the sender's advert address (identity and tie-break)
  uint64_t sequence = 0;         // sender's wall clock in ns, strictly increasing per sender
                                 // (replay protection across restarts)
  bool synced = false;           // the sender's connection state is complete (reported;
                                 // preemption uses the local flag)
  bool probe = false;            // a sync-link liveness probe, not a mastership advert
  bool serving = false;          // the sender is MASTER and its takeover is done: its VIPs
                                 // are up and forwarding (a stopping peer waits for this)
  uint32_t config_digest = 0;    // hash of the sender's instance configuration (VIPs,
                                 // services); mismatches are reported
  bool operator==(const Advert&) const = default;
};

// 1..32 bytes of [A-Za-z0-9_.-].
bool is_valid_instance_name(std::string_view name);

// The datagram for `advert`, authenticated with `key`. The instance name
// must be valid and interval_ms non-zero (the configuration guarantees
// both; a violation aborts).
Bytes encode_advert(const Advert& advert, std::span<const uint8_t> key);

// Writes the HMAC of bytes 0..75 of `packet` into bytes 76..107 (what
// encode_advert does last; tests use it to build authentic odd packets).
void sign_advert(std::span<uint8_t, kAdvertSize> packet, std::span<const uint8_t> key);

enum class AdvertError {
  Truncated,   // fewer bytes than the header says
  BadMagic,    // not "KVLB"
  BadVersion,  // a version this node does not speak
  BadLength,   // the length field is wrong, or bytes follow the advert
  BadAuth,     // the HMAC does not match (other key, or altered in flight)
  BadField,    // authentic, but a field is out of range
};

const char* to_string(AdvertError error);  // "truncated", "bad magic", ...

struct AdvertDecodeError {
  AdvertError code = AdvertError::Truncated;
  std::string detail;  // e.g. "60 of 108 bytes"
  // "truncated: 60 of 108 bytes"
  std::string describe() const;
};

// Checks, in this order: framing (length, magic, version), the HMAC in
// constant time, then the fields. Nothing unauthenticated is interpreted
// beyond the framing.
Result<Advert, AdvertDecodeError> decode_advert(std::span<const uint8_t> packet, std::span<const uint8_t> key);

}  // namespace kvlb::ha
