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

std::string describe(const ConnKey& key) {
  return key.vip.with_port(key.port) + "/" + std::string(model::to_string(key.protocol));
}

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

Result<std::size_t> NetfilterConntrackWriter::purge(const std::set<ConnKey>& services) {
  if (services.empty()) return std::size_t{0};
  std::vector<nf_conntrack*> raw;
  if (auto dumped = dump_matching(services, raw); !dumped.ok()) return dumped.error();
  std::vector<ConntrackPtr> matching;
  for (auto* ct : raw) matching.emplace_back(ct);

  std::size_t deleted = 0, failed = 0;
  int first_error = 0;
  std::string first_failure;
  for (const auto& ct : matching) {
    if (nfct_query(handle_, NFCT_Q_DESTROY, ct.get()) == 0) {
      ++deleted;
      continue;
    }
    const int err = errno;
    if (err == ENOENT) continue;  // expired or deleted meanwhile: already gone
    if (failed++ == 0) {
      first_error = err;
      auto key = original_destination_of(ct.get());
      first_failure = key ? describe(*key) : "?";
    }
  }
  if (failed > 0)
    return Error::from_errno(first_error, "purge conntrack: " + std::to_string(failed) + " of " +
                                              std::to_string(matching.size()) + " entries not deleted (first: " +
                                              first_failure + "), " + std::to_string(deleted) + " deleted");
  return deleted;
}

}  // namespace kvlb::kernel
