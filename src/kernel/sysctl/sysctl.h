#pragma once
// The sysctls the data plane needs, read and set through /proc/sys.
#include <string>
#include <utility>
#include <vector>

#include "util/result.h"

namespace kvlb::kernel {

class Sysctl {
 public:
  virtual ~Sysctl() = default;
  virtual Result<std::string> get(const std::string& key) = 0;  // key like "net.ipv4.ip_forward"
  virtual Status set(const std::string& key, const std::string& value) = 0;
};

struct SysctlReport {
  std::string key;
  std::string wanted;
  std::string before;  // "" if unreadable
  bool ok = false;
  std::string error;
};

// net.ipv4.ip_forward, net.ipv6.conf.all.forwarding, net.ipv4.vs.conntrack,
// net.ipv4.vs.expire_nodest_conn, net.ipv4.vs.expire_quiescent_template,
// net.netfilter.nf_conntrack_acct; applied in the current network namespace.
std::vector<SysctlReport> ensure_data_plane_sysctls(Sysctl& sysctl);
// With HA: net.ipv4.vs.sync_refresh_period and sync_version for IPVS connection sync.
std::vector<SysctlReport> ensure_ha_sysctls(Sysctl& sysctl);
// Sets each key to its value where it differs; one report per key.
std::vector<SysctlReport> ensure_sysctls(Sysctl& sysctl, const std::vector<std::pair<std::string, std::string>>& wanted);

}  // namespace kvlb::kernel
