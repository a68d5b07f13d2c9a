#pragma once
// Sends whole Ethernet frames out of an interface through one AF_PACKET
// socket, for announcements the kernel does not make by itself.
#include <string>
#include <vector>

#include "util/result.h"

namespace kvlb::kernel {

class PacketSender {
 public:
  PacketSender() = default;
  ~PacketSender();
  PacketSender(const PacketSender&) = delete;
  PacketSender& operator=(const PacketSender&) = delete;

  // The socket is opened on first use, in the calling thread's network namespace.
  Status send(int ifindex, const std::vector<uint8_t>& frame, const std::string& context);

 private:
  int fd_ = -1;
};

}  // namespace kvlb::kernel
