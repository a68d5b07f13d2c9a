// NetfilterConntrackWriter::repair_dnat_ports: see conntrack_writer.h.
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "kernel/conntrack/conntrack_entry.h"
#include "kernel/conntrack/ctnetlink.h"
#include "kernel/conntrack/netfilter_conntrack_writer.h"

namespace kvlb::kernel {
namespace {

model::IpAddress address_at(const nf_conntrack* ct, bool v4, int attr4, int attr6) {
  if (v4) {
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), nfct_get_attr(ct, static_cast<nf_conntrack_attr>(attr4)), 4);
    return model::IpAddress::from_v4(b);
  }
  std::array<uint8_t, 16> b{};
  std::memcpy(b.data(), nfct_get_attr(ct, static_cast<nf_conntrack_attr>(attr6)), 16);
  return model::IpAddress::from_v6(b);
}

void copy_attr(nf_conntrack* to, const nf_conntrack* from, nf_conntrack_attr attr) {
  if (nfct_attr_is_set(from, attr) > 0) nfct_set_attr(to, attr, nfct_get_attr(from, attr));
}

// The entry as conntrackd's commit creates it (original tuple, SNAT to the
// reply's destination, protocol state), without the DNAT: libnetfilter_conntrack
// encodes NAT ports for TCP and UDP only, so the create request adds that part itself.
ConntrackPtr rebuilt(const nf_conntrack* old, bool v4) {
  ConntrackPtr ct(nfct_new());
  for (auto attr : {ATTR_L3PROTO, ATTR_L4PROTO, ATTR_ORIG_PORT_SRC, ATTR_ORIG_PORT_DST, ATTR_TIMEOUT, ATTR_MARK,
                    ATTR_ZONE, ATTR_SCTP_STATE, ATTR_SCTP_VTAG_ORIG, ATTR_SCTP_VTAG_REPL, ATTR_TCP_STATE})
    copy_attr(ct.get(), old, attr);
  if (v4) {
    copy_attr(ct.get(), old, ATTR_ORIG_IPV4_SRC);
    copy_attr(ct.get(), old, ATTR_ORIG_IPV4_DST);
    nfct_set_attr(ct.get(), ATTR_SNAT_IPV4, nfct_get_attr(old, ATTR_REPL_IPV4_DST));
  } else {
    copy_attr(ct.get(), old, ATTR_ORIG_IPV6_SRC);
    copy_attr(ct.get(), old, ATTR_ORIG_IPV6_DST);
    nfct_set_attr(ct.get(), ATTR_SNAT_IPV6, nfct_get_attr(old, ATTR_REPL_IPV6_DST));
  }
  nfct_set_attr_u16(ct.get(), ATTR_SNAT_PORT, nfct_get_attr_u16(old, ATTR_REPL_PORT_DST));
  // ASSURED keeps it from early drop; NAT bits are the kernel's to set.
  nfct_set_attr_u32(ct.get(), ATTR_STATUS, IPS_ASSURED | IPS_SEEN_REPLY);
  // The kernel wants both tuples: the reply as the inverse of the original,
  // which the NAT setup then rewrites (as conntrackd's commit does).
  nfct_setobjopt(ct.get(), NFCT_SOPT_SETUP_REPLY);
  return ct;
}

// Delete and create requests, many per system call over one socket: the
// repair runs while the VIPs' traffic is dropped, and a socket plus four
// calls per entry cost milliseconds under load. The kernel handles the
// messages of one send in order, so each delete precedes its create.
class RequestBatch {
 public:
  RequestBatch(mnl_socket* sock, uint32_t& seq) : sock_(sock), seq_(seq), buffer_(64 * 1024) {}

  // Queues the deletion of `ct` (by its tuple and id) and its replacement by
  // `fresh` DNATed to endpoint:port.
  Status replace(const nf_conntrack* ct, const nf_conntrack* fresh, bool v4, const model::IpAddress& endpoint,
                 uint16_t port, const std::string& what) {
    if (buffer_.size() - used_ < kRoomPerEntry)
      if (auto flushed = flush(); !flushed.ok()) return flushed;
    nlmsghdr* del = start(IPCTNL_MSG_CT_DELETE, 0, v4, {what + ": delete", true});
    if (nfct_nlmsg_build(del, ct) < 0) return Error::from_errno(errno, what + ": build delete");
    finish(del);
    nlmsghdr* nlh = start(IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, v4, {what + ": create", false});
    if (nfct_nlmsg_build(nlh, fresh) < 0) return Error::from_errno(errno, what + ": build create");
    nlattr* nat = mnl_attr_nest_start(nlh, CTA_NAT_DST);
    mnl_attr_put(nlh, v4 ? CTA_NAT_V4_MINIP : CTA_NAT_V6_MINIP, v4 ? 4 : 16, endpoint.bytes().data());
    mnl_attr_put(nlh, v4 ? CTA_NAT_V4_MAXIP : CTA_NAT_V6_MAXIP, v4 ? 4 : 16, endpoint.bytes().data());
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_NAT_PROTO);
    mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MIN, htons(port));
    mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MAX, htons(port));
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, nat);
    finish(nlh);
    return ok_status();
  }

  // Sends what is queued and reads every answer. The first failure is
  // returned, after all answers are in (a delete that finds nothing is fine).
  Status flush() {
    Status first_failure = ok_status();
    if (used_ == 0) return first_failure;
    if (mnl_socket_sendto(sock_, buffer_.data(), used_) < 0) return Error::from_errno(errno, "ctnetlink send");
    used_ = 0;
    std::vector<char> answers(kCtnetlinkReceiveBytes);
    while (!pending_.empty()) {
      ssize_t n = mnl_socket_recvfrom(sock_, answers.data(), answers.size());
      if (n < 0) return Error::from_errno(errno, "ctnetlink receive");
      int left = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(answers.data()); mnl_nlmsg_ok(nlh, left);
           nlh = mnl_nlmsg_next(nlh, &left)) {
        auto it = pending_.find(nlh->nlmsg_seq);
        if (nlh->nlmsg_type != NLMSG_ERROR || it == pending_.end()) continue;
        int err = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        if (err == 0 && !it->second.is_delete) ++created_;
        if (err != 0 && !(it->second.is_delete && err == ENOENT) && first_failure.ok())
          first_failure = Error::from_errno(err, it->second.what);
        pending_.erase(it);
      }
    }
    return first_failure;
  }

  std::size_t created() const { return created_; }

 private:
  struct Request {
    std::string what;
    bool is_delete = false;
  };
  // A request pair takes a few hundred bytes; leave room for the largest.
  static constexpr std::size_t kRoomPerEntry = 2048;

  nlmsghdr* start(uint8_t type, uint16_t flags, bool v4, Request request) {
    nlmsghdr* nlh = put_ctnetlink_request(buffer_.data() + used_, type, NLM_F_ACK | flags, ++seq_, v4 ? AF_INET : AF_INET6);
    pending_[seq_] = std::move(request);
    return nlh;
  }
  void finish(const nlmsghdr* nlh) { used_ += NLMSG_ALIGN(nlh->nlmsg_len); }

  mnl_socket* sock_;
  uint32_t& seq_;  // the socket's
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::map<uint32_t, Request> pending_;
  std::size_t created_ = 0;
};

}  // namespace

Result<std::size_t> NetfilterConntrackWriter::repair_dnat_ports(
    const std::map<ConnKey, std::map<model::IpAddress, uint16_t>>& endpoint_ports) {
  std::set<ConnKey> services;
  for (const auto& [key, endpoints] : endpoint_ports) services.insert(key);
  auto matching = dump_matching(sock_, seq_, services);
  if (!matching.ok()) return matching.error();

  RequestBatch batch(sock_, seq_);
  for (const auto& ct : *matching) {
    auto key = original_destination_of(ct.get());
    if (!key) continue;
    const bool v4 = nfct_get_attr_u8(ct.get(), ATTR_L3PROTO) == AF_INET;
    auto endpoint = address_at(ct.get(), v4, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
    const auto& ports = endpoint_ports.at(*key);
    auto it = ports.find(endpoint);
    if (it == ports.end()) continue;  // not one of the service's endpoints: leave it
    uint16_t dnat_port = ntohs(nfct_get_attr_u16(ct.get(), ATTR_REPL_PORT_SRC));
    if (dnat_port == it->second) continue;
    auto fresh = rebuilt(ct.get(), v4);
    const std::string what = "repair conntrack entry of " + key->vip.with_port(key->port);
    if (auto queued = batch.replace(ct.get(), fresh.get(), v4, endpoint, it->second, what); !queued.ok())
      return queued.error();
  }
  if (auto flushed = batch.flush(); !flushed.ok()) return flushed.error();
  return batch.created();
}

}  // namespace kvlb::kernel
