#pragma once
// The generic netlink socket of an IPVS writer (the table and the sync
// daemons each open their own): the IPVS family resolved, error acks
// without a copy of the request (NETLINK_CAP_ACK), a receive timeout, and
// datagrams read only from the kernel. libnl stays behind this header.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "util/result.h"

struct nl_sock;

namespace kvlb::kernel::ipvs {

class GenlSocket {
 public:
  // Fails with ENOENT when the kernel has no IPVS (ip_vs module not loaded).
  // A waiting receive gives up after reply_timeout_ms.
  static Result<GenlSocket> open(int reply_timeout_ms);

  int fd() const { return fd_; }
  uint16_t family() const { return family_; }

  // 0 once sent, else the errno of sendto (EINTR is retried).
  int send(std::span<const uint8_t> bytes);

  // One datagram from the kernel, valid until the next receive. Errors carry
  // no context: ENOBUFS (messages were dropped), EAGAIN (nothing queued, when
  // not waiting), ETIMEDOUT, EMSGSIZE.
  Result<std::span<const uint8_t>> receive(bool wait);

  // Throws away whatever an earlier, interrupted exchange left queued, and
  // lets an abandoned dump run to its end (else the next dump gets EBUSY).
  void drain();

 private:
  struct SocketFree {
    void operator()(nl_sock* sock) const;
  };

  GenlSocket() = default;

  std::unique_ptr<nl_sock, SocketFree> sock_;
  int fd_ = -1;
  uint16_t family_ = 0;
  std::vector<uint8_t> datagram_;
};

}  // namespace kvlb::kernel::ipvs
