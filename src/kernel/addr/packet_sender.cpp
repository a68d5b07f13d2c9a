#include "kernel/addr/packet_sender.h"

#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kvlb::kernel {

PacketSender::~PacketSender() {
  if (fd_ >= 0) ::close(fd_);
}

Status PacketSender::send(int ifindex, const std::vector<uint8_t>& frame, const std::string& context) {
  constexpr std::size_t kEthernetHeader = 14;
  if (frame.size() < kEthernetHeader) return Error::invalid(context + ": frame too short");
  if (fd_ < 0) {
    // Protocol 0: this socket only sends, so no received traffic queues up on it.
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Error::from_errno(errno, context + ": open packet socket");
  }
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  std::memcpy(&to.sll_protocol, frame.data() + 12, 2);  // EtherType, already big-endian
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame.data(), 6);
  ssize_t sent = ::sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (sent < 0) return Error::from_errno(errno, context);
  if (static_cast<std::size_t>(sent) != frame.size()) return Error::from_errno(EIO, context);
  return ok_status();
}

}  // namespace kvlb::kernel
