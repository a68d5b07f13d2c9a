#include "kernel/conntrack/netfilter_conntrack_writer.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "kernel/conntrack/conntrack_entry.h"

namespace kvlb::kernel {
namespace {

struct ConntrackDeleter {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using ConntrackPtr = std::unique_ptr<nf_conntrack, ConntrackDeleter>;

struct Collect {
  const std::set<ConnKey>* services;
  std::vector<ConntrackPtr>* matching;
};

int collect_matching(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto& collect = *static_cast<Collect*>(data);
  auto key = original_destination_of(ct);
  if (!key || !collect.services->contains(*key)) return NFCT_CB_CONTINUE;
  // Keep the dumped object itself: deleting by it sends its tuple and id.
  collect.matching->emplace_back(ct);
  return NFCT_CB_STOLEN;
}

// A dump that races with table changes can fail transiently; start over.
constexpr int kDumpAttempts = 3;

}  // namespace

Result<std::unique_ptr<NetfilterConntrackWriter>> NetfilterConntrackWriter::open() {
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  if (!handle) return Error::from_errno(errno, "open ctnetlink socket");
  return std::unique_ptr<NetfilterConntrackWriter>(new NetfilterConntrackWriter(handle));
}

NetfilterConntrackWriter::~NetfilterConntrackWriter() { nfct_close(handle_); }

Result<std::size_t> NetfilterConntrackWriter::dump_matching(const std::set<ConnKey>& services,
                                                           std::vector<nf_conntrack*>& out) {
  // Collect first, change after: the handle cannot send while it receives a dump.
  std::vector<ConntrackPtr> matching;
  for (int attempt = 1;; ++attempt) {
    matching.clear();
    Collect collect{&services, &matching};
    nfct_callback_register(handle_, NFCT_T_ALL, collect_matching, &collect);
    uint32_t family = AF_UNSPEC;  // both IPv4 and IPv6
    int rc = nfct_query(handle_, NFCT_Q_DUMP, &family);
    int err = errno;
    nfct_callback_unregister(handle_);
    if (rc == 0) break;
    if ((err != EINTR && err != EBUSY) || attempt == kDumpAttempts)
      return Error::from_errno(err, "conntrack: dump table");
  }
  for (auto& ct : matching) out.push_back(ct.release());
  return out.size();
}

}  // namespace kvlb::kernel
