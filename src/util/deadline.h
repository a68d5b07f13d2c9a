#pragma once
// Milliseconds left until a steady-clock deadline, as poll() takes them.
#include <chrono>

namespace kvlb {

inline int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace kvlb
