#pragma once
// Shared by the conntrackd tests: the golden settings, temporary directories,
// shell commands, and (as root) private network namespaces.
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "ha/conntrackd/conntrackd_config.h"
#include "unit/support/eventually.h"
#include "unit/support/temp_dir.h"

namespace kvlb::conntrackd_test {

// tests/golden/conntrackd/basic.conf
inline ha::ConntrackdSettings basic_settings() {
  ha::ConntrackdSettings s;
  s.sync_interface = "eth1";
  s.local_sync_address = "10.255.0.1";
  s.peer_sync_address = "10.255.0.2";
  s.own_addresses = {"192.0.2.11"};
  return s;
}

// tests/golden/conntrackd/custom_port.conf: every field away from its default.
inline ha::ConntrackdSettings custom_port_settings() {
  ha::ConntrackdSettings s;
  s.sync_interface = "sync0";
  s.local_sync_address = "172.16.0.1";
  s.peer_sync_address = "172.16.0.2";
  s.port = 3790;
  s.own_addresses = {"fd00::11", "192.0.2.12", "10.0.0.5", "192.0.2.12"};
  s.unix_socket = "/run/kvlb/ct.ctl";
  s.lock_file = "/run/kvlb/ct.lock";
  s.log_file = "/var/log/kvlb/conntrackd.log";
  s.syslog = false;
  s.resend_queue_size = 262144;
  s.ack_window_size = 500;
  s.purge_timeout_seconds = 30;
  s.hash_size = 131072;
  s.hash_limit = 1048576;
  s.netlink_buffer_size = 16 << 20;
  s.netlink_buffer_size_max_growth = 128 << 20;
  s.socket_buffer_size = 8 << 20;
  return s;
}

inline std::string source_path(const std::string& relative) { return std::string(KVLB_TEST_DATA_DIR) + "/" + relative; }

using test_support::eventually;
using test_support::read_file;

inline void write_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
}

// A fresh directory, kvlb-ctd-XXXXXX under the temporary directory.
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("kvlb-ctd") {}
};

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

inline CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// A second network namespace, held by a child that waits to be killed.
// Commands run in it through `nsenter --net=<net_path()>`.
class PeerNamespace {
 public:
  PeerNamespace() {
    int ready[2];
    if (::pipe(ready) != 0) return;
    const pid_t child = ::fork();
    if (child == 0) {
      const char result = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      (void)!::write(ready[1], &result, 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char result = 'n';
    if (child > 0 && ::read(ready[0], &result, 1) == 1 && result == 'y') pid_ = child;
    else if (child > 0) stop(child);
    ::close(ready[0]);
  }
  ~PeerNamespace() { if (pid_ > 0) stop(pid_); }
  PeerNamespace(const PeerNamespace&) = delete;
  PeerNamespace& operator=(const PeerNamespace&) = delete;

  bool ok() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string net_path() const { return "/proc/" + std::to_string(pid_) + "/ns/net"; }
  std::string enter() const { return "nsenter --net=" + net_path() + " "; }

 private:
  static void stop(pid_t child) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  pid_t pid_ = -1;
};

}  // namespace kvlb::conntrackd_test
