#include "kernel/addr/netlink_address_table.h"

#include <linux/rtnetlink.h>
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

// A cached link the kernel no longer knows by its index (deleted, maybe
// recreated under the same name) is looked up again, once.
constexpr int kLinkAttempts = 2;

bool link_gone(const Status& st) { return !st && st.error().code.value() == ENODEV; }

}  // namespace

Result<std::unique_ptr<NetlinkAddressTable>> NetlinkAddressTable::open() {
  auto rtnl = RtnlSocket::open();
  if (!rtnl) return rtnl.error();
  auto events = RtnlListener::open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
  if (!events) return events.error();
  return std::unique_ptr<NetlinkAddressTable>(new NetlinkAddressTable(std::move(*rtnl), std::move(*events)));
}

void NetlinkAddressTable::catch_up() {
  auto st = events_->drain([&](const nlmsghdr& msg) {
    if (auto change = rtnl::parse_address_change(msg)) {
      auto known = addresses_.find(change->address.ifindex);
      if (known == addresses_.end()) return;
      const auto& address = change->address.address;
      if (change->removed) known->second.erase(address.prefix);
      else known->second[address.prefix] = address.owned;
    } else if (auto change = rtnl::parse_link_change(msg)) {
      // Renamed, readdressed, gone...: looked up again when next needed.
      std::erase_if(links_, [&](const auto& entry) { return entry.second.ifindex == change->ifindex; });
      if (change->removed) addresses_.erase(change->ifindex);
    }
  });
  if (!st) {  // notifications were lost: nothing cached can be trusted
    links_.clear();
    addresses_.clear();
  }
}

Result<rtnl::LinkInfo> NetlinkAddressTable::link(const std::string& ifname, const std::string& context) {
  if (auto it = links_.find(ifname); it != links_.end()) return it->second;
  auto found = find_link(ifname, context);
  if (found) links_[ifname] = *found;
  return found;
}

void NetlinkAddressTable::forget_link(const std::string& ifname, int ifindex) {
  links_.erase(ifname);
  addresses_.erase(ifindex);
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

Result<std::vector<InterfaceAddress>> NetlinkAddressTable::read_addresses(int ifindex, const std::string& context) {
  // Notifications queued from here on are applied on top of the dump by the
  // next catch_up(): each carries the whole state of one address, in the
  // kernel's order, so the last one for an address is its current state
  // whether or not the dump already saw the change.
  for (int attempt = 1;; ++attempt) {
    std::vector<InterfaceAddress> found;
    uint32_t seq = rtnl_->next_seq();
    auto st = rtnl_->dump(rtnl::dump_addresses_request(seq), seq, context, [&](const nlmsghdr& msg) {
      auto parsed = rtnl::parse_address(msg);
      if (parsed && parsed->ifindex == ifindex) found.push_back(parsed->address);
    });
    if (st) {
      auto& known = addresses_[ifindex];
      known.clear();
      for (const auto& address : found) known[address.prefix] = address.owned;
      return found;
    }
    if (st.error().code.value() != EINTR || attempt == kDumpAttempts) return st.error();
  }
}

Result<std::vector<InterfaceAddress>> NetlinkAddressTable::list(const std::string& ifname) {
  const std::string context = "list addresses on " + ifname;
  catch_up();
  // The periodic full read also refreshes what is cached about the link.
  if (auto it = links_.find(ifname); it != links_.end()) forget_link(ifname, it->second.ifindex);
  auto link = this->link(ifname, context);
  if (!link) return link.error();
  return read_addresses(link->ifindex, context);
}

Result<rtnl::LinkInfo> NetlinkAddressTable::write_vip(const std::string& ifname, const model::IpAddress& vip,
                                                      const std::string& context, VipRequest build,
                                                      const std::function<Status(const rtnl::LinkInfo&)>& check) {
  catch_up();
  for (int attempt = 1;; ++attempt) {
    const bool cached = links_.contains(ifname);
    auto link = this->link(ifname, context);
    if (!link) return link.error();
    if (check)
      if (auto st = check(*link); !st) return st.error();
    uint32_t seq = rtnl_->next_seq();
    ++writes_;
    auto st = rtnl_->transact(build(seq, link->ifindex, vip), seq, context);
    if (cached && link_gone(st) && attempt < kLinkAttempts) {
      forget_link(ifname, link->ifindex);
      continue;
    }
    if (!st) return st.error();
    return *link;
  }
}

Status NetlinkAddressTable::add_vip(const std::string& ifname, const model::IpAddress& vip) {
  auto link = write_vip(ifname, vip, vip_context("add", vip, ifname), rtnl::new_vip_request);
  if (!link) return link.error();
  if (auto sent = send_announcement(*link, vip, vip_context("announce", vip, ifname)); !sent) {
    ++announce_failures_;
    last_announce_error_ = sent.error();
  }
  return ok_status();
}

Status NetlinkAddressTable::delete_vip(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("delete", vip, ifname);
  const model::IpPrefix host{vip, vip.max_prefix()};
  // Delete only what kvlb added: the kernel itself ignores the tag on
  // delete. The addresses known here are as current as the notifications
  // just read, as the kernel queues each before it acks the change (and
  // lost ones made catch_up() forget them all). One exception: an IPv6
  // address added without DAD is notified a moment later, from the
  // kernel's DAD work; so an address not known to be there is looked for
  // in one dump before it is deleted. What remains is a change racing
  // this very request, a window that a dump before each delete had too.
  auto tagged_or_absent = [&](const rtnl::LinkInfo& link) -> Status {
    auto known = addresses_.find(link.ifindex);
    if (known == addresses_.end() || !known->second.contains(host)) {
      if (auto read = read_addresses(link.ifindex, context); !read) return read.error();
      known = addresses_.find(link.ifindex);
    }
    if (auto it = known->second.find(host); it != known->second.end() && !it->second)
      return Error::from_errno(EPERM, context + ": address is not tagged as kvlb's");
    return ok_status();
  };
  auto link = write_vip(ifname, vip, context, rtnl::delete_vip_request, tagged_or_absent);
  if (!link) return link.error();
  return ok_status();
}

Status NetlinkAddressTable::announce(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("announce", vip, ifname);
  catch_up();
  auto link = this->link(ifname, context);
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
