#pragma once
// JSON and Prometheus views of the controller's snapshot, served by the REST
// API and read by kvlbctl. Pure functions of their inputs.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/controller.h"
#include "kernel/conntrack/conntrack_reader.h"
#include "kernel/sysctl/sysctl.h"

namespace kvlb::daemon {

nlohmann::json lb_view(const Snapshot& s);
nlohmann::json ep_view(const Snapshot& s);
nlohmann::json ct_view(const Snapshot& s, const std::vector<kernel::ConnEntry>& entries);
nlohmann::json status_view(const Snapshot& s, const std::vector<kernel::SysctlReport>& sysctls);
std::string metrics_text(const Snapshot& s);

}  // namespace kvlb::daemon
