#include "kernel/sysctl/sysctl.h"

namespace kvlb::kernel {

std::vector<SysctlReport> ensure_data_plane_sysctls(Sysctl& sysctl) {
  // Why each: forwarding for masqueraded traffic; vs.conntrack so netfilter
  // NAT (SNAT) applies to IPVS flows; expire_nodest_conn / quiescent_template
  // so connections to a deleted or drained real server do not linger;
  // nf_conntrack_acct for byte counts in `kvlbctl get ct`.
  static const std::vector<std::pair<std::string, std::string>> wanted = {
      {"net.ipv4.ip_forward", "1"},
      {"net.ipv6.conf.all.forwarding", "1"},
      {"net.ipv4.vs.conntrack", "1"},
      {"net.ipv4.vs.expire_nodest_conn", "1"},
      {"net.ipv4.vs.expire_quiescent_template", "1"},
      {"net.netfilter.nf_conntrack_acct", "1"},
  };
  return ensure_sysctls(sysctl, wanted);
}

std::vector<SysctlReport> ensure_ha_sysctls(Sysctl& sysctl) {
  // sync_refresh_period with sync_threshold's period 0: every active IPVS
  // connection is synced again about once a second (by default only every
  // 50 packets, which for a quiet flow can be minutes), so a BACKUP that just
  // (re)started learns flows older than itself within seconds.
  // sync_version 1: the only one carrying IPv6, templates and timeouts.
  // nf_conntrack_tcp_be_liberal: a TCP entry committed at takeover (or
  // picked up mid-stream) has no window history, so no in-flight segment
  // may count as out of window (conntrackd's own way of saying this
  // corrupts SCTP entries, see conntrackd.conf.mustache).
  static const std::vector<std::pair<std::string, std::string>> wanted = {
      {"net.ipv4.vs.sync_threshold", "3\t0"},
      {"net.ipv4.vs.sync_refresh_period", "1"},
      {"net.ipv4.vs.sync_version", "1"},
      {"net.netfilter.nf_conntrack_tcp_be_liberal", "1"},
  };
  return ensure_sysctls(sysctl, wanted);
}

std::vector<SysctlReport> ensure_sysctls(Sysctl& sysctl, const std::vector<std::pair<std::string, std::string>>& wanted) {
  std::vector<SysctlReport> reports;
  for (const auto& [key, value] : wanted) {
    SysctlReport report{key, value, "", false, ""};
    if (auto before = sysctl.get(key); before.ok()) report.before = *before;
    if (report.before == value) {
      report.ok = true;
    } else if (auto st = sysctl.set(key, value); st.ok()) {
      report.ok = true;
    } else {
      report.error = st.error().describe();
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace kvlb::kernel
