#include "kernel/ipvs/ipvs_genl.h"

#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <string>

namespace kvlb::kernel::ipvs {
namespace {

// Larger than any datagram the kernel sends us (dump skbs are capped at 32 KiB).
constexpr std::size_t kReceiveBufferSize = 64 * 1024;

int last_errno_or(int fallback) { return errno != 0 ? errno : fallback; }

}  // namespace

void GenlSocket::SocketFree::operator()(nl_sock* sock) const { nl_socket_free(sock); }

Result<GenlSocket> GenlSocket::open(int reply_timeout_ms) {
  GenlSocket socket;
  errno = 0;
  socket.sock_.reset(nl_socket_alloc());
  if (!socket.sock_) return Error::from_errno(ENOMEM, "open generic netlink socket");
  if (int err = genl_connect(socket.sock_.get()); err < 0)
    return Error::from_errno(last_errno_or(EIO), std::string("open generic netlink socket (") + nl_geterror(err) + ")");

  int family = genl_ctrl_resolve(socket.sock_.get(), IPVS_GENL_NAME);
  if (family == -NLE_OBJ_NOTFOUND)
    return Error::from_errno(ENOENT, "find generic netlink family IPVS (is the ip_vs kernel module loaded?)");
  if (family < 0)
    return Error::from_errno(last_errno_or(EIO), std::string("find generic netlink family IPVS (") + nl_geterror(family) + ")");
  socket.family_ = static_cast<uint16_t>(family);

  socket.fd_ = nl_socket_get_fd(socket.sock_.get());
  int one = 1;
  // Error acks are smaller, so more of them fit the receive buffer.
  (void)setsockopt(socket.fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  timeval timeout{};
  timeout.tv_sec = reply_timeout_ms / 1000;
  timeout.tv_usec = (reply_timeout_ms % 1000) * 1000;
  if (setsockopt(socket.fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
    return Error::from_errno(errno, "set IPVS socket timeout");
  socket.datagram_.resize(kReceiveBufferSize);
  return socket;
}

int GenlSocket::send(std::span<const uint8_t> bytes) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

Result<std::span<const uint8_t>> GenlSocket::receive(bool wait) {
  for (;;) {
    sockaddr_nl from{};
    iovec iov{datagram_.data(), datagram_.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(fd_, &msg, wait ? 0 : MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno((wait && (errno == EAGAIN || errno == EWOULDBLOCK)) ? ETIMEDOUT : errno, "");
    }
    if (msg.msg_flags & MSG_TRUNC) return Error::from_errno(EMSGSIZE, "");
    if (from.nl_pid != 0) continue;  // only the kernel talks to this socket
    return std::span<const uint8_t>(datagram_.data(), static_cast<std::size_t>(n));
  }
}

void GenlSocket::drain() {
  for (;;) {
    auto got = receive(/*wait=*/false);
    if (!got && got.error().code.value() != ENOBUFS) return;
  }
}

}  // namespace kvlb::kernel::ipvs
