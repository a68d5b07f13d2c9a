#include "fakes/fake_conntrack.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kvlb::fakes {
namespace {

TEST(FakeConntrackReader, ReturnsEntriesOrTheSetError) {
  FakeConntrackReader reader;
  EXPECT_TRUE(reader.list()->empty());

  kernel::ConnEntry entry;
  entry.client = *model::IpAddress::parse("10.0.0.9");
  entry.vip = *model::IpAddress::parse("20.20.20.1");
  entry.vip_port = 80;
  entry.state = "ESTABLISHED";
  reader.entries.push_back(entry);
  auto listed = reader.list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].vip.with_port((*listed)[0].vip_port), "20.20.20.1:80");
  EXPECT_EQ((*listed)[0].state, "ESTABLISHED");

  reader.failure = Error::from_errno(EPERM, "dump conntrack table");
  auto failed = reader.list();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().describe(), "dump conntrack table: Operation not permitted");
  EXPECT_EQ(reader.list_calls(), 3);
}

}  // namespace
}  // namespace kvlb::fakes
