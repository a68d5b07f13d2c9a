#include "kernel/ipvs/netlink_ipvs_sync.h"

#include <linux/netlink.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernel/ipvs/ipvs_codec.h"
#include "kernel/ipvs/ipvs_genl.h"
#include "kernel/ipvs/ipvs_sync_codec.h"

namespace kvlb::kernel {
namespace {

// `error` (from receiving, its own context possibly empty) seen while doing `context`.
Error failure(const Error& error, const std::string& context) {
  return error.context.empty() ? Error{error.code, context} : Error{error.code, context + ": " + error.context};
}

}  // namespace

struct NetlinkIpvsSyncDaemons::Impl {
  explicit Impl(ipvs::GenlSocket opened) : socket(std::move(opened)) {}

  ipvs::GenlSocket socket;
  uint32_t next_seq = 1;
  uint64_t unacked = 0;

  // The replies in one datagram from the kernel (ETIMEDOUT after the socket's
  // receive timeout, EAGAIN when not waiting and nothing is queued).
  Result<std::vector<ipvs::Reply>> receive(bool wait) {
    auto datagram = socket.receive(wait);
    if (!datagram) return datagram.error();
    return ipvs::split_replies(*datagram);
  }

  // Sends one acked request. The kernel runs it inside sendto(), so its ack
  // is queued by the time send() returns. nullopt when there is none: a
  // handler that fails with EINTR gets no ack (netlink_rcv_skb skips it).
  std::optional<Status> request(const ipvs::Bytes& bytes, uint32_t seq, const std::string& context) {
    socket.drain();
    if (int err = socket.send(bytes); err != 0) return Status(Error::from_errno(err, context));
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
    socket.drain();
    uint32_t seq = next_seq++;
    if (int err = socket.send(ipvs::encode_daemon_dump(socket.family(), seq)); err != 0)
      return Error::from_errno(err, context);
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
        if (reply.type != socket.family() || first_error) continue;
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
  auto socket = ipvs::GenlSocket::open(reply_timeout_ms);
  if (!socket) return socket.error();
  auto impl = std::make_unique<Impl>(std::move(*socket));
  return std::unique_ptr<NetlinkIpvsSyncDaemons>(new NetlinkIpvsSyncDaemons(std::move(impl)));
}

NetlinkIpvsSyncDaemons::NetlinkIpvsSyncDaemons(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetlinkIpvsSyncDaemons::~NetlinkIpvsSyncDaemons() = default;

Result<std::vector<SyncDaemon>> NetlinkIpvsSyncDaemons::list() { return impl_->list(); }
uint64_t NetlinkIpvsSyncDaemons::unacked_requests() const { return impl_->unacked; }

Status NetlinkIpvsSyncDaemons::start(const SyncDaemon& daemon) {
  std::string context = sync_start_context(daemon);
  uint32_t seq = impl_->next_seq++;
  auto acked = impl_->request(ipvs::encode_daemon_start(daemon, impl_->socket.family(), seq), seq, context);
  return acked ? *acked : impl_->confirm(daemon.role, daemon, context);
}

Status NetlinkIpvsSyncDaemons::stop(SyncRole role) {
  std::string context = sync_stop_context(role);
  uint32_t seq = impl_->next_seq++;
  auto acked = impl_->request(ipvs::encode_daemon_stop(role, impl_->socket.family(), seq), seq, context);
  // A daemon whose kernel thread has not run yet makes kthread_stop() return
  // EINTR: it is stopped, but the kernel sends no ack.
  return acked ? *acked : impl_->confirm(role, std::nullopt, context);
}

}  // namespace kvlb::kernel
