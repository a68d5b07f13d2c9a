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
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

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

// ---- purge ----

// One flow as an IPVS-masqueraded service's entry looks: client -> VIP in
// the original direction, endpoint -> client in the reply direction.
struct Flow {
  const char* protocol;
  const char* client;
  uint16_t client_port;
  const char* vip;
  uint16_t vip_port;
  const char* endpoint;
  uint16_t endpoint_port;

  // As conntrack -L shows the original tuple.
  std::string str() const {
    return std::string(protocol) + " " + client + ":" + std::to_string(client_port) + " -> " + vip + ":" +
           std::to_string(vip_port);
  }
};

class ConntrackPurgeKernelTest : public kvlb::testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (kvlb::testing::run("command -v conntrack >/dev/null") != 0) GTEST_SKIP() << "needs the conntrack CLI";
    auto opened = NetfilterConntrackWriter::open();
    ASSERT_TRUE(opened) << opened.error().describe();
    writer = std::move(*opened);
  }

  // conntrack -I, as conntrackd's commit would create it; false when the
  // kernel refuses (a protocol its conntrack lacks).
  static bool insert(const Flow& f) {
    std::string command = std::string("conntrack -I -p ") + f.protocol + " -s " + f.client + " -d " + f.vip +
                          " --sport " + std::to_string(f.client_port) + " --dport " + std::to_string(f.vip_port) +
                          " --reply-src " + f.endpoint + " --reply-dst " + f.client + " --reply-port-src " +
                          std::to_string(f.endpoint_port) + " --reply-port-dst " + std::to_string(f.client_port) +
                          " -t 300";
    if (std::string(f.protocol) == "tcp") command += " --state ESTABLISHED";
    if (std::string(f.protocol) == "sctp") command += " --state ESTABLISHED --orig-vtag 1 --reply-vtag 2";
    return kvlb::testing::run(command + " >/dev/null 2>&1") == 0;
  }

  // The original tuple of every entry conntrack -L shows, both families.
  static std::set<std::string> listed() {
    std::set<std::string> out;
    std::istringstream lines(kvlb::testing::output_of("{ conntrack -L -f ipv4; conntrack -L -f ipv6; } 2>/dev/null"));
    std::string line;
    while (std::getline(lines, line)) {
      auto field = [&](const std::string& name) {
        auto at = line.find(" " + name + "=");
        if (at == std::string::npos) return std::string("?");
        at += name.size() + 2;
        return line.substr(at, line.find(' ', at) - at);
      };
      out.insert(line.substr(0, line.find(' ')) + " " + field("src") + ":" + field("sport") + " -> " + field("dst") +
                 ":" + field("dport"));
    }
    return out;
  }

  std::unique_ptr<NetfilterConntrackWriter> writer;
};

TEST_F(ConntrackPurgeKernelTest, DeletesOnlyEntriesOfTheGivenServicesInBothFamilies) {
  const std::vector<Flow> doomed = {
      {"tcp", "10.0.0.9", 40000, "20.20.20.1", 80, "10.0.1.11", 8080},
      {"tcp", "10.0.0.10", 40001, "20.20.20.1", 80, "10.0.1.12", 8080},  // a second client of the same service
      {"udp", "10.0.0.9", 40002, "20.20.20.1", 53, "10.0.1.11", 5353},
      {"tcp", "fd00::9", 40004, "fd00::1", 80, "fd01::11", 8080},
  };
  const std::vector<Flow> kept = {
      {"tcp", "10.0.0.9", 40005, "20.20.20.1", 443, "10.0.1.11", 8443},  // same VIP, other port
      {"udp", "10.0.0.9", 40006, "20.20.20.1", 80, "10.0.1.11", 8080},   // same VIP:port, other protocol
      {"tcp", "10.0.0.9", 40007, "20.20.20.2", 80, "10.0.1.11", 8080},   // other VIP, same port
      {"udp", "fd00::9", 40008, "fd00::1", 53, "fd01::11", 5353},        // other family's VIP, same port
      // The VIP:port only as the source (and so the reply destination).
      {"tcp", "20.20.20.1", 80, "10.0.0.9", 40009, "10.0.0.9", 40009},
  };
  for (const auto& flow : doomed) ASSERT_TRUE(insert(flow)) << flow.str();
  for (const auto& flow : kept) ASSERT_TRUE(insert(flow)) << flow.str();
  std::set<std::string> expected_kept, all;
  for (const auto& flow : kept) expected_kept.insert(flow.str());

  // SCTP: only where the kernel's conntrack has it (it may lack it even when
  // it has IPVS); TCP and UDP are checked either way.
  std::set<ConnKey> services{{model::Protocol::Tcp, ip("20.20.20.1"), 80},
                             {model::Protocol::Udp, ip("20.20.20.1"), 53},
                             {model::Protocol::Tcp, ip("fd00::1"), 80},
                             {model::Protocol::Sctp, ip("20.20.20.1"), 9999}};
  std::size_t expected_purged = doomed.size();
  const Flow sctp_doomed{"sctp", "10.0.0.9", 40003, "20.20.20.1", 9999, "10.0.1.11", 9999};
  const Flow sctp_kept{"sctp", "10.0.0.9", 40010, "20.20.20.2", 9999, "10.0.1.11", 9999};
  if (insert(sctp_doomed)) {
    ASSERT_TRUE(insert(sctp_kept));
    ++expected_purged;
    expected_kept.insert(sctp_kept.str());
  } else {
    std::cout << "[ note ] this kernel's conntrack refuses SCTP entries: SCTP purge not checked here\n";
  }
  all = listed();
  ASSERT_EQ(all.size(), expected_purged + expected_kept.size()) << ::testing::PrintToString(all);

  // The reader keeps its own handle and still works alongside.
  auto reader = NetfilterConntrackReader::open();
  ASSERT_TRUE(reader) << reader.error().describe();

  auto purged = writer->purge(services);
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, expected_purged);
  EXPECT_EQ(listed(), expected_kept);
  auto entries = (*reader)->list();
  ASSERT_TRUE(entries) << entries.error().describe();
  EXPECT_EQ(entries->size(), expected_kept.size());

  // Again: nothing left to delete, nothing else touched.
  purged = writer->purge(services);
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, 0u);
  EXPECT_EQ(listed(), expected_kept);
}

TEST_F(ConntrackPurgeKernelTest, NoServicesOrAnEmptyTableDeleteNothing) {
  auto purged = writer->purge({{model::Protocol::Tcp, ip("20.20.20.1"), 80}});
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, 0u);

  const Flow flow{"tcp", "10.0.0.9", 40000, "20.20.20.1", 80, "10.0.1.11", 8080};
  ASSERT_TRUE(insert(flow));
  purged = writer->purge({});
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, 0u);
  EXPECT_EQ(listed(), std::set<std::string>{flow.str()});
}

// Thousands of entries: a dump of many messages, one delete per match.
TEST_F(ConntrackPurgeKernelTest, ThousandsOfEntries) {
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  ASSERT_NE(handle, nullptr);
  auto create = [&](uint32_t client, uint16_t client_port, uint16_t vip_port) {
    std::unique_ptr<nf_conntrack, decltype(&nfct_destroy)> ct(nfct_new(), &nfct_destroy);
    const uint32_t vip = htonl(0x14141401);  // 20.20.20.1
    const uint32_t endpoint = htonl(0x0a00010b);  // 10.0.1.11
    for (auto attr : {ATTR_ORIG_L3PROTO, ATTR_REPL_L3PROTO}) nfct_set_attr_u8(ct.get(), attr, AF_INET);
    for (auto attr : {ATTR_ORIG_L4PROTO, ATTR_REPL_L4PROTO}) nfct_set_attr_u8(ct.get(), attr, IPPROTO_TCP);
    nfct_set_attr_u32(ct.get(), ATTR_ORIG_IPV4_SRC, htonl(client));
    nfct_set_attr_u32(ct.get(), ATTR_ORIG_IPV4_DST, vip);
    nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(client_port));
    nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(vip_port));
    nfct_set_attr_u32(ct.get(), ATTR_REPL_IPV4_SRC, endpoint);
    nfct_set_attr_u32(ct.get(), ATTR_REPL_IPV4_DST, htonl(client));
    nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(8080));
    nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(client_port));
    nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
    nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, 300);
    return nfct_query(handle, NFCT_Q_CREATE, ct.get()) == 0;
  };
  constexpr int kDoomed = 3000, kKept = 1000;
  for (int i = 0; i < kDoomed + kKept; ++i)
    ASSERT_TRUE(create(0x0a000000 + static_cast<uint32_t>(i / 1000 + 1), static_cast<uint16_t>(10000 + i % 1000),
                       i < kDoomed ? 80 : 443))
        << i << ": " << std::strerror(errno);
  nfct_close(handle);

  const auto start = std::chrono::steady_clock::now();
  auto purged = writer->purge({{model::Protocol::Tcp, ip("20.20.20.1"), 80}});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, static_cast<std::size_t>(kDoomed));
  auto left = listed();
  EXPECT_EQ(left.size(), static_cast<std::size_t>(kKept));
  EXPECT_TRUE(std::all_of(left.begin(), left.end(), [](const std::string& e) { return e.ends_with(":443"); }));
  std::cout << "[ timing ] purge of " << kDoomed << " of " << kDoomed + kKept << " entries: " << ms << " ms\n";
}

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

TEST_F(ConntrackPurgeKernelTest, RepairsTheDnatPortOfCommittedSctpEntries) {
  if (!create_committed_sctp(40001)) GTEST_SKIP() << "this kernel's conntrack refuses SCTP NAT entries";
  auto entry = [] { return kvlb::testing::output_of("conntrack -L -p sctp 2>/dev/null"); };
  // libnetfilter_conntrack encodes NAT ports for TCP and UDP only: the DNAT
  // kept the service's port.
  ASSERT_NE(entry().find("src=10.0.2.23 dst=20.20.20.1 sport=1009 dport=40001"), std::string::npos) << entry();

  std::map<ConnKey, std::map<model::IpAddress, uint16_t>> endpoints{
      {{model::Protocol::Sctp, ip("20.20.20.1"), 1009}, {{ip("10.0.2.23"), 8080}, {ip("10.0.2.21"), 8081}}}};
  auto repaired = writer->repair_dnat_ports(endpoints);
  ASSERT_TRUE(repaired) << repaired.error().describe();
  EXPECT_EQ(*repaired, 1u);
  auto after = entry();
  EXPECT_NE(after.find("src=10.0.9.9 dst=20.20.20.1 sport=40001 dport=1009"), std::string::npos) << after;
  EXPECT_NE(after.find("src=10.0.2.23 dst=20.20.20.1 sport=8080 dport=40001"), std::string::npos) << after;
  EXPECT_NE(after.find("ESTABLISHED"), std::string::npos) << after;

  // Right already: nothing to do.
  repaired = writer->repair_dnat_ports(endpoints);
  ASSERT_TRUE(repaired) << repaired.error().describe();
  EXPECT_EQ(*repaired, 0u);
}

}  // namespace
}  // namespace kvlb::kernel
