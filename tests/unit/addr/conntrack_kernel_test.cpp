// NetfilterConntrackReader sees real connections tracked in this namespace;
// NetfilterConntrackWriter deletes exactly the entries of the given services.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_sctp.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "kernel/conntrack/netfilter_conntrack_reader.h"
#include "kernel/conntrack/netfilter_conntrack_writer.h"
#include "kernel/sysctl/proc_sysctl.h"
#include "netns_support.h"

namespace kvlb::kernel {
namespace {

model::IpAddress ip(const char* text) { return *model::IpAddress::parse(text); }

// Owns a socket descriptor.
struct Socket {
  int fd = -1;
  explicit Socket(int f) : fd(f) {}
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

sockaddr_storage socket_address(const model::IpAddress& addr, uint16_t port, socklen_t& len) {
  sockaddr_storage out{};
  if (addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return out;
}

uint16_t port_of(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  return local.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
}

// An established TCP connection with some data sent each way.
struct TcpFlow {
  std::unique_ptr<Socket> listener, client, server;
  uint16_t client_port = 0;
  uint16_t server_port = 0;
};

// Listens on listen_at (ephemeral port unless given), connects to
// connect_to:connect_port (the listener's own address and port by default),
// then exchanges 100 and 50 bytes.
TcpFlow open_flow(const model::IpAddress& listen_at, std::optional<model::IpAddress> connect_to = {},
                  uint16_t connect_port = 0) {
  TcpFlow flow;
  flow.listener = std::make_unique<Socket>(::socket(listen_at.af(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len;
  auto at = socket_address(listen_at, 0, len);
  EXPECT_EQ(::bind(flow.listener->fd, reinterpret_cast<sockaddr*>(&at), len), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(flow.listener->fd, 4), 0);
  flow.server_port = port_of(flow.listener->fd);

  const auto target = connect_to.value_or(listen_at);
  auto to = socket_address(target, connect_port ? connect_port : flow.server_port, len);
  flow.client = std::make_unique<Socket>(::socket(target.af(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(flow.client->fd, reinterpret_cast<sockaddr*>(&to), len), 0) << std::strerror(errno);
  flow.client_port = port_of(flow.client->fd);
  flow.server = std::make_unique<Socket>(::accept4(flow.listener->fd, nullptr, nullptr, SOCK_CLOEXEC));

  char buffer[100] = {};
  EXPECT_EQ(::send(flow.client->fd, buffer, 100, 0), 100);
  EXPECT_EQ(::recv(flow.server->fd, buffer, 100, MSG_WAITALL), 100);
  EXPECT_EQ(::send(flow.server->fd, buffer, 50, 0), 50);
  EXPECT_EQ(::recv(flow.client->fd, buffer, 50, MSG_WAITALL), 50);
  return flow;
}

class ConntrackKernelTest : public kvlb::testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Conntrack tracks a namespace's traffic only once something there uses
    // it: an nftables rule with a ct expression does.
    must_run("nft 'add table inet kvlbtest; "
             "add chain inet kvlbtest out { type filter hook output priority 0; }; "
             "add rule inet kvlbtest out ct state new counter'");
    ProcSysctl sysctl;
    ASSERT_TRUE(sysctl.set("net.netfilter.nf_conntrack_acct", "1"));  // byte counters
    auto opened = NetfilterConntrackReader::open();
    ASSERT_TRUE(opened) << opened.error().describe();
    reader = std::move(*opened);
  }

  std::optional<ConnEntry> entry_for(const model::IpAddress& client, uint16_t client_port) {
    auto entries = reader->list();
    EXPECT_TRUE(entries) << entries.error().describe();
    if (!entries) return std::nullopt;
    auto it = std::find_if(entries->begin(), entries->end(), [&](const ConnEntry& e) {
      return e.protocol == model::Protocol::Tcp && e.client == client && e.client_port == client_port;
    });
    if (it == entries->end()) return std::nullopt;
    return *it;
  }

  std::unique_ptr<NetfilterConntrackReader> reader;
};

TEST_F(ConntrackKernelTest, SeesEstablishedTcpOverIpv4AndIpv6) {
  for (const char* loopback : {"127.0.0.1", "::1"}) {
    auto flow = open_flow(ip(loopback));
    auto e = entry_for(ip(loopback), flow.client_port);
    ASSERT_TRUE(e) << loopback;
    EXPECT_EQ(e->vip, ip(loopback));
    EXPECT_EQ(e->vip_port, flow.server_port);
    EXPECT_EQ(e->endpoint, ip(loopback));  // no NAT: reply comes from the original destination
    EXPECT_EQ(e->endpoint_port, flow.server_port);
    EXPECT_EQ(e->snat_source, ip(loopback));
    EXPECT_EQ(e->snat_port, flow.client_port);
    EXPECT_EQ(e->state, "ESTABLISHED");
    EXPECT_GE(e->bytes, 150u) << "payload both ways plus headers";
    EXPECT_GE(e->packets, 4u);
    EXPECT_GT(e->timeout, 0u);
  }
}

TEST_F(ConntrackKernelTest, ReplyTupleShowsDnatAndSnat) {
  // 10.99.0.1:80 is the "VIP", 10.99.0.2 the endpoint, 10.99.0.3 the SNAT source.
  must_run("ip addr add 10.99.0.1/32 dev lo && ip addr add 10.99.0.2/32 dev lo && "
           "ip addr add 10.99.0.3/32 dev lo");
  Socket probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len;
  auto any = socket_address(ip("10.99.0.2"), 0, len);
  ASSERT_EQ(::bind(probe.fd, reinterpret_cast<sockaddr*>(&any), len), 0);
  const uint16_t endpoint_port = port_of(probe.fd);
  ::close(probe.fd);
  probe.fd = -1;

  must_run("nft 'add table ip kvlbnat; "
           "add chain ip kvlbnat out { type nat hook output priority -100; }; "
           "add rule ip kvlbnat out ip daddr 10.99.0.1 tcp dport 80 dnat to 10.99.0.2:" +
           std::to_string(endpoint_port) + "; "
           "add chain ip kvlbnat post { type nat hook postrouting priority 100; }; "
           "add rule ip kvlbnat post ip daddr 10.99.0.2 snat to 10.99.0.3'");

  TcpFlow flow;
  flow.listener = std::make_unique<Socket>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto at = socket_address(ip("10.99.0.2"), endpoint_port, len);
  ASSERT_EQ(::bind(flow.listener->fd, reinterpret_cast<sockaddr*>(&at), len), 0);
  ASSERT_EQ(::listen(flow.listener->fd, 4), 0);
  auto to = socket_address(ip("10.99.0.1"), 80, len);
  flow.client = std::make_unique<Socket>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(flow.client->fd, reinterpret_cast<sockaddr*>(&to), len), 0) << std::strerror(errno);
  const uint16_t client_port = port_of(flow.client->fd);

  auto e = entry_for(ip("10.99.0.1"), client_port);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->vip.with_port(e->vip_port), "10.99.0.1:80");
  EXPECT_EQ(e->endpoint.with_port(e->endpoint_port), "10.99.0.2:" + std::to_string(endpoint_port));
  EXPECT_EQ(e->snat_source, ip("10.99.0.3"));
  EXPECT_NE(e->snat_port, 0);
}

TEST_F(ConntrackKernelTest, EmptyTableIsAnEmptyList) {
  auto entries = reader->list();
  ASSERT_TRUE(entries) << entries.error().describe();
  EXPECT_TRUE(entries->empty());
}

// ---- the writer ----

class ConntrackWriterKernelTest : public kvlb::testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto opened = NetfilterConntrackWriter::open();
    ASSERT_TRUE(opened) << opened.error().describe();
    writer = std::move(*opened);
  }

  std::unique_ptr<NetfilterConntrackWriter> writer;
};

// ---- SCTP DNAT port repair ----

// An SCTP entry created as conntrackd's commit creates it: original tuple,
// SNAT to the VIP, DNAT to endpoint:8080 through libnetfilter_conntrack.
bool create_committed_sctp(uint16_t client_port) {
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  if (!handle) return false;
  std::unique_ptr<nf_conntrack, decltype(&nfct_destroy)> ct(nfct_new(), &nfct_destroy);
  nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, IPPROTO_SCTP);
  nfct_set_attr_u32(ct.get(), ATTR_ORIG_IPV4_SRC, htonl(0x0a000909));  // 10.0.9.9
  nfct_set_attr_u32(ct.get(), ATTR_ORIG_IPV4_DST, htonl(0x14141401));  // 20.20.20.1
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(client_port));
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(1009));
  nfct_set_attr_u32(ct.get(), ATTR_SNAT_IPV4, htonl(0x14141401));
  nfct_set_attr_u16(ct.get(), ATTR_SNAT_PORT, htons(client_port));
  nfct_set_attr_u32(ct.get(), ATTR_DNAT_IPV4, htonl(0x0a000217));  // 10.0.2.23
  nfct_set_attr_u16(ct.get(), ATTR_DNAT_PORT, htons(8080));
  nfct_set_attr_u8(ct.get(), ATTR_SCTP_STATE, SCTP_CONNTRACK_ESTABLISHED);
  nfct_set_attr_u32(ct.get(), ATTR_SCTP_VTAG_ORIG, 0x11223344);
  nfct_set_attr_u32(ct.get(), ATTR_SCTP_VTAG_REPL, 0x55667788);
  nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, 300);
  nfct_setobjopt(ct.get(), NFCT_SOPT_SETUP_REPLY);
  bool ok = nfct_query(handle, NFCT_Q_CREATE, ct.get()) == 0;
  nfct_close(handle);
  return ok;
}

TEST_F(ConntrackWriterKernelTest, RepairsTheDnatPortOfCommittedSctpEntries) {
  if (!create_committed_sctp(40001)) GTEST_SKIP() << "this kernel's conntrack refuses SCTP NAT entries";
  ASSERT_TRUE(create_committed_sctp(40002));
  ASSERT_TRUE(create_committed_sctp(40003));
  auto entry = [] { return kvlb::testing::output_of("conntrack -L -p sctp 2>/dev/null"); };
  // libnetfilter_conntrack encodes NAT ports for TCP and UDP only: the DNAT
  // kept the service's port.
  ASSERT_NE(entry().find("src=10.0.2.23 dst=20.20.20.1 sport=1009 dport=40001"), std::string::npos) << entry();

  std::map<ConnKey, std::map<model::IpAddress, uint16_t>> endpoints{
      {{model::Protocol::Sctp, ip("20.20.20.1"), 1009}, {{ip("10.0.2.23"), 8080}, {ip("10.0.2.21"), 8081}}}};
  auto repaired = writer->repair_dnat_ports(endpoints);
  ASSERT_TRUE(repaired) << repaired.error().describe();
  EXPECT_EQ(*repaired, 3u);  // one batch of requests
  auto after = entry();
  for (const std::string port : {"40001", "40002", "40003"}) {
    EXPECT_NE(after.find("src=10.0.9.9 dst=20.20.20.1 sport=" + port + " dport=1009"), std::string::npos) << after;
    EXPECT_NE(after.find("src=10.0.2.23 dst=20.20.20.1 sport=8080 dport=" + port), std::string::npos) << after;
  }
  EXPECT_EQ(kvlb::testing::output_of("conntrack -L -p sctp 2>/dev/null | grep -c ESTABLISHED"), "3\n") << after;

  // Right already: nothing to do.
  repaired = writer->repair_dnat_ports(endpoints);
  ASSERT_TRUE(repaired) << repaired.error().describe();
  EXPECT_EQ(*repaired, 0u);
}

}  // namespace
}  // namespace kvlb::kernel
