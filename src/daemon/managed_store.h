#pragma once
// The IPVS services kvlb created, kept in a small JSON file so that they stay
// kvlb's across restarts even when nothing else marks them (a VIP the
// operator configured by hand carries no kvlb tag).
#include <set>
#include <string>

#include "model/types.h"
#include "util/result.h"

namespace kvlb::daemon {

class ManagedStore {
 public:
  explicit ManagedStore(std::string path) : path_(std::move(path)) {}
  // An absent file is an empty set; a damaged one is an error.
  Result<std::set<model::VsKey>> load() const;
  // Written to a temporary file and renamed over the old one.
  Status save(const std::set<model::VsKey>& keys) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kvlb::daemon
