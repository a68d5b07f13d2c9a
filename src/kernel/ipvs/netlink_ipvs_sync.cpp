#include "kernel/ipvs/netlink_ipvs_sync.h"

#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernel/ipvs/ipvs_codec.h"
#include "kernel/ipvs/ipvs_sync_codec.h"

namespace kvlb::kernel {
namespace {

// Larger than any datagram the kernel sends us (dump skbs are capped at 32 KiB).
constexpr std::size_t kReceiveBufferSize = 64 * 1024;

struct SocketFree {
  void operator()(nl_sock* sock) const { nl_socket_free(sock); }
};
using SocketPtr = std::unique_ptr<nl_sock, SocketFree>;

int last_errno_or(int fallback) { return errno != 0 ? errno : fallback; }

// `error` (from receiving, its own context possibly empty) seen while doing `context`.
Error failure(const Error& error, const std::string& context) {
  return error.context.empty() ? Error{error.code, context} : Error{error.code, context + ": " + error.context};
}

}  // namespace

struct NetlinkIpvsSyncDaemons::Impl {
  SocketPtr sock;
  int fd = -1;
  uint16_t family = 0;
  uint32_t next_seq = 1;
  uint64_t unacked = 0;
  std::vector<uint8_t> datagram = std::vector<uint8_t>(kReceiveBufferSize);

  int send(std::span<const uint8_t> bytes) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      if (sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

  // The replies in one datagram from the kernel (ETIMEDOUT after the socket's
  // receive timeout, EAGAIN when not waiting and nothing is queued).
  Result<std::vector<ipvs::Reply>> receive(bool wait) {
    for (;;) {
      sockaddr_nl from{};
      iovec iov{datagram.data(), datagram.size()};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ssize_t n = recvmsg(fd, &msg, wait ? 0 : MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno((wait && (errno == EAGAIN || errno == EWOULDBLOCK)) ? ETIMEDOUT : errno, "");
      }
      if (msg.msg_flags & MSG_TRUNC) return Error::from_errno(EMSGSIZE, "");
      if (from.nl_pid != 0) continue;  // only the kernel talks to this socket
      return ipvs::split_replies(std::span<const uint8_t>(datagram.data(), static_cast<std::size_t>(n)));
    }
  }

  // Drops what an earlier, interrupted exchange left queued (and lets an
  // abandoned dump end, else the next dump would get EBUSY).
  void drain() {
    for (;;) {
      auto got = receive(/*wait=*/false);
      if (!got && got.error().code.value() != ENOBUFS && got.error().code.value() != EBADMSG) return;
    }
  }

  // Sends one acked request. The kernel runs it inside sendto(), so its ack
  // is queued by the time send() returns. nullopt when there is none: a
  // handler that fails with EINTR gets no ack (netlink_rcv_skb skips it).
  std::optional<Status> request(const ipvs::Bytes& bytes, uint32_t seq, const std::string& context) {
    drain();
    if (int err = send(bytes); err != 0) return Status(Error::from_errno(err, context));
    for (;;) {
      auto replies = receive(/*wait=*/false);
      if (!replies) {
        int err = replies.error().code.value();
        if (err == EAGAIN || err == EWOULDBLOCK) return std::nullopt;
        return Status(failure(replies.error(), context));
      }
      for (const auto& reply : *replies) {
        if (reply.type != NLMSG_ERROR || reply.seq != seq) continue;
        if (reply.error != 0) return Status(Error::from_errno(reply.error, context));
        return ok_status();
      }
    }
  }

  // The outcome of an unacked request, from what the kernel now runs.
  Status confirm(SyncRole role, const std::optional<SyncDaemon>& started, const std::string& context) {
    ++unacked;
    auto running = list();
    if (!running) return failure(running.error(), context + " (no ack)");
    const SyncDaemon* found = nullptr;
    for (const auto& d : *running)
      if (d.role == role) found = &d;
    bool done = started ? (found && runs_as_wanted(*found, *started)) : !found;
    if (done) return ok_status();
    return Error::from_errno(EINTR, context + " (no ack)");
  }

  Result<std::vector<SyncDaemon>> list() {
    const std::string context = "list IPVS sync daemons";
    drain();
    uint32_t seq = next_seq++;
    if (int err = send(ipvs::encode_daemon_dump(family, seq)); err != 0) return Error::from_errno(err, context);
    std::vector<SyncDaemon> daemons;
    std::optional<Error> first_error;
    for (;;) {
      auto replies = receive(/*wait=*/true);
      if (!replies) return failure(replies.error(), context);
      for (const auto& reply : *replies) {
        if (reply.seq != seq) continue;
        if (reply.type == NLMSG_DONE || reply.type == NLMSG_ERROR) {
          if (reply.error != 0) return Error::from_errno(reply.error, context);
          if (reply.type == NLMSG_ERROR) continue;
          if (first_error) return failure(*first_error, context);
          return daemons;
        }
        if (reply.type != family || first_error) continue;
        // A bad message does not end the read: an unfinished dump would block the next one.
        auto daemon = ipvs::decode_daemon(reply.message);
        if (daemon) {
          daemons.push_back(std::move(*daemon));
        } else {
          first_error = daemon.error();
        }
      }
    }
  }
};

Result<std::unique_ptr<NetlinkIpvsSyncDaemons>> NetlinkIpvsSyncDaemons::open(int reply_timeout_ms) {
  auto impl = std::make_unique<Impl>();
  errno = 0;
  impl->sock.reset(nl_socket_alloc());
  if (!impl->sock) return Error::from_errno(ENOMEM, "open generic netlink socket");
  if (int err = genl_connect(impl->sock.get()); err < 0)
    return Error::from_errno(last_errno_or(EIO), std::string("open generic netlink socket (") + nl_geterror(err) + ")");

  int family = genl_ctrl_resolve(impl->sock.get(), IPVS_GENL_NAME);
  if (family == -NLE_OBJ_NOTFOUND)
    return Error::from_errno(ENOENT, "find generic netlink family IPVS (is the ip_vs kernel module loaded?)");
  if (family < 0)
    return Error::from_errno(last_errno_or(EIO), std::string("find generic netlink family IPVS (") + nl_geterror(family) + ")");
  impl->family = static_cast<uint16_t>(family);

  impl->fd = nl_socket_get_fd(impl->sock.get());
  int one = 1;
  // Error acks without a copy of the request.
  (void)setsockopt(impl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  timeval timeout{};
  timeout.tv_sec = reply_timeout_ms / 1000;
  timeout.tv_usec = (reply_timeout_ms % 1000) * 1000;
  if (setsockopt(impl->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
    return Error::from_errno(errno, "set IPVS socket timeout");
  return std::unique_ptr<NetlinkIpvsSyncDaemons>(new NetlinkIpvsSyncDaemons(std::move(impl)));
}

NetlinkIpvsSyncDaemons::NetlinkIpvsSyncDaemons(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetlinkIpvsSyncDaemons::~NetlinkIpvsSyncDaemons() = default;

Result<std::vector<SyncDaemon>> NetlinkIpvsSyncDaemons::list() { return impl_->list(); }
uint64_t NetlinkIpvsSyncDaemons::unacked_requests() const { return impl_->unacked; }

Status NetlinkIpvsSyncDaemons::start(const SyncDaemon& daemon) {
  std::string context = sync_start_context(daemon);
  uint32_t seq = impl_->next_seq++;
  auto acked = impl_->request(ipvs::encode_daemon_start(daemon, impl_->family, seq), seq, context);
  return acked ? *acked : impl_->confirm(daemon.role, daemon, context);
}

Status NetlinkIpvsSyncDaemons::stop(SyncRole role) {
  std::string context = sync_stop_context(role);
  uint32_t seq = impl_->next_seq++;
  auto acked = impl_->request(ipvs::encode_daemon_stop(role, impl_->family, seq), seq, context);
  // A daemon whose kernel thread has not run yet makes kthread_stop() return
  // EINTR: it is stopped, but the kernel sends no ack.
  return acked ? *acked : impl_->confirm(role, std::nullopt, context);
}

}  // namespace kvlb::kernel
