// Sanity bounds on allocation cost. The target is well under 100 ms for
// 10,000 services; the bounds are generous so that slow or instrumented
// builds pass, yet far below what rescanning a pool per allocation costs
// (~50 million address checks for 10,000 out of a /16).
#include <gtest/gtest.h>

#include <chrono>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using namespace testing;

constexpr int kServices = 10000;
constexpr auto kBound = std::chrono::milliseconds(1000);

std::string name(int i) { return "ns/svc-" + std::to_string(i); }

template <typename F>
std::chrono::milliseconds time_of(F&& work) {
  auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

TEST(AllocatorPerformance, TenThousandOutOfASlash16) {
  Allocator allocator({pool("blue", {"10.0.0.0/16"})});
  std::string last;
  auto elapsed = time_of([&] {
    for (int i = 0; i < kServices; ++i) last = outcome(allocator.assign(Request{.service = name(i)}));
  });
  EXPECT_EQ(last, "10.0.39.15");  // the 10,000th address: 39 * 256 + 15 = 9,999
  EXPECT_EQ(usage()(allocator), "blue v4 10000/65536 v6 0/0");
  EXPECT_LT(elapsed, kBound) << elapsed.count() << " ms";
}

TEST(AllocatorPerformance, TenThousandOutOfASlash64) {
  Allocator allocator({pool("v6", {"2001:db8::/64"})});
  std::string last;
  auto elapsed = time_of([&] {
    for (int i = 0; i < kServices; ++i)
      last = outcome(allocator.assign(Request{.service = name(i), .families = {V6}}));
  });
  EXPECT_EQ(last, "2001:db8::270f");  // 9,999
  EXPECT_LT(elapsed, kBound) << elapsed.count() << " ms";
}

TEST(AllocatorPerformance, ReassigningAndRefillingHoles) {
  Allocator allocator({pool("blue", {"10.0.0.0/16"})});
  for (int i = 0; i < kServices; ++i) ASSERT_TRUE(allocator.assign(Request{.service = name(i)}).ok());
  std::string first_refill;
  std::string last_new;
  auto elapsed = time_of([&] {
    // Every service again (a resync): nothing moves.
    for (int i = 0; i < kServices; ++i) ASSERT_TRUE(allocator.assign(Request{.service = name(i)}).ok());
    // Free every other address, then fill the holes, lowest first, then beyond.
    for (int i = 0; i < kServices; i += 2) allocator.release(name(i));
    first_refill = outcome(allocator.assign(Request{.service = "ns/refill-0"}));
    for (int i = 1; i < kServices / 2; ++i)
      ASSERT_TRUE(allocator.assign(Request{.service = "ns/refill-" + std::to_string(i)}).ok());
    last_new = outcome(allocator.assign(Request{.service = "ns/new"}));
  });
  EXPECT_EQ(text(*allocator.allocation(name(9999))), "10.0.39.15");
  EXPECT_EQ(first_refill, "10.0.0.0");
  EXPECT_EQ(text(*allocator.allocation("ns/refill-4999")), "10.0.39.14");
  EXPECT_EQ(last_new, "10.0.39.16");
  EXPECT_LT(elapsed, kBound) << elapsed.count() << " ms";
}

TEST(AllocatorPerformance, ManySharingTheirKeysIPs) {
  // 100 keys x 100 services, each on its own port: 100 IPs, shared 100 times.
  Allocator allocator({pool("blue", {"10.0.0.0/16"})});
  std::string last;
  auto elapsed = time_of([&] {
    for (int i = 0; i < kServices; ++i)
      last = outcome(allocator.assign(Request{.service = name(i), .sharing_key = "key-" + std::to_string(i % 100),
                                              .ports = {tcp(static_cast<uint16_t>(1 + i / 100))}}));
  });
  EXPECT_EQ(last, "10.0.0.99");
  EXPECT_EQ(usage()(allocator), "blue v4 100/65536 v6 0/0");
  EXPECT_LT(elapsed, kBound) << elapsed.count() << " ms";
}

}  // namespace
}  // namespace kvlb::ipam
