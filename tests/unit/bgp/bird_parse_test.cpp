// The real BIRD reads every golden file (`bird -p -c`): a renderer that
// writes something BIRD refuses fails here. BIRD missing is a failure, not a
// skip (the dependencies install bird2).
#include <gtest/gtest.h>

#include <filesystem>

#include "bgp_test_support.h"
#include "config/config_loader.h"

namespace kvlb::bgp {
namespace {

std::string bird_or_fail() {
  auto bird = bgp_test::find_bird();
  if (!bird) ADD_FAILURE() << "bird not found (install bird2, or set KVLB_BIRD to BIRD 2's daemon)";
  return bird.value_or("");
}

// bird -p parses the config (and checks what it can without running), then exits.
bgp_test::CommandResult bird_parse(const std::string& bird, const std::string& path) {
  return bgp_test::run({bird, "-p", "-c", path});
}

TEST(BirdParse, AcceptsEveryGoldenFile) {
  const std::string bird = bird_or_fail();
  if (bird.empty()) return;
  std::size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(bgp_test::source_path("golden/bird"))) {
    if (entry.path().extension() != ".conf") continue;
    auto result = bird_parse(bird, entry.path().string());
    EXPECT_EQ(result.status, 0) << entry.path().filename() << ":\n" << result.output;
    ++checked;
  }
  EXPECT_EQ(checked, bgp_test::all_goldens().size());
}

TEST(BirdParse, RefusesABrokenConfig) {
  // The check above is worth something only if BIRD does refuse.
  const std::string bird = bird_or_fail();
  if (bird.empty()) return;
  const auto path = std::filesystem::temp_directory_path() / ("kvlb-bird-broken-" + std::to_string(::getpid()) + ".conf");
  auto golden = bgp_test::two_peers_bfd_password();
  auto text = render_bird_config(golden.settings, golden.routes);
  // The direct eBGP session with BFD made multihop: BIRD then wants a local address.
  text.replace(text.find("\tlocal as 65000;\n\tneighbor 192.0.2.1"), 0, "\tmultihop 2;\n");
  bgp_test::write_file(path.string(), text);
  auto result = bird_parse(bird, path.string());
  std::filesystem::remove(path);
  EXPECT_NE(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("requires specified local address"), std::string::npos) << result.output;
}

// From a config file to BIRD: the loader's settings and routes render a
// config BIRD accepts.
TEST(BirdParse, AcceptsAConfigFromTheLoader) {
  const std::string bird = bird_or_fail();
  if (bird.empty()) return;
  auto loaded = config::load_config_text(R"(node: {name: lb1, interface: eth1}
pools:
  - {name: default, addresses: [20.20.20.0/28, "2001:db8:20::/120"], communities: ["65000:1"]}
ha:
  address: 10.0.9.1
  peers: [10.0.9.2]
  keyFile: /etc/kvlb/ha.key
  instances: [{name: blue}, {name: green}]
bgp:
  localAS: 65000
  routerId: 10.0.9.1
  master: {med: 0}
  backup: {mode: worse, asPathPrepend: 4, med: 100}
  peers:
    - {address: 10.0.9.254, as: 64512, bfd: true, ttlSecurity: true}
    - {address: "2001:db8:9::fe", as: 65000, localAddress: "2001:db8:9::1", bfd: {minRxMs: 50, minTxMs: 50, multiplier: 3}}
services:
  - {name: web, vip: 20.20.20.1, port: 80, instance: blue, communities: ["65000:80", "65000:1:2"]}
  - {name: web6, vip: "2001:db8:20::1", port: 80, instance: green}
  - {name: dns, vip: 20.20.20.1, port: 53, protocol: udp, instance: blue}
)",
                                         "kvlb.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front().str();
  const auto routes = announced_routes(loaded.state, {{"blue", true}, {"green", false}});
  ASSERT_EQ(routes.size(), 2u);
  const auto path = std::filesystem::temp_directory_path() / ("kvlb-bird-loaded-" + std::to_string(::getpid()) + ".conf");
  bgp_test::write_file(path.string(), render_bird_config(loaded.state.bgp, routes));
  auto result = bird_parse(bird, path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(result.status, 0) << result.output;
}

}  // namespace
}  // namespace kvlb::bgp
