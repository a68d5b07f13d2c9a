#include "fakes/fake_sysctl.h"

#include <cerrno>

namespace kvlb::fakes {

Result<std::string> FakeSysctl::get(const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) return Error::from_errno(ENOENT, "read sysctl " + key);
  return it->second;
}

Status FakeSysctl::set(const std::string& key, const std::string& value) {
  auto it = values.find(key);
  if (it == values.end()) return Error::from_errno(ENOENT, "write sysctl " + key);
  it->second = value;
  return ok_status();
}

}  // namespace kvlb::fakes
