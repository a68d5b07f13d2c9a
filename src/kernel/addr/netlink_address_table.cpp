#include "kernel/addr/netlink_address_table.h"

#include <net/if.h>

#include <cerrno>

#include "kernel/addr/announce_frames.h"

namespace kvlb::kernel {
namespace {

std::string vip_context(const char* verb, const model::IpAddress& vip, const std::string& ifname) {
  return std::string(verb) + " vip " + vip.str() + " on " + ifname;
}

// A concurrent change restarts an address dump; a few tries always suffice
// unless something rewrites addresses in a tight loop.
constexpr int kDumpAttempts = 3;

}  // namespace

Result<std::unique_ptr<NetlinkAddressTable>> NetlinkAddressTable::open() {
  auto rtnl = RtnlSocket::open();
  if (!rtnl) return rtnl.error();
  return std::unique_ptr<NetlinkAddressTable>(new NetlinkAddressTable(std::move(*rtnl)));
}

Result<rtnl::LinkInfo> NetlinkAddressTable::find_link(const std::string& ifname, const std::string& context) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    return Error::invalid(context + ": bad interface name '" + ifname + "'");
  std::optional<rtnl::LinkInfo> link;
  uint32_t seq = rtnl_->next_seq();
  auto st = rtnl_->transact(rtnl::get_link_request(seq, ifname), seq, context,
                            [&](const nlmsghdr& msg) { if (!link) link = rtnl::parse_link(msg); });
  if (!st) {
    if (st.error().code.value() == ENODEV)
      return Error::from_errno(ENODEV, context + ": no interface " + ifname);
    return st.error();
  }
  if (!link) return Error::from_errno(EBADMSG, context + ": no link in reply");
  return *link;
}

Result<std::vector<InterfaceAddress>> NetlinkAddressTable::addresses_of(int ifindex, const std::string& context) {
  for (int attempt = 1;; ++attempt) {
    std::vector<InterfaceAddress> found;
    uint32_t seq = rtnl_->next_seq();
    auto st = rtnl_->dump(rtnl::dump_addresses_request(seq), seq, context, [&](const nlmsghdr& msg) {
      auto parsed = rtnl::parse_address(msg);
      if (parsed && parsed->ifindex == ifindex) found.push_back(parsed->address);
    });
    if (st) return found;
    if (st.error().code.value() != EINTR || attempt == kDumpAttempts) return st.error();
  }
}

Result<std::vector<InterfaceAddress>> NetlinkAddressTable::list(const std::string& ifname) {
  const std::string context = "list addresses on " + ifname;
  auto link = find_link(ifname, context);
  if (!link) return link.error();
  return addresses_of(link->ifindex, context);
}

Status NetlinkAddressTable::add_vip(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("add", vip, ifname);
  auto link = find_link(ifname, context);
  if (!link) return link.error();
  uint32_t seq = rtnl_->next_seq();
  ++writes_;
  if (auto st = rtnl_->transact(rtnl::new_vip_request(seq, link->ifindex, vip), seq, context); !st)
    return st;
  if (auto st = send_announcement(*link, vip, vip_context("announce", vip, ifname)); !st) {
    ++announce_failures_;
    last_announce_error_ = st.error();
  }
  return ok_status();
}

Status NetlinkAddressTable::delete_vip(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("delete", vip, ifname);
  auto link = find_link(ifname, context);
  if (!link) return link.error();
  // Delete only what kvlb added: the kernel itself ignores the tag on delete.
  auto present = addresses_of(link->ifindex, context);
  if (!present) return present.error();
  const model::IpPrefix host{vip, vip.max_prefix()};
  for (const auto& address : *present) {
    if (address.prefix == host && !address.owned)
      return Error::from_errno(EPERM, context + ": address is not tagged as kvlb's");
  }
  uint32_t seq = rtnl_->next_seq();
  ++writes_;
  return rtnl_->transact(rtnl::delete_vip_request(seq, link->ifindex, vip), seq, context);
}

Status NetlinkAddressTable::announce(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("announce", vip, ifname);
  auto link = find_link(ifname, context);
  if (!link) return link.error();
  return send_announcement(*link, vip, context);
}

Status NetlinkAddressTable::send_announcement(const rtnl::LinkInfo& link, const model::IpAddress& vip,
                                              const std::string& context) {
  if (!link.ethernet) return ok_status();
  auto st = packets_.send(link.ifindex, announcement_frame(link.mac, vip), context);
  if (st) ++announcements_sent_;
  return st;
}

}  // namespace kvlb::kernel
