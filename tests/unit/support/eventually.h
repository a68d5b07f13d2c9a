#pragma once
// Polling for what a real program does in its own time.
#include <chrono>
#include <thread>

namespace kvlb::test_support {

// Waits up to `limit` for `condition`, checking every 20 ms.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace kvlb::test_support
