// Advert bytes checked against the layout table in advert.h; the expected
// HMACs were computed independently (Python's hmac module).
#include <gtest/gtest.h>

#include "ha/advert.h"
#include "unit/ha/ha_test_support.h"
#include "unit/ipvs/hex_bytes.h"

namespace kvlb::ha {
namespace {

using kvlb::testing::bytes;
using kvlb::testing::ip;
using kvlb::testing::key;
using kvlb::testing::sample_advert;

TEST(AdvertCodec, ByteLayoutV4) {
  auto got = encode_advert(sample_advert(), key());
  auto want = bytes({
      "4b 56 4c 42",                          // magic "KVLB"
      "01",                                   // version
      "01",                                   // flags: synced
      "00 6c",                                // length 108
      "96",                                   // priority 150
      "04",                                   // family IPv4
      "00 64",                                // interval 100 ms
      "de ad be ef",                          // config digest
      "01 02 03 04 05 06 07 08",              // sequence
      "0a 00 00 02 00000000 00000000 00000000",  // sender 10.0.0.2
      "05", "00 00 00",                       // name length, reserved
      "77 65 62 2d 31",                       // "web-1"
      "000000 00000000 00000000 00000000 00000000 00000000 00000000",  // padding to 32
      "029c171ea01b7feec53b88c12d077341",     // HMAC-SHA256
      "15601367c993e255132f1589d34206bd",
  });
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.size(), kAdvertSize);
}

TEST(AdvertCodec, ByteLayoutV6ProbeStepDown) {
  Advert a;
  a.instance = "a";
  a.priority = 0;
  a.interval_ms = 1000;
  a.sender = ip("2001:db8::2");
  a.sequence = 1;
  a.probe = true;
  auto want = bytes({
      "4b 56 4c 42", "01", "02", "00 6c",     // magic, version, flags: probe, length
      "00", "06", "03 e8",                    // priority 0, IPv6, 1000 ms
      "00 00 00 00", "00 00 00 00 00 00 00 01",
      "20010db8 00000000 00000000 00000002",  // sender
      "01", "00 00 00", "61",                 // name "a"
      "000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000",
      "93c78c0d11bc803f32eead9d0e4f9836",
      "61c2698593179e92af449fcc109e68e9",
  });
  EXPECT_EQ(encode_advert(a, key()), want);
}

TEST(AdvertCodec, RoundTripV4) {
  auto a = sample_advert();
  auto decoded = decode_advert(encode_advert(a, key()), key());
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(*decoded, a);
}

TEST(AdvertCodec, RoundTripV6WithEveryFlagAndExtremes) {
  Advert a;
  a.instance = std::string(kMaxInstanceName, 'z');
  a.priority = 255;
  a.interval_ms = 65535;
  a.sender = ip("fd00:1:2:3:4:5:6:7");
  a.sequence = UINT64_MAX;
  a.synced = true;
  a.probe = true;
  a.serving = true;
  a.config_digest = UINT32_MAX;
  auto decoded = decode_advert(encode_advert(a, key()), key());
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(*decoded, a);
}

TEST(AdvertCodec, ServingIsFlagBitTwo) {
  auto a = sample_advert();
  a.synced = true;
  a.serving = true;
  EXPECT_EQ(encode_advert(a, key())[5], 0x05);
  a.synced = false;
  EXPECT_EQ(encode_advert(a, key())[5], 0x04);
}

TEST(AdvertCodec, RoundTripEveryNameCharacterClass) {
  auto a = sample_advert();
  a.instance = "Az09_.-";
  auto decoded = decode_advert(encode_advert(a, key()), key());
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->instance, "Az09_.-");
}

TEST(AdvertCodec, EmptyKeyStillAuthenticates) {
  auto packet = encode_advert(sample_advert(), {});
  EXPECT_TRUE(decode_advert(packet, {}).ok());
  EXPECT_EQ(decode_advert(packet, key()).error().code, AdvertError::BadAuth);
}

TEST(AdvertCodec, InstanceNames) {
  EXPECT_TRUE(is_valid_instance_name("vi_1.prod-a"));
  EXPECT_TRUE(is_valid_instance_name(std::string(32, 'x')));
  EXPECT_FALSE(is_valid_instance_name(""));
  EXPECT_FALSE(is_valid_instance_name(std::string(33, 'x')));
  EXPECT_FALSE(is_valid_instance_name("a b"));
  EXPECT_FALSE(is_valid_instance_name("a/b"));
  EXPECT_FALSE(is_valid_instance_name("caf\xc3\xa9"));
}

TEST(AdvertCodec, DescribesErrors) {
  AdvertDecodeError error{AdvertError::Truncated, "60 of 108 bytes"};
  EXPECT_EQ(error.describe(), "truncated: 60 of 108 bytes");
  EXPECT_EQ(AdvertDecodeError{AdvertError::BadMagic}.describe(), "bad magic");
}

}  // namespace
}  // namespace kvlb::ha
