#pragma once
// One long-lived rtnetlink socket. Every request carries a fresh sequence
// number and only replies carrying it are taken as the answer; anything else
// (a late reply to an abandoned request) is skipped.
#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/result.h"

struct mnl_socket;

namespace kvlb::kernel {

class RtnlSocket {
 public:
  // Opens and binds the socket in the calling thread's network namespace.
  static Result<std::unique_ptr<RtnlSocket>> open();
  ~RtnlSocket();
  RtnlSocket(const RtnlSocket&) = delete;
  RtnlSocket& operator=(const RtnlSocket&) = delete;

  uint32_t next_seq() { return ++seq_; }

  using MessageHandler = std::function<void(const nlmsghdr&)>;

  // Sends a request built with NLM_F_ACK and sequence number seq; each reply
  // message before the ack goes to on_reply (RTM_GETLINK answers that way).
  // A kernel error comes back as Error{errno, context}.
  Status transact(const std::vector<uint8_t>& request, uint32_t seq, const std::string& context,
                  const MessageHandler& on_reply = {});

  // Sends an NLM_F_DUMP request and hands each message to on_message. If the
  // kernel flags the dump as interrupted (the table changed meanwhile) the
  // result is EINTR and the caller should start over.
  Status dump(const std::vector<uint8_t>& request, uint32_t seq, const std::string& context,
              const MessageHandler& on_message);

 private:
  RtnlSocket(mnl_socket* socket, uint32_t portid) : socket_(socket), portid_(portid) {}
  Status send(const std::vector<uint8_t>& request, const std::string& context);
  // Reads until the ack (transact) or NLMSG_DONE (dump) for seq arrives.
  Status receive(uint32_t seq, bool is_dump, const std::string& context, const MessageHandler& on_message);

  mnl_socket* socket_;
  uint32_t portid_;
  uint32_t seq_ = 0;
  std::vector<uint8_t> receive_buffer_;
};

// An rtnetlink socket that only listens to the kernel's notifications of
// the multicast groups it joined (RTMGRP_* bits), read without blocking: a
// caller drains it to catch up with every change announced so far. The
// kernel mostly queues a change's notification before it answers the
// request that made it, so a change another process finished is in the
// queue by then (exceptions are up to the user, e.g. NetlinkAddressTable).
class RtnlListener {
 public:
  // Opens the socket in the calling thread's network namespace.
  static Result<std::unique_ptr<RtnlListener>> open(uint32_t groups);
  ~RtnlListener();
  RtnlListener(const RtnlListener&) = delete;
  RtnlListener& operator=(const RtnlListener&) = delete;

  // Hands every queued notification to on_message, until the queue is
  // empty. ENOBUFS (after draining the rest) when the kernel dropped some
  // because the queue was full: whatever they would have told is unknown.
  Status drain(const RtnlSocket::MessageHandler& on_message);

 private:
  explicit RtnlListener(mnl_socket* socket) : socket_(socket) {}

  mnl_socket* socket_;
  std::vector<uint8_t> receive_buffer_;
};

}  // namespace kvlb::kernel
