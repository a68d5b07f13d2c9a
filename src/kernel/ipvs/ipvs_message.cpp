#include "kernel/ipvs/ipvs_message.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <algorithm>
#include <array>
#include <string>

namespace kvlb::kernel::ipvs {

MessageWriter::MessageWriter(Bytes& out, uint16_t family_id, uint16_t flags, uint32_t seq, uint8_t cmd)
    : out_(out), start_(out.size()) {
  nlmsghdr header{};
  header.nlmsg_type = family_id;
  header.nlmsg_flags = flags;
  header.nlmsg_seq = seq;
  header.nlmsg_pid = 0;  // the kernel takes the sender's port from the socket
  append(&header, sizeof header);
  genlmsghdr genl{};
  genl.cmd = cmd;
  genl.version = IPVS_GENL_VERSION;
  append(&genl, sizeof genl);
}

void MessageWriter::put(uint16_t type, const void* data, std::size_t len) {
  nlattr attr{};
  attr.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  attr.nla_type = type;
  append(&attr, sizeof attr);
  append(data, len);
  out_.resize(out_.size() + (NLA_ALIGN(len) - len), 0);
}

void MessageWriter::put_be16(uint16_t type, uint16_t host_value) { put_u16(type, htons(host_value)); }

void MessageWriter::put_string(uint16_t type, std::string_view text) {
  std::string with_nul(text);
  put(type, with_nul.c_str(), with_nul.size() + 1);
}

void MessageWriter::put_address(uint16_t type, const model::IpAddress& ip) {
  std::array<uint8_t, 16> raw{};
  std::memcpy(raw.data(), ip.data(), ip.size());
  put(type, raw.data(), raw.size());
}

std::size_t MessageWriter::begin_nest(uint16_t type) {
  std::size_t at = out_.size();
  nlattr attr{};
  attr.nla_len = NLA_HDRLEN;
  attr.nla_type = static_cast<uint16_t>(type | NLA_F_NESTED);
  append(&attr, sizeof attr);
  return at;
}

void MessageWriter::end_nest(std::size_t at) {
  auto len = static_cast<uint16_t>(out_.size() - at);
  std::memcpy(&out_[at], &len, sizeof len);
}

void MessageWriter::finish() {
  auto len = static_cast<uint32_t>(out_.size() - start_);
  std::memcpy(&out_[start_], &len, sizeof len);
}

void MessageWriter::append(const void* data, std::size_t len) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  out_.insert(out_.end(), bytes, bytes + len);
}

bool parse_attrs(std::span<const uint8_t> data, std::span<Payload> table) {
  std::fill(table.begin(), table.end(), Payload{});
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= data.size()) {
    nlattr attr{};
    std::memcpy(&attr, data.data() + off, sizeof attr);
    if (attr.nla_len < NLA_HDRLEN || attr.nla_len > data.size() - off) return false;
    uint16_t type = attr.nla_type & NLA_TYPE_MASK;
    if (type < table.size()) table[type] = data.subspan(off + NLA_HDRLEN, attr.nla_len - NLA_HDRLEN);
    off += NLA_ALIGN(attr.nla_len);
  }
  return true;
}

}  // namespace kvlb::kernel::ipvs
