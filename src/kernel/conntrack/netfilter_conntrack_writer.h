#pragma once
// ConntrackWriter over ctnetlink (libmnl, entries parsed and built by
// libnetfilter_conntrack), in the network namespace it was opened in. Its own
// socket: a repair never interleaves with a reader's dump. Not thread-safe
// (one socket, one repair at a time).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernel/conntrack/conntrack_writer.h"

struct mnl_socket;

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
  explicit NetfilterConntrackWriter(mnl_socket* sock) : sock_(sock) {}
  mnl_socket* sock_;
  uint32_t seq_ = 0;  // of this socket's requests: answers are matched by it
};

}  // namespace kvlb::kernel
