#pragma once
// ConntrackReader over ctnetlink (libnetfilter_conntrack): one dump of the
// whole table, IPv4 and IPv6, in the network namespace it was opened in.
// Callers filter (e.g. by VIP); not thread-safe (one handle, one dump at a time).
#include <memory>

#include "kernel/conntrack/conntrack_reader.h"

struct nfct_handle;

namespace kvlb::kernel {

class NetfilterConntrackReader final : public ConntrackReader {
 public:
  static Result<std::unique_ptr<NetfilterConntrackReader>> open();
  ~NetfilterConntrackReader() override;
  NetfilterConntrackReader(const NetfilterConntrackReader&) = delete;
  NetfilterConntrackReader& operator=(const NetfilterConntrackReader&) = delete;

  // TCP, UDP and SCTP entries; other protocols are left out.
  Result<std::vector<ConnEntry>> list() override;

 private:
  explicit NetfilterConntrackReader(nfct_handle* handle) : handle_(handle) {}
  nfct_handle* handle_;
};

}  // namespace kvlb::kernel
