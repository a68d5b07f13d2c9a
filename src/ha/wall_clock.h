#pragma once
// Wall-clock time for advert sequence numbers and their freshness check.
// kvlb::Clock is steady (for timers); adverts need time that survives a
// restart and that two nodes roughly agree on, so it is injected apart.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace kvlb::ha {

class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual uint64_t now_ns() const = 0;  // nanoseconds since the Unix epoch
};

class SystemWallClock final : public WallClock {
 public:
  uint64_t now_ns() const override {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
  }
};

class ManualWallClock final : public WallClock {
 public:
  explicit ManualWallClock(uint64_t start_ns = 0) : now_ns_(start_ns) {}
  uint64_t now_ns() const override { return now_ns_; }
  void set_ns(uint64_t ns) { now_ns_ = ns; }
  void advance(std::chrono::nanoseconds d) { now_ns_ += static_cast<uint64_t>(d.count()); }

 private:
  uint64_t now_ns_;
};

// Stamps a node's outgoing adverts: the wall clock, but strictly increasing
// even when the clock steps back or two adverts fall in one nanosecond.
class AdvertSequencer {
 public:
  explicit AdvertSequencer(const WallClock& clock) : clock_(clock) {}
  uint64_t next() {
    last_ = std::max(clock_.now_ns(), last_ + 1);
    return last_;
  }

 private:
  const WallClock& clock_;
  uint64_t last_ = 0;
};

}  // namespace kvlb::ha
