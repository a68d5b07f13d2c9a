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

TEST(FakeConntrack, PurgeDeletesByOriginalDestinationAndListNoLongerShowsThem) {
  FakeConntrack table;
  table.add(Protocol::Tcp, "10.0.0.9", 40000, "20.20.20.1", 80);
  table.add(Protocol::Tcp, "10.0.0.10", 40001, "20.20.20.1", 80);
  table.add(Protocol::Udp, "10.0.0.9", 40002, "20.20.20.1", 80);   // same VIP:port, other protocol
  table.add(Protocol::Tcp, "10.0.0.9", 40003, "20.20.20.1", 443);  // same VIP, other port
  table.add(Protocol::Tcp, "10.0.0.9", 40004, "20.20.20.2", 80);   // other VIP
  table.add(Protocol::Sctp, "fd00::9", 40005, "fd00::1", 9999);

  const std::set<ConnKey> services{{Protocol::Tcp, ip("20.20.20.1"), 80}, {Protocol::Sctp, ip("fd00::1"), 9999}};
  auto purged = table.purge(services);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 3u);
  auto listed = table.list();
  ASSERT_TRUE(listed);
  std::vector<uint16_t> client_ports;
  for (const auto& e : *listed) client_ports.push_back(e.client_port);
  EXPECT_EQ(client_ports, (std::vector<uint16_t>{40002, 40003, 40004}));

  EXPECT_EQ(*table.purge(services), 0u);  // nothing left to delete is not an error
  EXPECT_EQ(*table.purge({}), 0u);
  EXPECT_EQ(table.purges(), (std::vector<std::set<ConnKey>>{services, services, {}}));
  EXPECT_EQ(table.purged_entries(), 3u);
}

TEST(FakeConntrack, SeededEntriesLookLikeUnNattedFlows) {
  FakeConntrack table;
  auto& entry = table.add(Protocol::Udp, "10.0.0.9", 5353, "20.20.20.1", 53);
  EXPECT_EQ(entry.endpoint.with_port(entry.endpoint_port), "20.20.20.1:53");
  EXPECT_EQ(entry.snat_source.with_port(entry.snat_port), "10.0.0.9:5353");
  EXPECT_EQ(entry.state, "");
  EXPECT_EQ(original_destination(entry), (ConnKey{Protocol::Udp, ip("20.20.20.1"), 53}));
  EXPECT_EQ(table.add(Protocol::Tcp, "10.0.0.9", 1, "20.20.20.1", 80).state, "ESTABLISHED");
}

TEST(FakeConntrack, PurgeFailureDeletesNothing) {
  FakeConntrack table;
  table.add(Protocol::Tcp, "10.0.0.9", 40000, "20.20.20.1", 80);
  table.purge_failure = Error::from_errno(EPERM, "purge conntrack: dump table");
  auto failed = table.purge({{Protocol::Tcp, ip("20.20.20.1"), 80}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code.value(), EPERM);
  EXPECT_EQ(table.entries.size(), 1u);
  EXPECT_EQ(table.purges().size(), 1u);
  table.purge_failure.reset();
  EXPECT_EQ(*table.purge({{Protocol::Tcp, ip("20.20.20.1"), 80}}), 1u);
}

TEST(FakeConntrack, OneObjectServesAsReaderAndWriter) {
  FakeConntrack table;
  kernel::ConntrackReader& reader = table;
  kernel::ConntrackWriter& writer = table;
  table.add(Protocol::Tcp, "10.0.0.9", 40000, "20.20.20.1", 80);
  EXPECT_EQ(reader.list()->size(), 1u);
  EXPECT_EQ(*writer.purge({{Protocol::Tcp, ip("20.20.20.1"), 80}}), 1u);
  EXPECT_TRUE(reader.list()->empty());
}

}  // namespace
}  // namespace kvlb::fakes
