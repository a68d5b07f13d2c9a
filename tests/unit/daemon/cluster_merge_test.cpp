#include <gtest/gtest.h>

#include "daemon/cluster_merge.h"

using kvlb::model::IpAddress;
using kvlb::model::Protocol;
using kvlb::model::Service;

namespace {
Service service(const std::string& name, const std::string& vip, uint16_t port) {
  Service s;
  s.name = name;
  s.key = {*IpAddress::parse(vip), port, Protocol::Tcp};
  return s;
}
}  // namespace

TEST(ClusterMerge, AddsClusterServicesAndTheFileWinsOnAClash) {
  kvlb::model::DesiredState config;
  config.node.interface = "eth1";
  config.services = {service("static", "192.0.2.10", 80)};
  std::vector<std::string> conflicts;
  auto merged = kvlb::daemon::with_cluster_services(
      config, {service("default/a:http", "192.0.2.10", 80), service("default/b:http", "192.0.2.11", 80)}, conflicts);
  ASSERT_EQ(merged.services.size(), 2u);
  EXPECT_EQ(merged.services[0].name, "static");
  EXPECT_EQ(merged.services[1].name, "default/b:http");
  EXPECT_EQ(merged.node.interface, "eth1");
  EXPECT_EQ(conflicts, std::vector<std::string>{
                           "default/a:http: 192.0.2.10:80/tcp is a service of the config file; not programmed"});
}
