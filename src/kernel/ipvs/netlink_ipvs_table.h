#pragma once
// IpvsTable over the kernel's "IPVS" generic netlink family: one long-lived
// socket, replies matched to requests by sequence number, and writes
// pipelined (many acked requests per send) so large changes are fast.
// Not thread-safe: one caller at a time.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernel/ipvs/ipvs_table.h"
#include "util/result.h"

namespace kvlb::kernel {

class NetlinkIpvsTable final : public IpvsTable {
 public:
  struct Options {
    // Limits of one pipelined send; each request gets its own ack.
    std::size_t max_batch_messages = 512;
    std::size_t max_batch_bytes = 192 * 1024;
    // Socket buffers asked for (SO_RCVBUFFORCE, else SO_RCVBUF up to
    // net.core.rmem_max). The kernel queues every ack of a send before we
    // read any, so the receive buffer bounds how many requests one send may
    // carry.
    int receive_buffer_bytes = 8 << 20;
    int send_buffer_bytes = 1 << 20;
    // Shrink batches to what the socket buffers are known to hold. Turned
    // off only to provoke ack overruns and oversized sends in tests.
    bool fit_batches_to_socket_buffers = true;
    // How long to wait for one reply from the kernel.
    int reply_timeout_ms = 30000;
  };

  // Opens the socket and resolves the IPVS family; fails with ENOENT when the
  // kernel has no IPVS (ip_vs module not loaded).
  static Result<std::unique_ptr<NetlinkIpvsTable>> open();
  static Result<std::unique_ptr<NetlinkIpvsTable>> open(const Options& options);
  ~NetlinkIpvsTable() override;
  NetlinkIpvsTable(const NetlinkIpvsTable&) = delete;
  NetlinkIpvsTable& operator=(const NetlinkIpvsTable&) = delete;

  Result<std::vector<model::VirtualService>> list() override;
  std::vector<Status> apply(const std::vector<IpvsCommand>& commands) override;
  uint64_t writes() const override;

  // For benchmarks and tests.
  uint64_t messages_sent() const;   // every request, dumps included
  uint64_t dumps() const;           // dump requests (1 + one per service per list())
  uint64_t sends() const;           // sendmsg calls
  uint64_t ack_overruns() const;    // sends whose acks overflowed the receive buffer
  std::size_t batch_limit() const;  // current requests-per-send limit
  int receive_buffer_bytes() const; // what the kernel granted

 private:
  struct Impl;
  explicit NetlinkIpvsTable(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvlb::kernel
