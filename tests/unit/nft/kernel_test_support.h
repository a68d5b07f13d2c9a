#pragma once
// Helpers for tests against the real kernel: a private network namespace,
// running the nft/ip CLIs inside it, a second namespace to send from, and
// capturing packets on an interface.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace kvlb::nft_test {

inline ino_t current_netns() {
  struct stat st {};
  return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// Moves this (single-threaded) test process into a fresh network namespace,
// so nothing here can touch the host's ruleset. Returns why it could not.
inline std::optional<std::string> enter_private_netns() {
  if (geteuid() != 0) return "needs root (CAP_NET_ADMIN)";
  const ino_t before = current_netns();
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
  if (current_netns() == before) return "network namespace did not change";
  return std::nullopt;
}

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command (children inherit our network namespace).
inline CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  result.status = pclose(pipe);
  return result;
}

inline bool have_command(const std::string& name) { return run("command -v " + name).status == 0; }

// A second network namespace, held open by a child process that waits to be
// killed: the other end of a veth, where traffic comes from.
class PeerNamespace {
 public:
  PeerNamespace() {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return;
    const pid_t child = fork();
    if (child == 0) {
      char result = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      (void)!write(ready[1], &result, 1);
      for (;;) pause();
    }
    close(ready[1]);
    char result = 'n';
    if (child > 0 && read(ready[0], &result, 1) == 1 && result == 'y')
      ns_fd_ = open(("/proc/" + std::to_string(child) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    close(ready[0]);
    if (child > 0 && ns_fd_ >= 0) pid_ = child;
    else if (child > 0) stop(child);
  }
  ~PeerNamespace() {
    if (ns_fd_ >= 0) close(ns_fd_);
    if (pid_ > 0) stop(pid_);
  }
  PeerNamespace(const PeerNamespace&) = delete;
  PeerNamespace& operator=(const PeerNamespace&) = delete;

  bool ok() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // A shell command that runs inside the namespace.
  std::string in(const std::string& command) const {
    return "nsenter -t " + std::to_string(pid_) + " -n sh -c '" + command + "'";
  }
  // A socket that lives in the peer namespace (a socket stays in the
  // namespace it was created in); the caller's namespace is unchanged.
  int socket_in(int family, int type) const {
    const int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return -1;
    int fd = -1;
    if (setns(ns_fd_, CLONE_NEWNET) == 0) {
      fd = socket(family, type | SOCK_CLOEXEC, 0);
      if (setns(own, CLONE_NEWNET) != 0) std::abort();  // the test would run in the wrong namespace
    }
    close(own);
    return fd;
  }

 private:
  static void stop(pid_t child) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  pid_t pid_ = -1;
  int ns_fd_ = -1;
};

// nft prints map elements in hash order; sort each `elements = { ... }` list
// so listings compare regardless of order.
inline std::string with_sorted_elements(const std::string& text) {
  static const std::string open = "elements = { ", separator = ",\n\t\t\t     ", close = " }";
  std::string out;
  std::size_t pos = 0, start;
  while ((start = text.find(open, pos)) != std::string::npos) {
    const std::size_t end = text.find(close, start);
    out += text.substr(pos, start - pos);
    std::string body = text.substr(start + open.size(), end - start - open.size());
    std::vector<std::string> elements;
    for (std::size_t from = 0;;) {
      std::size_t at = body.find(separator, from);
      elements.push_back(body.substr(from, at - from));
      if (at == std::string::npos) break;
      from = at + separator.size();
    }
    std::sort(elements.begin(), elements.end());
    out += open;
    for (std::size_t i = 0; i < elements.size(); ++i) out += (i ? separator : "") + elements[i];
    out += close;
    pos = end + close.size();
  }
  return out + text.substr(pos);
}

// What a captured IP packet says about its addresses and L4 ports.
struct CapturedPacket {
  std::string source, destination;
  int protocol = 0;
  uint16_t destination_port = 0;
};

// Raw capture of every frame arriving on one interface.
class PacketCapture {
 public:
  explicit PacketCapture(const std::string& interface) {
    fd_ = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
    timeval timeout{0, 200 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  ~PacketCapture() { close(fd_); }
  bool ok() const { return fd_ >= 0; }

  // The first packet of `protocol` to `destination_port`, within ~2 s.
  std::optional<CapturedPacket> next(int protocol, uint16_t destination_port) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      std::array<uint8_t, 2048> frame{};
      ssize_t n;
      while ((n = recv(fd_, frame.data(), frame.size(), 0)) > 0) {
        auto packet = decode(frame.data(), static_cast<std::size_t>(n));
        if (packet && packet->protocol == protocol && packet->destination_port == destination_port) return packet;
      }
    }
    return std::nullopt;
  }

 private:
  static std::optional<CapturedPacket> decode(const uint8_t* frame, std::size_t len) {
    if (len < 14) return std::nullopt;
    const uint16_t ethertype = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
    const uint8_t* ip = frame + 14;
    len -= 14;
    char text[INET6_ADDRSTRLEN];
    CapturedPacket packet;
    const uint8_t* l4;
    if (ethertype == ETH_P_IP && len >= 20) {
      packet.protocol = ip[9];
      packet.source = inet_ntop(AF_INET, ip + 12, text, sizeof text);
      packet.destination = inet_ntop(AF_INET, ip + 16, text, sizeof text);
      l4 = ip + (ip[0] & 0xf) * 4;
    } else if (ethertype == ETH_P_IPV6 && len >= 40) {
      packet.protocol = ip[6];  // no extension headers in these tests
      packet.source = inet_ntop(AF_INET6, ip + 8, text, sizeof text);
      packet.destination = inet_ntop(AF_INET6, ip + 24, text, sizeof text);
      l4 = ip + 40;
    } else {
      return std::nullopt;
    }
    if (l4 + 4 > frame + 14 + len) return std::nullopt;
    packet.destination_port = static_cast<uint16_t>(l4[2] << 8 | l4[3]);
    return packet;
  }

  int fd_ = -1;
};

}  // namespace kvlb::nft_test
