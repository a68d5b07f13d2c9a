// The kubernetes and pools sections of the config.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "config/field_checks.h"

using kvlb::config::load_config_text;
using kvlb::config::parse_address_range;
using kvlb::model::IpRange;

namespace {

std::string with_node(const std::string& rest) { return "node: {name: lb1, interface: eth1}\n" + rest; }

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& e : load_config_text(text, "kvlb.yaml").errors) out.push_back(e.str());
  return out;
}

std::string range_text(std::string_view text) {
  auto parsed = parse_address_range(text);
  if (auto* problem = std::get_if<std::string>(&parsed)) return "error: " + *problem;
  const auto& r = std::get<IpRange>(parsed);
  return r.first.str() + "-" + r.last.str();
}

}  // namespace

TEST(ConfigKubernetes, ParsesEverySetting) {
  auto r = load_config_text(with_node(R"(kubernetes:
  kubeconfig: /etc/kvlb/kubeconfig
  loadBalancerClass: example.com/lb
  includeClassless: true
  endpoints: nodePort
  ipMode: Proxy
  maxPortsPerService: 20
pools:
  - name: blue
    addresses: [192.0.2.0/28, 192.0.2.100-192.0.2.110, "2001:db8::/120"]
  - name: reserved
    autoAssign: false
    addresses: [198.51.100.7]
)"),
                            "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  const auto& k = r.state.kubernetes;
  EXPECT_TRUE(k.enabled);
  EXPECT_EQ(k.kubeconfig, "/etc/kvlb/kubeconfig");
  EXPECT_FALSE(k.in_cluster);
  EXPECT_EQ(k.load_balancer_class, "example.com/lb");
  EXPECT_TRUE(k.include_classless);
  EXPECT_TRUE(k.node_port_targets);
  EXPECT_EQ(k.ip_mode, "Proxy");
  EXPECT_EQ(k.max_ports_per_service, 20u);
  ASSERT_EQ(r.state.pools.size(), 2u);
  EXPECT_EQ(r.state.pools[0].name, "blue");
  ASSERT_EQ(r.state.pools[0].ranges.size(), 3u);
  EXPECT_EQ(r.state.pools[0].ranges[2].last.str(), "2001:db8::ff");
  EXPECT_TRUE(r.state.pools[0].auto_assign);
  EXPECT_FALSE(r.state.pools[1].auto_assign);
}

TEST(ConfigKubernetes, AbsentMeansNoCluster) {
  auto r = load_config_text(with_node(""), "kvlb.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.state.kubernetes.enabled);
  EXPECT_TRUE(r.state.pools.empty());
}

TEST(ConfigKubernetes, RefusesBadSettingsNamingTheField) {
  EXPECT_EQ(errors_of(with_node("kubernetes: {inCluster: true, kubeconfig: /x}\n")),
            std::vector<std::string>{"kvlb.yaml:2: kubernetes: set exactly one of kubeconfig (a path) and inCluster: true"});
  EXPECT_EQ(errors_of(with_node("kubernetes: {inCluster: yes}\n")),
            (std::vector<std::string>{"kvlb.yaml:2: kubernetes.inCluster: must be true or false",
                                      "kvlb.yaml:2: kubernetes: set exactly one of kubeconfig (a path) and inCluster: true"}));
  EXPECT_EQ(errors_of(with_node("kubernetes: {inCluster: true, endpoints: pods}\n")),
            std::vector<std::string>{"kvlb.yaml:2: kubernetes.endpoints: unknown value 'pods' (podIP, nodePort)"});
  EXPECT_EQ(errors_of(with_node("kubernetes: {inCluster: true, ipMode: vip}\n")),
            std::vector<std::string>{"kvlb.yaml:2: kubernetes.ipMode: unknown value 'vip' (VIP, Proxy)"});
  EXPECT_EQ(errors_of(with_node("kubernetes: {inCluster: true, clas: x}\n")),
            std::vector<std::string>{"kvlb.yaml:2: kubernetes.clas: unknown key"});
}

TEST(ConfigKubernetes, RefusesBadPools) {
  EXPECT_EQ(errors_of(with_node("pools:\n  - name: a\n    addresses: [192.0.2.0/33]\n")),
            std::vector<std::string>{"kvlb.yaml:4: pools[0].addresses[0]: not a CIDR (got 192.0.2.0/33)"});
  EXPECT_EQ(errors_of(with_node("pools:\n  - {name: a, addresses: [10.0.0.0/24]}\n"
                                "  - {name: b, addresses: [10.0.0.200-10.0.1.5]}\n")),
            std::vector<std::string>{
                "kvlb.yaml:4: pools[1].addresses[0]: overlaps pools[0].addresses[0] (10.0.0.0/24)"});
  EXPECT_EQ(errors_of(with_node("pools:\n  - {name: a, addresses: [10.0.0.0/24]}\n"
                                "  - {name: a, addresses: [10.0.1.0/24]}\n")),
            std::vector<std::string>{"kvlb.yaml:4: pools[1].name: duplicate pool name (also pools[0])"});
  EXPECT_EQ(errors_of(with_node("pools:\n  - {name: a, addresses: []}\n")),
            std::vector<std::string>{"kvlb.yaml:3: pools[0].addresses: must be a non-empty list"});
  EXPECT_EQ(errors_of(with_node("pools:\n  - {name: a}\n")),
            std::vector<std::string>{"kvlb.yaml:3: pools[0].addresses: is required"});
}

TEST(ConfigKubernetes, AddressRanges) {
  EXPECT_EQ(range_text("192.0.2.0/30"), "192.0.2.0-192.0.2.3");
  EXPECT_EQ(range_text("192.0.2.5/30"), "192.0.2.4-192.0.2.7");
  EXPECT_EQ(range_text("192.0.2.9/32"), "192.0.2.9-192.0.2.9");
  EXPECT_EQ(range_text("192.0.2.10 - 192.0.2.20"), "192.0.2.10-192.0.2.20");
  EXPECT_EQ(range_text("2001:db8::/64"), "2001:db8::-2001:db8::ffff:ffff:ffff:ffff");
  EXPECT_EQ(range_text("198.51.100.7"), "198.51.100.7-198.51.100.7");
  EXPECT_EQ(range_text("192.0.2.20-192.0.2.10"), "error: range ends before it starts (got 192.0.2.20-192.0.2.10)");
  EXPECT_EQ(range_text("192.0.2.1-2001:db8::1"), "error: range mixes IPv4 and IPv6 (got 192.0.2.1-2001:db8::1)");
  EXPECT_EQ(range_text("126.0.0.0-128.0.0.0"), "error: must hold only unicast addresses (got 126.0.0.0-128.0.0.0)");
  EXPECT_EQ(range_text("127.0.0.0/8"),
            "error: must hold only unicast addresses, not unspecified, loopback, multicast or broadcast (got 127.0.0.0/8)");
  EXPECT_EQ(range_text("banana"), "error: not a CIDR, range or address (got banana)");
}
