#pragma once
// Pure translation of the configured services into the kernel state kvlb wants.
#include <string>
#include <vector>

#include "model/types.h"

namespace kvlb::reconcile {

struct DesiredKernel {
  model::KernelState state;
  std::vector<std::string> problems;  // services that could not be translated, and why
};

// node_addresses: the node interface's own (non-kvlb) addresses, used as the
// onearm SNAT source when a service gives no snatAddress.
DesiredKernel desired_kernel_state(const model::DesiredState& desired,
                                   const std::vector<model::IpAddress>& node_addresses);

}  // namespace kvlb::reconcile
