#pragma once
// Shared by the BIRD control tests: temporary directories, and a real BIRD
// started by the test in a network namespace of its own (so its BGP port and
// routes touch nothing outside), with its control socket in the directory.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "unit/support/eventually.h"
#include "unit/support/temp_dir.h"

namespace kvlb::bird_test {

inline constexpr const char* kBirdBinary = "/usr/sbin/bird";

using test_support::eventually;
using test_support::read_file;

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A fresh directory, kvlb-bird-XXXXXX under the temporary directory.
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("kvlb-bird") {}
};

// True once something on the UNIX socket at `path` sends BIRD's greeting.
// BIRD listens before it has set up its signal handlers; it greets from its
// main loop, once it has.
inline bool bird_greets(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const timeval wait{0, 200 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  char greeting[5] = {};
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                  ::recv(fd, greeting, sizeof greeting, MSG_WAITALL) == sizeof greeting &&
                  std::string(greeting, sizeof greeting) == "0001 ";
  ::close(fd);
  return ok;
}

// `bird -f -c <name>.conf -s <name>.ctl -P <name>.pid` in a new network
// namespace with its loopback up, or in the namespace of `neighbour` (two
// BIRDs peering over 127.0.0.1 and 127.0.0.2). Output goes to <name>.log.
class BirdDaemon {
 public:
  BirdDaemon(const TempDir& dir, const std::string& name, const std::string& config_text,
             const BirdDaemon* neighbour = nullptr)
      : config_path(dir / (name + ".conf")),
        socket_path(dir / (name + ".ctl")),
        pid_path(dir / (name + ".pid")),
        log_path(dir / (name + ".log")) {
    write_file(config_path, config_text);
    if (::access(kBirdBinary, X_OK) != 0) {
      skip_reason_ = std::string(kBirdBinary) + " is not installed";
      return;
    }
    start(neighbour ? neighbour->pid() : -1);
  }
  ~BirdDaemon() { stop(SIGTERM); }
  BirdDaemon(const BirdDaemon&) = delete;
  BirdDaemon& operator=(const BirdDaemon&) = delete;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Why the test cannot run here (no BIRD, no namespaces); empty otherwise.
  const std::string& skip_reason() const { return skip_reason_; }
  // Why BIRD did not come up, with its output.
  const std::string& failure() const { return failure_; }
  std::string output() const { return read_file(log_path); }

  // The signal, then wait for the exit. SIGTERM: BIRD removes its socket;
  // SIGKILL leaves the socket file behind with nobody listening.
  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

  const std::string config_path, socket_path, pid_path, log_path;

 private:
  // What the child reports through the status pipe before exec.
  enum Step : int { kNamespace = 1, kLoopback = 2, kExec = 3 };

  void start(pid_t join) {
    std::vector<std::string> args = {kBirdBinary, "-f", "-c", config_path, "-s", socket_path, "-P", pid_path};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string netns = join > 0 ? "/proc/" + std::to_string(join) + "/ns/net" : "";
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int status_pipe[2];
    if (log < 0 || ::pipe2(status_pipe, O_CLOEXEC) != 0) {
      failure_ = "cannot prepare the log or pipe";
      return;
    }
    const pid_t child = ::fork();
    if (child == 0) {
      const auto report = [&](int step) {
        const int message[2] = {step, errno};
        (void)!::write(status_pipe[1], message, sizeof message);
        ::_exit(99);
      };
      if (netns.empty()) {
        if (::unshare(CLONE_NEWNET) != 0) report(kNamespace);
      } else {
        const int ns = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) report(kNamespace);
      }
      const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq lo{};
      std::strcpy(lo.ifr_name, "lo");
      if (sock < 0 || ::ioctl(sock, SIOCGIFFLAGS, &lo) != 0) report(kLoopback);
      lo.ifr_flags = static_cast<short>(lo.ifr_flags | IFF_UP);
      if (::ioctl(sock, SIOCSIFFLAGS, &lo) != 0) report(kLoopback);
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      report(kExec);
    }
    ::close(status_pipe[1]);
    ::close(log);
    int report[2] = {0, 0};
    const ssize_t got = child > 0 ? ::read(status_pipe[0], report, sizeof report) : -1;
    ::close(status_pipe[0]);
    if (child < 0) {
      failure_ = "fork failed";
      return;
    }
    if (got == static_cast<ssize_t>(sizeof report)) {
      ::waitpid(child, nullptr, 0);
      const std::string why = std::strerror(report[1]);
      if (report[0] == kNamespace && (report[1] == EPERM || report[1] == ENOSYS))
        skip_reason_ = "needs a private network namespace (" + why + ")";
      else
        failure_ = "child failed at step " + std::to_string(report[0]) + ": " + why;
      return;
    }
    pid_ = child;
    bool exited = false;
    eventually([&] {
      if (bird_greets(socket_path)) return true;
      exited = ::waitpid(child, nullptr, WNOHANG) == child;
      return exited;
    });
    if (exited || !bird_greets(socket_path)) {
      failure_ = "BIRD did not come up: " + output();
      if (exited) pid_ = -1;
      stop(SIGKILL);
    }
  }

  pid_t pid_ = -1;
  std::string skip_reason_;
  std::string failure_;
};

}  // namespace kvlb::bird_test
