#include "kernel/sysctl/proc_sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace kvlb::kernel {
namespace {

// Closes the descriptor on every return path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::optional<std::string> ProcSysctl::path_for(const std::string& key) const {
  if (key.empty() || key.find('/') != std::string::npos) return std::nullopt;
  std::string path = root_;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) return std::nullopt;  // "net..x", ".net", "net."
    path += '/';
    path += part;
    if (dot == std::string::npos) return path;
    start = dot + 1;
  }
}

Result<std::string> ProcSysctl::get(const std::string& key) {
  const std::string context = "read sysctl " + key;
  auto path = path_for(key);
  if (!path) return Error::invalid(context + ": not a sysctl name");
  FileDescriptor fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Error::from_errno(errno, context);
  std::string value;
  char buffer[512];
  for (;;) {
    ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, context);
    }
    if (got == 0) break;
    value.append(buffer, static_cast<std::size_t>(got));
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ' || value.back() == '\t'))
    value.pop_back();
  return value;
}

Status ProcSysctl::set(const std::string& key, const std::string& value) {
  const std::string context = "write sysctl " + key + " = " + value;
  auto path = path_for(key);
  if (!path) return Error::invalid(context + ": not a sysctl name");
  FileDescriptor fd(::open(path->c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (fd.get() < 0) return Error::from_errno(errno, context);
  // One write: /proc/sys parses each write on its own, so the value must not be split.
  ssize_t written = ::write(fd.get(), value.data(), value.size());
  if (written < 0) return Error::from_errno(errno, context);
  if (static_cast<std::size_t>(written) != value.size()) return Error::from_errno(EIO, context);
  return ok_status();
}

}  // namespace kvlb::kernel
