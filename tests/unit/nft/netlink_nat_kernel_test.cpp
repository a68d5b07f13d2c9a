// NetlinkNatTable against the real kernel, inside a private network namespace
// the test process enters itself (unshare), so the host ruleset is never
// touched. Skipped when not root or when namespaces/nftables are unavailable.
#include "kernel/nft/netlink_nat_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>

#include "kernel/nft/nat_render.h"
#include "kernel_test_support.h"
#include "nft_test_support.h"

namespace kvlb::kernel {
namespace {

using model::Protocol;
using nft_test::run;
using nft_test::snat;

using nft_test::kDns;
using nft_test::kWeb;
using nft_test::kWeb6;
using nft_test::recreate_with;
const model::SnatRule kSctp = snat("20.20.20.2", 9999, Protocol::Sctp, "192.168.50.10");

model::IpAddress ip(const char* text) { return nft_test::ip(text); }

NatBatch dropping(std::vector<model::IpAddress> add, std::vector<model::IpAddress> remove = {}) {
  NatBatch batch;
  batch.drop_add = std::move(add);
  batch.drop_remove = std::move(remove);
  return batch;
}

sockaddr_storage socket_address(const std::string& address, uint16_t port, socklen_t& length) {
  sockaddr_storage out{};
  if (address.find(':') == std::string::npos) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    inet_pton(AF_INET, address.c_str(), &v4->sin_addr);
    length = sizeof *v4;
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr);
    length = sizeof *v6;
  }
  return out;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

class NetlinkNatKernelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto why = nft_test::enter_private_netns()) skip_reason_ = *why;
    else if (!nft_test::have_command("nft")) skip_reason_ = "the nft CLI is needed to reset and inspect the namespace";
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    // Only ever inside our private namespace (checked in SetUpTestSuite).
    ASSERT_EQ(run("nft flush ruleset").status, 0);
    auto opened = NetlinkNatTable::open();
    ASSERT_TRUE(opened.ok()) << opened.error().describe();
    table_ = std::move(opened.value());
    auto probe = table_->apply(recreate_with({}));
    if (!probe.ok() && (probe.error().code.value() == EPERM || probe.error().code.value() == EOPNOTSUPP))
      GTEST_SKIP() << "cannot create nftables tables here: " << probe.error().describe();
    ASSERT_TRUE(probe.ok()) << probe.error().describe();
  }

  std::set<model::SnatRule> read_snat() {
    auto observed = table_->read();
    EXPECT_TRUE(observed.ok()) << observed.error().describe();
    EXPECT_TRUE(observed.ok() && observed->intact) << table_->last_damage();
    return observed.ok() ? observed->snat : std::set<model::SnatRule>{};
  }

  std::string damage_after_read() {
    auto observed = table_->read();
    EXPECT_TRUE(observed.ok());
    EXPECT_FALSE(observed.ok() && observed->intact);
    return table_->last_damage();
  }

  inline static std::string skip_reason_;
  std::unique_ptr<NetlinkNatTable> table_;
};

TEST_F(NetlinkNatKernelTest, CreatesTableAndReadsBackWhatWasWritten) {
  const uint64_t writes = table_->writes();
  ASSERT_TRUE(table_->apply(recreate_with({kWeb, kDns, kSctp, kWeb6})).ok());
  EXPECT_EQ(table_->writes(), writes + 1);
  EXPECT_EQ(read_snat(), (std::set<model::SnatRule>{kWeb, kDns, kSctp, kWeb6}));
  EXPECT_EQ(table_->last_damage(), "");
}

TEST_F(NetlinkNatKernelTest, AddsRemovesAndChangesElements) {
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  NatBatch add;
  add.add = {kDns, kWeb6};
  ASSERT_TRUE(table_->apply(add).ok());
  EXPECT_EQ(read_snat(), (std::set<model::SnatRule>{kWeb, kDns, kWeb6}));

  // Same key, new SNAT address: delete then add, one transaction.
  const auto moved = snat("20.20.20.1", 80, Protocol::Tcp, "192.168.50.10");
  NatBatch change;
  change.remove = {kWeb, kWeb6};
  change.add = {moved};
  ASSERT_TRUE(table_->apply(change).ok());
  EXPECT_EQ(read_snat(), (std::set<model::SnatRule>{moved, kDns}));
}

TEST_F(NetlinkNatKernelTest, NftCliListsWhatRenderPredicts) {
  const std::set<model::SnatRule> many_rules{kWeb, kDns, kSctp, kWeb6,
                                             snat("10.96.0.10", 8080, Protocol::Tcp, "192.168.50.10"),
                                             snat("2001:db8::5", 443, Protocol::Sctp, "2001:db8::ff")};
  const std::set<model::IpAddress> one_vip{ip("20.20.20.1")};
  const std::set<model::IpAddress> many_vips{ip("20.20.200.1"), ip("20.20.3.1"), ip("20.20.17.1"), ip("20.20.1.1"),
                                             ip("20.20.9.1"),   ip("fd00::9"),   ip("2001:db8::1"), ip("fd00::1")};
  for (const auto& [snat_rules, dropped] :
       {std::pair{std::set<model::SnatRule>{}, std::set<model::IpAddress>{}}, std::pair{many_rules, one_vip},
        std::pair{many_rules, many_vips}}) {
    NatBatch batch = recreate_with({snat_rules.begin(), snat_rules.end()});
    batch.drop_add = {dropped.begin(), dropped.end()};
    ASSERT_TRUE(table_->apply(batch).ok());
    auto listed = run("nft list table inet kvlb");
    ASSERT_EQ(listed.status, 0) << listed.output;
    // Set elements need no sorting: nft prints them sorted, as render does.
    EXPECT_EQ(nft_test::with_sorted_elements(listed.output),
              nft_test::with_sorted_elements(render_nft_text(snat_rules, dropped)));
  }
}

TEST_F(NetlinkNatKernelTest, DropElementsAreWrittenWithSnatElementsAndReadBack) {
  NatBatch batch = recreate_with({kWeb});
  batch.drop_add = {ip("20.20.20.1"), ip("20.20.20.7"), ip("fd00::1")};
  ASSERT_TRUE(table_->apply(batch).ok());
  auto observed = table_->read();
  ASSERT_TRUE(observed.ok()) << observed.error().describe();
  EXPECT_TRUE(observed->intact) << table_->last_damage();
  EXPECT_EQ(observed->snat, std::set<model::SnatRule>{kWeb});
  EXPECT_EQ(observed->dropped_vips, (std::set<model::IpAddress>{ip("20.20.20.1"), ip("20.20.20.7"), ip("fd00::1")}));

  auto listed = run("nft list set inet kvlb drop_vips4");
  ASSERT_EQ(listed.status, 0) << listed.output;
  EXPECT_EQ(listed.output,
            "table inet kvlb {\n"
            "\tset drop_vips4 {\n"
            "\t\ttype ipv4_addr\n"
            "\t\telements = { 20.20.20.1, 20.20.20.7 }\n"
            "\t}\n"
            "}\n");
  EXPECT_NE(run("nft list set inet kvlb drop_vips6").output.find("elements = { fd00::1 }"), std::string::npos);

  // Incremental changes, with an SNAT change in the same transaction.
  NatBatch change = dropping({ip("20.20.20.8")}, {ip("20.20.20.7"), ip("fd00::1")});
  change.add = {kDns};
  ASSERT_TRUE(table_->apply(change).ok());
  observed = table_->read();
  ASSERT_TRUE(observed.ok());
  EXPECT_EQ(observed->dropped_vips, (std::set<model::IpAddress>{ip("20.20.20.1"), ip("20.20.20.8")}));
  EXPECT_EQ(observed->snat, (std::set<model::SnatRule>{kWeb, kDns}));

  // Recreating starts from exactly the batch's drop elements.
  NatBatch recreate = recreate_with({});
  recreate.drop_add = {ip("2001:db8::7")};
  ASSERT_TRUE(table_->apply(recreate).ok());
  EXPECT_EQ(table_->read()->dropped_vips, std::set<model::IpAddress>{ip("2001:db8::7")});

  // Someone else's element is read back too (and is not damage).
  ASSERT_EQ(run("nft add element inet kvlb drop_vips4 '{ 198.51.100.1 }'").status, 0);
  observed = table_->read();
  ASSERT_TRUE(observed.ok());
  EXPECT_TRUE(observed->intact);
  EXPECT_EQ(observed->dropped_vips, (std::set<model::IpAddress>{ip("198.51.100.1"), ip("2001:db8::7")}));
}

TEST_F(NetlinkNatKernelTest, DropElementsFailLikeSnatElements) {
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  ASSERT_TRUE(table_->apply(dropping({ip("20.20.20.1")})).ok());
  // Without NLM_F_EXCL (`nft add element`) the kernel accepts an element that
  // exists; with it (`nft create element`) it answers EEXIST. kvlb sends
  // NLM_F_EXCL for drop elements as for SNAT elements.
  EXPECT_EQ(run("nft add element inet kvlb drop_vips4 '{ 20.20.20.1 }'").status, 0);
  EXPECT_NE(run("nft create element inet kvlb drop_vips4 '{ 20.20.20.1 }'").status, 0);
  auto status = table_->apply(dropping({ip("20.20.20.1")}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), EEXIST);
  EXPECT_EQ(status.error().context.rfind("nft add drop 20.20.20.1", 0), 0u) << status.error().describe();

  status = table_->apply(dropping({}, {ip("fd00::9")}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(status.error().context.rfind("nft delete drop fd00::9", 0), 0u) << status.error().describe();

  // One failing SNAT element rolls back the drop elements of the same batch.
  NatBatch mixed = dropping({ip("fd00::1")}, {ip("20.20.20.1")});
  mixed.remove = {kDns};  // not there
  status = table_->apply(mixed);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(table_->read()->dropped_vips, std::set<model::IpAddress>{ip("20.20.20.1")});
}

TEST_F(NetlinkNatKernelTest, ForeignTableSurvivesRecreate) {
  auto created = run(
      "nft add table inet foreign && "
      "nft add set inet foreign allowed '{ type ipv4_addr; }' && "
      "nft add element inet foreign allowed '{ 1.2.3.4 }' && "
      "nft add chain inet foreign input '{ type filter hook input priority 0; policy accept; }' && "
      "nft add rule inet foreign input ip saddr @allowed counter accept");
  ASSERT_EQ(created.status, 0) << created.output;
  const auto before = run("nft list table inet foreign").output;
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  ASSERT_TRUE(table_->apply(recreate_with({kDns})).ok());
  EXPECT_EQ(run("nft list table inet foreign").output, before);
  EXPECT_EQ(read_snat(), std::set<model::SnatRule>{kDns});
}

TEST_F(NetlinkNatKernelTest, BatchWithOneBadElementFailsAtomically) {
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  const uint64_t writes = table_->writes();

  NatBatch bad;
  bad.add = {kDns, kWeb6};
  bad.remove = {kSctp};  // not there
  auto status = table_->apply(bad);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(status.error().context.rfind("nft delete snat 20.20.20.2:9999/sctp -> 192.168.50.10", 0), 0u)
      << status.error().describe();
  EXPECT_EQ(read_snat(), std::set<model::SnatRule>{kWeb});
  EXPECT_EQ(table_->writes(), writes);

  NatBatch existing;
  existing.add = {kDns, snat("20.20.20.1", 80, Protocol::Tcp, "10.0.0.1")};  // key of kWeb exists
  status = table_->apply(existing);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), EEXIST);
  EXPECT_EQ(status.error().context.rfind("nft add snat 20.20.20.1:80/tcp -> 10.0.0.1", 0), 0u)
      << status.error().describe();
  EXPECT_EQ(read_snat(), std::set<model::SnatRule>{kWeb});

  NatBatch two_bad;
  two_bad.remove = {kDns, kSctp};
  status = table_->apply(two_bad);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context.find("[and 1 more failed]"), std::string::npos) << status.error().describe();
}

TEST_F(NetlinkNatKernelTest, FailedRecreateKeepsTheOldTable) {
  ASSERT_TRUE(table_->apply(recreate_with({kWeb, kDns})).ok());
  auto status = table_->apply(recreate_with({kSctp, kSctp}));  // duplicate: EEXIST on the second
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), EEXIST);
  EXPECT_EQ(read_snat(), (std::set<model::SnatRule>{kWeb, kDns}));  // the delete was rolled back too
}

TEST_F(NetlinkNatKernelTest, ElementOpsWithoutTableFailWithEnoent) {
  ASSERT_EQ(run("nft delete table inet kvlb").status, 0);
  EXPECT_EQ(damage_after_read(), "table inet kvlb is missing");
  NatBatch add;
  add.add = {kWeb};
  auto status = table_->apply(add);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
}

TEST_F(NetlinkNatKernelTest, ReadDetectsDriftAndRecreateRepairsIt) {
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  // Someone deletes one rule.
  auto listing = run("nft -a list chain inet kvlb postrouting").output;
  auto handle_at = listing.rfind("# handle ");
  ASSERT_NE(handle_at, std::string::npos);
  auto handle = std::stoi(listing.substr(handle_at + 9));
  ASSERT_EQ(run("nft delete rule inet kvlb postrouting handle " + std::to_string(handle)).status, 0);
  EXPECT_EQ(damage_after_read(), "chain postrouting has 1 rules, expected 2");
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  EXPECT_EQ(read_snat(), std::set<model::SnatRule>{kWeb});

  // ... or a whole chain.
  ASSERT_EQ(run("nft flush chain inet kvlb prerouting_guard && nft delete chain inet kvlb prerouting_guard").status, 0);
  EXPECT_EQ(damage_after_read(), "chain prerouting_guard is missing");
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());

  // ... or adds a rule of its own.
  ASSERT_EQ(run("nft add rule inet kvlb postrouting counter").status, 0);
  EXPECT_EQ(damage_after_read(), "chain postrouting has 3 rules, expected 2");
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());

  // ... or puts an element kvlb cannot represent into a map.
  ASSERT_EQ(run("nft add element inet kvlb snat4 '{ 1.2.3.4 . icmp . 0 : 1.1.1.1 }'").status, 0);
  EXPECT_EQ(damage_after_read(), "nft read: element of map snat4 that kvlb does not write");
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());

  // ... or makes the table dormant (rules present but inactive).
  ASSERT_EQ(run("nft add table inet kvlb '{ flags dormant; }'").status, 0);
  EXPECT_EQ(damage_after_read(), "table is dormant");
  ASSERT_TRUE(table_->apply(recreate_with({kWeb})).ok());
  EXPECT_EQ(read_snat(), std::set<model::SnatRule>{kWeb});
}

TEST_F(NetlinkNatKernelTest, TenThousandElementsInOneBatch) {
  std::vector<model::SnatRule> many;
  const Protocol protocols[] = {Protocol::Tcp, Protocol::Udp, Protocol::Sctp};
  for (int i = 0; i < 10000; ++i) {
    auto vip = "10." + std::to_string(100 + i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
               std::to_string(i % 256);
    many.push_back(snat(vip, static_cast<uint16_t>(1000 + i % 50000), protocols[i % 3], "192.168.50.10"));
  }
  const std::set<model::SnatRule> expected(many.begin(), many.end());
  ASSERT_EQ(expected.size(), 10000u);

  auto start = std::chrono::steady_clock::now();
  auto status = table_->apply(recreate_with(many));
  const double recreate_ms = milliseconds_since(start);
  ASSERT_TRUE(status.ok()) << status.error().describe();

  start = std::chrono::steady_clock::now();
  auto observed = read_snat();
  const double read_ms = milliseconds_since(start);
  EXPECT_EQ(observed, expected);

  NatBatch remove_all;
  remove_all.remove = many;
  start = std::chrono::steady_clock::now();
  status = table_->apply(remove_all);
  const double remove_ms = milliseconds_since(start);
  ASSERT_TRUE(status.ok()) << status.error().describe();

  NatBatch add_all;
  add_all.add = many;
  start = std::chrono::steady_clock::now();
  status = table_->apply(add_all);
  const double add_ms = milliseconds_since(start);
  ASSERT_TRUE(status.ok()) << status.error().describe();
  EXPECT_EQ(read_snat().size(), 10000u);

  // A failing 10k batch: every element already exists, so 10,000 errors come back.
  start = std::chrono::steady_clock::now();
  status = table_->apply(add_all);
  const double failing_ms = milliseconds_since(start);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), EEXIST) << status.error().describe();
  EXPECT_NE(status.error().context.find("[and 9999 more failed]"), std::string::npos) << status.error().describe();

  std::cout << "[ timing ] 10000 elements: recreate+add " << recreate_ms << " ms, read " << read_ms
            << " ms, remove " << remove_ms << " ms, add " << add_ms << " ms, failing add " << failing_ms
            << " ms\n";
  RecordProperty("recreate_10000_ms", std::to_string(recreate_ms));
  RecordProperty("read_10000_ms", std::to_string(read_ms));
}

// The rules do what they say: a flow whose original destination is in the
// map leaves with the mapped source address; other flows are untouched.
TEST_F(NetlinkNatKernelTest, SnatRewritesSourceOfMappedFlowsOnly) {
  if (!nft_test::have_command("ip")) GTEST_SKIP() << "needs the ip CLI";
  auto setup = run(
      "ip link add kvlbt0 type veth peer name kvlbt1 && ip link set kvlbt0 up && ip link set kvlbt1 up && "
      "ip addr add 20.20.20.1/24 dev kvlbt0 && "
      "ip neigh replace 20.20.20.2 lladdr 02:00:00:00:00:02 dev kvlbt0 nud permanent && "
      "ip -6 addr add fd00::1/64 dev kvlbt0 nodad && "
      "ip -6 neigh replace fd00::2 lladdr 02:00:00:00:00:02 dev kvlbt0 nud permanent");
  ASSERT_EQ(setup.status, 0) << setup.output;
  ASSERT_TRUE(table_->apply(recreate_with({snat("20.20.20.2", 80, Protocol::Udp, "10.9.9.9"),
                                           snat("20.20.20.2", 80, Protocol::Tcp, "10.9.9.8"),
                                           snat("fd00::2", 80, Protocol::Udp, "fd00::99")}))
                  .ok());
  nft_test::PacketCapture capture("kvlbt1");
  ASSERT_TRUE(capture.ok());

  auto send_udp = [](const char* destination, uint16_t port) {
    sockaddr_storage address{};
    socklen_t length;
    int family = std::string(destination).find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      inet_pton(AF_INET, destination, &v4->sin_addr);
      length = sizeof *v4;
    } else {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      inet_pton(AF_INET6, destination, &v6->sin6_addr);
      length = sizeof *v6;
    }
    int fd = socket(family, SOCK_DGRAM, 0);
    sendto(fd, "kvlb", 4, 0, reinterpret_cast<sockaddr*>(&address), length);
    close(fd);
  };

  send_udp("20.20.20.2", 80);
  auto mapped = capture.next(IPPROTO_UDP, 80);
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->source, "10.9.9.9");

  send_udp("20.20.20.2", 81);  // no element for port 81
  auto unmapped = capture.next(IPPROTO_UDP, 81);
  ASSERT_TRUE(unmapped);
  EXPECT_EQ(unmapped->source, "20.20.20.1");

  // TCP: the SYN of a non-blocking connect is enough.
  int tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in web{};
  web.sin_family = AF_INET;
  web.sin_port = htons(80);
  inet_pton(AF_INET, "20.20.20.2", &web.sin_addr);
  connect(tcp, reinterpret_cast<sockaddr*>(&web), sizeof web);
  auto syn = capture.next(IPPROTO_TCP, 80);
  close(tcp);
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->source, "10.9.9.8");

  send_udp("fd00::2", 80);
  auto mapped6 = capture.next(IPPROTO_UDP, 80);
  ASSERT_TRUE(mapped6);
  EXPECT_EQ(mapped6->source, "fd00::99");
}

// The guard drops traffic to VIPs in drop_vips4 before conntrack sees it.
TEST_F(NetlinkNatKernelTest, GuardDropsTrafficToListedVips) {
  ASSERT_EQ(run("ip link set lo up && ip addr replace 20.20.20.1/32 dev lo").status, 0);
  int receiver = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(5000);
  inet_pton(AF_INET, "20.20.20.1", &vip.sin_addr);
  ASSERT_EQ(bind(receiver, reinterpret_cast<sockaddr*>(&vip), sizeof vip), 0);
  timeval timeout{0, 300 * 1000};
  setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  auto delivered = [&] {
    int sender = socket(AF_INET, SOCK_DGRAM, 0);
    sendto(sender, "x", 1, 0, reinterpret_cast<sockaddr*>(&vip), sizeof vip);
    close(sender);
    char byte;
    return recv(receiver, &byte, 1, 0) == 1;
  };
  EXPECT_TRUE(delivered());
  ASSERT_EQ(run("nft add element inet kvlb drop_vips4 '{ 20.20.20.1 }'").status, 0);
  EXPECT_FALSE(delivered());
  // An element added by hand is read back, not treated as damage.
  auto observed = table_->read();
  ASSERT_TRUE(observed.ok());
  EXPECT_TRUE(observed->intact);
  EXPECT_EQ(observed->dropped_vips, std::set<model::IpAddress>{ip("20.20.20.1")});
  ASSERT_TRUE(table_->apply(dropping({}, {ip("20.20.20.1")})).ok());
  EXPECT_TRUE(delivered());
  close(receiver);
}

// Takeover as clients see it: traffic to a dropped VIP arrives from another
// namespace over a veth and meets silence (no delivery, no RST, no ICMP
// error), on any port and protocol, and leaves no conntrack entry behind;
// other local addresses are untouched, and removing the drop restores it all.
TEST_F(NetlinkNatKernelTest, GuardDropsVipTrafficFromTheNetworkSilentlyBeforeConntrack) {
  for (const char* tool : {"ip", "conntrack", "nsenter"})
    if (!nft_test::have_command(tool)) GTEST_SKIP() << "needs the " << tool << " CLI";
  nft_test::PeerNamespace client;
  ASSERT_TRUE(client.ok());
  auto setup = run(
      // The suite shares one namespace: tolerate what other tests left.
      "ip link set lo up && ip addr replace 20.20.20.1/32 dev lo && ip -6 addr replace fd00::1/128 dev lo && "
      "{ ip link del kvlbg0 2>/dev/null; true; } && "
      "ip link add kvlbg0 type veth peer name kvlbg1 netns " + std::to_string(client.pid()) + " && "
      "ip link set kvlbg0 up && ip addr add 10.77.0.1/24 dev kvlbg0 && "
      "ip -6 addr add fd77::1/64 dev kvlbg0 nodad && " +
      client.in("ip link set lo up && ip link set kvlbg1 up && ip addr add 10.77.0.2/24 dev kvlbg1 && "
                "ip -6 addr add fd77::2/64 dev kvlbg1 nodad && ip route add 20.20.20.0/24 via 10.77.0.1 && "
                "ip -6 route add fd00::/64 via fd77::1"));
  ASSERT_EQ(setup.status, 0) << setup.output;
  // kvlb's table alone (its nat chain) turns conntrack on in this namespace;
  // packet counters show whether conntrack processed a packet.
  ASSERT_TRUE(table_->apply(recreate_with({})).ok());
  ASSERT_EQ(run("sysctl -qw net.netfilter.nf_conntrack_acct=1").status, 0);

  constexpr uint16_t kOpenPort = 5000, kClosedUdpPort = 5001, kClosedTcpPort = 5002;
  auto listen_udp = [](const std::string& address) {
    int fd = socket(address.find(':') == std::string::npos ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t length;
    auto at = socket_address(address, kOpenPort, length);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&at), length), 0) << address << ": " << std::strerror(errno);
    timeval timeout{0, 300 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
  };
  const std::vector<std::string> vips = {"20.20.20.1", "fd00::1"};
  std::map<std::string, int> listeners;
  for (const auto& address : {"20.20.20.1", "fd00::1", "10.77.0.1"}) listeners[address] = listen_udp(address);

  // A datagram from the client (from `source_port`, if given) reaches the
  // listener on `address`.
  auto delivered = [&](const std::string& address, uint16_t source_port = 0) {
    socklen_t length;
    auto to = socket_address(address, kOpenPort, length);
    int sender = client.socket_in(to.ss_family, SOCK_DGRAM);
    EXPECT_GE(sender, 0);
    if (source_port) {
      auto from = socket_address(to.ss_family == AF_INET ? "0.0.0.0" : "::", source_port, length);
      EXPECT_EQ(bind(sender, reinterpret_cast<sockaddr*>(&from), length), 0) << std::strerror(errno);
      to = socket_address(address, kOpenPort, length);
    }
    sendto(sender, "kvlb", 4, 0, reinterpret_cast<sockaddr*>(&to), length);
    close(sender);
    char buffer[8];
    return recv(listeners[address], buffer, sizeof buffer, 0) == 4;
  };
  // What a client hears back from a closed UDP port: ECONNREFUSED (an ICMP
  // error) or EAGAIN (silence).
  auto closed_udp_port = [&](const std::string& address) {
    socklen_t length;
    auto to = socket_address(address, kClosedUdpPort, length);
    int fd = client.socket_in(to.ss_family, SOCK_DGRAM);
    timeval timeout{0, 300 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    connect(fd, reinterpret_cast<sockaddr*>(&to), length);
    send(fd, "x", 1, 0);
    char byte;
    const int error = recv(fd, &byte, 1, 0) < 0 ? errno : 0;
    close(fd);
    return error;
  };
  // What a TCP connect to a closed port meets: ECONNREFUSED (a RST) or
  // ETIMEDOUT (silence for 300 ms).
  auto closed_tcp_port = [&](const std::string& address) {
    socklen_t length;
    auto to = socket_address(address, kClosedTcpPort, length);
    int fd = client.socket_in(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK);
    connect(fd, reinterpret_cast<sockaddr*>(&to), length);
    pollfd ready{fd, POLLOUT, 0};
    int error = ETIMEDOUT;
    if (poll(&ready, 1, 300) == 1) {
      socklen_t size = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    }
    close(fd);
    return error;
  };
  auto tracked = [](const std::string& address) {
    auto listed = run("{ conntrack -L -f ipv4; conntrack -L -f ipv6; }");
    return listed.output.find("dst=" + address + " ") != std::string::npos;
  };

  // Before: delivered and tracked; closed ports answer.
  for (const auto& vip : vips) {
    EXPECT_TRUE(delivered(vip)) << vip;
    EXPECT_TRUE(tracked(vip)) << vip << ": conntrack must be on, or the check below proves nothing";
    EXPECT_EQ(closed_tcp_port(vip), ECONNREFUSED) << vip;
  }
  EXPECT_EQ(closed_udp_port("20.20.20.1"), ECONNREFUSED);  // one ICMP error: they are rate limited
  ASSERT_EQ(run("{ conntrack -F -f ipv4 && conntrack -F -f ipv6; }").status, 0);
  for (const auto& vip : vips) ASSERT_FALSE(tracked(vip)) << vip;

  // Dropped: silence whatever the port and protocol, and nothing tracked.
  ASSERT_TRUE(table_->apply(dropping({ip("20.20.20.1"), ip("fd00::1")})).ok());
  auto listed = run("nft list set inet kvlb drop_vips4");
  EXPECT_NE(listed.output.find("elements = { 20.20.20.1 }"), std::string::npos) << listed.output;
  for (const auto& vip : vips) {
    EXPECT_FALSE(delivered(vip)) << vip;
    EXPECT_EQ(closed_tcp_port(vip), ETIMEDOUT) << vip << ": a dropped SYN gets no RST";
    EXPECT_EQ(closed_udp_port(vip), EAGAIN) << vip << ": a dropped datagram gets no ICMP error";
    EXPECT_FALSE(tracked(vip)) << vip << ": the guard runs before conntrack";
  }
  EXPECT_TRUE(delivered("10.77.0.1")) << "only VIPs in the set are dropped";

  // An entry committed meanwhile (as conntrackd commits them) is not touched
  // by dropped packets: conntrack never processes them. (A guard after
  // conntrack would also leave no new entry, since a dropped packet's entry
  // is never confirmed, but it would update committed ones.)
  ASSERT_EQ(run("conntrack -I -p udp -s 10.77.0.2 -d 20.20.20.1 --sport 40000 --dport 5000 -t 100").status, 0);
  // Original-direction counters follow the original tuple's last field.
  auto committed = [] { return run("conntrack -L -p udp --orig-port-src 40000").output; };
  ASSERT_NE(committed().find("dport=5000 packets=0 bytes=0 [UNREPLIED]"), std::string::npos) << committed();
  EXPECT_FALSE(delivered("20.20.20.1", 40000));
  EXPECT_NE(committed().find("dport=5000 packets=0 bytes=0 [UNREPLIED]"), std::string::npos) << committed();

  // Undropped: everything as before, and the committed entry carries the flow.
  ASSERT_TRUE(table_->apply(dropping({}, {ip("20.20.20.1"), ip("fd00::1")})).ok());
  EXPECT_TRUE(delivered("20.20.20.1", 40000));
  EXPECT_NE(committed().find("dport=5000 packets=1 bytes=32 [UNREPLIED]"), std::string::npos) << committed();
  for (const auto& vip : vips) {
    EXPECT_TRUE(delivered(vip)) << vip;
    EXPECT_TRUE(tracked(vip)) << vip;
    EXPECT_EQ(closed_tcp_port(vip), ECONNREFUSED) << vip;
  }
  for (auto& [address, fd] : listeners) close(fd);
}

}  // namespace
}  // namespace kvlb::kernel
