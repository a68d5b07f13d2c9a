// ProcSysctl against a directory tree standing in for /proc/sys.
#include "kernel/sysctl/proc_sysctl.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

namespace kvlb::kernel {
namespace {

namespace fs = std::filesystem;

class ProcSysctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("kvlb-sysctl-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_ / "net/ipv4");
    std::ofstream(root_ / "net/ipv4/ip_forward") << "0\n";
    std::ofstream(root_ / "net/ipv4/ip_local_port_range") << "32768\t60999\n";
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string contents(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path root_;
};

TEST_F(ProcSysctlTest, MapsDotsToSlashes) {
  ProcSysctl sysctl("/proc/sys");
  EXPECT_EQ(sysctl.path_for("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ(sysctl.path_for("net.ipv4.conf.all.arp_ignore"), "/proc/sys/net/ipv4/conf/all/arp_ignore");
}

TEST_F(ProcSysctlTest, RejectsKeysThatCouldLeaveTheTree) {
  ProcSysctl sysctl(root_.string());
  for (const char* key : {"", "net..ipv4", ".net", "net.", "net/../../etc/passwd", "net.ipv4/ip_forward"})
    EXPECT_FALSE(sysctl.path_for(key)) << key;
  auto st = sysctl.set("net/../x", "1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, std::make_error_code(std::errc::invalid_argument));
}

TEST_F(ProcSysctlTest, GetTrimsTrailingNewlineOnly) {
  ProcSysctl sysctl(root_.string());
  EXPECT_EQ(*sysctl.get("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(*sysctl.get("net.ipv4.ip_local_port_range"), "32768\t60999");
}

TEST_F(ProcSysctlTest, SetWritesTheValue) {
  ProcSysctl sysctl(root_.string());
  ASSERT_TRUE(sysctl.set("net.ipv4.ip_forward", "1"));
  EXPECT_EQ(contents(root_ / "net/ipv4/ip_forward"), "1");
  EXPECT_EQ(*sysctl.get("net.ipv4.ip_forward"), "1");
}

TEST_F(ProcSysctlTest, ErrorsNameTheKey) {
  ProcSysctl sysctl(root_.string());
  auto value = sysctl.get("net.ipv4.vs.conntrack");
  ASSERT_FALSE(value);
  EXPECT_EQ(value.error().code.value(), ENOENT);
  EXPECT_EQ(value.error().describe(), "read sysctl net.ipv4.vs.conntrack: No such file or directory");
  auto st = sysctl.set("net.ipv4.vs.conntrack", "1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code.value(), ENOENT);
  EXPECT_NE(st.error().describe().find("net.ipv4.vs.conntrack"), std::string::npos);
}

TEST_F(ProcSysctlTest, EnsureDataPlaneSysctlsReportsMissingKeys) {
  // Only ip_forward exists in this tree: the rest report errors naming their key.
  ProcSysctl sysctl(root_.string());
  auto reports = ensure_data_plane_sysctls(sysctl);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports[0].key, "net.ipv4.ip_forward");
  EXPECT_TRUE(reports[0].ok);
  EXPECT_EQ(reports[0].before, "0");
  EXPECT_EQ(*sysctl.get("net.ipv4.ip_forward"), "1");
  for (std::size_t i = 1; i < reports.size(); ++i) {
    EXPECT_FALSE(reports[i].ok) << reports[i].key;
    EXPECT_NE(reports[i].error.find(reports[i].key), std::string::npos) << reports[i].error;
  }
}

}  // namespace
}  // namespace kvlb::kernel
