#pragma once
// Internal to kernel/nft: kvlb's one long-lived nfnetlink socket for
// nftables. Replies are matched to requests by sequence number; stale replies
// (from a request that timed out earlier) are discarded.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernel/nft/nat_codec.h"
#include "kernel/nft/nat_parse.h"
#include "util/result.h"

struct mnl_socket;

namespace kvlb::kernel {

struct BatchReplies {
  std::vector<NlAck> errors;   // non-zero errors for messages of this batch, in order
  bool complete = false;       // the acked last message (or a commit error) was seen
  bool replies_lost = false;   // the receive queue overflowed (ENOBUFS)
};

class NftSocket {
 public:
  static Result<std::unique_ptr<NftSocket>> open();
  ~NftSocket();
  NftSocket(const NftSocket&) = delete;
  NftSocket& operator=(const NftSocket&) = delete;

  // Sequence numbers: encode with next_seq(), then consume what was used.
  uint32_t next_seq() const { return seq_; }
  void consume_seqs(std::size_t count) { seq_ += static_cast<uint32_t>(count); }

  // Sends the batch with one sendmsg and collects the kernel's verdicts.
  Result<BatchReplies> send_batch(const EncodedNftBatch& batch);

  // Sends one request (seq must be next_seq(); consumed here) and returns its
  // reply messages: until NLMSG_DONE for dumps, until the ack for NLM_F_ACK
  // requests. An error reply becomes an Error with `context`; an interrupted
  // dump (the ruleset changed meanwhile) becomes EINTR.
  Result<std::vector<NlMessage>> request(const std::vector<uint8_t>& message, const std::string& context);

 private:
  explicit NftSocket(mnl_socket* socket);
  void discard_pending();
  void ensure_buffers(std::size_t send_bytes, std::size_t expected_replies);
  // Receives once; waits up to the reply timeout. ENOBUFS sets `lost`.
  Result<std::vector<NlMessage>> receive(bool& lost);

  mnl_socket* socket_;
  uint32_t seq_;
  int send_buffer_ = 0;
  int receive_buffer_ = 0;
  std::vector<uint8_t> receive_scratch_;
};

}  // namespace kvlb::kernel
