#include "ha/advert.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kvlb::ha {
namespace {

constexpr std::array<uint8_t, 4> kMagic{'K', 'V', 'L', 'B'};
constexpr std::size_t kSignedSize = kAdvertSize - kAdvertHmacSize;
constexpr std::size_t kFramingSize = 8;  // magic, version, flags, length
constexpr uint8_t kFlagSynced = 0x01;
constexpr uint8_t kFlagProbe = 0x02;
constexpr uint8_t kFlagServing = 0x04;

// Field offsets (see the table in advert.h).
constexpr std::size_t kOffVersion = 4, kOffFlags = 5, kOffLength = 6, kOffPriority = 8, kOffFamily = 9,
                      kOffInterval = 10, kOffDigest = 12, kOffSequence = 16, kOffSender = 24,
                      kOffNameLength = 40, kOffReserved = 41, kOffName = 44, kOffHmac = 76;

[[noreturn]] void broken_invariant(const char* what) {
  std::fprintf(stderr, "kvlb ha: %s\n", what);
  std::abort();
}

void put_be(uint8_t* out, uint64_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(value >> (8 * (size - 1 - i)));
}

uint64_t get_be(const uint8_t* in, std::size_t size) {
  uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value = (value << 8) | in[i];
  return value;
}

std::array<uint8_t, kAdvertHmacSize> hmac(std::span<const uint8_t> key, const uint8_t* data) {
  static const uint8_t kEmptyKey = 0;  // OpenSSL wants a pointer even for a zero-length key
  std::array<uint8_t, kAdvertHmacSize> out{};
  unsigned int length = 0;
  const void* key_data = key.empty() ? &kEmptyKey : key.data();
  if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), data, kSignedSize, out.data(), &length) == nullptr ||
      length != out.size())
    broken_invariant("HMAC-SHA256 failed");
  return out;
}

bool all_zero(const uint8_t* data, std::size_t size) {
  return std::all_of(data, data + size, [](uint8_t b) { return b == 0; });
}

AdvertDecodeError fail(AdvertError code, std::string detail) { return AdvertDecodeError{code, std::move(detail)}; }

}  // namespace

bool is_valid_instance_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxInstanceName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

Bytes encode_advert(const Advert& advert, std::span<const uint8_t> key) {
  if (!is_valid_instance_name(advert.instance)) broken_invariant("advert with an invalid instance name");
  if (advert.interval_ms == 0) broken_invariant("advert with a zero interval");
  Bytes out(kAdvertSize, 0);
  std::copy(kMagic.begin(), kMagic.end(), out.begin());
  out[kOffVersion] = kAdvertVersion;
  out[kOffFlags] = static_cast<uint8_t>((advert.synced ? kFlagSynced : 0) | (advert.probe ? kFlagProbe : 0) |
                                     (advert.serving ? kFlagServing : 0));
  put_be(&out[kOffLength], kAdvertSize, 2);
  out[kOffPriority] = advert.priority;
  out[kOffFamily] = static_cast<uint8_t>(advert.sender.family());
  put_be(&out[kOffInterval], advert.interval_ms, 2);
  put_be(&out[kOffDigest], advert.config_digest, 4);
  put_be(&out[kOffSequence], advert.sequence, 8);
  std::memcpy(&out[kOffSender], advert.sender.data(), advert.sender.size());
  out[kOffNameLength] = static_cast<uint8_t>(advert.instance.size());
  std::memcpy(&out[kOffName], advert.instance.data(), advert.instance.size());
  sign_advert(std::span<uint8_t, kAdvertSize>(out.data(), kAdvertSize), key);
  return out;
}

void sign_advert(std::span<uint8_t, kAdvertSize> packet, std::span<const uint8_t> key) {
  auto mac = hmac(key, packet.data());
  std::copy(mac.begin(), mac.end(), packet.begin() + kOffHmac);
}

const char* to_string(AdvertError error) {
  switch (error) {
    case AdvertError::Truncated: return "truncated";
    case AdvertError::BadMagic: return "bad magic";
    case AdvertError::BadVersion: return "bad version";
    case AdvertError::BadLength: return "bad length";
    case AdvertError::BadAuth: return "bad authentication";
    case AdvertError::BadField: return "bad field";
  }
  return "unknown";
}

std::string AdvertDecodeError::describe() const {
  return detail.empty() ? to_string(code) : std::string(to_string(code)) + ": " + detail;
}

Result<Advert, AdvertDecodeError> decode_advert(std::span<const uint8_t> packet, std::span<const uint8_t> key) {
  const std::string expected = " of " + std::to_string(kAdvertSize) + " bytes";
  if (packet.size() < kFramingSize) return fail(AdvertError::Truncated, std::to_string(packet.size()) + expected);
  const uint8_t* p = packet.data();
  if (!std::equal(kMagic.begin(), kMagic.end(), p)) return fail(AdvertError::BadMagic, "");
  if (p[kOffVersion] != kAdvertVersion)
    return fail(AdvertError::BadVersion, "version " + std::to_string(p[kOffVersion]));
  auto length = get_be(p + kOffLength, 2);
  if (length != kAdvertSize) return fail(AdvertError::BadLength, "length field " + std::to_string(length) + expected);
  if (packet.size() < kAdvertSize) return fail(AdvertError::Truncated, std::to_string(packet.size()) + expected);
  if (packet.size() > kAdvertSize) return fail(AdvertError::BadLength, std::to_string(packet.size()) + expected);

  auto mac = hmac(key, p);
  if (CRYPTO_memcmp(mac.data(), p + kOffHmac, mac.size()) != 0) return fail(AdvertError::BadAuth, "HMAC mismatch");

  Advert advert;
  uint8_t flags = p[kOffFlags];
  if ((flags & ~(kFlagSynced | kFlagProbe | kFlagServing)) != 0) return fail(AdvertError::BadField, "unknown flags");
  advert.synced = (flags & kFlagSynced) != 0;
  advert.probe = (flags & kFlagProbe) != 0;
  advert.serving = (flags & kFlagServing) != 0;
  advert.priority = p[kOffPriority];
  advert.interval_ms = static_cast<uint16_t>(get_be(p + kOffInterval, 2));
  if (advert.interval_ms == 0) return fail(AdvertError::BadField, "interval 0");
  advert.config_digest = static_cast<uint32_t>(get_be(p + kOffDigest, 4));
  advert.sequence = get_be(p + kOffSequence, 8);

  uint8_t family = p[kOffFamily];
  if (family == static_cast<uint8_t>(model::Family::V4)) {
    if (!all_zero(p + kOffSender + 4, 12)) return fail(AdvertError::BadField, "IPv4 sender with trailing bytes");
    std::array<uint8_t, 4> v4{};
    std::memcpy(v4.data(), p + kOffSender, v4.size());
    advert.sender = model::IpAddress::from_v4(v4);
  } else if (family == static_cast<uint8_t>(model::Family::V6)) {
    std::array<uint8_t, 16> v6{};
    std::memcpy(v6.data(), p + kOffSender, v6.size());
    advert.sender = model::IpAddress::from_v6(v6);
  } else {
    return fail(AdvertError::BadField, "address family " + std::to_string(family));
  }

  std::size_t name_length = p[kOffNameLength];
  if (!all_zero(p + kOffReserved, kOffName - kOffReserved)) return fail(AdvertError::BadField, "reserved bytes set");
  if (name_length == 0 || name_length > kMaxInstanceName)
    return fail(AdvertError::BadField, "instance name length " + std::to_string(name_length));
  advert.instance.assign(reinterpret_cast<const char*>(p + kOffName), name_length);
  if (!is_valid_instance_name(advert.instance)) return fail(AdvertError::BadField, "instance name characters");
  if (!all_zero(p + kOffName + name_length, kMaxInstanceName - name_length))
    return fail(AdvertError::BadField, "instance name padding");
  return advert;
}

}  // namespace kvlb::ha
