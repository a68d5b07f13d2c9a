#include "netns_support.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kvlb::testing {

int run(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buffer;
  std::size_t got;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), got);
  ::pclose(pipe);
  return out;
}

kernel::MacAddress mac_of(const std::string& ifname) {
  kernel::MacAddress mac{};
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (fd >= 0 && ::ioctl(fd, SIOCGIFHWADDR, &request) == 0)
    std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  if (fd >= 0) ::close(fd);
  return mac;
}

void NetnsTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
  if (::unshare(CLONE_NEWNET) != 0)
    GTEST_SKIP() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
  must_run("ip link set lo up");
}

void NetnsTest::must_run(const std::string& command) {
  ASSERT_EQ(run(command), 0) << command;
}

PeerNamespace::PeerNamespace() {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return;
  pid_t child = ::fork();
  if (child == 0) {
    // Child: own namespace, report, then wait to be killed.
    char result = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
    (void)!::write(ready[1], &result, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char result = 'n';
  if (child > 0 && ::read(ready[0], &result, 1) == 1 && result == 'y') {
    pid_ = child;
  } else if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  ::close(ready[0]);
}

PeerNamespace::~PeerNamespace() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string PeerNamespace::in(const std::string& command) const {
  return "nsenter -t " + std::to_string(pid_) + " -n sh -c '" + command + "'";
}

}  // namespace kvlb::testing
