// bird.conf rendering: byte for byte against tests/golden/bird
// (KVLB_UPDATE_GOLDEN=1 rewrites them), determinism, roles, validation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "bgp_test_support.h"

namespace kvlb::bgp {
namespace {

using bgp_test::Golden;

void expect_golden(const Golden& golden) {
  const std::string rendered = render_bird_config(golden.settings, golden.routes);
  const std::string path = bgp_test::source_path("golden/bird/" + golden.file);
  if (const char* update = std::getenv("KVLB_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    bgp_test::write_file(path, rendered);
    GTEST_SKIP() << "rewrote " << path;
  }
  EXPECT_EQ(rendered, bgp_test::read_file(path)) << "regenerate with KVLB_UPDATE_GOLDEN=1 after checking the diff";
}

TEST(BirdRender, OnePeerMatchesGolden) { expect_golden(bgp_test::one_peer()); }
TEST(BirdRender, TwoPeersWithBfdAndPasswordMatchGolden) { expect_golden(bgp_test::two_peers_bfd_password()); }
TEST(BirdRender, MasterExportMatchesGolden) { expect_golden(bgp_test::export_master()); }
TEST(BirdRender, BackupWithholdMatchesGolden) { expect_golden(bgp_test::export_backup_withhold()); }
TEST(BirdRender, BackupWorseMatchesGolden) { expect_golden(bgp_test::export_backup_worse()); }
TEST(BirdRender, Ipv6MatchesGolden) { expect_golden(bgp_test::ipv6()); }
TEST(BirdRender, CommunitiesMatchGolden) { expect_golden(bgp_test::communities()); }

TEST(BirdRender, SameInputSameBytesWhateverTheOrder) {
  for (auto golden : bgp_test::all_goldens()) {
    const std::string first = render_bird_config(golden.settings, golden.routes);
    EXPECT_EQ(render_bird_config(golden.settings, golden.routes), first) << golden.file;
    std::reverse(golden.settings.peers.begin(), golden.settings.peers.end());
    std::reverse(golden.routes.begin(), golden.routes.end());
    for (auto& route : golden.routes) std::reverse(route.communities.begin(), route.communities.end());
    EXPECT_EQ(render_bird_config(golden.settings, golden.routes), first) << golden.file;
  }
}

TEST(BirdRender, AVipGivenTwiceIsOneRoute) {
  auto golden = bgp_test::one_peer();
  const std::vector<AnnouncedRoute> twice = {bgp_test::route("20.20.20.1", false, {bgp_test::community("65000:2")}),
                                             bgp_test::route("20.20.20.1", true, {bgp_test::community("65000:1")})};
  const std::vector<AnnouncedRoute> once = {
      bgp_test::route("20.20.20.1", true, {bgp_test::community("65000:1"), bgp_test::community("65000:2")})};
  EXPECT_EQ(render_bird_config(golden.settings, twice), render_bird_config(golden.settings, once));
  EXPECT_EQ(render_bird_config(golden.settings, {twice[1], twice[0]}), render_bird_config(golden.settings, once));
}

// The lines of `text` outside the static protocols' bodies: the sessions,
// their filters and everything else.
std::string without_static_bodies(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  bool in_static = false;
  for (std::string line; std::getline(in, line);) {
    if (in_static && line == "}") in_static = false;
    if (!in_static) out += line + "\n";
    if (line.rfind("protocol static ", 0) == 0) in_static = true;
  }
  return out;
}

// The route lines (and their attribute blocks) of one static protocol.
std::string static_body(const std::string& text, const std::string& name) {
  auto start = text.find("protocol static " + name + " {\n");
  if (start == std::string::npos) return "(no protocol " + name + ")";
  start = text.find('\n', start) + 1;
  return text.substr(start, text.find("\n}\n", start) + 1 - start);
}

TEST(BirdRender, ARoleFlipChangesOnlyTheStaticProtocolsRouteLines) {
  for (auto mode : {model::BgpBackupMode::Withhold, model::BgpBackupMode::Worse}) {
    auto golden = bgp_test::export_settings("", true, mode);
    golden.routes.push_back(bgp_test::route("2001:db8:20::1", true));
    const std::string master = render_bird_config(golden.settings, golden.routes);
    for (auto& route : golden.routes) route.master = false;
    const std::string backup = render_bird_config(golden.settings, golden.routes);
    EXPECT_NE(master, backup);
    EXPECT_EQ(without_static_bodies(master), without_static_bodies(backup));
    EXPECT_EQ(static_body(master, "kvlb_master4"), static_body(backup, "kvlb_backup4"));
    EXPECT_EQ(static_body(master, "kvlb_master6"), static_body(backup, "kvlb_backup6"));
    EXPECT_EQ(static_body(master, "kvlb_backup4"), "\tipv4;\n");
    EXPECT_EQ(static_body(backup, "kvlb_master6"), "\tipv6;\n");
  }
}

TEST(BirdRender, NoVipsStillHasEveryStaticProtocol) {
  auto golden = bgp_test::one_peer();
  const std::string text = render_bird_config(golden.settings, {});
  for (const char* name : {"kvlb_master4", "kvlb_master6", "kvlb_backup4", "kvlb_backup6"})
    EXPECT_NE(text.find(std::string("protocol static ") + name + " {\n"), std::string::npos) << name;
  EXPECT_EQ(without_static_bodies(text), without_static_bodies(render_bird_config(golden.settings, golden.routes)));
}

TEST(BirdRender, ExportsOnlyKvlbsRoutesAndImportsNothing) {
  for (const auto& golden : bgp_test::all_goldens()) {
    const std::string text = render_bird_config(golden.settings, golden.routes);
    EXPECT_EQ(text.find("protocol kernel"), std::string::npos) << golden.file;
    EXPECT_EQ(text.find("protocol direct"), std::string::npos) << golden.file;
    EXPECT_EQ(text.find("export all"), std::string::npos) << golden.file;
    std::size_t sessions = 0, imports = 0, rejects = 0;
    for (std::size_t at = 0; (at = text.find("protocol bgp ", at)) != std::string::npos; ++at) ++sessions;
    for (std::size_t at = 0; (at = text.find("\t\timport none;\n", at)) != std::string::npos; ++at) ++imports;
    for (std::size_t at = 0; (at = text.find("\treject;\n}\n", at)) != std::string::npos; ++at) ++rejects;
    EXPECT_EQ(sessions, golden.settings.peers.size()) << golden.file;
    EXPECT_EQ(imports, sessions) << golden.file;
    EXPECT_EQ(rejects, sessions) << golden.file << ": every export filter ends in reject";
  }
}

// From `from` up to `to` (not included).
std::string between(const std::string& text, const std::string& from, const std::string& to) {
  const auto start = text.find(from);
  return start == std::string::npos ? "" : text.substr(start, text.find(to, start) - start);
}

TEST(BirdRender, LocalPrefOnlyForIbgpPeers) {
  const auto golden = bgp_test::export_backup_worse();
  const std::string text = render_bird_config(golden.settings, golden.routes);
  const auto ebgp = between(text, "filter peer_192_0_2_1_export", "protocol bgp peer_192_0_2_1");
  const auto ibgp = between(text, "filter peer_192_0_2_2_export", "protocol bgp peer_192_0_2_2");
  EXPECT_EQ(ebgp.find("bgp_local_pref"), std::string::npos) << ebgp;
  EXPECT_NE(ebgp.find("bgp_med = 500;"), std::string::npos) << ebgp;
  EXPECT_NE(ibgp.find("bgp_local_pref = 200;"), std::string::npos) << ibgp;
  EXPECT_NE(ibgp.find("bgp_local_pref = 50;"), std::string::npos) << ibgp;
  EXPECT_NE(ebgp.find("bgp_path.prepend(65000);"), std::string::npos) << ebgp;
  EXPECT_EQ(ibgp.find("bgp_path.prepend"), std::string::npos) << "a router drops routes with its own AS in the path";
}

TEST(BirdRender, PeerNamesAreDistinctBirdSymbols) {
  EXPECT_EQ(bgp_test::peer("10.0.0.1", 1).name(), "peer_10_0_0_1");
  EXPECT_EQ(bgp_test::peer("fd00::1", 1).name(), "peer_fd00__1");
  EXPECT_EQ(bgp_test::peer("2001:db8::a:b", 1).name(), "peer_2001_db8__a_b");
  EXPECT_NE(bgp_test::peer("::ffff:1.2.3.4", 1).name(), bgp_test::peer("::ffff:1:2:3:4", 1).name());
  const auto longest = bgp_test::peer("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1).name() + "_export";
  EXPECT_LE(longest.size(), 64u);  // BIRD's symbol length limit
}

model::BgpSettings valid() { return bgp_test::two_peers_bfd_password().settings; }

std::string problem_with(void (*change)(model::BgpSettings&)) {
  auto settings = valid();
  change(settings);
  auto status = validate_bgp_settings(settings);
  EXPECT_FALSE(status.ok());
  return status.ok() ? "" : status.error().describe();
}

TEST(BirdRender, ValidatesWhatTheConfigLoaderChecks) {
  using ::testing::HasSubstr;
  EXPECT_TRUE(validate_bgp_settings(valid()).ok());
  for (const auto& golden : bgp_test::all_goldens()) EXPECT_TRUE(validate_bgp_settings(golden.settings).ok()) << golden.file;
  EXPECT_THAT(problem_with([](auto& s) { s.local_as = 0; }), HasSubstr("local_as: must be 1..4294967295 (got 0)"));
  EXPECT_THAT(problem_with([](auto& s) { s.router_id = bgp_test::ip("fd00::1"); }), HasSubstr("router_id"));
  EXPECT_THAT(problem_with([](auto& s) { s.router_id = {}; }), HasSubstr("router_id"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[1].address = s.peers[0].address; }), HasSubstr("peers[1].address: duplicate peer"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].as = 0; }), HasSubstr("peers[0].as: must be 1.."));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].password = "a\"b"; }), HasSubstr("peers[0].password: must not contain '\"'"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].password = "a\nb"; }), HasSubstr("peers[0].password"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].multihop = 0; }), HasSubstr("peers[0].multihop: must be 1..255"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].bfd.min_rx_ms = 5; }), HasSubstr("peers[0].bfd.min_rx_ms: must be 10..10000 (got 5)"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].bfd.multiplier = 0; }), HasSubstr("peers[0].bfd.multiplier"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].local_address.reset(); }), HasSubstr("peers[0].local_address: required with bfd"));
  EXPECT_THAT(problem_with([](auto& s) { s.peers[0].local_address = bgp_test::ip("fd00::1"); }), HasSubstr("address family"));
  EXPECT_THAT(problem_with([](auto& s) { s.backup.as_path_prepend = 11; }), HasSubstr("backup.as_path_prepend: must be 0..10"));
}

TEST(BirdRenderDeathTest, InvalidSettingsAreABrokenInvariant) {
  auto settings = valid();
  settings.local_as = 0;
  EXPECT_DEATH((void)render_bird_config(settings, {}), "local_as");
}

}  // namespace
}  // namespace kvlb::bgp
