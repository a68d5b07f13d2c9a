#pragma once
// What the reconciler wants to change, as value types. Each op prints as a
// short string ("ADD vs 10.0.0.1:80/tcp ...") so tests can assert sequences.
#include <functional>
#include <string>
#include <vector>

#include "model/types.h"

namespace kvlb::reconcile {

struct IpvsOp {
  enum class Kind { AddService, UpdateService, DeleteService, AddRealServer, UpdateRealServer, DrainRealServer, DeleteRealServer };
  Kind kind;
  model::VirtualService service;  // key + settings (real_servers unused)
  model::RealServer real_server;  // for the *RealServer kinds
  std::string str() const;
};

struct SnatOp {
  bool add = true;
  model::SnatRule rule;
  std::string str() const;
};

struct VipOp {
  bool add = true;
  model::IpAddress vip;
  std::string str() const;
};

// A VIP entering or leaving the takeover drop set (applied with the SNAT batch).
struct DropOp {
  bool add = true;
  model::IpAddress vip;
  std::string str() const;  // DROP vip 20.20.20.1 / UNDROP vip 20.20.20.1
};

// Grouped in the order they are applied: VIPs go first when removed (traffic
// stops arriving) and last when added (traffic arrives once all is in place).
struct Plan {
  std::vector<VipOp> vip_removals;
  std::vector<IpvsOp> ipvs;
  bool recreate_nat_table = false;
  std::vector<SnatOp> snat;
  std::vector<DropOp> drops;
  std::vector<VipOp> vip_additions;

  bool empty() const;
  std::size_t size() const;
  std::vector<std::string> log() const;
  // Calls `line` for each op string in apply order, without keeping them all.
  void for_each_line(const std::function<void(const std::string&)>& line) const;
};

}  // namespace kvlb::reconcile
