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

using kernel::ConnKey;
using model::Protocol;

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

TEST(FakeConntrack, SeededEntriesLookLikeUnNattedFlows) {
  FakeConntrack table;
  auto& entry = table.add(Protocol::Udp, "10.0.0.9", 5353, "20.20.20.1", 53);
  EXPECT_EQ(entry.endpoint.with_port(entry.endpoint_port), "20.20.20.1:53");
  EXPECT_EQ(entry.snat_source.with_port(entry.snat_port), "10.0.0.9:5353");
  EXPECT_EQ(entry.state, "");
  EXPECT_EQ(original_destination(entry), (ConnKey{Protocol::Udp, ip("20.20.20.1"), 53}));
  EXPECT_EQ(table.add(Protocol::Tcp, "10.0.0.9", 1, "20.20.20.1", 80).state, "ESTABLISHED");
}

TEST(FakeConntrack, OneObjectServesAsReaderAndWriter) {
  FakeConntrack table;
  kernel::ConntrackReader& reader = table;
  kernel::ConntrackWriter& writer = table;
  table.add(Protocol::Tcp, "10.0.0.9", 40000, "20.20.20.1", 80);
  EXPECT_EQ(reader.list()->size(), 1u);
  const std::map<ConnKey, std::map<model::IpAddress, uint16_t>> endpoints{
      {{Protocol::Sctp, ip("20.20.20.1"), 80}, {{ip("10.0.1.11"), 8080}}}};
  EXPECT_EQ(*writer.repair_dnat_ports(endpoints), 0u);
  EXPECT_EQ(table.repairs(), (std::vector{endpoints}));
}

}  // namespace
}  // namespace kvlb::fakes
