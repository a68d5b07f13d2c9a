#include <gtest/gtest.h>

#include "config/config_loader.h"

using kvlb::config::load_config_text;

namespace {
const char* kValid = R"(node: {name: lb1, interface: eth1}
reconcile: {drainTimeoutSeconds: 5}
services:
  - name: default/tcp-lb-fullnat
    vip: 20.20.20.1
    port: 56002
    protocol: tcp
    scheduler: wrr
    persistence: 300
    mode: fullnat
    snatAddress: 20.20.20.9
    endpoints:
      - {ip: 10.0.1.11, port: 8080, weight: 1}
      - {ip: 10.0.1.12, port: 8080, weight: 3}
  - name: default/empty
    vip: fd00:20::1
    port: 80
    protocol: sctp
)";

std::string first_error(const std::string& text) {
  auto r = load_config_text(text, "kvlb.yaml");
  EXPECT_FALSE(r.ok());
  return r.errors.empty() ? "" : r.errors.front().str();
}

std::string with_service(const std::string& service_fields) {
  return "node: {name: lb1, interface: eth1}\nservices:\n  - name: a/b\n" + service_fields;
}
}  // namespace

TEST(ConfigLoader, ParsesTheDocumentedKeys) {
  auto r = load_config_text(kValid, "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  ASSERT_EQ(r.state.services.size(), 2u);
  const auto& s = r.state.services[0];
  EXPECT_EQ(s.name, "default/tcp-lb-fullnat");
  EXPECT_EQ(s.key.str(), "20.20.20.1:56002/tcp");
  EXPECT_EQ(s.scheduler, "wrr");
  EXPECT_EQ(s.persistence_seconds, 300u);
  EXPECT_EQ(s.mode, kvlb::model::NatMode::FullNat);
  EXPECT_EQ(s.snat_address->str(), "20.20.20.9");
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.endpoints[1].weight, 3u);
  EXPECT_TRUE(r.state.services[1].endpoints.empty());
  EXPECT_EQ(r.state.services[1].key.str(), "[fd00:20::1]:80/sctp");
  EXPECT_EQ(r.state.settings.drain_timeout_seconds, 5u);
  EXPECT_EQ(r.state.node.interface, "eth1");
}

TEST(ConfigLoader, NamesFileLineAndFieldForBadValues) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.300\n    port: 80\n")),
            "kvlb.yaml:4: services[0].vip: not an IPv4 or IPv6 address (got 20.20.20.300)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 0\n")),
            "kvlb.yaml:5: services[0].port: must be 1..65535 (got 0)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 70000\n")),
            "kvlb.yaml:5: services[0].port: must be 1..65535 (got 70000)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    protocol: icmp\n")),
            "kvlb.yaml:6: services[0].protocol: unknown protocol 'icmp' (tcp, udp, sctp)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    scheduler: random\n")),
            "kvlb.yaml:6: services[0].scheduler: unknown scheduler 'random' (rr wrr lc wlc sh mh sed nq dh lblc lblcr fo ovf twos)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    mode: dsr\n")),
            "kvlb.yaml:6: services[0].mode: unknown mode 'dsr' (default, onearm, fullnat)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    prot: tcp\n")),
            "kvlb.yaml:6: services[0].prot: unknown key");
}

TEST(ConfigLoader, RefusesWeightsOutsideTheIpvsRange) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 10.0.1.11, port: 8080, weight: 70000}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].weight: must be 0..65535 (got 70000)");
}

TEST(ConfigLoader, RefusesMixedFamilies) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 'fd00:1::11', port: 8080}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].ip: IPv6 endpoint for an IPv4 vip");
}

TEST(ConfigLoader, RefusesDuplicateServiceKeys) {
  std::string text =
      "node: {name: lb1, interface: eth1}\nservices:\n"
      "  - {name: a/one, vip: 20.20.20.1, port: 80}\n"
      "  - {name: a/two, vip: 20.20.20.1, port: 80, protocol: tcp}\n";
  EXPECT_EQ(first_error(text), "kvlb.yaml:4: services[1]: duplicate vip:port/protocol 20.20.20.1:80/tcp (also in services[0])");
}

TEST(ConfigLoader, ReportsEveryProblemNotOnlyTheFirst) {
  std::string text =
      "node: {name: lb1, interface: eth1}\nservices:\n"
      "  - {name: a/one, vip: bad, port: 0}\n"
      "  - {name: a/two, vip: 20.20.20.1, port: 80, mode: x}\n";
  auto r = load_config_text(text, "kvlb.yaml");
  EXPECT_EQ(r.errors.size(), 3u);
}

TEST(ConfigLoader, RequiresTheNodeSection) {
  EXPECT_EQ(first_error("services: []\n"), "kvlb.yaml: node: is required");
}

TEST(ConfigLoader, ReportsYamlSyntaxErrors) {
  EXPECT_NE(first_error("node: {name: lb1\n").find("YAML syntax"), std::string::npos);
}

TEST(ConfigLoader, MissingFileIsAnError) {
  auto r = kvlb::config::load_config_file("/nonexistent/kvlb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].str(), "/nonexistent/kvlb.yaml: cannot read file");
}
