#include "fakes/fake_conntrack.h"

namespace kvlb::fakes {

Result<std::vector<kernel::ConnEntry>> FakeConntrackReader::list() {
  ++list_calls_;
  if (failure) return *failure;
  return entries;
}

}  // namespace kvlb::fakes
