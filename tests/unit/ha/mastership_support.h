#pragma once
// A Mastership test fixture: one machine, a ManualClock, adverts from a peer.
#include <gtest/gtest.h>

#include <chrono>
#include <string_view>

#include "ha/mastership.h"
#include "unit/ha/ha_test_support.h"

namespace kvlb::ha {

// Instance web-1 of 10.0.0.1, 100 ms interval.
inline InstanceConfig config(uint8_t priority = 100, bool preempt = false, std::chrono::milliseconds delay = {}) {
  InstanceConfig c;
  c.name = "web-1";
  c.priority = priority;
  c.interval = std::chrono::milliseconds(100);
  c.preempt = preempt;
  c.preempt_delay = delay;
  c.self = kvlb::testing::ip("10.0.0.1");
  c.config_digest = 42;
  return c;
}

inline Advert from_peer(uint8_t priority, std::string_view sender = "10.0.0.2", uint16_t interval_ms = 100) {
  Advert a;
  a.instance = "web-1";
  a.priority = priority;
  a.interval_ms = interval_ms;
  a.sender = kvlb::testing::ip(sender);
  return a;
}

class MastershipTest : public ::testing::Test {
 protected:
  // Advances time 1 ms at a time, firing timers as they fall due.
  void run(Mastership& m, std::chrono::milliseconds duration) {
    constexpr std::chrono::milliseconds kStep(1);
    for (std::chrono::milliseconds t{}; t < duration; t += kStep) {
      clock_.advance(kStep);
      if (clock_.now() >= m.next_deadline()) m.on_timer();
    }
  }
  // Like run(), with `peer` advertising every (its) interval from the start.
  void run_with_peer(Mastership& m, const Advert& peer, std::chrono::milliseconds duration) {
    const std::chrono::milliseconds interval(peer.interval_ms);
    for (std::chrono::milliseconds t{}; t < duration; t += interval) {
      m.on_advert(peer);
      run(m, interval);
    }
  }
  ManualClock clock_;
};

}  // namespace kvlb::ha
