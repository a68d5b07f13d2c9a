#include "reconcile/plan.h"

namespace kvlb::reconcile {
namespace {
std::string settings_of(const model::VirtualService& vs) {
  return "sched=" + vs.scheduler + " persist=" + std::to_string(vs.persistence_seconds);
}
std::string rs_of(const IpvsOp& op) { return op.service.key.str() + " -> " + op.real_server.key.str(); }
}  // namespace

std::string IpvsOp::str() const {
  switch (kind) {
    case Kind::AddService: return "ADD vs " + service.key.str() + " " + settings_of(service);
    case Kind::UpdateService: return "UPDATE vs " + service.key.str() + " " + settings_of(service);
    case Kind::DeleteService: return "DEL vs " + service.key.str();
    case Kind::AddRealServer: return "ADD rs " + rs_of(*this) + " weight=" + std::to_string(real_server.weight);
    case Kind::UpdateRealServer: return "UPDATE rs " + rs_of(*this) + " weight=" + std::to_string(real_server.weight);
    case Kind::DrainRealServer: return "DRAIN rs " + rs_of(*this);
    case Kind::DeleteRealServer: return "DEL rs " + rs_of(*this);
  }
  return "?";
}

std::string SnatOp::str() const { return std::string(add ? "ADD" : "DEL") + " snat " + rule.str(); }

std::string VipOp::str() const { return std::string(add ? "ADD" : "DEL") + " vip " + vip.str(); }

std::string DropOp::str() const { return std::string(add ? "DROP" : "UNDROP") + " vip " + vip.str(); }

bool Plan::empty() const { return size() == 0; }

std::size_t Plan::size() const {
  return vip_removals.size() + ipvs.size() + (recreate_nat_table ? 1 : 0) + snat.size() + drops.size() + vip_additions.size();
}

void Plan::for_each_line(const std::function<void(const std::string&)>& line) const {
  for (const auto& op : vip_removals) line(op.str());
  for (const auto& op : ipvs) line(op.str());
  if (recreate_nat_table) line("RECREATE nat table");
  for (const auto& op : snat) line(op.str());
  for (const auto& op : drops) line(op.str());
  for (const auto& op : vip_additions) line(op.str());
}

std::vector<std::string> Plan::log() const {
  std::vector<std::string> lines;
  lines.reserve(size());
  for_each_line([&](const std::string& l) { lines.push_back(l); });
  return lines;
}

}  // namespace kvlb::reconcile
