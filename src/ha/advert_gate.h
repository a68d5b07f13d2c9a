#pragma once
// Admission of received advert datagrams: authenticity, freshness, and that
// the advert comes from a configured peer for a configured instance. What
// passes goes to that instance's Mastership; every drop is counted by reason.
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "ha/advert.h"
#include "ha/wall_clock.h"
#include "model/address.h"
#include "util/result.h"

namespace kvlb::ha {

struct GateConfig {
  Bytes key;                                    // shared HMAC key
  std::map<std::string, uint32_t> instances;    // configured instance -> local config digest
  std::vector<model::IpAddress> peers;          // the other nodes' advert addresses
  // Sequences are the sender's wall clock: farther than this from ours (in
  // either direction) is a replay or a badly wrong clock.
  std::chrono::seconds max_clock_offset{60};
};

enum class DropReason { Malformed, BadAuth, Replayed, SourceMismatch, UnknownPeer, UnknownInstance };

const char* to_string(DropReason reason);  // "malformed", "bad auth", ...

struct Accepted {
  Advert advert;
  bool config_mismatch = false;  // the sender's digest differs from ours (still accepted)
};

struct Dropped {
  DropReason reason = DropReason::Malformed;
  std::string detail;  // e.g. "sequence 5 not after 7 from 10.0.0.2"
  // "replayed: sequence 5 not after 7 from 10.0.0.2"
  std::string describe() const;
};

using Admission = Result<Accepted, Dropped>;

class AdvertGate {
 public:
  struct Counters {
    uint64_t received = 0;
    uint64_t accepted = 0;
    uint64_t malformed = 0;         // truncated, bad magic/version/length/field
    uint64_t bad_auth = 0;
    uint64_t replayed = 0;          // sequence not after the last accepted, or outside the clock window
    uint64_t source_mismatch = 0;   // IP source is not the advert's sender
    uint64_t unknown_peer = 0;
    uint64_t unknown_instance = 0;
    uint64_t config_mismatch = 0;   // accepted all the same
    bool operator==(const Counters&) const = default;
  };

  AdvertGate(GateConfig config, const WallClock& clock);

  // `source` is the datagram's IP source address.
  Admission admit(std::span<const uint8_t> packet, const model::IpAddress& source);

  const Counters& counters() const { return counters_; }
  // The local digests after a configuration change (instances stay the same).
  void set_digests(const std::map<std::string, uint32_t>& digests);

 private:
  // Sequences are tracked per sender, instance and kind: adverts and probes
  // travel different links, and instances may use different interfaces, so
  // their order between each other is not kept in flight.
  using SequenceKey = std::tuple<model::IpAddress, std::string, bool>;

  Dropped drop(DropReason reason, std::string detail);

  GateConfig config_;
  std::set<model::IpAddress> peers_;
  const WallClock& clock_;
  std::map<SequenceKey, uint64_t> last_sequence_;  // bounded: configured peers x instances x 2
  Counters counters_;
};

}  // namespace kvlb::ha
