// NetlinkNatTable against the real kernel, inside a private network namespace
// the test process enters itself (unshare), so the host ruleset is never
// touched. Skipped when not root or when namespaces/nftables are unavailable.
#include "kernel/nft/netlink_nat_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cerrno>
#include <chrono>
#include <iostream>
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
  for (const auto& snat_rules : {std::set<model::SnatRule>{},
                                 std::set<model::SnatRule>{kWeb, kDns, kSctp, kWeb6,
                                                           snat("10.96.0.10", 8080, Protocol::Tcp, "192.168.50.10"),
                                                           snat("2001:db8::5", 443, Protocol::Sctp, "2001:db8::ff")}}) {
    ASSERT_TRUE(table_->apply(recreate_with({snat_rules.begin(), snat_rules.end()})).ok());
    auto listed = run("nft list table inet kvlb");
    ASSERT_EQ(listed.status, 0) << listed.output;
    EXPECT_EQ(nft_test::with_sorted_elements(listed.output),
              nft_test::with_sorted_elements(render_nft_text(snat_rules)));
  }
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
  ASSERT_EQ(run("ip link set lo up && ip addr add 20.20.20.1/32 dev lo").status, 0);
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
  // Guard elements belong to later HA work: read() does not treat them as damage.
  EXPECT_TRUE(table_->read()->intact);
  close(receiver);
}

}  // namespace
}  // namespace kvlb::kernel
