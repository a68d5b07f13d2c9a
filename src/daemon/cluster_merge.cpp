#include "daemon/cluster_merge.h"

#include <set>

namespace kvlb::daemon {

model::DesiredState with_cluster_services(const model::DesiredState& config,
                                          const std::vector<model::Service>& cluster,
                                          std::vector<std::string>& conflicts) {
  model::DesiredState out = config;
  std::set<model::VsKey> taken;
  for (const auto& s : config.services) taken.insert(s.key);
  out.services.reserve(out.services.size() + cluster.size());
  for (const auto& s : cluster) {
    if (!taken.insert(s.key).second) {
      conflicts.push_back(s.name + ": " + s.key.str() + " is a service of the config file; not programmed");
      continue;
    }
    out.services.push_back(s);
  }
  return out;
}

}  // namespace kvlb::daemon
