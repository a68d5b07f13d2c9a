#pragma once
// Shared bits of the HA tests: addresses, keys and a valid advert.
#include <cstdint>
#include <string_view>
#include <vector>

#include "ha/advert.h"
#include "model/address.h"

namespace kvlb::testing {

inline model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

inline std::vector<uint8_t> key(std::string_view text = "kvlb-test-key") {
  return std::vector<uint8_t>(text.begin(), text.end());
}

// instance web-1, priority 150, 100 ms, from 10.0.0.2, synced.
inline ha::Advert sample_advert() {
  ha::Advert a;
  a.instance = "web-1";
  a.priority = 150;
  a.interval_ms = 100;
  a.sender = ip("10.0.0.2");
  a.sequence = 0x0102030405060708;
  a.synced = true;
  a.config_digest = 0xdeadbeef;
  return a;
}

}  // namespace kvlb::testing
