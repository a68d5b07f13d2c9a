// Every way decode_advert refuses a datagram. Packets with a bad field are
// re-signed (sign_advert) so that they get past authentication.
#include <gtest/gtest.h>

#include <functional>

#include "ha/advert.h"
#include "unit/ha/ha_test_support.h"

namespace kvlb::ha {
namespace {

using kvlb::testing::key;
using kvlb::testing::sample_advert;

Bytes valid_packet() { return encode_advert(sample_advert(), key()); }

AdvertError error_of(const Bytes& packet) {
  auto decoded = decode_advert(packet, key());
  EXPECT_FALSE(decoded.ok());
  return decoded.ok() ? AdvertError::Truncated : decoded.error().code;
}

// A valid advert altered by `change`, then signed again with the right key.
AdvertDecodeError resigned_error(const std::function<void(Bytes&)>& change) {
  Bytes packet = valid_packet();
  change(packet);
  sign_advert(std::span<uint8_t, kAdvertSize>(packet.data(), kAdvertSize), key());
  auto decoded = decode_advert(packet, key());
  EXPECT_FALSE(decoded.ok());
  return decoded.ok() ? AdvertDecodeError{} : decoded.error();
}

TEST(AdvertErrors, TruncatedAtEveryLength) {
  Bytes packet = valid_packet();
  for (std::size_t length = 0; length < kAdvertSize; ++length) {
    Bytes prefix(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(length));
    auto decoded = decode_advert(prefix, key());
    ASSERT_FALSE(decoded.ok()) << "length " << length;
    EXPECT_EQ(decoded.error().code, AdvertError::Truncated) << "length " << length;
    EXPECT_EQ(decoded.error().describe(), "truncated: " + std::to_string(length) + " of 108 bytes");
  }
}

TEST(AdvertErrors, BadMagic) {
  Bytes packet = valid_packet();
  packet[0] = 'X';
  EXPECT_EQ(error_of(packet), AdvertError::BadMagic);
}

TEST(AdvertErrors, BadVersion) {
  Bytes packet = valid_packet();
  packet[4] = 2;
  auto decoded = decode_advert(packet, key());
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, AdvertError::BadVersion);
  EXPECT_EQ(decoded.error().describe(), "bad version: version 2");
}

TEST(AdvertErrors, BadLengthField) {
  Bytes packet = valid_packet();
  packet[7] = 107;
  EXPECT_EQ(error_of(packet), AdvertError::BadLength);
}

TEST(AdvertErrors, TrailingBytesAreBadLength) {
  Bytes packet = valid_packet();
  packet.push_back(0);
  EXPECT_EQ(error_of(packet), AdvertError::BadLength);
}

TEST(AdvertErrors, EveryFlippedHmacBitIsBadAuth) {
  for (std::size_t bit = 0; bit < kAdvertHmacSize * 8; ++bit) {
    Bytes packet = valid_packet();
    packet[kAdvertSize - kAdvertHmacSize + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ASSERT_EQ(error_of(packet), AdvertError::BadAuth) << "bit " << bit;
  }
}

TEST(AdvertErrors, EveryFlippedFieldBitIsBadAuth) {
  // Past the framing (magic, version, flags, length) every byte is signed.
  for (std::size_t bit = 8 * 8; bit < (kAdvertSize - kAdvertHmacSize) * 8; ++bit) {
    Bytes packet = valid_packet();
    packet[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ASSERT_EQ(error_of(packet), AdvertError::BadAuth) << "bit " << bit;
  }
}

TEST(AdvertErrors, FlippedFlagIsBadAuth) {
  Bytes packet = valid_packet();
  packet[5] ^= 0x02;  // synced advert turned into a probe
  EXPECT_EQ(error_of(packet), AdvertError::BadAuth);
}

TEST(AdvertErrors, WrongKeyIsBadAuth) {
  auto decoded = decode_advert(valid_packet(), key("another-key"));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, AdvertError::BadAuth);
  EXPECT_EQ(decoded.error().describe(), "bad authentication: HMAC mismatch");
}

TEST(AdvertErrors, UnknownFlagIsBadField) {
  auto error = resigned_error([](Bytes& p) { p[5] |= 0x80; });
  EXPECT_EQ(error.code, AdvertError::BadField);
  EXPECT_EQ(error.describe(), "bad field: unknown flags");
}

TEST(AdvertErrors, UnknownFamilyIsBadField) {
  auto error = resigned_error([](Bytes& p) { p[9] = 5; });
  EXPECT_EQ(error.code, AdvertError::BadField);
  EXPECT_EQ(error.detail, "address family 5");
}

TEST(AdvertErrors, Ipv4SenderWithTrailingBytesIsBadField) {
  EXPECT_EQ(resigned_error([](Bytes& p) { p[39] = 1; }).code, AdvertError::BadField);
}

TEST(AdvertErrors, ZeroIntervalIsBadField) {
  EXPECT_EQ(resigned_error([](Bytes& p) { p[10] = p[11] = 0; }).detail, "interval 0");
}

TEST(AdvertErrors, NameLengthOutOfRangeIsBadField) {
  EXPECT_EQ(resigned_error([](Bytes& p) { p[40] = 0; }).detail, "instance name length 0");
  EXPECT_EQ(resigned_error([](Bytes& p) { p[40] = 33; }).detail, "instance name length 33");
}

TEST(AdvertErrors, NameCharacterIsBadField) {
  EXPECT_EQ(resigned_error([](Bytes& p) { p[44] = '/'; }).detail, "instance name characters");
  EXPECT_EQ(resigned_error([](Bytes& p) { p[44] = 0; }).detail, "instance name characters");
}

TEST(AdvertErrors, NamePaddingIsBadField) {
  EXPECT_EQ(resigned_error([](Bytes& p) { p[44 + 5] = 'x'; }).detail, "instance name padding");
}

TEST(AdvertErrors, ReservedBytesAreBadField) {
  EXPECT_EQ(resigned_error([](Bytes& p) { p[42] = 1; }).detail, "reserved bytes set");
}

TEST(AdvertErrors, Names) {
  EXPECT_STREQ(to_string(AdvertError::Truncated), "truncated");
  EXPECT_STREQ(to_string(AdvertError::BadMagic), "bad magic");
  EXPECT_STREQ(to_string(AdvertError::BadVersion), "bad version");
  EXPECT_STREQ(to_string(AdvertError::BadLength), "bad length");
  EXPECT_STREQ(to_string(AdvertError::BadAuth), "bad authentication");
  EXPECT_STREQ(to_string(AdvertError::BadField), "bad field");
}

}  // namespace
}  // namespace kvlb::ha
