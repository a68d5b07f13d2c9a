// The ha section of the config and the instance of each service.
#include <gtest/gtest.h>

#include "config/config_loader.h"

using kvlb::config::load_config_text;

namespace {

const char* kHa = R"(ha:
  address: 10.0.1.11
  peers: [10.0.1.12]
  keyFile: /etc/kvlb/ha.key
  intervalMs: 50
  instances:
    - name: blue
      priority: 150
      preempt: true
      preemptDelayMs: 500
      floatingAddresses: [10.0.2.1]
    - name: green
  sync:
    interface: sync0
    address: 10.99.0.1
    peer: 10.99.0.2
    ipvsSyncId: 7
)";

std::string config(const std::string& ha, const std::string& services = "") {
  return "node: {name: lb1, interface: eth1}\n" + ha + services;
}

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& e : load_config_text(text, "kvlb.yaml").errors) out.push_back(e.str());
  return out;
}

}  // namespace

TEST(ConfigHa, ParsesEverySetting) {
  auto r = load_config_text(config(kHa, "services:\n  - {name: web, vip: 20.0.0.1, port: 80, instance: green}\n"),
                            "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].str());
  const auto& ha = r.state.ha;
  EXPECT_TRUE(ha.enabled);
  EXPECT_EQ(ha.address->str(), "10.0.1.11");
  ASSERT_EQ(ha.peers.size(), 1u);
  EXPECT_EQ(ha.port, 7712);
  EXPECT_EQ(ha.interval_ms, 50u);
  ASSERT_EQ(ha.instances.size(), 2u);
  EXPECT_EQ(ha.instances[0].priority, 150);
  EXPECT_TRUE(ha.instances[0].preempt);
  EXPECT_EQ(ha.instances[0].preempt_delay_ms, 500u);
  EXPECT_EQ(ha.instances[0].floating_addresses.at(0).str(), "10.0.2.1");
  EXPECT_EQ(ha.instances[1].priority, 100);
  EXPECT_FALSE(ha.instances[1].preempt);
  EXPECT_EQ(ha.sync.interface, "sync0");
  EXPECT_EQ(ha.sync.ipvs_sync_id, 7u);
  EXPECT_TRUE(ha.sync.conntrackd);
  EXPECT_EQ(r.state.services.at(0).instance, "green");
}

TEST(ConfigHa, WithoutHaEveryServiceIsInTheDefaultInstance) {
  auto r = load_config_text(config("", "services:\n  - {name: web, vip: 20.0.0.1, port: 80}\n"), "kvlb.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.state.ha.enabled);
  EXPECT_EQ(r.state.services[0].instance, "default");
}

TEST(ConfigHa, BadValuesNameTheField) {
  EXPECT_EQ(errors_of(config(R"(ha:
  address: 10.0.1.11
  peers: [10.0.1.11, 300.1.1.1]
  keyFile: ""
  intervalMs: 5
  instances:
    - {name: blue, priority: 255}
    - {name: blue}
)")),
            (std::vector<std::string>{
                "kvlb.yaml:4: ha.peers[0]: is this node's own ha.address",
                "kvlb.yaml:4: ha.peers[1]: not an IPv4 or IPv6 address (got 300.1.1.1)",
                "kvlb.yaml:5: ha.keyFile: must be a path (adverts are always authenticated)",
                "kvlb.yaml:6: ha.intervalMs: must be 20..10000 (got 5)",
                "kvlb.yaml:8: ha.instances[0].priority: must be 1..254 (got 255)",
                "kvlb.yaml:9: ha.instances[1].name: duplicate instance name",
            }));
}

TEST(ConfigHa, MissingRequiredKeys) {
  EXPECT_EQ(errors_of(config("ha: {peers: [10.0.1.12]}\n")),
            (std::vector<std::string>{"kvlb.yaml:2: ha.address: is required", "kvlb.yaml:2: ha.keyFile: is required",
                                      "kvlb.yaml:2: ha.instances: is required"}));
}

TEST(ConfigHa, ConntrackdNeedsSyncAddresses) {
  EXPECT_EQ(errors_of(config(R"(ha:
  address: 10.0.1.11
  peers: [10.0.1.12]
  keyFile: /k
  instances: [{name: blue}]
  sync: {interface: sync0}
)")),
            (std::vector<std::string>{
                "kvlb.yaml:7: ha.sync.address: is required with conntrackd (its UDP source on the sync link)",
                "kvlb.yaml:7: ha.sync.peer: is required with conntrackd (the peer's address on the sync link)"}));
  EXPECT_TRUE(errors_of(config(R"(ha:
  address: 10.0.1.11
  peers: [10.0.1.12]
  keyFile: /k
  instances: [{name: blue}]
  sync: {interface: sync0, conntrackd: false}
)")).empty());
}

TEST(ConfigHa, ServiceInstanceMustExistAndAVipStaysInOneInstance) {
  EXPECT_EQ(errors_of(config(kHa, R"(services:
  - {name: a, vip: 20.0.0.1, port: 80, instance: blue}
  - {name: b, vip: 20.0.0.1, port: 81, instance: green}
  - {name: c, vip: 20.0.0.2, port: 80,
     instance: red}
)")),
            (std::vector<std::string>{
                "kvlb.yaml:21: services[1].instance: vip 20.0.0.1 is in instance 'blue' already (a VIP moves with one instance)",
                "kvlb.yaml:23: services[2].instance: unknown instance 'red' (service c; see ha.instances)"}));
}

TEST(ConfigHa, InstanceWithoutHaSectionIsRefused) {
  EXPECT_EQ(errors_of(config("", "services:\n  - {name: a, vip: 20.0.0.1, port: 80, instance: blue}\n")),
            (std::vector<std::string>{"kvlb.yaml:3: services[0].instance: needs an ha section that defines it"}));
}
