#pragma once
// In-memory sysctl tree; unknown keys behave like a missing /proc/sys file.
#include <map>
#include <string>

#include "kernel/sysctl/sysctl.h"

namespace kvlb::fakes {

class FakeSysctl final : public kernel::Sysctl {
 public:
  std::map<std::string, std::string> values;
  Result<std::string> get(const std::string& key) override;
  Status set(const std::string& key, const std::string& value) override;
};

}  // namespace kvlb::fakes
