#include "daemon/status_view.h"

#include <map>
#include <sstream>

namespace kvlb::daemon {

using nlohmann::json;

nlohmann::json lb_view(const Snapshot& s) {
  json out = json::array();
  for (const auto& svc : s.desired.services) {
    auto it = s.observed.ipvs.find(svc.key);
    bool vip_present = s.observed.vips.count(svc.key.vip) || s.observed.foreign_addresses.count(svc.key.vip);
    bool programmed = it != s.observed.ipvs.end() && vip_present;
    json item = {{"name", svc.name},
                 {"vip", svc.key.vip.str()},
                 {"port", svc.key.port},
                 {"protocol", std::string(to_string(svc.key.protocol))},
                 {"scheduler", svc.scheduler},
                 {"persistence", svc.persistence_seconds},
                 {"mode", std::string(to_string(svc.mode))},
                 {"endpoints", svc.endpoints.size()},
                 {"programmed", programmed}};
    // The set is ordered by match first: one lookup, not a scan per service.
    if (auto rule = s.observed.snat.lower_bound(model::SnatRule{svc.key, {}});
        rule != s.observed.snat.end() && rule->match == svc.key)
      item["snat"] = rule->to.str();
    out.push_back(std::move(item));
  }
  return out;
}

nlohmann::json ep_view(const Snapshot& s) {
  json out = json::array();
  for (const auto& svc : s.desired.services) {
    std::map<model::RealServerKey, const model::Endpoint*> wanted;
    for (const auto& ep : svc.endpoints) wanted[{ep.ip, ep.port}] = &ep;
    const model::VirtualService* have = nullptr;
    if (auto it = s.observed.ipvs.find(svc.key); it != s.observed.ipvs.end()) have = &it->second;
    auto row = [&](const model::RealServerKey& key, const model::RealServer* rs, const model::Endpoint* ep) {
      std::string state = !rs ? "pending" : (!ep ? "draining" : (rs->weight == ep->weight ? "active" : "pending"));
      return json{{"service", svc.name},
                  {"vs", svc.key.str()},
                  {"endpoint", key.str()},
                  {"weight", ep ? ep->weight : 0},
                  {"kernelWeight", rs ? json(rs->weight) : json(nullptr)},
                  {"activeConns", rs ? rs->active_conns : 0},
                  {"inactiveConns", rs ? rs->inactive_conns : 0},
                  {"state", state}};
    };
    for (const auto& [key, ep] : wanted) {
      const model::RealServer* rs = nullptr;
      if (have)
        if (auto it = have->real_servers.find(key); it != have->real_servers.end()) rs = &it->second;
      out.push_back(row(key, rs, ep));
    }
    if (have)
      for (const auto& [key, rs] : have->real_servers)
        if (!wanted.count(key)) out.push_back(row(key, &rs, nullptr));
  }
  return out;
}

nlohmann::json ct_view(const Snapshot& s, const std::vector<kernel::ConnEntry>& entries) {
  std::map<model::VsKey, std::string> names;
  for (const auto& svc : s.desired.services) names[svc.key] = svc.name;
  json out = json::array();
  for (const auto& e : entries) {
    auto it = names.find(model::VsKey{e.vip, e.vip_port, e.protocol});
    if (it == names.end()) continue;
    out.push_back({{"service", it->second},
                   {"protocol", std::string(to_string(e.protocol))},
                   {"client", e.client.with_port(e.client_port)},
                   {"vip", e.vip.with_port(e.vip_port)},
                   {"endpoint", e.endpoint.with_port(e.endpoint_port)},
                   {"snatSource", e.snat_source.with_port(e.snat_port)},
                   {"state", e.state},
                   {"bytes", e.bytes},
                   {"packets", e.packets},
                   {"timeout", e.timeout}});
  }
  return out;
}

nlohmann::json status_view(const Snapshot& s, const std::vector<kernel::SysctlReport>& sysctls) {
  json sys = json::array();
  for (const auto& r : sysctls)
    sys.push_back({{"key", r.key}, {"wanted", r.wanted}, {"before", r.before}, {"ok", r.ok}, {"error", r.error}});
  return {{"node", s.desired.node.name},
          {"interface", s.desired.node.interface},
          {"synced", s.synced},
          {"services", s.desired.services.size()},
          {"problems", s.problems},
          {"lastErrors", s.last_errors},
          {"lastOps", s.last_ops},
          {"sysctls", sys},
          {"counters",
           {{"reconciles", s.counters.reconciles},
            {"fullReads", s.counters.full_reads},
            {"opsApplied", s.counters.ops_applied},
            {"opErrors", s.counters.op_errors},
            {"readErrors", s.counters.read_errors},
            {"announceFailures", s.counters.announce_failures},
            {"netlinkWrites", s.counters.netlink_writes}}}};
}

std::string metrics_text(const Snapshot& s) {
  std::ostringstream m;
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    m << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n" << name << " " << value << "\n";
  };
  counter("kvlb_reconciles_total", "Reconcile rounds run.", s.counters.reconciles);
  counter("kvlb_kernel_full_reads_total", "Full reads (dumps) of the kernel state.", s.counters.full_reads);
  counter("kvlb_kernel_ops_applied_total", "Kernel changes applied.", s.counters.ops_applied);
  counter("kvlb_kernel_op_errors_total", "Kernel changes that failed.", s.counters.op_errors);
  counter("kvlb_kernel_read_errors_total", "Kernel reads that failed.", s.counters.read_errors);
  counter("kvlb_netlink_writes_total", "State-changing netlink messages (IPVS, rtnetlink) and nftables batches sent.",
          s.counters.netlink_writes);
  counter("kvlb_vip_announce_failures_total", "Gratuitous ARP / unsolicited NA sends that failed.",
          s.counters.announce_failures);
  m << "# HELP kvlb_synced Whether the last reconcile applied everything.\n# TYPE kvlb_synced gauge\nkvlb_synced "
    << (s.synced ? 1 : 0) << "\n";
  m << "# HELP kvlb_services Configured services.\n# TYPE kvlb_services gauge\nkvlb_services "
    << s.desired.services.size() << "\n";
  m << "# HELP kvlb_service_problems Services that could not be translated.\n# TYPE kvlb_service_problems gauge\n"
       "kvlb_service_problems "
    << s.problems.size() << "\n";
  return m.str();
}

}  // namespace kvlb::daemon
