#pragma once
// AddressTable over rtnetlink: VIPs are host addresses (/32, /128) tagged
// with kKvlbAddressProto, announced with gratuitous ARP / unsolicited NA.
// Needs CAP_NET_ADMIN and CAP_NET_RAW; the kernel keeps IFA_PROTO since 5.18.
// One object per thread: it holds one socket and reads its replies inline.
//
// An add or a delete costs one request, not a link lookup and an address
// dump each: links and the addresses of an interface are cached, filled by
// list() (which always reads the kernel afresh) or on first use, and kept
// current by the kernel's notifications, which a second socket listens to
// and which are read before every request.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernel/addr/address_messages.h"
#include "kernel/addr/address_table.h"
#include "kernel/addr/packet_sender.h"
#include "kernel/addr/rtnl_socket.h"

namespace kvlb::kernel {

class NetlinkAddressTable final : public AddressTable {
 public:
  // Opens the sockets in the calling thread's network namespace.
  static Result<std::unique_ptr<NetlinkAddressTable>> open();

  Result<std::vector<InterfaceAddress>> list(const std::string& ifname) override;
  // EEXIST if the address is there already (tagged or not). Announces once;
  // a failed announcement does not fail the add (see announce_failures()).
  Status add_vip(const std::string& ifname, const model::IpAddress& vip) override;
  // EADDRNOTAVAIL if absent; EPERM, without touching it, if the address is
  // there but not tagged as kvlb's (someone else configured it).
  Status delete_vip(const std::string& ifname, const model::IpAddress& vip) override;
  // Address add/delete requests sent to the kernel, whatever their answer.
  uint64_t writes() const override { return writes_; }

  // Sends one gratuitous ARP (IPv4) or unsolicited neighbour advertisement
  // (IPv6) for vip from ifname's MAC, so neighbours and switches send its
  // traffic here at once (e.g. again after a takeover). Interfaces without
  // an Ethernet address have no neighbours to tell: nothing is sent.
  Status announce(const std::string& ifname, const model::IpAddress& vip);

  uint64_t announcements_sent() const { return announcements_sent_; }
  // Announcements that failed inside add_vip, and the latest such error.
  uint64_t announce_failures() const override { return announce_failures_; }
  const std::optional<Error>& last_announce_error() const { return last_announce_error_; }

 private:
  // prefix -> owned, for one interface.
  using KnownAddresses = std::map<model::IpPrefix, bool>;

  NetlinkAddressTable(std::unique_ptr<RtnlSocket> rtnl, std::unique_ptr<RtnlListener> events)
      : rtnl_(std::move(rtnl)), events_(std::move(events)) {}
  // Applies the kernel's notifications since the last call to the caches.
  void catch_up();
  // From the cache, else one RTM_GETLINK (then cached).
  Result<rtnl::LinkInfo> link(const std::string& ifname, const std::string& context);
  void forget_link(const std::string& ifname, int ifindex);
  Result<rtnl::LinkInfo> find_link(const std::string& ifname, const std::string& context);
  // Sends build(seq, ifindex, vip) for ifname's link once check(link), when
  // given, allows it. A cached link the kernel no longer knows (ENODEV:
  // deleted, maybe recreated under the same name) is looked up again, once.
  // Returns the link written to.
  using VipRequest = rtnl::Message (*)(uint32_t seq, int ifindex, const model::IpAddress& vip);
  Result<rtnl::LinkInfo> write_vip(const std::string& ifname, const model::IpAddress& vip, const std::string& context,
                                   VipRequest build, const std::function<Status(const rtnl::LinkInfo&)>& check = {});
  // One dump; the addresses of ifindex are then kept as its KnownAddresses.
  Result<std::vector<InterfaceAddress>> read_addresses(int ifindex, const std::string& context);
  Status send_announcement(const rtnl::LinkInfo& link, const model::IpAddress& vip,
                           const std::string& context);

  std::unique_ptr<RtnlSocket> rtnl_;
  std::unique_ptr<RtnlListener> events_;  // link and address notifications
  // Kept current by the notifications; forgotten when some were dropped.
  std::map<std::string, rtnl::LinkInfo> links_;  // by interface name
  std::map<int, KnownAddresses> addresses_;      // by ifindex
  PacketSender packets_;
  uint64_t writes_ = 0;
  uint64_t announcements_sent_ = 0;
  uint64_t announce_failures_ = 0;
  std::optional<Error> last_announce_error_;
};

}  // namespace kvlb::kernel
