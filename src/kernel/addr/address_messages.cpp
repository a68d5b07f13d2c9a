#include "kernel/addr/address_messages.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

namespace kvlb::kernel::rtnl {
namespace {

// Large enough for any request built here (header, ifaddrmsg, a few attributes).
constexpr std::size_t kRequestBufferSize = 256;

class Builder {
 public:
  Builder(uint16_t type, uint16_t flags, uint32_t seq) : buffer_(kRequestBufferSize, 0) {
    header_ = mnl_nlmsg_put_header(buffer_.data());
    header_->nlmsg_type = type;
    header_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    header_->nlmsg_seq = seq;
  }
  template <typename T>
  T* extra_header() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(header_, sizeof(T)));
  }
  nlmsghdr* header() { return header_; }
  std::size_t capacity() const { return buffer_.size(); }
  Message finish() {
    buffer_.resize(header_->nlmsg_len);
    return std::move(buffer_);
  }

 private:
  Message buffer_;
  nlmsghdr* header_;
};

ifaddrmsg* put_vip_header(Builder& b, int ifindex, const model::IpAddress& vip) {
  auto* ifa = b.extra_header<ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(vip.af());
  ifa->ifa_prefixlen = static_cast<uint8_t>(vip.max_prefix());
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  // Both, as iproute2 does: IFA_LOCAL is the address, IFA_ADDRESS equal to it
  // means "no peer".
  mnl_attr_put(b.header(), IFA_LOCAL, vip.size(), vip.data());
  mnl_attr_put(b.header(), IFA_ADDRESS, vip.size(), vip.data());
  return ifa;
}

struct AddressAttributes {
  const nlattr* local = nullptr;
  const nlattr* address = nullptr;
  const nlattr* proto = nullptr;
};

int collect_address_attribute(const nlattr* attr, void* data) {
  auto* out = static_cast<AddressAttributes*>(data);
  switch (mnl_attr_get_type(attr)) {
    case IFA_LOCAL: out->local = attr; break;
    case IFA_ADDRESS: out->address = attr; break;
    case IFA_PROTO:
      if (mnl_attr_validate(attr, MNL_TYPE_U8) == 0) out->proto = attr;
      break;
    default: break;
  }
  return MNL_CB_OK;
}

int collect_link_address(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == IFLA_ADDRESS) *static_cast<const nlattr**>(data) = attr;
  return MNL_CB_OK;
}

// The ifaddrmsg and attributes of an RTM_NEWADDR or RTM_DELADDR message.
std::optional<AddressMessage> parse_address_payload(const nlmsghdr& msg) {
  if (mnl_nlmsg_get_payload_len(&msg) < sizeof(ifaddrmsg)) return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(&msg));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return std::nullopt;
  AddressAttributes attrs;
  mnl_attr_parse(&msg, sizeof(ifaddrmsg), collect_address_attribute, &attrs);
  // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on
  // point-to-point links); IPv6 usually sends only IFA_ADDRESS.
  const nlattr* own = attrs.local ? attrs.local : attrs.address;
  const std::size_t size = ifa->ifa_family == AF_INET ? 4 : 16;
  if (!own || mnl_attr_get_payload_len(own) != size) return std::nullopt;

  AddressMessage out;
  out.ifindex = static_cast<int>(ifa->ifa_index);
  const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(own));
  if (size == 4) {
    std::array<uint8_t, 4> v4;
    std::memcpy(v4.data(), bytes, 4);
    out.address.prefix.address = model::IpAddress::from_v4(v4);
  } else {
    std::array<uint8_t, 16> v6;
    std::memcpy(v6.data(), bytes, 16);
    out.address.prefix.address = model::IpAddress::from_v6(v6);
  }
  out.address.prefix.length = ifa->ifa_prefixlen;
  out.address.owned = attrs.proto && mnl_attr_get_u8(attrs.proto) == kKvlbAddressProto;
  return out;
}

}  // namespace

Message new_vip_request(uint32_t seq, int ifindex, const model::IpAddress& vip) {
  Builder b(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
  auto* ifa = put_vip_header(b, ifindex, vip);
  if (!vip.is_v4()) {
    ifa->ifa_flags = IFA_F_NODAD;
    mnl_attr_put_u32(b.header(), IFA_FLAGS, IFA_F_NODAD);
  }
  mnl_attr_put_u8(b.header(), IFA_PROTO, kKvlbAddressProto);
  return b.finish();
}

Message delete_vip_request(uint32_t seq, int ifindex, const model::IpAddress& vip) {
  Builder b(RTM_DELADDR, NLM_F_ACK, seq);
  put_vip_header(b, ifindex, vip);
  return b.finish();
}

Message dump_addresses_request(uint32_t seq) {
  Builder b(RTM_GETADDR, NLM_F_DUMP, seq);
  b.extra_header<ifaddrmsg>()->ifa_family = AF_UNSPEC;
  return b.finish();
}

Message get_link_request(uint32_t seq, const std::string& ifname) {
  Builder b(RTM_GETLINK, NLM_F_ACK, seq);
  b.extra_header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  // An over-long name is left out; the kernel then answers EINVAL.
  mnl_attr_put_strz_check(b.header(), b.capacity(), IFLA_IFNAME, ifname.c_str());
  return b.finish();
}

std::optional<AddressMessage> parse_address(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWADDR) return std::nullopt;
  return parse_address_payload(msg);
}

std::optional<AddressChange> parse_address_change(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWADDR && msg.nlmsg_type != RTM_DELADDR) return std::nullopt;
  auto parsed = parse_address_payload(msg);
  if (!parsed) return std::nullopt;
  return AddressChange{std::move(*parsed), msg.nlmsg_type == RTM_DELADDR};
}

std::optional<LinkInfo> parse_link(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(&msg) < sizeof(ifinfomsg))
    return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&msg));
  LinkInfo out;
  out.ifindex = ifi->ifi_index;
  const nlattr* hwaddr = nullptr;
  mnl_attr_parse(&msg, sizeof(ifinfomsg), collect_link_address, &hwaddr);
  if (ifi->ifi_type == ARPHRD_ETHER && hwaddr && mnl_attr_get_payload_len(hwaddr) == out.mac.size()) {
    out.ethernet = true;
    std::memcpy(out.mac.data(), mnl_attr_get_payload(hwaddr), out.mac.size());
  }
  return out;
}

std::optional<LinkChange> parse_link_change(const nlmsghdr& msg) {
  if ((msg.nlmsg_type != RTM_NEWLINK && msg.nlmsg_type != RTM_DELLINK) ||
      mnl_nlmsg_get_payload_len(&msg) < sizeof(ifinfomsg))
    return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&msg));
  return LinkChange{ifi->ifi_index, msg.nlmsg_type == RTM_DELLINK};
}

}  // namespace kvlb::kernel::rtnl
