// Gratuitous ARP and unsolicited NA really leave the interface, and a
// neighbour that accepts them learns the VIP's MAC.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "kernel/addr/announce_frames.h"
#include "kernel/addr/netlink_address_table.h"
#include "netns_support.h"

namespace kvlb::kernel {
namespace {

using kvlb::testing::output_of;
using kvlb::testing::run;

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

// Sees every frame sent or received on one interface.
class Capture {
 public:
  explicit Capture(const std::string& ifname) {
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Capture() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // Waits up to two seconds for a frame equal to wanted; other traffic
  // (router solicitations, MLD reports) is skipped.
  bool saw(const Frame& wanted) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      Frame frame(2048);
      ssize_t got = ::recv(fd_, frame.data(), frame.size(), 0);
      if (got <= 0) continue;
      frame.resize(static_cast<std::size_t>(got));
      if (frame == wanted) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
};

class AnnounceKernelTest : public kvlb::testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // kv1 lives in a peer namespace: a neighbour that does not own the VIP
    // itself. Its lo is up so it has a local routing table, without which
    // the kernel does not classify the sender address as unicast and
    // ignores the gratuitous ARP.
    peer = std::make_unique<kvlb::testing::PeerNamespace>();
    ASSERT_TRUE(peer->ok());
    must_run("ip link add kv0 type veth peer name kv1 && ip link set kv0 up");
    must_run("ip link set kv1 netns " + std::to_string(peer->pid()));
    must_run(peer->in(
        "sysctl -qw net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.kv1.arp_accept=1 "
        "net.ipv6.conf.kv1.forwarding=1 net.ipv6.conf.kv1.accept_untracked_na=1 && "
        "ip link set lo up && ip link set kv1 up"));
    auto opened = NetlinkAddressTable::open();
    ASSERT_TRUE(opened) << opened.error().describe();
    table = std::move(*opened);
    mac = kvlb::testing::mac_of("kv0");
  }

  // The peer's neighbour table has vip -> mac within a second.
  bool peer_learned(const model::IpAddress& vip) {
    const std::string wanted = vip.str() + " lladdr " + to_string(mac);
    for (int i = 0; i < 20; ++i) {
      if (output_of(peer->in("ip neigh show dev kv1")).find(wanted) != std::string::npos) return true;
      ::usleep(50 * 1000);
    }
    return false;
  }

  std::unique_ptr<kvlb::testing::PeerNamespace> peer;
  std::unique_ptr<NetlinkAddressTable> table;
  MacAddress mac{};
};

TEST_F(AnnounceKernelTest, AddVipSendsGratuitousArp) {
  Capture capture("kv0");
  ASSERT_TRUE(capture.ok());
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  EXPECT_TRUE(capture.saw(garp_frame(mac, ip("20.20.20.1"))));
  EXPECT_TRUE(peer_learned(ip("20.20.20.1"))) << output_of(peer->in("ip neigh"));
  EXPECT_EQ(table->announcements_sent(), 1u);
  EXPECT_EQ(table->announce_failures(), 0u);
}

TEST_F(AnnounceKernelTest, AddVipSendsUnsolicitedNeighbourAdvertisement) {
  Capture capture("kv0");
  ASSERT_TRUE(capture.ok());
  ASSERT_TRUE(table->add_vip("kv0", ip("fd00::1")));
  EXPECT_TRUE(capture.saw(unsolicited_na(mac, ip("fd00::1"))));
  // Taking it into the neighbour table means the peer's kernel found the
  // checksum, hop limit and option valid.
  EXPECT_TRUE(peer_learned(ip("fd00::1"))) << output_of(peer->in("ip -6 neigh"));
  EXPECT_EQ(table->announce_failures(), 0u);
}

TEST_F(AnnounceKernelTest, AnnounceRepeatsOnRequest) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  Capture capture("kv0");
  ASSERT_TRUE(capture.ok());
  ASSERT_TRUE(table->announce("kv0", ip("20.20.20.1")));
  EXPECT_TRUE(capture.saw(garp_frame(mac, ip("20.20.20.1"))));
  EXPECT_EQ(table->announcements_sent(), 2u);
  EXPECT_EQ(table->writes(), 1u);  // announcing is not an address change

  auto missing = table->announce("nosuch0", ip("20.20.20.1"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code.value(), ENODEV);
}

TEST_F(AnnounceKernelTest, AnnouncesFromTheCurrentMac) {
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));  // the interface is known now
  must_run("ip link set kv0 address 02:00:00:00:00:42");
  mac = kvlb::testing::mac_of("kv0");
  ASSERT_EQ(mac, (MacAddress{0x02, 0, 0, 0, 0, 0x42}));
  Capture capture("kv0");
  ASSERT_TRUE(capture.ok());
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.2")));
  EXPECT_TRUE(capture.saw(garp_frame(mac, ip("20.20.20.2"))));
  ASSERT_TRUE(table->announce("kv0", ip("fd00::1")));
  EXPECT_TRUE(capture.saw(unsolicited_na(mac, ip("fd00::1"))));
}

TEST_F(AnnounceKernelTest, FailedAnnouncementDoesNotFailTheAdd) {
  must_run("ip link set kv0 down");  // frames cannot leave a down interface
  ASSERT_TRUE(table->add_vip("kv0", ip("20.20.20.1")));
  EXPECT_EQ(table->announce_failures(), 1u);
  ASSERT_TRUE(table->last_announce_error());
  EXPECT_EQ(table->last_announce_error()->code.value(), ENETDOWN);
  EXPECT_EQ(table->last_announce_error()->describe(), "announce vip 20.20.20.1 on kv0: Network is down");
  EXPECT_EQ(table->announcements_sent(), 0u);
}

TEST_F(AnnounceKernelTest, NothingToAnnounceOnLoopback) {
  ASSERT_TRUE(table->add_vip("lo", ip("20.20.20.1")));
  EXPECT_EQ(table->announcements_sent(), 0u);
  EXPECT_EQ(table->announce_failures(), 0u);
}

}  // namespace
}  // namespace kvlb::kernel
