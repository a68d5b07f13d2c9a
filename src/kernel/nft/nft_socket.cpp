#include "kernel/nft/nft_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>

namespace kvlb::kernel {
namespace {

// The kernel handles a batch synchronously inside sendmsg, so replies are
// normally queued before we look; the timeout only guards against surprises.
constexpr auto kReplyTimeout = std::chrono::seconds(5);
constexpr std::size_t kReceiveScratch = 256 * 1024;  // larger than any dump part
// Error replies are small but each costs ~1 KiB of socket memory (skb truesize).
constexpr std::size_t kReplyCost = 1024;
constexpr int kMaxReceiveBuffer = 64 * 1024 * 1024;

// Grows a socket buffer; the *FORCE variants pass the sysctl cap (we hold
// CAP_NET_ADMIN anyway, nftables needs it).
void grow_buffer(int fd, int force_option, int option, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

}  // namespace

Result<std::unique_ptr<NftSocket>> NftSocket::open() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (!socket) return Error::from_errno(errno, "nft open netlink socket");
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(socket);
    return Error::from_errno(err, "nft bind netlink socket");
  }
  // Extended acks carry the kernel's reason; capped acks keep error replies
  // small (only the failed message's header is echoed).
  int on = 1;
  mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, sizeof on);
  return std::unique_ptr<NftSocket>(new NftSocket(socket));
}

NftSocket::NftSocket(mnl_socket* socket)
    : socket_(socket), seq_(static_cast<uint32_t>(std::time(nullptr))), receive_scratch_(kReceiveScratch) {}

NftSocket::~NftSocket() { mnl_socket_close(socket_); }

void NftSocket::discard_pending() {
  const int fd = mnl_socket_get_fd(socket_);
  while (recv(fd, receive_scratch_.data(), receive_scratch_.size(), MSG_DONTWAIT) > 0 || errno == ENOBUFS) {
  }
}

void NftSocket::ensure_buffers(std::size_t send_bytes, std::size_t expected_replies) {
  const int fd = mnl_socket_get_fd(socket_);
  // netlink refuses a message larger than the send buffer, and a batch must be one message train.
  const int want_send = static_cast<int>(std::min<std::size_t>(send_bytes + 64 * 1024, INT32_MAX / 2));
  if (want_send > send_buffer_) {
    grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, want_send);
    send_buffer_ = want_send;
  }
  const int want_receive =
      static_cast<int>(std::min<std::size_t>(expected_replies * kReplyCost + 256 * 1024, kMaxReceiveBuffer));
  if (want_receive > receive_buffer_) {
    grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, want_receive);
    receive_buffer_ = want_receive;
  }
}

Result<std::vector<NlMessage>> NftSocket::receive(bool& lost) {
  const int fd = mnl_socket_get_fd(socket_);
  const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
  for (;;) {
    ssize_t n = recv(fd, receive_scratch_.data(), receive_scratch_.size(), MSG_DONTWAIT);
    if (n > 0) return split_netlink_messages({receive_scratch_.data(), static_cast<std::size_t>(n)});
    if (n < 0 && errno == ENOBUFS) {
      lost = true;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return Error::from_errno(errno, "nft receive");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error::from_errno(ETIMEDOUT, "nft receive: no reply from the kernel");
    pollfd pfd{fd, POLLIN, 0};
    poll(&pfd, 1, static_cast<int>(left.count()));
  }
}

Result<BatchReplies> NftSocket::send_batch(const EncodedNftBatch& batch) {
  discard_pending();
  ensure_buffers(batch.bytes.size(), batch.messages.size());
  if (mnl_socket_sendto(socket_, batch.bytes.data(), batch.bytes.size()) < 0)
    return Error::from_errno(errno, "nft send batch of " + std::to_string(batch.messages.size()) + " messages");

  BatchReplies replies;
  const uint32_t first = batch.begin_seq(), last = batch.messages.back().seq;
  while (!replies.complete) {
    auto messages = receive(replies.replies_lost);
    if (!messages.ok()) {
      if (replies.replies_lost || !replies.errors.empty()) break;  // the caller has enough to decide
      return messages.error();
    }
    for (const auto& message : *messages) {
      auto ack = parse_ack(message);
      if (!ack || ack->seq < first || ack->seq > last) continue;  // not ours: stale
      if (ack->error) replies.errors.push_back(*ack);
      // A commit failure is reported once, against BATCH_BEGIN, after which
      // nothing else comes; otherwise the acked last message comes last.
      if (ack->seq == batch.acked_seq() || (ack->seq == first && ack->error)) replies.complete = true;
    }
  }
  return replies;
}

Result<std::vector<NlMessage>> NftSocket::request(const std::vector<uint8_t>& message, const std::string& context) {
  discard_pending();
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
  const uint32_t seq = nlh->nlmsg_seq;
  const bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  consume_seqs(1);
  if (mnl_socket_sendto(socket_, message.data(), message.size()) < 0) return Error::from_errno(errno, context);

  std::vector<NlMessage> out;
  bool interrupted = false, lost = false;
  for (;;) {
    auto messages = receive(lost);
    if (!messages.ok()) return Error{messages.error().code, context + ": " + messages.error().context};
    if (lost) return Error::from_errno(ENOBUFS, context);
    for (auto& reply : *messages) {
      const auto* header = reinterpret_cast<const nlmsghdr*>(reply.data());
      if (header->nlmsg_seq != seq) continue;  // stale reply to an earlier request
      if (header->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (header->nlmsg_type == NLMSG_DONE) {
        if (interrupted) return Error::from_errno(EINTR, context + ": ruleset changed during the dump");
        return out;
      }
      if (auto ack = parse_ack(reply)) {
        if (ack->error) {
          std::string why = ack->kernel_message.empty() ? context : context + " (" + ack->kernel_message + ")";
          return Error::from_errno(ack->error, why);
        }
        if (!dump) return out;
        continue;
      }
      out.push_back(std::move(reply));
    }
  }
}

}  // namespace kvlb::kernel
