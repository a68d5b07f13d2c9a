#pragma once
// ConntrackWriter over ctnetlink (libnetfilter_conntrack), in the network
// namespace it was opened in. Its own handle: a repair never interleaves with
// a reader's dump. Not thread-safe (one handle, one repair at a time).
#include <memory>
#include <set>
#include <vector>

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
