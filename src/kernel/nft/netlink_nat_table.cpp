#include "kernel/nft/netlink_nat_table.h"

#include <chrono>
#include <thread>

#include <cerrno>

#include "kernel/nft/nat_codec.h"
#include "kernel/nft/nat_parse.h"
#include "kernel/nft/nft_socket.h"

namespace kvlb::kernel {
namespace {

constexpr int kReadAttempts = 8;

// The kernel reports every failed message of a batch; the first one names the
// cause, the count tells how much else went wrong.
Error batch_error(const EncodedNftBatch& batch, const BatchReplies& replies) {
  const NlAck& first = replies.errors.front();
  const NftMessage* message = batch.find(first.seq);
  std::string context = first.seq == batch.begin_seq() ? "nft commit of " + std::to_string(batch.messages.size()) +
                                                              " messages"
                        : message ? message->context
                                  : "nft batch";
  if (!first.kernel_message.empty()) context += " (" + first.kernel_message + ")";
  if (replies.errors.size() > 1) context += " [and " + std::to_string(replies.errors.size() - 1) + " more failed]";
  return Error::from_errno(first.error, context);
}

}  // namespace

Result<std::unique_ptr<NetlinkNatTable>> NetlinkNatTable::open() {
  auto socket = NftSocket::open();
  if (!socket.ok()) return socket.error();
  return std::unique_ptr<NetlinkNatTable>(new NetlinkNatTable(std::move(socket.value())));
}

NetlinkNatTable::NetlinkNatTable(std::unique_ptr<NftSocket> socket) : socket_(std::move(socket)) {}
NetlinkNatTable::~NetlinkNatTable() = default;

Status NetlinkNatTable::apply(const NatBatch& batch) {
  if (batch.empty()) return ok_status();
  auto encoded = encode_nat_batch(batch, socket_->next_seq());
  if (!encoded.ok()) return encoded.error();
  socket_->consume_seqs(encoded->messages.size());

  auto replies = socket_->send_batch(*encoded);
  if (!replies.ok()) return replies.error();
  // Any error aborts the whole transaction: nothing was committed.
  if (!replies->errors.empty()) return batch_error(*encoded, *replies);
  if (!replies->complete)
    return Error::from_errno(replies->replies_lost ? ENOBUFS : ETIMEDOUT,
                             "nft batch of " + std::to_string(encoded->messages.size()) +
                                 " messages: outcome unknown, replies lost");
  ++writes_;
  return ok_status();
}

Result<uint32_t> NetlinkNatTable::generation() {
  auto reply = socket_->request(encode_get_generation(socket_->next_seq()), "nft get generation");
  if (!reply.ok()) return reply.error();
  if (reply->empty()) return Error::from_errno(EPROTO, "nft get generation: empty reply");
  return parse_generation(reply->front());
}

Result<NatObserved> NetlinkNatTable::read() {
  // Several dumps make one snapshot only if the ruleset generation did not
  // move in between; otherwise read again.
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    bool changed = false;
    auto observed = read_once(changed);
    if (!changed) return observed;
  }
  return Error::from_errno(EAGAIN, "nft read table inet kvlb: ruleset kept changing");
}

Result<NatObserved> NetlinkNatTable::read_once(bool& ruleset_changed) {
  auto before = generation();
  if (!before.ok()) return before.error();
  auto dump = [&](const std::vector<uint8_t>& request, const char* what) {
    auto reply = socket_->request(request, std::string("nft read table inet kvlb: ") + what);
    // A failure caused by a concurrent change (an interrupted dump, a set
    // deleted between dumps) is retried, not reported.
    if (!reply.ok() && reply.error().code.value() != ENOENT) {
      auto now = generation();
      if (reply.error().code.value() == EINTR || (now.ok() && *now != *before)) ruleset_changed = true;
    }
    return reply;
  };
  auto finish = [&](NatObserved observed, std::string damage) -> Result<NatObserved> {
    auto after = generation();
    if (!after.ok()) return after.error();
    if (*after != *before) ruleset_changed = true;
    last_damage_ = std::move(damage);
    return observed;
  };

  auto table_reply = dump(encode_get_nat_table(socket_->next_seq()), "table");
  if (!table_reply.ok()) {
    if (table_reply.error().code.value() == ENOENT) return finish({}, "table inet kvlb is missing");
    return table_reply.error();
  }
  if (table_reply->empty()) return Error::from_errno(EPROTO, "nft read table inet kvlb: empty reply");
  auto table = parse_table(table_reply->front());
  if (!table.ok()) return table.error();

  auto chains = dump(encode_dump_nat_chains(socket_->next_seq()), "chains");
  if (!chains.ok()) return chains.error();
  auto sets = dump(encode_dump_nat_sets(socket_->next_seq()), "sets");
  if (!sets.ok()) return sets.error();
  auto rules = dump(encode_dump_nat_rules(socket_->next_seq()), "rules");
  if (!rules.ok()) return rules.error();

  ObservedNatLayout layout;
  auto parsed_chains = parse_chains(*chains);
  auto parsed_sets = parse_sets(*sets);
  auto parsed_rules = parse_rules(*rules);
  if (!parsed_chains.ok()) return parsed_chains.error();
  if (!parsed_sets.ok()) return parsed_sets.error();
  if (!parsed_rules.ok()) return parsed_rules.error();
  layout.chains = std::move(*parsed_chains);
  layout.sets = std::move(*parsed_sets);
  layout.rules = std::move(*parsed_rules);
  if (auto problem = nat_layout_problem(*table, layout)) return finish({}, *problem);

  // Both maps and both drop sets: all of them are part of one snapshot.
  std::vector<NlMessage> elements;
  for (const char* set : {kSnatMap4, kSnatMap6, kDropVipSet4, kDropVipSet6}) {
    auto part = dump(encode_dump_set_elements(set, socket_->next_seq()), "set elements");
    if (!part.ok()) return part.error();
    elements.insert(elements.end(), part->begin(), part->end());
  }
  std::size_t repeated_snat = 0, repeated_drop = 0;
  auto snat = parse_snat_elements(elements, &repeated_snat);
  if (!snat.ok()) return finish({}, snat.error().context);
  auto dropped = parse_drop_elements(elements, &repeated_drop);
  if (!dropped.ok()) return finish({}, dropped.error().context);
  if (repeated_snat + repeated_drop > 0) {
    // A set's hash table resized during the dump: read again once it settled.
    ruleset_changed = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return NatObserved{};
  }
  return finish(NatObserved{true, std::move(*snat), std::move(*dropped)}, "");
}

}  // namespace kvlb::kernel
