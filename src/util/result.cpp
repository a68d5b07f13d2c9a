#include "util/result.h"

#include <cstring>

namespace kvlb {
namespace {
class NetlinkCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "netlink"; }
  std::string message(int ev) const override { return std::strerror(ev); }
  std::error_condition default_error_condition(int ev) const noexcept override {
    return std::generic_category().default_error_condition(ev);
  }
};
}  // namespace

const std::error_category& netlink_category() {
  static const NetlinkCategory category;
  return category;
}

std::string Error::describe() const {
  if (!code) return context;
  return context.empty() ? code.message() : context + ": " + code.message();
}

Error Error::from_errno(int err, std::string context) {
  return Error{std::error_code(err < 0 ? -err : err, netlink_category()), std::move(context)};
}

Error Error::invalid(std::string context) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(context)};
}

}  // namespace kvlb
