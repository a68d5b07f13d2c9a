#pragma once
// ConntrackReader that returns the entries a test put in (or a set error).
#include <optional>
#include <vector>

#include "kernel/conntrack/conntrack_reader.h"

namespace kvlb::fakes {

class FakeConntrackReader final : public kernel::ConntrackReader {
 public:
  std::vector<kernel::ConnEntry> entries;
  std::optional<Error> failure;  // when set, list() returns it instead

  Result<std::vector<kernel::ConnEntry>> list() override;
  int list_calls() const { return list_calls_; }

 private:
  int list_calls_ = 0;
};

}  // namespace kvlb::fakes
