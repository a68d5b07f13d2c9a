#pragma once
// The desired state kvlbd programs: the config file's services plus those of
// the Kubernetes Services kvlb serves. A cluster service whose
// vip:port/protocol is already a config service is left out (the file wins:
// the operator wrote it by hand) and named in `conflicts`.
#include <string>
#include <vector>

#include "model/types.h"

namespace kvlb::daemon {

model::DesiredState with_cluster_services(const model::DesiredState& config,
                                          const std::vector<model::Service>& cluster,
                                          std::vector<std::string>& conflicts);

}  // namespace kvlb::daemon
