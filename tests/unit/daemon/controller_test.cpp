// The controller against the stateful fakes: what reaches the "kernel", in
// which order, and that nothing is written when nothing changed.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "daemon/controller.h"
#include "daemon/managed_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include "fakes/fake_address.h"
#include "fakes/fake_ipvs.h"
#include "fakes/fake_nat.h"

using namespace kvlb;
using namespace std::chrono_literals;

namespace {

const char* kConfig = R"(node: {name: lb1, interface: eth1}
reconcile: {drainTimeoutSeconds: 10}
services:
  - name: default/web
    vip: 20.20.20.1
    port: 80
    mode: fullnat
    endpoints:
      - {ip: 10.0.1.11, port: 8080}
      - {ip: 10.0.1.12, port: 8080}
  - name: default/dns
    vip: 20.20.20.2
    port: 53
    protocol: udp
    mode: onearm
    endpoints:
      - {ip: 10.0.1.13, port: 53}
)";

model::DesiredState parse(const std::string& text) {
  auto loaded = config::load_config_text(text, "test.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].str());
  return loaded.state;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

class ControllerTest : public ::testing::Test {
 protected:
  ControllerTest() {
    addresses.add_interface("eth1");
    addresses.seed_foreign("eth1", *model::IpPrefix::parse("10.10.0.1/24"));
    controller.set_desired(parse(kConfig));
  }
  uint64_t writes() const { return ipvs.writes() + nat.writes() + addresses.writes(); }

  fakes::FakeIpvsTable ipvs;
  fakes::FakeNatTable nat;
  fakes::FakeAddressTable addresses;
  ManualClock clock;
  daemon::KernelPorts ports{ipvs, nat, addresses};
  daemon::Controller controller{ports, clock};
};

}  // namespace

TEST_F(ControllerTest, FirstRunProgramsEverythingVipsLast) {
  auto report = controller.reconcile(true);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.ops, (std::vector<std::string>{
                            "ADD vs 20.20.20.1:80/tcp sched=rr persist=0",
                            "ADD rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight=1",
                            "ADD rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight=1",
                            "ADD vs 20.20.20.2:53/udp sched=rr persist=0",
                            "ADD rs 20.20.20.2:53/udp -> 10.0.1.13:53 weight=1",
                            "RECREATE nat table",
                            "ADD snat 20.20.20.1:80/tcp -> 20.20.20.1",
                            "ADD snat 20.20.20.2:53/udp -> 10.10.0.1",
                            "ADD vip 20.20.20.1",
                            "ADD vip 20.20.20.2",
                        }));
  EXPECT_TRUE(controller.snapshot().synced);
}

TEST_F(ControllerTest, SecondApplyWritesNothingWithOrWithoutAKernelRead) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  auto before = writes();
  EXPECT_TRUE(controller.reconcile(false).ops.empty());
  EXPECT_TRUE(controller.reconcile(true).ops.empty());
  EXPECT_EQ(writes(), before);
  EXPECT_EQ(controller.snapshot().counters.netlink_writes, before);
}

TEST_F(ControllerTest, RestartWithTheSameConfigWritesNothing) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  auto before = writes();
  daemon::Controller restarted(ports, clock);
  restarted.set_desired(parse(kConfig));
  EXPECT_TRUE(restarted.reconcile(true).ops.empty());
  EXPECT_EQ(writes(), before);
}

TEST_F(ControllerTest, ChangedEndpointTouchesOnlyThatEndpoint) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  controller.set_desired(parse(replace(kConfig, "{ip: 10.0.1.12, port: 8080}", "{ip: 10.0.1.12, port: 8080, weight: 4}")));
  auto before = writes();
  auto report = controller.reconcile(false);
  EXPECT_EQ(report.ops, (std::vector<std::string>{"UPDATE rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight=4"}));
  EXPECT_EQ(writes(), before + 1);
}

TEST_F(ControllerTest, DriftIsRepairedOnTheNextFullRead) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  nat.delete_table();
  ASSERT_TRUE(ipvs.apply({{kernel::IpvsCommand::Kind::DeleteService, ipvs.list()->front(), {}}})[0].ok());
  EXPECT_TRUE(controller.reconcile(false).ops.empty());  // the cache does not see drift...
  auto report = controller.reconcile(true);               // ...the periodic resync does
  EXPECT_EQ(report.ops, (std::vector<std::string>{"ADD vs 20.20.20.1:80/tcp sched=rr persist=0",
                                                "ADD rs 20.20.20.1:80/tcp -> 10.0.1.11:8080 weight=1",
                                                "ADD rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight=1",
                                                "RECREATE nat table", "ADD snat 20.20.20.1:80/tcp -> 20.20.20.1",
                                                "ADD snat 20.20.20.2:53/udp -> 10.10.0.1"}));
  EXPECT_TRUE(controller.reconcile(true).ops.empty());
}

TEST_F(ControllerTest, ForeignServicesAndAddressesSurvive) {
  model::VirtualService foreign;
  foreign.key = {*model::IpAddress::parse("192.0.2.10"), 80, model::Protocol::Tcp};
  ASSERT_TRUE(ipvs.apply({{kernel::IpvsCommand::Kind::AddService, foreign, {}}})[0].ok());
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  controller.set_desired(parse("node: {name: lb1, interface: eth1}\n"));
  auto report = controller.reconcile(true);
  EXPECT_TRUE(report.errors.empty());
  auto left = ipvs.list();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().key, foreign.key);
  auto addrs = addresses.list("eth1");
  ASSERT_EQ(addrs->size(), 1u);  // only the node's own address
  EXPECT_FALSE(addrs->front().owned);
}

TEST_F(ControllerTest, OneFailingObjectDoesNotStopTheOthers) {
  addresses.fail_address(*model::IpAddress::parse("20.20.20.1"), EADDRNOTAVAIL);
  auto report = controller.reconcile(true);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0], "add vip 20.20.20.1 on eth1: Cannot assign requested address");
  EXPECT_EQ(ipvs.list()->size(), 2u);
  EXPECT_EQ(nat.snat().size(), 2u);
  EXPECT_FALSE(controller.snapshot().synced);
  addresses.clear_failures();
  auto retry = controller.reconcile(false);  // after an error the controller re-reads
  EXPECT_TRUE(retry.full_read);
  EXPECT_EQ(retry.ops, (std::vector<std::string>{"ADD vip 20.20.20.1"}));
  EXPECT_TRUE(controller.snapshot().synced);
}

TEST_F(ControllerTest, RemovedEndpointDrainsUntilTheTimeout) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  model::VsKey web{*model::IpAddress::parse("20.20.20.1"), 80, model::Protocol::Tcp};
  ipvs.services.at(web).real_servers.at({*model::IpAddress::parse("10.0.1.12"), 8080}).active_conns = 2;
  controller.set_desired(parse(replace(kConfig, "      - {ip: 10.0.1.12, port: 8080}\n", "")));
  EXPECT_EQ(controller.reconcile(true).ops,
            (std::vector<std::string>{"DRAIN rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
  clock.advance(5s);
  EXPECT_TRUE(controller.reconcile(true).ops.empty());
  clock.advance(5s);
  EXPECT_EQ(controller.reconcile(true).ops,
            (std::vector<std::string>{"DEL rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
}

TEST_F(ControllerTest, RemovingAServiceRemovesItsSnatAndVip) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  auto text = std::string(kConfig);
  text = text.substr(0, text.find("  - name: default/dns"));
  controller.set_desired(parse(text));
  EXPECT_EQ(controller.reconcile(false).ops,
            (std::vector<std::string>{"DEL vip 20.20.20.2", "DEL vs 20.20.20.2:53/udp",
                                      "DEL snat 20.20.20.2:53/udp -> 10.10.0.1"}));
}

TEST_F(ControllerTest, ServicesOnAHandMadeVipStayKvlbsAcrossARestart) {
  addresses.seed_foreign("eth1", *model::IpPrefix::parse("20.20.20.5/32"));
  auto dir = std::filesystem::temp_directory_path() / ("kvlb-managed-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  daemon::ManagedStore store((dir / "managed-services.json").string());
  const char* on_hand_made_vip =
      "node: {name: lb1, interface: eth1}\nservices:\n  - {name: a/b, vip: 20.20.20.5, port: 80}\n";
  {
    daemon::Controller first(ports, clock, &store);
    first.set_desired(parse(on_hand_made_vip));
    EXPECT_EQ(first.reconcile(true).ops,
              (std::vector<std::string>{"ADD vs 20.20.20.5:80/tcp sched=rr persist=0", "RECREATE nat table"}));
  }
  daemon::Controller restarted(ports, clock, &store);
  restarted.set_desired(parse("node: {name: lb1, interface: eth1}\n"));
  EXPECT_EQ(restarted.reconcile(true).ops, (std::vector<std::string>{"DEL vs 20.20.20.5:80/tcp"}));
  EXPECT_TRUE(ipvs.services.empty());
  EXPECT_TRUE(store.load()->empty());
  std::filesystem::remove_all(dir);
}

TEST(ManagedStore, DamagedFileIsAnErrorAndAMissingOneIsEmpty) {
  auto dir = std::filesystem::temp_directory_path() / ("kvlb-store-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  daemon::ManagedStore store((dir / "m.json").string());
  EXPECT_TRUE(store.load()->empty());
  std::set<model::VsKey> keys{{*model::IpAddress::parse("fd00::1"), 53, model::Protocol::Udp}};
  ASSERT_TRUE(store.save(keys).ok());
  EXPECT_EQ(*store.load(), keys);
  std::ofstream(dir / "m.json") << "{\"services\": [{\"vip\": \"nope\"}]}";
  EXPECT_FALSE(store.load().ok());
  std::filesystem::remove_all(dir);
}

TEST_F(ControllerTest, OnearmUsesTheInterfacesSubnetAddressNotAHandMadeHostAddress) {
  // A /32 sorts before the node's own 10.10.0.1/24; the SNAT source must still be the latter.
  addresses.seed_foreign("eth1", *model::IpPrefix::parse("10.0.0.9/32"));
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  EXPECT_TRUE(nat.snat().count({{*model::IpAddress::parse("20.20.20.2"), 53, model::Protocol::Udp},
                                *model::IpAddress::parse("10.10.0.1")}));
}

TEST_F(ControllerTest, FailedAnnouncementsAreCounted) {
  addresses.fail_announcements();
  EXPECT_EQ(controller.snapshot().counters.announce_failures, 1u);
}

TEST_F(ControllerTest, EndpointRemovedOnTheChangePathIsDrainedUntilTheKernelIsRead) {
  ASSERT_TRUE(controller.reconcile(true).errors.empty());
  // A connection opens after the last full read: the cache still says zero.
  model::VsKey web{*model::IpAddress::parse("20.20.20.1"), 80, model::Protocol::Tcp};
  ipvs.services.at(web).real_servers.at({*model::IpAddress::parse("10.0.1.12"), 8080}).active_conns = 1;
  controller.set_desired(parse(replace(kConfig, "      - {ip: 10.0.1.12, port: 8080}\n", "")));
  EXPECT_EQ(controller.reconcile(false).ops,
            (std::vector<std::string>{"DRAIN rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
  EXPECT_TRUE(controller.reconcile(true).ops.empty());  // fresh counts: one connection left
  ipvs.services.at(web).real_servers.at({*model::IpAddress::parse("10.0.1.12"), 8080}).active_conns = 0;
  EXPECT_EQ(controller.reconcile(true).ops,
            (std::vector<std::string>{"DEL rs 20.20.20.1:80/tcp -> 10.0.1.12:8080"}));
}
