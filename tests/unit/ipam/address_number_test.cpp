#include "ipam/address_number.h"

#include <gtest/gtest.h>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using testing::ip;

TEST(AddressNumber, RoundTripsBothFamilies) {
  struct Case {
    const char* address;
    AddressNumber number;
  };
  for (const Case& c : std::vector<Case>{
           {"0.0.0.1", {0, 1}},
           {"192.0.2.1", {0, 0xc0000201}},
           {"255.255.255.255", {0, 0xffffffff}},
           {"::1", {0, 1}},
           {"2001:db8::1", {0x20010db800000000, 1}},
           {"2001:db8::ffff:ffff:ffff:ffff", {0x20010db800000000, UINT64_MAX}},
           {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", kLargestAddressNumber},
       }) {
    SCOPED_TRACE(c.address);
    EXPECT_EQ(to_number(ip(c.address)), c.number);
    EXPECT_EQ(to_address(c.number, ip(c.address).family()), ip(c.address));
  }
}

TEST(AddressNumber, StepsAcrossTheWordBoundaryAndStopsAtTheEnds) {
  EXPECT_EQ(successor({0, UINT64_MAX}), (AddressNumber{1, 0}));
  EXPECT_EQ(predecessor({1, 0}), (AddressNumber{0, UINT64_MAX}));
  EXPECT_EQ(successor({0, 41}), (AddressNumber{0, 42}));
  EXPECT_EQ(predecessor({0, 42}), (AddressNumber{0, 41}));
  EXPECT_EQ(successor(kLargestAddressNumber), std::nullopt);
  EXPECT_EQ(predecessor({0, 0}), std::nullopt);
}

TEST(AddressNumber, CountsInclusivelyAndSaturates) {
  struct Case {
    AddressNumber first, last;
    uint64_t count;
  };
  for (const Case& c : std::vector<Case>{
           {{0, 5}, {0, 5}, 1},
           {{0, 0}, {0, 255}, 256},
           {{0, 6}, {0, 5}, 0},                                 // reversed: empty
           {{0, UINT64_MAX - 1}, {1, 1}, 4},                    // across the word boundary
           {{0, 0}, {0, UINT64_MAX - 1}, UINT64_MAX},           // exactly 2^64 - 1
           {{0, 0}, {0, UINT64_MAX}, UINT64_MAX},               // 2^64: a /64
           {{7, 0}, {8, 0}, UINT64_MAX},                        // 2^64 + 1
           {{0, 0}, kLargestAddressNumber, UINT64_MAX},         // all of IPv6
           {{0, 1}, {1, 0}, UINT64_MAX},                        // 2^64 exactly, across the boundary
           {{0, 2}, {1, 0}, UINT64_MAX},                        // 2^64 - 1 exactly, across the boundary
           {{0, 3}, {1, 0}, UINT64_MAX - 1},
       }) {
    SCOPED_TRACE(std::to_string(c.first.high) + ":" + std::to_string(c.first.low) + " .. " +
                 std::to_string(c.last.high) + ":" + std::to_string(c.last.low));
    EXPECT_EQ(count_inclusive(c.first, c.last), c.count);
  }
  EXPECT_EQ(add_saturating(UINT64_MAX - 1, 1), UINT64_MAX);
  EXPECT_EQ(add_saturating(UINT64_MAX - 1, 2), UINT64_MAX);
  EXPECT_EQ(add_saturating(2, 3), 5u);
}

}  // namespace
}  // namespace kvlb::ipam
