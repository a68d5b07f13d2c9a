#include "ipam/address_intervals.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kvlb::ipam {
namespace {

AddressNumber n(uint64_t low) { return {0, low}; }

TEST(AddressIntervals, InsertingNeighboursMergesIntoOneInterval) {
  AddressIntervals set;
  for (uint64_t v : {5, 7, 9}) set.insert(n(v));
  EXPECT_EQ(set.interval_count(), 3u);
  set.insert(n(6));  // joins 5 and 7
  EXPECT_EQ(set.interval_count(), 2u);
  set.insert(n(8));  // joins 5..7 and 9
  EXPECT_EQ(set.interval_count(), 1u);
  set.insert(n(7));  // already there: nothing changes
  EXPECT_EQ(set.interval_count(), 1u);
  for (uint64_t v = 5; v <= 9; ++v) EXPECT_TRUE(set.contains(n(v))) << v;
  EXPECT_FALSE(set.contains(n(4)));
  EXPECT_FALSE(set.contains(n(10)));
}

TEST(AddressIntervals, ErasingSplitsAnInterval) {
  AddressIntervals set;
  for (uint64_t v = 1; v <= 5; ++v) set.insert(n(v));
  set.erase(n(3));
  EXPECT_EQ(set.interval_count(), 2u);
  EXPECT_FALSE(set.contains(n(3)));
  EXPECT_TRUE(set.contains(n(2)));
  EXPECT_TRUE(set.contains(n(4)));
  set.erase(n(1));
  set.erase(n(5));
  set.erase(n(42));  // absent: nothing changes
  EXPECT_EQ(set.interval_count(), 2u);
  EXPECT_EQ(set.count_in({n(0), n(10)}), 2u);
}

TEST(AddressIntervals, LowestAbsentInARange) {
  AddressIntervals set;
  for (uint64_t v : {10, 11, 12, 20}) set.insert(n(v));
  struct Case {
    uint64_t first, last;
    std::optional<uint64_t> lowest;
  };
  for (const Case& c : std::vector<Case>{
           {0, 100, 0},
           {10, 100, 13},
           {11, 12, std::nullopt},
           {10, 13, 13},
           {12, 12, std::nullopt},
           {13, 19, 13},
           {20, 20, std::nullopt},
           {20, 21, 21},
       }) {
    SCOPED_TRACE(std::to_string(c.first) + ".." + std::to_string(c.last));
    auto lowest = set.lowest_absent({n(c.first), n(c.last)});
    ASSERT_EQ(lowest.has_value(), c.lowest.has_value());
    if (lowest) {
      EXPECT_EQ(*lowest, n(*c.lowest));
    }
  }
}

TEST(AddressIntervals, WorksAtTheTopOfTheNumberSpace) {
  AddressIntervals set;
  AddressNumber top = kLargestAddressNumber;
  AddressNumber below_top{UINT64_MAX, UINT64_MAX - 1};
  set.insert(top);
  set.insert(below_top);
  EXPECT_EQ(set.interval_count(), 1u);
  EXPECT_EQ(set.lowest_absent({below_top, top}), std::nullopt);
  set.erase(top);
  EXPECT_EQ(set.lowest_absent({below_top, top}), top);
  set.insert(AddressNumber{});
  EXPECT_TRUE(set.contains(AddressNumber{}));
}

TEST(AddressIntervals, CountsMembersWithinARangeOnly) {
  AddressIntervals set;
  for (uint64_t v : {1, 2, 3, 7, 8, 20}) set.insert(n(v));
  EXPECT_EQ(set.count_in({n(0), n(100)}), 6u);
  EXPECT_EQ(set.count_in({n(2), n(7)}), 3u);  // 2, 3, 7: intervals cut at both ends
  EXPECT_EQ(set.count_in({n(4), n(6)}), 0u);
  EXPECT_EQ(set.count_in({n(20), n(20)}), 1u);
  EXPECT_EQ(set.count_in({n(21), n(30)}), 0u);
}

TEST(AddressIntervals, CountsAcrossTheWordBoundary) {
  AddressIntervals set;
  set.insert({0, UINT64_MAX});
  set.insert({1, 0});
  EXPECT_EQ(set.interval_count(), 1u);
  EXPECT_EQ(set.count_in({{0, 0}, kLargestAddressNumber}), 2u);
}

}  // namespace
}  // namespace kvlb::ipam
