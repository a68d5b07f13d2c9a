// announced_routes: one route per VIP with this node's role and its communities.
#include <gtest/gtest.h>

#include "bgp_test_support.h"
#include "config/config_loader.h"

namespace kvlb::bgp {
namespace {

using bgp_test::community;
using bgp_test::ip;

model::Service service(const char* vip, uint16_t port, const char* instance = "default",
                       std::vector<model::Community> communities = {}) {
  model::Service s;
  s.name = std::string("svc-") + vip + "-" + std::to_string(port);
  s.key.vip = ip(vip);
  s.key.port = port;
  s.instance = instance;
  s.communities = std::move(communities);
  return s;
}

TEST(AnnouncedRoutes, WithoutHaEveryVipIsMasterOnceAndSorted) {
  model::DesiredState state;
  state.services = {service("20.0.0.2", 80), service("fd00::1", 80), service("20.0.0.1", 443),
                    service("20.0.0.2", 443), service("20.0.0.1", 80)};
  const auto routes = announced_routes(state, {{"default", false}});  // roles are ignored without HA
  EXPECT_EQ(routes, (std::vector<AnnouncedRoute>{{ip("20.0.0.1"), true, {}},
                                                 {ip("20.0.0.2"), true, {}},
                                                 {ip("fd00::1"), true, {}}}));
}

TEST(AnnouncedRoutes, WithHaTheRoleOfTheVipsInstance) {
  model::DesiredState state;
  state.ha.enabled = true;
  state.services = {service("20.0.0.1", 80, "blue"), service("20.0.0.2", 80, "green"),
                    service("20.0.0.3", 80, "red")};
  const auto routes = announced_routes(state, {{"blue", true}, {"green", false}});
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_TRUE(routes[0].master);
  EXPECT_FALSE(routes[1].master);
  EXPECT_FALSE(routes[2].master) << "an instance not listed is held by the peer";
}

TEST(AnnouncedRoutes, CommunitiesOfThePoolAndOfEveryServiceOnTheVip) {
  model::DesiredState state;
  model::IpPool pool;
  pool.name = "default";
  pool.ranges = {{ip("20.0.0.0"), ip("20.0.0.15")}};
  pool.communities = {community("65000:1"), community("65000:1:1")};
  state.pools = {pool};
  state.services = {service("20.0.0.1", 80, "default", {community("65000:80"), community("65000:1")}),
                    service("20.0.0.1", 53, "default", {community("64512:53")}),
                    service("20.0.1.1", 80, "default", {community("65000:9")})};
  const auto routes = announced_routes(state, {});
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].communities, (std::vector<model::Community>{community("64512:53"), community("65000:1"),
                                                                  community("65000:80"), community("65000:1:1")}));
  EXPECT_EQ(routes[1].communities, (std::vector<model::Community>{community("65000:9")})) << "outside every pool";
}

TEST(AnnouncedRoutes, FromALoadedConfig) {
  auto loaded = config::load_config_text(R"(node: {name: lb1, interface: eth1}
pools:
  - {name: a, addresses: [20.0.0.0/28], communities: ["65000:100"]}
services:
  - {name: web, vip: 20.0.0.1, port: 80, communities: ["65000:80", "4200000000:0:1"]}
)",
                                         "kvlb.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front().str();
  EXPECT_EQ(announced_routes(loaded.state, {}),
            (std::vector<AnnouncedRoute>{{ip("20.0.0.1"), true,
                                          {community("65000:80"), community("65000:100"), community("4200000000:0:1")}}}));
}

TEST(Community, ParsesStandardAndLargeAndPrintsThemBack) {
  EXPECT_EQ(community("65000:100").str(), "65000:100");
  EXPECT_EQ(community("0:0").kind, model::Community::Kind::Standard);
  EXPECT_EQ(community("4294967295:4294967295:0").str(), "4294967295:4294967295:0");
  EXPECT_EQ(community("1:2:3").kind, model::Community::Kind::Large);
  for (const char* bad : {"", "65000", "65536:1", "1:65536", "1:2:3:4", "a:b", "-1:2", "1: 2", "1:", ":1", "1:2:",
                          "4294967296:1:1", "+1:2"})
    EXPECT_FALSE(model::Community::parse(bad).has_value()) << bad;
  EXPECT_LT(community("65535:65535"), community("0:0:0")) << "standard before large";
}

}  // namespace
}  // namespace kvlb::bgp
