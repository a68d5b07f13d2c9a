#pragma once
// What NetfilterConntrackWriter's two files share (internal to this layer):
// an owned libnetfilter_conntrack entry, the header of a ctnetlink request,
// and the dump of the entries of some services.
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "kernel/conntrack/conntrack_writer.h"
#include "util/result.h"

namespace kvlb::kernel {

struct ConntrackDeleter {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using ConntrackPtr = std::unique_ptr<nf_conntrack, ConntrackDeleter>;

// One read of a dump or of answers: the kernel fills at most 32 KiB per read.
constexpr std::size_t kCtnetlinkReceiveBytes = 32 * 1024;

// The netlink and nfnetlink headers of a ctnetlink request, put at `at`;
// its attributes follow.
inline nlmsghdr* put_ctnetlink_request(void* at, uint8_t type, uint16_t flags, uint32_t seq, uint8_t family) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(at);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = seq;
  auto* nfh = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfh->nfgen_family = family;
  nfh->version = NFNETLINK_V0;
  nfh->res_id = 0;
  return nlh;
}

// The entries whose original destination is one of `services`, as the
// kernel dumped them (deleting by one sends its tuple and id). Each request
// takes the next of the socket's sequence numbers.
Result<std::vector<ConntrackPtr>> dump_matching(mnl_socket* sock, uint32_t& seq, const std::set<ConnKey>& services);

}  // namespace kvlb::kernel
