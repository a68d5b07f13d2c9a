#include "kernel/addr/rtnl_socket.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

namespace kvlb::kernel {
namespace {

// Dumps fill up to 32 KiB per read; a larger buffer never truncates them.
constexpr std::size_t kReceiveBufferSize = 64 * 1024;

// Room for about 2,500 address notifications between two drains (the kernel
// doubles the size asked for); more, a burst of changes by another tool,
// only costs the listener's user a fresh read.
constexpr int kListenerQueueBytes = 1024 * 1024;

}  // namespace

Result<std::unique_ptr<RtnlSocket>> RtnlSocket::open() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!socket) return Error::from_errno(errno, "open rtnetlink socket");
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(socket);
    return Error::from_errno(err, "bind rtnetlink socket");
  }
  // Error acks then carry only our header, not a copy of the whole request.
  int on = 1;
  mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, sizeof on);
  std::unique_ptr<RtnlSocket> out(new RtnlSocket(socket, mnl_socket_get_portid(socket)));
  out->receive_buffer_.resize(kReceiveBufferSize);
  return out;
}

RtnlSocket::~RtnlSocket() { mnl_socket_close(socket_); }

Status RtnlSocket::send(const std::vector<uint8_t>& request, const std::string& context) {
  ssize_t sent = mnl_socket_sendto(socket_, request.data(), request.size());
  if (sent < 0) return Error::from_errno(errno, context);
  if (static_cast<std::size_t>(sent) != request.size()) return Error::from_errno(EIO, context);
  return ok_status();
}

Status RtnlSocket::transact(const std::vector<uint8_t>& request, uint32_t seq,
                            const std::string& context, const MessageHandler& on_reply) {
  if (auto st = send(request, context); !st) return st;
  return receive(seq, false, context, on_reply);
}

Status RtnlSocket::dump(const std::vector<uint8_t>& request, uint32_t seq, const std::string& context,
                        const MessageHandler& on_message) {
  if (auto st = send(request, context); !st) return st;
  return receive(seq, true, context, on_message);
}

Status RtnlSocket::receive(uint32_t seq, bool is_dump, const std::string& context,
                           const MessageHandler& on_message) {
  bool interrupted = false;
  for (;;) {
    ssize_t got = mnl_socket_recvfrom(socket_, receive_buffer_.data(), receive_buffer_.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, context);
    }
    int remaining = static_cast<int>(got);
    for (const auto* msg = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
         mnl_nlmsg_ok(msg, remaining); msg = mnl_nlmsg_next(msg, &remaining)) {
      if (msg->nlmsg_seq != seq || msg->nlmsg_pid != portid_) continue;  // stale
      if (msg->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (msg->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(msg) < sizeof(nlmsgerr)) return Error::from_errno(EBADMSG, context);
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(msg));
        if (err->error != 0) return Error::from_errno(-err->error, context);
        return ok_status();  // the ack
      }
      if (msg->nlmsg_type == NLMSG_DONE) {
        // A failed dump ends with DONE carrying a negative errno.
        if (mnl_nlmsg_get_payload_len(msg) >= sizeof(int)) {
          int err = *static_cast<const int*>(mnl_nlmsg_get_payload(msg));
          if (err < 0) return Error::from_errno(-err, context);
        }
        if (interrupted) return Error::from_errno(EINTR, context + " (dump interrupted)");
        if (is_dump) return ok_status();
        continue;
      }
      if (msg->nlmsg_type == NLMSG_NOOP || msg->nlmsg_type == NLMSG_OVERRUN) continue;
      if (on_message) on_message(*msg);
    }
  }
}

Result<std::unique_ptr<RtnlListener>> RtnlListener::open(uint32_t groups) {
  mnl_socket* socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (!socket) return Error::from_errno(errno, "open rtnetlink listener");
  if (mnl_socket_bind(socket, groups, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(socket);
    return Error::from_errno(err, "bind rtnetlink listener");
  }
  // Beyond net.core.rmem_max with CAP_NET_ADMIN; without it, as large as allowed.
  int size = kListenerQueueBytes;
  if (setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  std::unique_ptr<RtnlListener> out(new RtnlListener(socket));
  out->receive_buffer_.resize(kReceiveBufferSize);
  return out;
}

RtnlListener::~RtnlListener() { mnl_socket_close(socket_); }

Status RtnlListener::drain(const RtnlSocket::MessageHandler& on_message) {
  bool lost = false;
  for (;;) {
    ssize_t got = mnl_socket_recvfrom(socket_, receive_buffer_.data(), receive_buffer_.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // reported once; the notifications still queued follow
        lost = true;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Error::from_errno(errno, "read rtnetlink notifications");
    }
    int remaining = static_cast<int>(got);
    for (const auto* msg = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
         mnl_nlmsg_ok(msg, remaining); msg = mnl_nlmsg_next(msg, &remaining)) {
      if (msg->nlmsg_type < NLMSG_MIN_TYPE) continue;  // no errors or acks come here
      on_message(*msg);
    }
  }
  if (lost) return Error::from_errno(ENOBUFS, "read rtnetlink notifications (some were dropped)");
  return ok_status();
}

}  // namespace kvlb::kernel
