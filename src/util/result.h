#pragma once
// Typed errors: an error_code (errno values from the kernel use netlink_category)
// plus a human context string, and an expected-like Result<T>.
#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace kvlb {

const std::error_category& netlink_category();

struct Error {
  std::error_code code;
  std::string context;  // what was being done, e.g. "add vs 10.0.0.1:80/tcp"

  // "add vs 10.0.0.1:80/tcp: File exists"
  std::string describe() const;
  static Error from_errno(int err, std::string context);  // err > 0
  static Error invalid(std::string context);               // bad input
};

// E is the error type: kvlb::Error for kernel and I/O work; layers with
// errors of their own shape (e.g. parse errors naming an object) pass theirs.
template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(E error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

  const E& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

using Status = Result<std::monostate>;
inline Status ok_status() { return Status(std::monostate{}); }

}  // namespace kvlb
