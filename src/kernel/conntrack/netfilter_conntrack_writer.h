#pragma once
// ConntrackWriter over ctnetlink (libnetfilter_conntrack), in the network
// namespace it was opened in. Its own handle: a purge never interleaves with
// a reader's dump. Not thread-safe (one handle, one purge at a time).
#include <memory>

#include "kernel/conntrack/conntrack_writer.h"

struct nfct_handle;
struct nf_conntrack;

namespace kvlb::kernel {

class NetfilterConntrackWriter final : public ConntrackWriter {
 public:
  static Result<std::unique_ptr<NetfilterConntrackWriter>> open();
  ~NetfilterConntrackWriter() override;
  NetfilterConntrackWriter(const NetfilterConntrackWriter&) = delete;
  NetfilterConntrackWriter& operator=(const NetfilterConntrackWriter&) = delete;

  // One dump of the whole table (IPv4 and IPv6), then one delete per matching
  // entry, by its tuple and id (so an entry created meanwhile with the same
  // tuple is left alone). An empty `services` touches nothing.
  Result<std::size_t> purge(const std::set<ConnKey>& services) override;
  // Deletes each wrong entry and creates it again as conntrackd's commit
  // does (original tuple, SNAT and DNAT, protocol state, timeout), with the
  // endpoint's port.
  Result<std::size_t> repair_dnat_ports(
      const std::map<ConnKey, std::map<model::IpAddress, uint16_t>>& endpoint_ports) override;

 private:
  Result<std::size_t> dump_matching(const std::set<ConnKey>& services, std::vector<nf_conntrack*>& out);
  explicit NetfilterConntrackWriter(nfct_handle* handle) : handle_(handle) {}
  nfct_handle* handle_;
};

}  // namespace kvlb::kernel
