#include "kernel/conntrack/netfilter_conntrack_writer.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "kernel/conntrack/conntrack_entry.h"
#include "kernel/conntrack/ctnetlink.h"

namespace kvlb::kernel {
namespace {

// A bit of CTA_FILTER_ORIG_FLAGS: match the original tuple's L4 protocol.
// The kernel keeps these bits in a private header (nf_internals.h); they are
// part of its ABI since Linux 5.8, when dump filters came.
constexpr uint32_t kFilterOnProtocolNumber = 1u << 3;

// Dumps with a protocol filter, so the kernel skips the rest of the table
// (the other protocols' flows, closed ones waiting out their timeouts). A
// kernel without dump filters ignores the filter; entries are matched here
// in any case.
struct DumpScope {
  uint8_t family = AF_INET;
  uint8_t protocol = IPPROTO_TCP;
  auto operator<=>(const DumpScope&) const = default;
};

std::set<DumpScope> scopes_of(const std::set<ConnKey>& services) {
  std::set<DumpScope> scopes;
  for (const auto& key : services)
    scopes.insert({static_cast<uint8_t>(key.vip.is_v4() ? AF_INET : AF_INET6),
                   static_cast<uint8_t>(model::ip_protocol_number(key.protocol))});
  return scopes;
}

struct Collect {
  const std::set<ConnKey>* services;
  std::vector<ConntrackPtr>* matching;
};

int collect_matching(const nlmsghdr* nlh, void* data) {
  auto& collect = *static_cast<Collect*>(data);
  ConntrackPtr ct(nfct_new());
  if (!ct || nfct_nlmsg_parse(nlh, ct.get()) < 0) return MNL_CB_OK;
  auto key = original_destination_of(ct.get());
  if (key && collect.services->contains(*key)) collect.matching->push_back(std::move(ct));
  return MNL_CB_OK;
}

Status dump_scope(mnl_socket* sock, const DumpScope& scope, uint32_t seq, Collect& collect) {
  std::vector<char> buffer(kCtnetlinkReceiveBytes);
  nlmsghdr* nlh = put_ctnetlink_request(buffer.data(), IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq, scope.family);
  nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, scope.protocol);
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
  nlattr* filter = mnl_attr_nest_start(nlh, CTA_FILTER);
  mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, kFilterOnProtocolNumber);
  mnl_attr_put_u32(nlh, CTA_FILTER_REPLY_FLAGS, 0);
  mnl_attr_nest_end(nlh, filter);
  if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) return Error::from_errno(errno, "conntrack: dump request");
  const uint32_t portid = mnl_socket_get_portid(sock);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock, buffer.data(), buffer.size());
    if (n < 0) return Error::from_errno(errno, "conntrack: dump table");
    int rc = mnl_cb_run(buffer.data(), static_cast<std::size_t>(n), seq, portid, collect_matching, &collect);
    if (rc == MNL_CB_STOP) return ok_status();
    if (rc < 0) return Error::from_errno(errno, "conntrack: dump table");
  }
}

// A dump that races with table changes can fail transiently; start over.
constexpr int kDumpAttempts = 3;

}  // namespace

Result<std::unique_ptr<NetfilterConntrackWriter>> NetfilterConntrackWriter::open() {
  mnl_socket* sock = mnl_socket_open(NETLINK_NETFILTER);
  if (!sock) return Error::from_errno(errno, "open ctnetlink socket");
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(sock);
    return Error::from_errno(err, "bind ctnetlink socket");
  }
  return std::unique_ptr<NetfilterConntrackWriter>(new NetfilterConntrackWriter(sock));
}

NetfilterConntrackWriter::~NetfilterConntrackWriter() { mnl_socket_close(sock_); }

Result<std::vector<ConntrackPtr>> dump_matching(mnl_socket* sock, uint32_t& seq, const std::set<ConnKey>& services) {
  std::vector<ConntrackPtr> matching;
  Collect collect{&services, &matching};
  for (const auto& scope : scopes_of(services)) {
    const std::size_t before = matching.size();
    for (int attempt = 1;; ++attempt) {
      matching.resize(before);
      auto dumped = dump_scope(sock, scope, ++seq, collect);
      if (dumped.ok()) break;
      const int err = dumped.error().code.value();
      if ((err != EINTR && err != EBUSY) || attempt == kDumpAttempts) return dumped.error();
    }
  }
  return matching;
}

}  // namespace kvlb::kernel
