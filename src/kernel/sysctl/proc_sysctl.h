#pragma once
// Sysctl over /proc/sys: "net.ipv4.ip_forward" is /proc/sys/net/ipv4/ip_forward,
// in the network namespace of the calling process (for net.* keys).
#include <optional>
#include <string>

#include "kernel/sysctl/sysctl.h"

namespace kvlb::kernel {

class ProcSysctl final : public Sysctl {
 public:
  // root is "/proc/sys" except in tests.
  explicit ProcSysctl(std::string root = "/proc/sys") : root_(std::move(root)) {}

  // The value without trailing newline (inner tabs, as in port ranges, stay).
  Result<std::string> get(const std::string& key) override;
  Status set(const std::string& key, const std::string& value) override;

  // Dots become slashes. nullopt for keys that cannot name a sysctl (empty
  // parts, '/', "..") so a key can never reach outside root.
  std::optional<std::string> path_for(const std::string& key) const;

 private:
  std::string root_;
};

}  // namespace kvlb::kernel
