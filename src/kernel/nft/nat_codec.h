#pragma once
// Pure encoding of kvlb's nftables requests as netlink bytes: one atomic batch
// per NatBatch, and the get/dump requests read() sends. No sockets here, so
// tests check the bytes directly.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernel/nft/nat_table.h"
#include "util/result.h"

namespace kvlb::kernel {

// One message of a batch: its sequence number and what it does, used to turn
// a kernel error for that sequence number into a readable kvlb::Error.
struct NftMessage {
  uint32_t seq = 0;
  uint16_t type = 0;     // (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_*, or NFNL_MSG_BATCH_*
  std::string context;   // "nft add snat 20.20.20.1:80/tcp -> 20.20.20.1"
};

struct EncodedNftBatch {
  std::vector<uint8_t> bytes;        // BATCH_BEGIN ... BATCH_END, sent with one sendmsg
  std::vector<NftMessage> messages;  // in order, BATCH_BEGIN and BATCH_END included

  uint32_t begin_seq() const { return messages.front().seq; }
  // The last message before BATCH_END carries NLM_F_ACK: its ack (or error)
  // is the last reply, so it marks that the kernel has processed the batch.
  uint32_t acked_seq() const { return messages[messages.size() - 2].seq; }
  const NftMessage* find(uint32_t seq) const;
};

// Encodes `batch` as one transaction using sequence numbers first_seq,
// first_seq+1, ... Message order: [ensure table, delete table, create table,
// sets, chains, rules] when recreating, then SNAT and drop element deletions,
// then SNAT and drop element additions (deleting first lets one batch change
// a key's SNAT address). `remove` and `drop_remove` are ignored when
// recreating: the new table starts empty. One element per message, so an
// error names its element. Element additions use NLM_F_EXCL so that an
// existing key fails with EEXIST, as the fake does. Fails (EINVAL) on an
// empty batch or a rule whose VIP and SNAT address families differ.
Result<EncodedNftBatch> encode_nat_batch(const NatBatch& batch, uint32_t first_seq);

// Requests read() sends, each one message.
std::vector<uint8_t> encode_get_generation(uint32_t seq);
std::vector<uint8_t> encode_get_nat_table(uint32_t seq);  // NLM_F_ACK; ENOENT when absent
std::vector<uint8_t> encode_dump_nat_chains(uint32_t seq);
std::vector<uint8_t> encode_dump_nat_sets(uint32_t seq);
std::vector<uint8_t> encode_dump_nat_rules(uint32_t seq);
std::vector<uint8_t> encode_dump_set_elements(const std::string& set_name, uint32_t seq);

}  // namespace kvlb::kernel
