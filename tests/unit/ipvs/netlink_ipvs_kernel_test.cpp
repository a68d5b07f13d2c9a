// NetlinkIpvsTable against a real kernel. Skipped where the kernel has no
// IPVS (or we may not make a network namespace); the lab runs them. Each test
// works in a fresh network namespace, so the IPVS table it sees starts empty
// and nothing outside is touched.
#include <fcntl.h>
#include <linux/ip_vs.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "fakes/fake_ipvs.h"
#include "kernel/ipvs/netlink_ipvs_table.h"

namespace kvlb::kernel {
namespace {

using Kind = IpvsCommand::Kind;
using Clock = std::chrono::steady_clock;

bool kernel_has_ipvs() { return access("/proc/net/ip_vs", F_OK) == 0; }

model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

model::VirtualService vs(std::string_view vip, uint16_t port, model::Protocol protocol = model::Protocol::Tcp,
                         std::string scheduler = "rr", uint32_t persistence = 0) {
  model::VirtualService s;
  s.key = model::VsKey{ip(vip), port, protocol};
  s.scheduler = std::move(scheduler);
  s.persistence_seconds = persistence;
  return s;
}

model::RealServer rs(std::string_view address, uint16_t port, uint32_t weight = 1) {
  model::RealServer r;
  r.key = model::RealServerKey{ip(address), port};
  r.weight = weight;
  return r;
}

IpvsCommand cmd(Kind kind, const model::VirtualService& s, model::RealServer r = {}) { return IpvsCommand{kind, s, r}; }

std::map<model::VsKey, model::VirtualService> by_key(const std::vector<model::VirtualService>& services) {
  std::map<model::VsKey, model::VirtualService> out;
  for (const auto& s : services) out[s.key] = s;
  return out;
}

// "ok" or "add vs 20.20.20.1:80/tcp: File exists" (errno and context).
std::string describe(const Status& status) { return status.ok() ? "ok" : status.error().describe(); }

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return "popen failed";
  std::array<char, 4096> chunk{};
  while (std::size_t n = fread(chunk.data(), 1, chunk.size(), pipe)) out.append(chunk.data(), n);
  pclose(pipe);
  return out;
}

bool have_ipvsadm() { return std::system("ipvsadm -v >/dev/null 2>&1") == 0; }

class NetlinkIpvsKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernel_has_ipvs()) GTEST_SKIP() << "kernel without IPVS (these tests run in the lab)";
    if (unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "cannot create a network namespace: " << std::strerror(errno);
    std::system("ip link set lo up 2>/dev/null");
    table_ = open_table();
  }

  std::unique_ptr<NetlinkIpvsTable> open_table(const NetlinkIpvsTable::Options& options = {}) {
    auto opened = NetlinkIpvsTable::open(options);
    EXPECT_TRUE(opened.ok()) << opened.error().describe();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  std::map<model::VsKey, model::VirtualService> listed(NetlinkIpvsTable& table) {
    auto services = table.list();
    EXPECT_TRUE(services.ok()) << services.error().describe();
    return services.ok() ? by_key(*services) : std::map<model::VsKey, model::VirtualService>{};
  }

  void expect_all_ok(const std::vector<Status>& statuses) {
    for (const auto& status : statuses) ASSERT_TRUE(status.ok()) << status.error().describe();
  }

  std::unique_ptr<NetlinkIpvsTable> table_;
};

TEST(NetlinkIpvsWithoutIpvs, OpenSaysTheModuleIsMissing) {
  if (kernel_has_ipvs()) GTEST_SKIP() << "this kernel has IPVS";
  auto opened = NetlinkIpvsTable::open();
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code.value(), ENOENT);
  EXPECT_NE(opened.error().describe().find("ip_vs"), std::string::npos) << opened.error().describe();
}

TEST_F(NetlinkIpvsKernel, AddListUpdateDeleteAcrossFamiliesAndProtocols) {
  std::vector<model::VirtualService> services = {
      vs("20.20.20.1", 80, model::Protocol::Tcp, "rr"),
      vs("20.20.20.1", 53, model::Protocol::Udp, "wlc"),
      vs("20.20.20.1", 3868, model::Protocol::Sctp, "sh", 120),
      vs("fd00::1", 80, model::Protocol::Tcp, "wrr", 300),
      vs("fd00::1", 53, model::Protocol::Udp, "lc"),
      vs("fd00::1", 3868, model::Protocol::Sctp, "mh"),
  };
  std::vector<IpvsCommand> commands;
  for (auto& s : services) {
    commands.push_back(cmd(Kind::AddService, s));
    for (int i = 1; i <= 3; ++i) {
      auto server = s.key.vip.is_v4() ? rs("10.0.1." + std::to_string(10 + i), 8080, i)
                                      : rs("fd00:1::" + std::to_string(10 + i), 8080, i);
      s.real_servers[server.key] = server;
      commands.push_back(cmd(Kind::AddRealServer, s, server));
    }
  }
  expect_all_ok(table_->apply(commands));
  EXPECT_EQ(table_->writes(), commands.size());
  auto got = listed(*table_);
  ASSERT_EQ(got.size(), services.size());
  for (const auto& s : services) EXPECT_EQ(got[s.key], s) << s.key.str();

  // Settings and weights change in place.
  commands.clear();
  for (auto& s : services) {
    s.scheduler = s.scheduler == "rr" ? "nq" : "rr";
    s.persistence_seconds = s.persistence_seconds ? 0 : 60;
    commands.push_back(cmd(Kind::UpdateService, s));
    auto& first = s.real_servers.begin()->second;
    first.weight = 0;
    commands.push_back(cmd(Kind::UpdateRealServer, s, first));
    auto last = std::prev(s.real_servers.end());
    commands.push_back(cmd(Kind::DeleteRealServer, s, last->second));
    s.real_servers.erase(last);
  }
  expect_all_ok(table_->apply(commands));
  got = listed(*table_);
  for (const auto& s : services) EXPECT_EQ(got[s.key], s) << s.key.str();

  commands.clear();
  for (const auto& s : services) commands.push_back(cmd(Kind::DeleteService, s));
  expect_all_ok(table_->apply(commands));
  EXPECT_TRUE(listed(*table_).empty());
}

TEST_F(NetlinkIpvsKernel, EverySchedulerWorks) {
  std::vector<IpvsCommand> commands;
  uint16_t port = 1000;
  for (const auto& scheduler : model::known_schedulers()) {
    commands.push_back(cmd(Kind::AddService, vs("20.20.20.1", port, model::Protocol::Tcp, scheduler)));
    commands.push_back(cmd(Kind::AddService, vs("fd00::1", port, model::Protocol::Udp, scheduler)));
    ++port;
  }
  // twos arrived in Linux 6.7: older kernels refuse it per service, as ENOENT.
  utsname uts{};
  ::uname(&uts);
  int major = 0, minor = 0;
  std::sscanf(uts.release, "%d.%d", &major, &minor);
  const bool has_twos = major > 6 || (major == 6 && minor >= 7);
  auto statuses = table_->apply(commands);
  auto got = listed(*table_);
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const auto& c = commands[i];
    if (c.service.scheduler == "twos" && !has_twos) {
      ASSERT_FALSE(statuses[i].ok());
      EXPECT_EQ(statuses[i].error().code.value(), ENOENT);
      EXPECT_FALSE(got.count(c.service.key));
      continue;
    }
    EXPECT_TRUE(statuses[i].ok()) << c.service.scheduler << ": " << describe(statuses[i]);
    EXPECT_EQ(got[c.service.key].scheduler, c.service.scheduler);
  }
}

// The same commands, errors included, give the same answers from the fake
// and from the kernel: that is what makes the fake worth testing against.
TEST_F(NetlinkIpvsKernel, FakeAnswersLikeTheKernel) {
  auto a = vs("20.20.20.1", 80);
  auto b = vs("20.20.20.2", 80);
  auto c = vs("fd00::1", 443, model::Protocol::Sctp, "sh");
  std::vector<IpvsCommand> commands = {
      cmd(Kind::AddService, a),
      cmd(Kind::AddService, vs("20.20.20.1", 80, model::Protocol::Tcp, "wrr")),  // EEXIST
      cmd(Kind::AddService, vs("20.20.20.2", 80, model::Protocol::Tcp, "nope")), // ENOENT
      cmd(Kind::UpdateService, b),                                               // ESRCH
      cmd(Kind::DeleteService, b),                                               // ESRCH
      cmd(Kind::AddRealServer, a, rs("10.0.1.11", 8080, 3)),
      cmd(Kind::AddRealServer, a, rs("10.0.1.11", 8080, 5)),                     // EEXIST
      cmd(Kind::UpdateRealServer, a, rs("10.0.1.12", 8080)),                     // ENOENT
      cmd(Kind::DeleteRealServer, a, rs("10.0.1.12", 8080)),                     // ENOENT
      cmd(Kind::AddRealServer, b, rs("10.0.1.11", 8080)),                        // ESRCH
      cmd(Kind::AddRealServer, a, rs("fd00::b", 8080)),                          // EINVAL
      cmd(Kind::DeleteRealServer, a, rs("fd00::b", 8080)),                       // ENOENT
      cmd(Kind::AddRealServer, a, rs("224.0.0.1", 8080)),                        // EINVAL
      cmd(Kind::AddRealServer, a, rs("10.0.1.13", 8080, 0x80000000u)),           // ERANGE
      cmd(Kind::AddRealServer, a, rs("10.0.1.14", 8080, 70000)),
      cmd(Kind::UpdateService, vs("20.20.20.1", 80, model::Protocol::Tcp, "nope")),  // ENOENT
      cmd(Kind::UpdateService, vs("20.20.20.1", 80, model::Protocol::Tcp, "wlc", 600)),
      cmd(Kind::UpdateRealServer, a, rs("10.0.1.11", 8080, 0)),
      cmd(Kind::AddService, c),
      cmd(Kind::AddRealServer, c, rs("fd00:1::b", 443)),
      cmd(Kind::AddRealServer, c, rs("fe80::1", 443)),                           // EINVAL
      cmd(Kind::AddRealServer, c, rs("ff02::1", 443)),                           // EINVAL
      cmd(Kind::AddRealServer, c, rs("10.0.1.11", 443)),                         // EINVAL
      cmd(Kind::AddService, b),
      cmd(Kind::AddRealServer, b, rs("10.0.1.11", 80)),
      cmd(Kind::DeleteService, b),
      cmd(Kind::DeleteRealServer, b, rs("10.0.1.11", 80)),                       // ESRCH
  };
  fakes::FakeIpvsTable fake;
  auto from_fake = fake.apply(commands);
  auto from_kernel = table_->apply(commands);
  EXPECT_EQ(table_->sends(), 1u);  // one pipelined send
  ASSERT_EQ(from_kernel.size(), commands.size());
  int failures = 0;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    EXPECT_EQ(describe(from_kernel[i]), describe(from_fake[i])) << "command " << i;
    failures += from_kernel[i].ok() ? 0 : 1;
  }
  EXPECT_EQ(failures, 17);
  EXPECT_EQ(listed(*table_), by_key(*fake.list()));
}

TEST_F(NetlinkIpvsKernel, IpvsadmSeesWhatWeMeant) {
  if (!have_ipvsadm()) GTEST_SKIP() << "no ipvsadm";
  auto a = vs("20.20.20.1", 80, model::Protocol::Tcp, "wlc", 300);
  auto b = vs("fd00::1", 3868, model::Protocol::Sctp, "rr");
  auto c = vs("20.20.20.1", 53, model::Protocol::Udp, "sh", 60);
  expect_all_ok(table_->apply({
      cmd(Kind::AddService, a),
      cmd(Kind::AddRealServer, a, rs("10.0.1.11", 8080, 3)),
      cmd(Kind::AddService, b),
      cmd(Kind::AddRealServer, b, rs("fd00:1::b", 3868, 0)),
      cmd(Kind::AddService, c),
  }));
  std::string saved = run("ipvsadm -Sn");
  EXPECT_NE(saved.find("-A -t 20.20.20.1:80 -s wlc -p 300\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-a -t 20.20.20.1:80 -r 10.0.1.11:8080 -m -w 3\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A --sctp-service [fd00::1]:3868 -s rr\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-a --sctp-service [fd00::1]:3868 -r [fd00:1::b]:3868 -m -w 0\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A -u 20.20.20.1:53 -s sh -p 60\n"), std::string::npos) << saved;
}

TEST_F(NetlinkIpvsKernel, ForeignServicesAreLeftAlone) {
  if (!have_ipvsadm()) GTEST_SKIP() << "no ipvsadm";
  ASSERT_EQ(std::system("ipvsadm -A -t 30.30.30.1:80 -s lc && ipvsadm -a -t 30.30.30.1:80 -r 10.9.9.9:80 -g -w 7 &&"
                        " ipvsadm -A -f 42 -s rr && ipvsadm -a -f 42 -r 10.9.9.8:0 -g"),
            0);
  std::string before = run("ipvsadm -Sn");

  auto ours = vs("20.20.20.1", 80);
  expect_all_ok(table_->apply({cmd(Kind::AddService, ours), cmd(Kind::AddRealServer, ours, rs("10.0.1.11", 80))}));
  auto got = listed(*table_);
  // The foreign tcp service is reported (deciding what is ours is the
  // reconciler's job); the firewall-mark one cannot be described and is skipped.
  EXPECT_EQ(got.size(), 2u);
  auto foreign = vs("30.30.30.1", 80, model::Protocol::Tcp, "lc");
  ASSERT_TRUE(got.count(foreign.key));
  EXPECT_EQ(got[foreign.key].real_servers.begin()->second.weight, 7u);

  expect_all_ok(table_->apply({cmd(Kind::DeleteService, ours)}));
  EXPECT_EQ(run("ipvsadm -Sn"), before);
}

// Someone else's changes to what kvlb programs are listed, and the updates
// the reconciler issues for them put kvlb's values back. The fake, given the
// same changes, lists the same.
TEST_F(NetlinkIpvsKernel, ForeignChangesAreListedAndUpdatesPutThemBack) {
  if (!have_ipvsadm()) GTEST_SKIP() << "no ipvsadm";
  auto a = vs("20.20.20.1", 80, model::Protocol::Tcp, "sh", 300);
  // ipvsadm gives a real server other than masquerading the service's port,
  // so only one on that port can be switched.
  auto a_server = rs("10.0.1.11", 80, 3);
  a.real_servers[a_server.key] = a_server;
  auto b = vs("fd00::1", 80, model::Protocol::Tcp, "rr", 60);
  auto b_server = rs("fd00:1::b", 80);
  b.real_servers[b_server.key] = b_server;
  std::vector<IpvsCommand> adds = {cmd(Kind::AddService, a), cmd(Kind::AddRealServer, a, a_server),
                                   cmd(Kind::AddService, b), cmd(Kind::AddRealServer, b, b_server)};
  expect_all_ok(table_->apply(adds));
  fakes::FakeIpvsTable fake;
  expect_all_ok(fake.apply(adds));
  auto got = listed(*table_);
  EXPECT_EQ(got[a.key], a);
  EXPECT_EQ(got[b.key], b);

  ASSERT_EQ(std::system("ipvsadm -e -t 20.20.20.1:80 -r 10.0.1.11:80 -g -w 3 -x 5 -y 2 &&"
                        " ipvsadm -E -t 20.20.20.1:80 -s sh -b sh-port -p 300 -M 255.255.255.0 &&"
                        " ipvsadm -e -t [fd00::1]:80 -r [fd00:1::b]:80 -g -w 1 &&"
                        " ipvsadm -E -t [fd00::1]:80 -s rr -p 60 -M 64"),
            0);
  got = listed(*table_);
  const auto& a_got = got[a.key].real_servers[a_server.key];
  EXPECT_FALSE(a_got.masquerade);
  EXPECT_EQ(a_got.weight, 3u);
  EXPECT_EQ(a_got.upper_threshold, 5u);
  EXPECT_EQ(a_got.lower_threshold, 2u);
  EXPECT_EQ(got[a.key].netmask_bits, 24u);
  EXPECT_EQ(got[a.key].extra_flags, static_cast<uint32_t>(IP_VS_SVC_F_SCHED_SH_PORT));
  EXPECT_EQ(got[a.key].persistence_seconds, 300u);
  EXPECT_FALSE(got[b.key].real_servers[b_server.key].masquerade);
  EXPECT_EQ(got[b.key].netmask_bits, 64u);
  EXPECT_EQ(got[b.key].extra_flags, 0u);
  EXPECT_FALSE(got[a.key].same_settings(a));
  EXPECT_FALSE(got[a.key].real_servers[a_server.key].same_settings(a_server));
  EXPECT_NE(got[b.key], b);

  ASSERT_TRUE(fake.route_directly(a.key, a_server.key));
  ASSERT_TRUE(fake.set_thresholds(a.key, a_server.key, 5, 2));
  ASSERT_TRUE(fake.set_netmask_bits(a.key, 24));
  ASSERT_TRUE(fake.set_extra_flags(a.key, IP_VS_SVC_F_SCHED_SH_PORT));
  ASSERT_TRUE(fake.route_directly(b.key, b_server.key));
  ASSERT_TRUE(fake.set_netmask_bits(b.key, 64));
  EXPECT_EQ(got, by_key(*fake.list()));

  std::vector<IpvsCommand> updates = {cmd(Kind::UpdateService, a), cmd(Kind::UpdateRealServer, a, a_server),
                                      cmd(Kind::UpdateService, b), cmd(Kind::UpdateRealServer, b, b_server)};
  expect_all_ok(table_->apply(updates));
  expect_all_ok(fake.apply(updates));
  got = listed(*table_);
  EXPECT_TRUE(got[a.key].real_servers[a_server.key].masquerade);
  EXPECT_TRUE(got[b.key].real_servers[b_server.key].masquerade);
  EXPECT_EQ(got[a.key], a);
  EXPECT_EQ(got[b.key], b);
  EXPECT_EQ(got, by_key(*fake.list()));
  std::string saved = run("ipvsadm -Sn");
  EXPECT_NE(saved.find("-A -t 20.20.20.1:80 -s sh -p 300\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-a -t 20.20.20.1:80 -r 10.0.1.11:80 -m -w 3\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A -t [fd00::1]:80 -s rr -p 60\n"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-a -t [fd00::1]:80 -r [fd00:1::b]:80 -m -w 1\n"), std::string::npos) << saved;
}

TEST_F(NetlinkIpvsKernel, ConnectionCountsAreListed) {
  // Connections need traffic; the counters exist and are zero without it.
  auto s = vs("20.20.20.1", 80);
  expect_all_ok(table_->apply({cmd(Kind::AddService, s), cmd(Kind::AddRealServer, s, rs("10.0.1.11", 80))}));
  auto got = listed(*table_);
  const auto& server = got[s.key].real_servers.begin()->second;
  EXPECT_EQ(server.active_conns, 0u);
  EXPECT_EQ(server.inactive_conns, 0u);
}

// 100 services with 9 real servers each, as one apply().
std::vector<IpvsCommand> thousand_commands(std::map<model::VsKey, model::VirtualService>& expected) {
  std::vector<IpvsCommand> commands;
  for (int i = 0; i < 100; ++i) {
    auto s = vs("20.20." + std::to_string(i / 50) + "." + std::to_string(1 + i % 50), 80);
    commands.push_back(cmd(Kind::AddService, s));
    for (int k = 0; k < 9; ++k) {
      auto server = rs("10.1." + std::to_string(i) + "." + std::to_string(10 + k), 8080, 1 + k);
      s.real_servers[server.key] = server;
      commands.push_back(cmd(Kind::AddRealServer, s, server));
    }
    expected[s.key] = s;
  }
  return commands;
}

TEST_F(NetlinkIpvsKernel, ThousandCommandsArePipelined) {
  std::map<model::VsKey, model::VirtualService> expected;
  auto commands = thousand_commands(expected);
  auto start = Clock::now();
  auto statuses = table_->apply(commands);
  auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  expect_all_ok(statuses);
  EXPECT_EQ(table_->writes(), 1000u);
  EXPECT_LE(table_->sends(), 1000u / table_->batch_limit() + 1);
  EXPECT_GT(table_->batch_limit(), 100u) << "receive buffer " << table_->receive_buffer_bytes();
  EXPECT_EQ(table_->ack_overruns(), 0u);
  std::printf("apply 1000 commands: %.1f ms in %llu sends (batch limit %zu, receive buffer %d)\n", elapsed,
              static_cast<unsigned long long>(table_->sends()), table_->batch_limit(), table_->receive_buffer_bytes());
  EXPECT_EQ(listed(*table_), expected);
  EXPECT_EQ(table_->dumps(), 1u + expected.size());

  // Every command fails in a second round, each with its own error.
  statuses = table_->apply(commands);
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    ASSERT_FALSE(statuses[i].ok());
    EXPECT_EQ(statuses[i].error().code.value(), EEXIST);
    EXPECT_EQ(statuses[i].error().context.substr(0, 4), "add ") << i;
  }
}

TEST_F(NetlinkIpvsKernel, LostAcksAreRecoveredOneAtATime) {
  // A receive buffer far too small for the batch: the kernel drops acks.
  NetlinkIpvsTable::Options options;
  options.receive_buffer_bytes = 4096;
  options.fit_batches_to_socket_buffers = false;
  options.max_batch_messages = 1000;
  auto table = open_table(options);
  ASSERT_TRUE(table);
  std::map<model::VsKey, model::VirtualService> expected;
  auto commands = thousand_commands(expected);
  // Errors that stay the same when replayed, so statuses must match exactly.
  commands.insert(commands.begin() + 500, cmd(Kind::AddService, vs("20.20.9.9", 80, model::Protocol::Tcp, "nope")));
  commands.push_back(cmd(Kind::UpdateRealServer, vs("20.20.0.1", 80), rs("10.9.9.9", 80)));

  auto statuses = table->apply(commands);
  EXPECT_GT(table->ack_overruns(), 0u);
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    bool should_fail = i == 500 || i == statuses.size() - 1;
    EXPECT_EQ(statuses[i].ok(), !should_fail) << i << ": " << describe(statuses[i]);
  }
  EXPECT_EQ(statuses[500].error().code.value(), ENOENT);
  EXPECT_EQ(statuses.back().error().code.value(), ENOENT);
  EXPECT_EQ(listed(*table), expected);
  std::printf("with a %d-byte receive buffer: %llu overruns, %llu sends, batch limit now %zu\n",
              table->receive_buffer_bytes(), static_cast<unsigned long long>(table->ack_overruns()),
              static_cast<unsigned long long>(table->sends()), table->batch_limit());
}

TEST_F(NetlinkIpvsKernel, SendTooBigForTheSocketFallsBackToOneAtATime) {
  NetlinkIpvsTable::Options options;
  options.send_buffer_bytes = 4096;  // the kernel refuses longer sends (EMSGSIZE)
  options.max_batch_bytes = 1 << 20;
  options.fit_batches_to_socket_buffers = false;
  auto table = open_table(options);
  ASSERT_TRUE(table);
  std::map<model::VsKey, model::VirtualService> expected;
  auto commands = thousand_commands(expected);
  commands.push_back(commands.front());  // EEXIST, reported as such
  auto statuses = table->apply(commands);
  for (std::size_t i = 0; i + 1 < statuses.size(); ++i) ASSERT_TRUE(statuses[i].ok()) << describe(statuses[i]);
  EXPECT_EQ(statuses.back().error().code.value(), EEXIST);
  EXPECT_EQ(table->writes(), commands.size());  // refused sends reached nobody
  EXPECT_EQ(table->sends(), commands.size());
  EXPECT_EQ(listed(*table), expected);
}

}  // namespace
}  // namespace kvlb::kernel
