#include "kernel/conntrack/netfilter_conntrack_reader.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sys/socket.h>

#include <cerrno>

#include "kernel/conntrack/conntrack_entry.h"

namespace kvlb::kernel {
namespace {

int collect_entry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* entries = static_cast<std::vector<ConnEntry>*>(data);
  if (auto entry = conn_entry_from(ct)) entries->push_back(std::move(*entry));
  return NFCT_CB_CONTINUE;
}

// A dump that races with table changes can fail transiently; start over.
constexpr int kDumpAttempts = 3;

}  // namespace

Result<std::unique_ptr<NetfilterConntrackReader>> NetfilterConntrackReader::open() {
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  if (!handle) return Error::from_errno(errno, "open ctnetlink socket");
  return std::unique_ptr<NetfilterConntrackReader>(new NetfilterConntrackReader(handle));
}

NetfilterConntrackReader::~NetfilterConntrackReader() { nfct_close(handle_); }

Result<std::vector<ConnEntry>> NetfilterConntrackReader::list() {
  for (int attempt = 1;; ++attempt) {
    std::vector<ConnEntry> entries;
    nfct_callback_register(handle_, NFCT_T_ALL, collect_entry, &entries);
    uint32_t family = AF_UNSPEC;  // both IPv4 and IPv6
    int rc = nfct_query(handle_, NFCT_Q_DUMP, &family);
    int err = errno;
    nfct_callback_unregister(handle_);
    if (rc == 0) return entries;
    if ((err != EINTR && err != EBUSY) || attempt == kDumpAttempts)
      return Error::from_errno(err, "dump conntrack table");
  }
}

}  // namespace kvlb::kernel
