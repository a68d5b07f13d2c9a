#pragma once
// The generic netlink framing both IPVS codecs share (ipvs_codec for
// services and destinations, ipvs_sync_codec for sync daemons): writing a
// request's headers and attributes, and reading attributes back by type.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "kernel/ipvs/ipvs_codec.h"
#include "model/types.h"

namespace kvlb::kernel::ipvs {

// Writes one generic netlink message at the end of a buffer. Every field we
// write is a multiple of 4 bytes long or padded to it, as netlink requires.
class MessageWriter {
 public:
  MessageWriter(Bytes& out, uint16_t family_id, uint16_t flags, uint32_t seq, uint8_t cmd);

  void put(uint16_t type, const void* data, std::size_t len);
  void put_u8(uint16_t type, uint8_t value) { put(type, &value, sizeof value); }
  void put_u16(uint16_t type, uint16_t value) { put(type, &value, sizeof value); }
  void put_u32(uint16_t type, uint32_t value) { put(type, &value, sizeof value); }
  void put_be16(uint16_t type, uint16_t host_value);
  void put_string(uint16_t type, std::string_view text);  // NUL-terminated, as NLA_NUL_STRING wants
  // Addresses always go as a 16-byte union nf_inet_addr, like ipvsadm sends
  // and the kernel reports them.
  void put_address(uint16_t type, const model::IpAddress& ip);

  std::size_t begin_nest(uint16_t type);
  void end_nest(std::size_t at);

  void finish();  // patches in the message length

 private:
  void append(const void* data, std::size_t len);

  Bytes& out_;
  std::size_t start_;
};

// One attribute's payload, if the message had it.
using Payload = std::optional<std::span<const uint8_t>>;

// Fills `table` with attribute payloads indexed by type (without the
// nested/byte-order flags); types beyond the table are skipped. False if an
// attribute overruns `data`.
bool parse_attrs(std::span<const uint8_t> data, std::span<Payload> table);

template <typename T>
std::optional<T> read_scalar(const Payload& payload) {
  if (!payload || payload->size() < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, payload->data(), sizeof value);
  return value;
}

}  // namespace kvlb::kernel::ipvs
