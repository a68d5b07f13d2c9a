// conntrackd.conf rendering: byte for byte against tests/golden/conntrackd
// (KVLB_UPDATE_GOLDEN=1 rewrites them), determinism, and validation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "ha/conntrackd/conntrackd_config.h"
#include "conntrackd_test_support.h"

namespace kvlb::ha {
namespace {

using conntrackd_test::basic_settings;
using conntrackd_test::custom_port_settings;

void expect_golden(const ConntrackdSettings& settings, const std::string& name) {
  auto rendered = render_conntrackd_conf(settings);
  ASSERT_TRUE(rendered.ok()) << rendered.error().describe();
  const std::string path = conntrackd_test::source_path("golden/conntrackd/" + name);
  if (const char* update = std::getenv("KVLB_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    conntrackd_test::write_file(path, *rendered);
    GTEST_SKIP() << "rewrote " << path;
  }
  EXPECT_EQ(*rendered, conntrackd_test::read_file(path)) << "regenerate with KVLB_UPDATE_GOLDEN=1 after checking the diff";
}

TEST(ConntrackdRender, BasicMatchesGolden) { expect_golden(basic_settings(), "basic.conf"); }

TEST(ConntrackdRender, CustomPortMatchesGolden) { expect_golden(custom_port_settings(), "custom_port.conf"); }

TEST(ConntrackdRender, SameSettingsSameBytesWhateverTheAddressOrder) {
  auto settings = custom_port_settings();
  const std::string first = *render_conntrackd_conf(settings);
  std::reverse(settings.own_addresses.begin(), settings.own_addresses.end());
  EXPECT_EQ(*render_conntrackd_conf(settings), first);
  EXPECT_EQ(*render_conntrackd_conf(settings), first);
}

TEST(ConntrackdRender, IgnoresLoopbackTheSyncAddressAndOwnAddressesOnceEach) {
  auto settings = basic_settings();
  settings.own_addresses = {"10.255.0.1", "192.0.2.11", "::1"};
  const std::string text = *render_conntrackd_conf(settings);
  const std::string expected =
      "\t\tAddress Ignore {\n"
      "\t\t\tIPv4_address 10.255.0.1\n"
      "\t\t\tIPv4_address 127.0.0.1\n"
      "\t\t\tIPv4_address 192.0.2.11\n"
      "\t\t\tIPv6_address ::1\n"
      "\t\t}\n";
  EXPECT_NE(text.find(expected), std::string::npos) << text;
}

TEST(ConntrackdRender, WritesAddressesInCanonicalForm) {
  auto settings = basic_settings();
  settings.own_addresses = {"FD00:0:0::0011"};
  EXPECT_NE(render_conntrackd_conf(settings)->find("IPv6_address fd00::11\n"), std::string::npos);
}

TEST(ConntrackdRender, LogsToAFileWhenOneIsNamed) {
  auto settings = basic_settings();
  EXPECT_NE(render_conntrackd_conf(settings)->find("\tLogFile off\n\tSyslog on\n"), std::string::npos);
  settings.log_file = "/var/log/kvlb/conntrackd.log";
  settings.syslog = false;
  EXPECT_NE(render_conntrackd_conf(settings)->find("\tLogFile /var/log/kvlb/conntrackd.log\n\tSyslog off\n"),
            std::string::npos);
}

std::string problem_with(void (*change)(ConntrackdSettings&)) {
  auto settings = basic_settings();
  change(settings);
  auto rendered = render_conntrackd_conf(settings);
  EXPECT_FALSE(rendered.ok());
  return rendered.ok() ? "" : rendered.error().describe();
}

TEST(ConntrackdRender, RefusesInvalidSettingsNamingTheField) {
  using ::testing::HasSubstr;
  EXPECT_THAT(problem_with([](auto& s) { s.sync_interface = ""; }), HasSubstr("sync_interface: empty"));
  EXPECT_THAT(problem_with([](auto& s) { s.sync_interface = "eth1@x"; }), HasSubstr("sync_interface: conntrackd cannot read"));
  EXPECT_THAT(problem_with([](auto& s) { s.sync_interface = "on"; }), HasSubstr("sync_interface"));
  EXPECT_THAT(problem_with([](auto& s) { s.sync_interface = "averyveryverylongname"; }), HasSubstr("longer than 15"));
  EXPECT_THAT(problem_with([](auto& s) { s.local_sync_address = "10.255.0.300"; }),
              HasSubstr("local_sync_address: not a unicast IPv4 address (got \"10.255.0.300\")"));
  EXPECT_THAT(problem_with([](auto& s) { s.peer_sync_address = "fd00::2"; }), HasSubstr("peer_sync_address"));
  EXPECT_THAT(problem_with([](auto& s) { s.peer_sync_address = "10.255.0.1"; }),
              HasSubstr("peer_sync_address: same as local_sync_address"));
  EXPECT_THAT(problem_with([](auto& s) { s.port = 0; }), HasSubstr("port: must be 1..65535 (got 0)"));
  EXPECT_THAT(problem_with([](auto& s) { s.own_addresses = {"192.0.2.1", "nope"}; }),
              HasSubstr("own_addresses[1]: not an IP address conntrackd can read (got \"nope\")"));
  EXPECT_THAT(problem_with([](auto& s) { s.own_addresses = {"::ffff:192.0.2.1"}; }), HasSubstr("own_addresses[0]"));
  EXPECT_THAT(problem_with([](auto& s) { s.unix_socket = "run/ct.ctl"; }), HasSubstr("unix_socket: must be an absolute path"));
  EXPECT_THAT(problem_with([](auto& s) { s.unix_socket = "/run/" + std::string(120, 'x'); }), HasSubstr("unix_socket: longer than 107"));
  EXPECT_THAT(problem_with([](auto& s) { s.lock_file = "/run/a lock"; }), HasSubstr("lock_file: must not contain spaces"));
  EXPECT_THAT(problem_with([](auto& s) { s.log_file = "relative.log"; }), HasSubstr("log_file"));
  EXPECT_THAT(problem_with([](auto& s) { s.hash_size = 0; }), HasSubstr("hash_size: must be 1.."));
  EXPECT_THAT(problem_with([](auto& s) { s.netlink_buffer_size = 3u << 30; }), HasSubstr("netlink_buffer_size: must be 1.."));
  EXPECT_THAT(problem_with([](auto& s) { s.netlink_buffer_size_max_growth = 1024; }),
              HasSubstr("netlink_buffer_size_max_growth: smaller than netlink_buffer_size"));
}

TEST(ConntrackdRender, ReportsEveryProblemAtOnce) {
  ConntrackdSettings settings;  // nothing set
  settings.port = 0;
  auto valid = validate_conntrackd_settings(settings);
  ASSERT_FALSE(valid.ok());
  const std::string text = valid.error().describe();
  for (const char* field : {"sync_interface", "local_sync_address", "peer_sync_address", "port"})
    EXPECT_NE(text.find(field), std::string::npos) << field << " in " << text;
  EXPECT_EQ(valid.error().code, std::errc::invalid_argument);
}

TEST(ConntrackdRender, DefaultsAreValid) {
  EXPECT_TRUE(validate_conntrackd_settings(basic_settings()).ok());
  EXPECT_EQ(ConntrackdSettings{}.port, 3780);
  EXPECT_EQ(ConntrackdSettings{}.unix_socket, "/run/kvlb/conntrackd.ctl");
  EXPECT_EQ(ConntrackdSettings{}.lock_file, "/run/kvlb/conntrackd.lock");
}

}  // namespace
}  // namespace kvlb::ha
