#pragma once
// Support for tests against the real kernel: each test runs in a network
// namespace of its own, so nothing touches the host's interfaces.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>

#include "kernel/addr/mac_address.h"

namespace kvlb::testing {

// Runs a shell command (in the current namespace); returns its exit status.
int run(const std::string& command);
// Runs a shell command and returns its standard output.
std::string output_of(const std::string& command);
// The MAC address of an interface in the current namespace.
kernel::MacAddress mac_of(const std::string& ifname);

// Moves the test process into a fresh network namespace with lo up; the
// test is skipped when that is not possible (not root, no CAP_SYS_ADMIN).
class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Fails the test when the command does not succeed.
  void must_run(const std::string& command);
};

// A second namespace held open by a child process, e.g. for a veth peer
// that must not share the test's own addresses.
class PeerNamespace {
 public:
  PeerNamespace();
  ~PeerNamespace();
  PeerNamespace(const PeerNamespace&) = delete;
  PeerNamespace& operator=(const PeerNamespace&) = delete;
  bool ok() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // A command run inside the namespace (through nsenter).
  std::string in(const std::string& command) const;

 private:
  pid_t pid_ = -1;
};

}  // namespace kvlb::testing
