// ProcSysctl on the real /proc/sys, inside a namespace of its own (net.*
// sysctls are per network namespace, so the host's stay untouched).
#include <gtest/gtest.h>

#include <cerrno>

#include "kernel/sysctl/proc_sysctl.h"
#include "netns_support.h"

namespace kvlb::kernel {
namespace {

using kvlb::testing::output_of;

class SysctlKernelTest : public kvlb::testing::NetnsTest {};

TEST_F(SysctlKernelTest, GetsAndSetsIpForward) {
  ProcSysctl sysctl;
  for (const char* value : {"1", "0"}) {
    ASSERT_TRUE(sysctl.set("net.ipv4.ip_forward", value));
    auto read = sysctl.get("net.ipv4.ip_forward");
    ASSERT_TRUE(read) << read.error().describe();
    EXPECT_EQ(*read, value);
    EXPECT_EQ(output_of("sysctl -n net.ipv4.ip_forward"), std::string(value) + "\n");
  }
}

TEST_F(SysctlKernelTest, KernelRejectionNamesTheKey) {
  ProcSysctl sysctl;
  auto st = sysctl.set("net.ipv4.ip_forward", "not-a-number");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code.value(), EINVAL);
  EXPECT_NE(st.error().describe().find("net.ipv4.ip_forward"), std::string::npos);

  auto missing = sysctl.get("net.ipv4.no_such_key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code.value(), ENOENT);
  EXPECT_EQ(missing.error().describe(), "read sysctl net.ipv4.no_such_key: No such file or directory");
}

TEST_F(SysctlKernelTest, EnsureDataPlaneSysctlsSetsForwarding) {
  ProcSysctl sysctl;
  ASSERT_TRUE(sysctl.set("net.ipv4.ip_forward", "0"));
  auto reports = ensure_data_plane_sysctls(sysctl);
  for (const auto& report : reports) {
    // IPVS keys exist only where the ip_vs module is loaded.
    if (report.key.starts_with("net.ipv4.vs.")) continue;
    EXPECT_TRUE(report.ok) << report.key << ": " << report.error;
  }
  EXPECT_EQ(*sysctl.get("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(*sysctl.get("net.ipv6.conf.all.forwarding"), "1");
}

}  // namespace
}  // namespace kvlb::kernel
