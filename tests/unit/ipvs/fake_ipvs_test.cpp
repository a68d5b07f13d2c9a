// The fake must answer like the kernel, or tests built on it prove nothing.
#include "fakes/fake_ipvs.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kvlb::fakes {
namespace {

using kernel::IpvsCommand;
using Kind = IpvsCommand::Kind;

model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

model::VirtualService vs(std::string_view vip, uint16_t port = 80, std::string scheduler = "rr",
                         uint32_t persistence = 0) {
  model::VirtualService s;
  s.key = model::VsKey{ip(vip), port, model::Protocol::Tcp};
  s.scheduler = std::move(scheduler);
  s.persistence_seconds = persistence;
  return s;
}

model::RealServer rs(std::string_view address, uint16_t port = 8080, uint32_t weight = 1) {
  model::RealServer r;
  r.key = model::RealServerKey{ip(address), port};
  r.weight = weight;
  return r;
}

IpvsCommand cmd(Kind kind, model::VirtualService s, model::RealServer r = {}) {
  return IpvsCommand{kind, std::move(s), std::move(r)};
}

// errno of a failed status, 0 when it succeeded.
int err(const Status& status) { return status.ok() ? 0 : status.error().code.value(); }

Status apply1(FakeIpvsTable& table, IpvsCommand command) { return table.apply({std::move(command)}).at(0); }

TEST(FakeIpvs, AddListDelete) {
  FakeIpvsTable table;
  auto results = table.apply({
      cmd(Kind::AddService, vs("20.20.20.1", 80, "wlc", 300)),
      cmd(Kind::AddRealServer, vs("20.20.20.1"), rs("10.0.1.11", 8080, 3)),
      cmd(Kind::AddRealServer, vs("20.20.20.1"), rs("10.0.1.12")),
  });
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.error().describe();

  auto listed = table.list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const auto& s = listed->front();
  EXPECT_EQ(s.scheduler, "wlc");
  EXPECT_EQ(s.persistence_seconds, 300u);
  ASSERT_EQ(s.real_servers.size(), 2u);
  EXPECT_EQ(s.real_servers.at(rs("10.0.1.11").key).weight, 3u);

  EXPECT_TRUE(apply1(table, cmd(Kind::DeleteService, vs("20.20.20.1"))).ok());
  EXPECT_TRUE(table.list()->empty());
  EXPECT_EQ(table.writes(), 4u);
  EXPECT_EQ(table.op_log(), (std::vector<std::string>{
                                "add vs 20.20.20.1:80/tcp wlc persistent 300",
                                "add rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight 3",
                                "add rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight 1",
                                "delete vs 20.20.20.1:80/tcp",
                            }));
}

TEST(FakeIpvs, ServiceErrorsAreTheKernels) {
  FakeIpvsTable table;
  EXPECT_EQ(err(apply1(table, cmd(Kind::UpdateService, vs("20.20.20.1")))), ESRCH);
  EXPECT_EQ(err(apply1(table, cmd(Kind::DeleteService, vs("20.20.20.1")))), ESRCH);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddService, vs("20.20.20.1", 80, "nope")))), ENOENT);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddService, vs("20.20.20.1")))), 0);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddService, vs("20.20.20.1", 80, "wrr")))), EEXIST);
  EXPECT_EQ(err(apply1(table, cmd(Kind::UpdateService, vs("20.20.20.1", 80, "nope")))), ENOENT);
  EXPECT_EQ(table.services.at(vs("20.20.20.1").key).scheduler, "rr");  // failed commands change nothing
}

TEST(FakeIpvs, RealServerErrorsAreTheKernels) {
  FakeIpvsTable table;
  auto service = vs("20.20.20.1");
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("10.0.1.11")))), ESRCH);
  EXPECT_EQ(err(apply1(table, cmd(Kind::DeleteRealServer, service, rs("10.0.1.11")))), ESRCH);
  ASSERT_TRUE(apply1(table, cmd(Kind::AddService, service)).ok());
  EXPECT_EQ(err(apply1(table, cmd(Kind::UpdateRealServer, service, rs("10.0.1.11")))), ENOENT);
  EXPECT_EQ(err(apply1(table, cmd(Kind::DeleteRealServer, service, rs("10.0.1.11")))), ENOENT);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("10.0.1.11")))), 0);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("10.0.1.11", 8080, 5)))), EEXIST);
  // Masquerading cannot mix families; deleting one just does not find it.
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("fd00::b")))), EINVAL);
  EXPECT_EQ(err(apply1(table, cmd(Kind::DeleteRealServer, service, rs("fd00::b")))), ENOENT);
  // Not unicast.
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("224.0.0.1")))), EINVAL);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("255.255.255.255")))), EINVAL);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("0.0.0.0")))), EINVAL);
  // The kernel takes the weight as a signed int.
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("10.0.1.12", 80, 0x80000000u)))), ERANGE);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("10.0.1.12", 80, 70000)))), 0);
}

TEST(FakeIpvs, V6LinkLocalAndMulticastAreRejected) {
  FakeIpvsTable table;
  auto service = vs("fd00::1");
  ASSERT_TRUE(apply1(table, cmd(Kind::AddService, service)).ok());
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("fe80::1")))), EINVAL);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("ff02::1")))), EINVAL);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("::")))), EINVAL);
  EXPECT_EQ(err(apply1(table, cmd(Kind::AddRealServer, service, rs("fd00:1::b")))), 0);
}

TEST(FakeIpvs, ErrorsNameTheObject) {
  FakeIpvsTable table;
  auto status = apply1(table, cmd(Kind::AddRealServer, vs("20.20.20.1"), rs("10.0.1.11")));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().context, "add rs 20.20.20.1:80/tcp -> 10.0.1.11:8080");
  EXPECT_EQ(status.error().code.category(), netlink_category());
}

TEST(FakeIpvs, UpdatesChangeSettingsAndWeights) {
  FakeIpvsTable table;
  auto service = vs("20.20.20.1");
  table.apply({cmd(Kind::AddService, service), cmd(Kind::AddRealServer, service, rs("10.0.1.11"))});
  table.clear_op_log();
  auto results = table.apply({
      cmd(Kind::UpdateService, vs("20.20.20.1", 80, "sh", 60)),
      cmd(Kind::UpdateRealServer, service, rs("10.0.1.11", 8080, 0)),
  });
  EXPECT_TRUE(results[0].ok() && results[1].ok());
  const auto& s = table.services.at(service.key);
  EXPECT_EQ(s.scheduler, "sh");
  EXPECT_EQ(s.persistence_seconds, 60u);
  EXPECT_EQ(s.real_servers.at(rs("10.0.1.11").key).weight, 0u);
  EXPECT_EQ(table.op_log(), (std::vector<std::string>{
                                "update vs 20.20.20.1:80/tcp sh persistent 60",
                                "update rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight 0",
                            }));
}

TEST(FakeIpvs, ConnectionCountsSeededByTestsAreListed) {
  FakeIpvsTable table;
  auto service = vs("20.20.20.1");
  table.apply({cmd(Kind::AddService, service), cmd(Kind::AddRealServer, service, rs("10.0.1.11"))});
  table.services.at(service.key).real_servers.at(rs("10.0.1.11").key).active_conns = 4;
  EXPECT_EQ(table.list()->front().real_servers.begin()->second.active_conns, 4u);
  // Updating the weight keeps the counters, as the kernel does.
  ASSERT_TRUE(apply1(table, cmd(Kind::UpdateRealServer, service, rs("10.0.1.11", 8080, 0))).ok());
  EXPECT_EQ(table.list()->front().real_servers.begin()->second.active_conns, 4u);
}

TEST(FakeIpvs, ForeignEditsAreListedAndUpdatesPutThemBack) {
  FakeIpvsTable table;
  auto service = vs("20.20.20.1", 80, "sh", 300);
  auto server = rs("10.0.1.11", 8080, 3);
  service.real_servers[server.key] = server;
  table.apply({cmd(Kind::AddService, service), cmd(Kind::AddRealServer, service, server)});
  table.clear_op_log();

  // ipvsadm -e ... -g -x 5 -y 2, ipvsadm -E ... -M 255.255.255.0 -o
  ASSERT_TRUE(table.route_directly(service.key, server.key));
  ASSERT_TRUE(table.set_thresholds(service.key, server.key, 5, 2));
  ASSERT_TRUE(table.set_netmask_bits(service.key, 24));
  ASSERT_TRUE(table.set_extra_flags(service.key, 0x0004));
  EXPECT_EQ(table.writes(), 2u);  // not kvlb's writes
  EXPECT_TRUE(table.op_log().empty());
  auto listed = table.list();
  ASSERT_TRUE(listed.ok());
  const auto& got = listed->front();
  EXPECT_EQ(got.netmask_bits, 24u);
  EXPECT_EQ(got.extra_flags, 0x0004u);
  const auto& got_server = got.real_servers.at(server.key);
  EXPECT_FALSE(got_server.masquerade);
  EXPECT_EQ(got_server.upper_threshold, 5u);
  EXPECT_EQ(got_server.lower_threshold, 2u);
  EXPECT_FALSE(got.same_settings(service));
  EXPECT_FALSE(got_server.same_settings(server));

  // The updates the reconciler issues for that drift put kvlb's values back.
  auto results = table.apply({cmd(Kind::UpdateService, service), cmd(Kind::UpdateRealServer, service, server)});
  EXPECT_TRUE(results[0].ok() && results[1].ok());
  EXPECT_EQ(table.list()->front(), service);

  EXPECT_FALSE(table.route_directly(service.key, rs("10.0.1.12").key));
  EXPECT_FALSE(table.set_thresholds(vs("20.20.20.2").key, server.key, 1, 1));
  EXPECT_FALSE(table.set_netmask_bits(vs("20.20.20.2").key, 24));
  EXPECT_FALSE(table.set_extra_flags(vs("20.20.20.2").key, 0x0004));
}

TEST(FakeIpvs, CommandsProgramKvlbsForwardingWhateverTheObservedFieldsSay) {
  // As the netlink encoder does: a command built from an observed value (a
  // drain copies the observed real server) still programs masquerading.
  FakeIpvsTable table;
  auto service = vs("20.20.20.1");
  service.netmask_bits = 24;
  service.extra_flags = 0x0004;
  auto server = rs("10.0.1.11");
  server.masquerade = false;
  server.upper_threshold = 5;
  server.lower_threshold = 2;
  auto results = table.apply({cmd(Kind::AddService, service), cmd(Kind::AddRealServer, service, server)});
  EXPECT_TRUE(results[0].ok() && results[1].ok());
  const auto& s = table.services.at(service.key);
  EXPECT_EQ(s.netmask_bits, model::VirtualService::kFullNetmask);
  EXPECT_EQ(s.extra_flags, 0u);
  const auto& r = s.real_servers.at(server.key);
  EXPECT_TRUE(r.masquerade);
  EXPECT_EQ(r.upper_threshold, 0u);
  EXPECT_EQ(r.lower_threshold, 0u);

  ASSERT_TRUE(table.route_directly(service.key, server.key));
  server.weight = 0;
  ASSERT_TRUE(apply1(table, cmd(Kind::UpdateRealServer, service, server)).ok());
  EXPECT_TRUE(table.services.at(service.key).real_servers.at(server.key).masquerade);
}

TEST(FakeIpvs, InjectedFailureHitsOneObjectOthersGoOn) {
  FakeIpvsTable table;
  auto a = vs("20.20.20.1");
  auto b = vs("20.20.20.2");
  table.fail_service(a.key, ENOMEM);
  table.fail_real_server(b.key, rs("10.0.1.12").key, EPERM);
  auto results = table.apply({
      cmd(Kind::AddService, a),
      cmd(Kind::AddService, b),
      cmd(Kind::AddRealServer, a, rs("10.0.1.11")),
      cmd(Kind::AddRealServer, b, rs("10.0.1.11")),
      cmd(Kind::AddRealServer, b, rs("10.0.1.12")),
  });
  EXPECT_EQ(err(results[0]), ENOMEM);
  EXPECT_EQ(err(results[1]), 0);
  EXPECT_EQ(err(results[2]), ENOMEM);
  EXPECT_EQ(err(results[3]), 0);
  EXPECT_EQ(err(results[4]), EPERM);
  EXPECT_EQ(results[4].error().context, "add rs 20.20.20.2:80/tcp -> 10.0.1.12:8080");
  EXPECT_EQ(table.writes(), 5u);  // failed commands were still sent
  EXPECT_EQ(table.op_log().size(), 2u);

  table.clear_failures();
  EXPECT_TRUE(apply1(table, cmd(Kind::AddService, a)).ok());
}

TEST(FakeIpvs, ListFailureCanBeInjected) {
  FakeIpvsTable table;
  table.fail_list(EPERM);
  auto listed = table.list();
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code.value(), EPERM);
  table.clear_failures();
  EXPECT_TRUE(table.list().ok());
}

TEST(FakeIpvs, DeletingAServiceRemovesItsRealServers) {
  FakeIpvsTable table;
  auto service = vs("20.20.20.1");
  table.apply({cmd(Kind::AddService, service), cmd(Kind::AddRealServer, service, rs("10.0.1.11")),
               cmd(Kind::DeleteService, service), cmd(Kind::AddService, service)});
  EXPECT_TRUE(table.services.at(service.key).real_servers.empty());
}

TEST(FakeIpvs, AddServiceIgnoresRealServersInTheCommand) {
  FakeIpvsTable table;
  auto service = vs("20.20.20.1");
  service.real_servers[rs("10.0.1.11").key] = rs("10.0.1.11");
  ASSERT_TRUE(apply1(table, cmd(Kind::AddService, service)).ok());
  EXPECT_TRUE(table.services.at(service.key).real_servers.empty());
}

}  // namespace
}  // namespace kvlb::fakes
