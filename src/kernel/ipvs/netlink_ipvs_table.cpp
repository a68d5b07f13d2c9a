#include "kernel/ipvs/netlink_ipvs_table.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernel/ipvs/ipvs_codec.h"
#include "kernel/ipvs/ipvs_command_text.h"
#include "kernel/ipvs/ipvs_genl.h"

namespace kvlb::kernel {
namespace {

// Receive-buffer space one queued ack is assumed to take (the kernel charges
// an skb's truesize, several times the 36 bytes of a capped ack).
constexpr int kAckBudgetBytes = 1024;
// netlink_sendmsg refuses sends longer than the send buffer minus this.
constexpr int kSendOverhead = 64;

// Bigger than rmem_max/wmem_max needs CAP_NET_ADMIN (which IPVS needs anyway);
// without it the plain option still gets up to the sysctl limit.
void set_buffer(int fd, int forced_option, int option, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, forced_option, &bytes, sizeof bytes) != 0)
    (void)setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

int get_int_option(int fd, int option) {
  int value = 0;
  socklen_t len = sizeof value;
  (void)getsockopt(fd, SOL_SOCKET, option, &value, &len);
  return value;
}

// The kernel already ran a request whose ack was lost; running it again
// tells its outcome, except that an add now finds what the first run created
// and a delete no longer finds what it removed.
Status outcome_of_replay(const IpvsCommand& command, Status again) {
  if (again.ok()) return again;
  int err = again.error().code.value();
  using Kind = IpvsCommand::Kind;
  bool already_done = ((command.kind == Kind::AddService || command.kind == Kind::AddRealServer) && err == EEXIST) ||
                      (command.kind == Kind::DeleteService && err == ESRCH) ||
                      (command.kind == Kind::DeleteRealServer && err == ENOENT);
  return already_done ? ok_status() : again;
}

}  // namespace

struct NetlinkIpvsTable::Impl {
  Impl(ipvs::GenlSocket opened, const Options& opts) : socket(std::move(opened)), options(opts) {}

  ipvs::GenlSocket socket;
  uint32_t next_seq = 1;
  Options options;
  int receive_buffer = 0;
  std::size_t max_batch_bytes = 0;
  std::size_t batch_limit = 1;
  uint64_t writes = 0;
  uint64_t messages = 0;
  uint64_t dumps = 0;
  uint64_t sends = 0;
  uint64_t overruns = 0;

  // Outcome of one request of a batch: nullopt when its ack was lost.
  using Outcome = std::optional<Status>;
  struct Batch {
    std::size_t count = 0;   // requests taken from the command list
    int send_error = 0;      // nonzero: the kernel saw none of them
    std::vector<Outcome> outcomes;
  };

  int send(std::span<const uint8_t> bytes) {
    int err = socket.send(bytes);
    if (err == 0) ++sends;
    return err;
  }

  // Packs as many of commands[begin..] as the limits allow into one send and
  // matches the acks to them by sequence number.
  Batch exchange(const std::vector<IpvsCommand>& commands, std::size_t begin, std::size_t limit) {
    Batch batch;
    const uint32_t base = next_seq;
    ipvs::Bytes buffer;
    while (begin + batch.count < commands.size() && batch.count < limit) {
      std::size_t before = buffer.size();
      ipvs::append_command(buffer, commands[begin + batch.count], socket.family(),
                           base + static_cast<uint32_t>(batch.count));
      if (buffer.size() > max_batch_bytes && batch.count > 0) {
        buffer.resize(before);
        break;
      }
      ++batch.count;
    }
    next_seq += static_cast<uint32_t>(batch.count);
    batch.outcomes.assign(batch.count, std::nullopt);

    if (int err = send(buffer); err != 0) {
      batch.send_error = err;
      return batch;
    }
    messages += batch.count;
    writes += batch.count;

    std::size_t pending = batch.count;
    bool overrun = false;
    while (pending > 0) {
      // After an overrun every ack that survived is already queued: read
      // without waiting and stop when the queue is empty.
      auto got = socket.receive(/*wait=*/!overrun);
      if (!got) {
        int err = got.error().code.value();
        if (err == ENOBUFS) {
          overrun = true;
          ++overruns;
          continue;
        }
        if (overrun && (err == EAGAIN || err == EWOULDBLOCK)) break;  // the rest were dropped
        for (std::size_t k = 0; k < batch.count; ++k)
          if (!batch.outcomes[k]) batch.outcomes[k] = Error::from_errno(err, command_context(commands[begin + k]));
        break;
      }
      auto replies = ipvs::split_replies(*got);
      if (!replies) continue;  // not ours to interpret; the seq match decides
      for (const auto& reply : *replies) {
        if (reply.type != NLMSG_ERROR) continue;
        uint32_t index = reply.seq - base;
        if (index >= batch.count || batch.outcomes[index]) continue;  // stale or duplicate
        batch.outcomes[index] = reply.error == 0
                                    ? ok_status()
                                    : Status(Error::from_errno(reply.error, command_context(commands[begin + index])));
        --pending;
      }
    }
    return batch;
  }

  Status apply_one(const IpvsCommand& command) {
    std::vector<IpvsCommand> single{command};
    Batch batch = exchange(single, 0, 1);
    if (batch.send_error != 0) return Error::from_errno(batch.send_error, command_context(command));
    if (!batch.outcomes[0]) return Error::from_errno(ENOBUFS, command_context(command));
    return *batch.outcomes[0];
  }

  std::vector<Status> apply(const std::vector<IpvsCommand>& commands) {
    socket.drain();
    std::vector<Status> statuses(commands.size(), ok_status());
    std::size_t next = 0;
    while (next < commands.size()) {
      Batch batch = exchange(commands, next, batch_limit);
      if (batch.send_error != 0) {
        // Nothing reached the kernel. A send too big for the moment (memory,
        // buffer) is retried one request at a time; anything else is final.
        bool too_big = batch.send_error == ENOBUFS || batch.send_error == EMSGSIZE || batch.send_error == ENOMEM;
        for (std::size_t k = 0; k < batch.count; ++k) {
          const IpvsCommand& command = commands[next + k];
          statuses[next + k] = (too_big && batch.count > 1)
                                   ? apply_one(command)
                                   : Status(Error::from_errno(batch.send_error, command_context(command)));
        }
      } else {
        bool lost_any = false;
        for (std::size_t k = 0; k < batch.count; ++k) {
          const IpvsCommand& command = commands[next + k];
          if (batch.outcomes[k]) {
            statuses[next + k] = *batch.outcomes[k];
          } else {
            lost_any = true;
            statuses[next + k] = outcome_of_replay(command, apply_one(command));
          }
        }
        // The receive buffer held fewer acks than hoped: send less at once.
        if (lost_any) batch_limit = std::max<std::size_t>(1, batch_limit / 2);
      }
      next += batch.count;
    }
    return statuses;
  }

  // Runs one dump request to its end, handing each data message to `on_message`.
  Status dump(const ipvs::Bytes& request, uint32_t seq, const std::string& context,
              const std::function<Status(const ipvs::Reply&)>& on_message) {
    if (int err = send(request); err != 0) return Error::from_errno(err, context);
    ++messages;
    ++dumps;
    std::optional<Error> first_error;
    for (;;) {
      auto got = socket.receive(/*wait=*/true);
      if (!got) return Error{got.error().code, context};
      auto replies = ipvs::split_replies(*got);
      if (!replies) return Error{replies.error().code, context + ": " + replies.error().context};
      for (const auto& reply : *replies) {
        if (reply.seq != seq) continue;
        if (reply.type == NLMSG_DONE || reply.type == NLMSG_ERROR) {
          if (reply.error != 0) return Error::from_errno(reply.error, context);
          if (reply.type == NLMSG_DONE) {
            if (first_error) return *first_error;
            return ok_status();
          }
          continue;
        }
        if (reply.type != socket.family() || first_error) continue;
        // Keep reading to the end even after a bad message: an unfinished
        // dump would block the next one.
        if (Status st = on_message(reply); !st) first_error = st.error();
      }
    }
  }

  Result<std::vector<model::VirtualService>> list() {
    socket.drain();
    std::vector<model::VirtualService> services;
    const uint16_t family = socket.family();
    uint32_t seq = next_seq++;
    Status st = dump(ipvs::encode_service_dump(family, seq), seq, "list ipvs services", [&](const ipvs::Reply& reply) {
      auto service = ipvs::decode_service(reply.message);
      if (!service) return Status(service.error());
      if (*service) services.push_back(std::move(**service));
      return ok_status();
    });
    if (!st) return st.error();

    // The kernel dumps destinations one service at a time.
    for (auto& service : services) {
      seq = next_seq++;
      st = dump(ipvs::encode_dest_dump(service.key, family, seq), seq, "list ipvs real servers of " + service.key.str(),
                [&](const ipvs::Reply& reply) {
                  auto server = ipvs::decode_dest(reply.message, service.key.vip.family());
                  if (!server) return Status(server.error());
                  service.real_servers[server->key] = *server;
                  return ok_status();
                });
      if (!st) return st.error();
    }
    return services;
  }
};

Result<std::unique_ptr<NetlinkIpvsTable>> NetlinkIpvsTable::open() { return open(Options{}); }

Result<std::unique_ptr<NetlinkIpvsTable>> NetlinkIpvsTable::open(const Options& options) {
  auto socket = ipvs::GenlSocket::open(options.reply_timeout_ms);
  if (!socket) return socket.error();
  auto impl = std::make_unique<Impl>(std::move(*socket), options);
  const int fd = impl->socket.fd();
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.receive_buffer_bytes);
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.send_buffer_bytes);

  impl->receive_buffer = get_int_option(fd, SO_RCVBUF);
  int send_buffer = get_int_option(fd, SO_SNDBUF);
  impl->max_batch_bytes = options.max_batch_bytes;
  std::size_t limit = std::max<std::size_t>(1, options.max_batch_messages);
  if (options.fit_batches_to_socket_buffers) {
    impl->max_batch_bytes = std::min<std::size_t>(
        impl->max_batch_bytes, static_cast<std::size_t>(std::max(send_buffer - kSendOverhead, 4096)));
    limit = std::min<std::size_t>(limit, static_cast<std::size_t>(std::max(impl->receive_buffer / kAckBudgetBytes, 1)));
  }
  impl->batch_limit = limit;
  return std::unique_ptr<NetlinkIpvsTable>(new NetlinkIpvsTable(std::move(impl)));
}

NetlinkIpvsTable::NetlinkIpvsTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetlinkIpvsTable::~NetlinkIpvsTable() = default;

Result<std::vector<model::VirtualService>> NetlinkIpvsTable::list() { return impl_->list(); }
std::vector<Status> NetlinkIpvsTable::apply(const std::vector<IpvsCommand>& commands) { return impl_->apply(commands); }
uint64_t NetlinkIpvsTable::writes() const { return impl_->writes; }
uint64_t NetlinkIpvsTable::messages_sent() const { return impl_->messages; }
uint64_t NetlinkIpvsTable::dumps() const { return impl_->dumps; }
uint64_t NetlinkIpvsTable::sends() const { return impl_->sends; }
uint64_t NetlinkIpvsTable::ack_overruns() const { return impl_->overruns; }
std::size_t NetlinkIpvsTable::batch_limit() const { return impl_->batch_limit; }
int NetlinkIpvsTable::receive_buffer_bytes() const { return impl_->receive_buffer; }

}  // namespace kvlb::kernel
