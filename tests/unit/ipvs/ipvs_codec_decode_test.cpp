// Replies written by hand the way the kernel fills them
// (ip_vs_genl_fill_service / ip_vs_genl_fill_dest: nests without
// NLA_F_NESTED, 16-byte addresses, stats nests, 64-bit stats with padding).
#include <gtest/gtest.h>

#include <linux/netlink.h>

#include <bit>
#include <cerrno>

#include "kernel/ipvs/ipvs_codec.h"
#include "unit/ipvs/hex_bytes.h"

namespace kvlb::kernel::ipvs {
namespace {

static_assert(std::endian::native == std::endian::little, "replies are written for little-endian hosts");

using kvlb::testing::bytes;

model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

// 20.20.20.1:80/tcp wlc, persistent 300 s, hashed; as in a GET_SERVICE dump.
const std::vector<uint8_t> kServiceReply = bytes({
    "88 00 00 00", "1c 00", "02 00", "07 00 00 00", "34 12 00 00",  // 136 bytes, NLM_F_MULTI, seq 7
    "01 01 00 00",                                                  // NEW_SERVICE, version 1
    "74 00 01 00",                                                  // IPVS_CMD_ATTR_SERVICE, 116 bytes
    "06 00 01 00", "02 00 00 00",                                   // AF_INET
    "06 00 02 00", "06 00 00 00",                                   // tcp
    "14 00 03 00", "14 14 14 01 00000000 00000000 00000000",
    "06 00 04 00", "00 50 00 00",
    "08 00 06 00", "77 6c 63 00",                                   // "wlc"
    "0c 00 07 00", "03 00 00 00", "ff ff ff ff",                    // PERSISTENT | HASHED
    "08 00 08 00", "2c 01 00 00",                                   // timeout 300
    "08 00 09 00", "ff ff ff ff",
    "0c 00 0a 00", "08 00 01 00", "05 00 00 00",                    // STATS {CONNS 5}
    "14 00 0c 00", "04 00 0b 00",                                   // STATS64 {PAD,
    "0c 00 01 00", "05 00 00 00 00 00 00 00",                       //          CONNS 5}
});

// 10.0.1.11:8080 weight 3, 2 active and 9 inactive connections.
const std::vector<uint8_t> kDestReply = bytes({
    "8c 00 00 00", "1c 00", "02 00", "08 00 00 00", "34 12 00 00",
    "05 01 00 00",                                                  // NEW_DEST
    "78 00 02 00",                                                  // IPVS_CMD_ATTR_DEST, 120 bytes
    "14 00 01 00", "0a 00 01 0b 00000000 00000000 00000000",        // ADDR
    "06 00 02 00", "1f 90 00 00",                                   // PORT 8080
    "08 00 03 00", "00 00 00 00",                                   // FWD_METHOD masq
    "08 00 04 00", "03 00 00 00",                                   // WEIGHT 3
    "05 00 0d 00", "00 00 00 00",                                   // TUN_TYPE (u8)
    "06 00 0e 00", "00 00 00 00",                                   // TUN_PORT
    "06 00 0f 00", "00 00 00 00",                                   // TUN_FLAGS
    "08 00 05 00", "00 00 00 00",                                   // U_THRESH
    "08 00 06 00", "00 00 00 00",                                   // L_THRESH
    "08 00 07 00", "02 00 00 00",                                   // ACTIVE_CONNS 2
    "08 00 08 00", "09 00 00 00",                                   // INACT_CONNS 9
    "08 00 09 00", "00 00 00 00",                                   // PERSIST_CONNS
    "06 00 0b 00", "02 00 00 00",                                   // ADDR_FAMILY AF_INET
});

TEST(IpvsCodecDecode, PersistentService) {
  auto decoded = decode_service(kServiceReply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  ASSERT_TRUE(decoded->has_value());
  const model::VirtualService& s = **decoded;
  EXPECT_EQ(s.key, (model::VsKey{ip("20.20.20.1"), 80, model::Protocol::Tcp}));
  EXPECT_EQ(s.scheduler, "wlc");
  EXPECT_EQ(s.persistence_seconds, 300u);
  EXPECT_EQ(s.netmask_bits, model::VirtualService::kFullNetmask);
  EXPECT_EQ(s.extra_flags, 0u);  // PERSISTENT is persistence_seconds, HASHED the kernel's own
  EXPECT_TRUE(s.real_servers.empty());
}

TEST(IpvsCodecDecode, TimeoutWithoutPersistentFlagIsNotPersistence) {
  auto reply = kServiceReply;
  reply[16 + 4 + 4 + 8 + 8 + 20 + 8 + 8 + 4] = 0x02;  // FLAGS.flags = HASHED only
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)->persistence_seconds, 0u);
  EXPECT_EQ((*decoded)->extra_flags, 0u);  // a timeout without the flag does nothing
}

// 20.20.20.1:80/tcp sh, persistent 300 s with netmask 255.255.255.0 and
// one-packet scheduling (ipvsadm -A -t 20.20.20.1:80 -s sh -p 300 -M 255.255.255.0 -o).
TEST(IpvsCodecDecode, ServiceWithSlash24NetmaskAndOnePacket) {
  auto reply = bytes({
      "88 00 00 00", "1c 00", "02 00", "07 00 00 00", "34 12 00 00",
      "01 01 00 00",
      "74 00 01 00",
      "06 00 01 00", "02 00 00 00",                                 // AF_INET
      "06 00 02 00", "06 00 00 00",                                 // tcp
      "14 00 03 00", "14 14 14 01 00000000 00000000 00000000",
      "06 00 04 00", "00 50 00 00",
      "07 00 06 00", "73 68 00 00",                                 // "sh"
      "0c 00 07 00", "07 00 00 00", "ff ff ff ff",                  // PERSISTENT | HASHED | ONEPACKET
      "08 00 08 00", "2c 01 00 00",                                 // timeout 300
      "08 00 09 00", "ff ff ff 00",                                 // NETMASK 255.255.255.0 (network order)
      "0c 00 0a 00", "08 00 01 00", "00 00 00 00",
      "14 00 0c 00", "04 00 0b 00",
      "0c 00 01 00", "00 00 00 00 00 00 00 00",
  });
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  ASSERT_TRUE(decoded->has_value());
  const model::VirtualService& s = **decoded;
  EXPECT_EQ(s.key, (model::VsKey{ip("20.20.20.1"), 80, model::Protocol::Tcp}));
  EXPECT_EQ(s.scheduler, "sh");
  EXPECT_EQ(s.persistence_seconds, 300u);
  EXPECT_EQ(s.netmask_bits, 24u);
  EXPECT_EQ(s.extra_flags, 0x0004u);  // IP_VS_SVC_F_ONEPACKET

  // What kvlb would program differs in both, so the reconciler updates it.
  model::VirtualService want;
  want.key = s.key;
  want.scheduler = "sh";
  want.persistence_seconds = 300;
  EXPECT_FALSE(want.same_settings(s));
  auto only_netmask = s;
  only_netmask.extra_flags = 0;
  EXPECT_FALSE(want.same_settings(only_netmask));
  only_netmask.netmask_bits = model::VirtualService::kFullNetmask;
  EXPECT_TRUE(want.same_settings(only_netmask));
}

TEST(IpvsCodecDecode, V6NetmaskIsAPrefixLength) {
  auto reply = bytes({
      "68 00 00 00", "1c 00", "02 00", "01 00 00 00", "00 00 00 00",
      "01 01 00 00",
      "54 00 01 00",
      "06 00 01 00", "0a 00 00 00",
      "06 00 02 00", "06 00 00 00",
      "14 00 03 00", "fd 00 00 00 00000000 00000000 00000001",
      "06 00 04 00", "00 50 00 00",
      "07 00 06 00", "72 72 00 00",
      "0c 00 07 00", "02 00 00 00", "ff ff ff ff",
      "08 00 08 00", "00 00 00 00",
      "08 00 09 00", "40 00 00 00",                                 // /64, host order
  });
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->netmask_bits, 64u);
  EXPECT_EQ((*decoded)->extra_flags, 0u);
}

TEST(IpvsCodecDecode, PersistentFlagWithoutTimeoutIsAnExtraFlag) {
  auto reply = kServiceReply;
  const std::size_t timeout = 16 + 4 + 4 + 8 + 8 + 20 + 8 + 8 + 12 + 4;
  reply[timeout] = reply[timeout + 1] = 0x00;  // TIMEOUT = 0, flags still PERSISTENT | HASHED
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)->persistence_seconds, 0u);
  EXPECT_EQ((*decoded)->extra_flags, 0x0001u);  // IP_VS_SVC_F_PERSISTENT, which kvlb would clear
}

TEST(IpvsCodecDecode, ServiceV6Sctp) {
  auto reply = bytes({
      "68 00 00 00", "1c 00", "02 00", "01 00 00 00", "00 00 00 00",
      "01 01 00 00",
      "54 00 01 00",
      "06 00 01 00", "0a 00 00 00",
      "06 00 02 00", "84 00 00 00",
      "14 00 03 00", "fd 00 00 00 00000000 00000000 00000001",
      "06 00 04 00", "0f 1c 00 00",
      "07 00 06 00", "72 72 00 00",
      "0c 00 07 00", "02 00 00 00", "ff ff ff ff",
      "08 00 08 00", "00 00 00 00",
      "08 00 09 00", "80 00 00 00",
  });
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->key, (model::VsKey{ip("fd00::1"), 3868, model::Protocol::Sctp}));
  EXPECT_EQ((*decoded)->scheduler, "rr");
  EXPECT_EQ((*decoded)->persistence_seconds, 0u);
  EXPECT_EQ((*decoded)->netmask_bits, model::VirtualService::kFullNetmask);  // 128
  EXPECT_EQ((*decoded)->extra_flags, 0u);
}

TEST(IpvsCodecDecode, FirewallMarkServiceIsSkipped) {
  auto reply = bytes({
      "4c 00 00 00", "1c 00", "02 00", "01 00 00 00", "00 00 00 00",
      "01 01 00 00",
      "38 00 01 00",
      "06 00 01 00", "02 00 00 00",
      "08 00 05 00", "2a 00 00 00",                                 // FWMARK 42
      "07 00 06 00", "72 72 00 00",
      "0c 00 07 00", "02 00 00 00", "ff ff ff ff",
      "08 00 08 00", "00 00 00 00",
      "08 00 09 00", "ff ff ff ff",
  });
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->has_value());
}

TEST(IpvsCodecDecode, UnknownProtocolIsSkipped) {
  auto reply = kServiceReply;
  reply[16 + 4 + 4 + 8 + 4] = 50;  // PROTOCOL = ESP
  auto decoded = decode_service(reply);
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->has_value());
}

TEST(IpvsCodecDecode, ServiceWithoutAddressIsAnError) {
  auto reply = bytes({
      "28 00 00 00", "1c 00", "02 00", "01 00 00 00", "00 00 00 00",
      "01 01 00 00",
      "14 00 01 00",
      "06 00 01 00", "02 00 00 00",
      "06 00 02 00", "06 00 00 00",
  });
  auto decoded = decode_service(reply);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code.value(), EBADMSG);
}

TEST(IpvsCodecDecode, TruncatedMessageIsAnError) {
  auto reply = kServiceReply;
  reply.resize(60);
  EXPECT_FALSE(decode_service(reply).ok());
  EXPECT_FALSE(decode_service(std::span<const uint8_t>()).ok());
}

TEST(IpvsCodecDecode, AttributeOverrunningItsNestIsAnError) {
  auto reply = kServiceReply;
  reply[16 + 4 + 4] = 0xf0;  // AF attribute claims 240 bytes
  EXPECT_FALSE(decode_service(reply).ok());
}

TEST(IpvsCodecDecode, DestWithConnectionCounts) {
  auto decoded = decode_dest(kDestReply, model::Family::V4);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->key, (model::RealServerKey{ip("10.0.1.11"), 8080}));
  EXPECT_EQ(decoded->weight, 3u);
  EXPECT_EQ(decoded->active_conns, 2u);
  EXPECT_EQ(decoded->inactive_conns, 9u);
  EXPECT_TRUE(decoded->masquerade);
  EXPECT_EQ(decoded->upper_threshold, 0u);
  EXPECT_EQ(decoded->lower_threshold, 0u);
}

// 10.0.1.11:8080 switched to direct routing with thresholds by someone else
// (ipvsadm -e -t 20.20.20.1:80 -r 10.0.1.11:8080 -g -w 3 -x 5 -y 2).
TEST(IpvsCodecDecode, DestDirectRoutingWithThresholds) {
  auto reply = bytes({
      "8c 00 00 00", "1c 00", "02 00", "08 00 00 00", "34 12 00 00",
      "05 01 00 00",                                                  // NEW_DEST
      "78 00 02 00",                                                  // IPVS_CMD_ATTR_DEST, 120 bytes
      "14 00 01 00", "0a 00 01 0b 00000000 00000000 00000000",        // ADDR
      "06 00 02 00", "1f 90 00 00",                                   // PORT 8080
      "08 00 03 00", "03 00 00 00",                                   // FWD_METHOD IP_VS_CONN_F_DROUTE
      "08 00 04 00", "03 00 00 00",                                   // WEIGHT 3
      "05 00 0d 00", "00 00 00 00",                                   // TUN_TYPE (u8)
      "06 00 0e 00", "00 00 00 00",                                   // TUN_PORT
      "06 00 0f 00", "00 00 00 00",                                   // TUN_FLAGS
      "08 00 05 00", "05 00 00 00",                                   // U_THRESH 5
      "08 00 06 00", "02 00 00 00",                                   // L_THRESH 2
      "08 00 07 00", "00 00 00 00",                                   // ACTIVE_CONNS
      "08 00 08 00", "00 00 00 00",                                   // INACT_CONNS
      "08 00 09 00", "00 00 00 00",                                   // PERSIST_CONNS
      "06 00 0b 00", "02 00 00 00",                                   // ADDR_FAMILY AF_INET
  });
  auto decoded = decode_dest(reply, model::Family::V4);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->key, (model::RealServerKey{ip("10.0.1.11"), 8080}));
  EXPECT_EQ(decoded->weight, 3u);
  EXPECT_FALSE(decoded->masquerade);
  EXPECT_EQ(decoded->upper_threshold, 5u);
  EXPECT_EQ(decoded->lower_threshold, 2u);

  // The same weight, yet not what kvlb programs: the reconciler updates it.
  model::RealServer want;
  want.key = decoded->key;
  want.weight = 3;
  EXPECT_NE(*decoded, want);
  EXPECT_FALSE(want.same_settings(*decoded));
}

TEST(IpvsCodecDecode, EveryForwardingMethodButMasqueradingIsNotMasquerading) {
  // FWD_METHOD is at offset 16 + 4 + 4 + 20 + 8 + 4 of kDestReply.
  for (uint8_t method : {1, 2, 3, 4}) {  // LOCALNODE, TUNNEL, DROUTE, BYPASS
    auto reply = kDestReply;
    reply[16 + 4 + 4 + 20 + 8 + 4] = method;
    auto decoded = decode_dest(reply, model::Family::V4);
    ASSERT_TRUE(decoded.ok());
    EXPECT_FALSE(decoded->masquerade) << int(method);
  }
}

TEST(IpvsCodecDecode, DestWithoutFamilyTakesTheServiceFamily) {
  auto reply = bytes({
      "3c 00 00 00", "1c 00", "02 00", "01 00 00 00", "00 00 00 00",
      "05 01 00 00",
      "28 00 02 00",
      "14 00 01 00", "fd 00 00 01 00000000 00000000 0000000b",
      "06 00 02 00", "00 50 00 00",
      "08 00 04 00", "00 00 00 00",
  });
  auto decoded = decode_dest(reply, model::Family::V6);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->key, (model::RealServerKey{ip("fd00:1::b"), 80}));
  EXPECT_EQ(decoded->weight, 0u);
  EXPECT_EQ(decoded->active_conns, 0u);
}

TEST(IpvsCodecDecode, DestWithoutWeightIsAnError) {
  auto reply = bytes({
      "38 00 00 00", "1c 00", "02 00", "01 00 00 00", "00 00 00 00",
      "05 01 00 00",
      "20 00 02 00",
      "14 00 01 00", "0a 00 01 0b 00000000 00000000 00000000",
      "06 00 02 00", "1f 90 00 00",
  });
  EXPECT_FALSE(decode_dest(reply, model::Family::V4).ok());
}

TEST(IpvsCodecSplit, AcksErrorsAndDone) {
  auto datagram = bytes({
      // ack (error 0) for seq 5
      "24 00 00 00", "02 00", "00 01", "05 00 00 00", "34 12 00 00",
      "00 00 00 00",
      "8c 00 00 00", "1c 00", "05 00", "05 00 00 00", "00 00 00 00",  // the request's header
      // EEXIST (-17) for seq 6, capped
      "24 00 00 00", "02 00", "00 01", "06 00 00 00", "34 12 00 00",
      "ef ff ff ff",
      "8c 00 00 00", "1c 00", "05 00", "06 00 00 00", "00 00 00 00",
      // end of a dump, no error
      "14 00 00 00", "03 00", "02 00", "07 00 00 00", "34 12 00 00",
      "00 00 00 00",
  });
  auto replies = split_replies(datagram);
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 3u);
  EXPECT_EQ((*replies)[0].type, NLMSG_ERROR);
  EXPECT_EQ((*replies)[0].seq, 5u);
  EXPECT_EQ((*replies)[0].error, 0);
  EXPECT_EQ((*replies)[1].seq, 6u);
  EXPECT_EQ((*replies)[1].error, EEXIST);
  EXPECT_EQ((*replies)[1].message.size(), 36u);
  EXPECT_EQ((*replies)[2].type, 3);  // NLMSG_DONE
  EXPECT_EQ((*replies)[2].seq, 7u);
  EXPECT_EQ((*replies)[2].error, 0);
}

TEST(IpvsCodecSplit, DumpErrorArrivesInDone) {
  auto datagram = bytes({"14 00 00 00", "03 00", "02 00", "07 00 00 00", "00 00 00 00", "ff ff ff ff"});  // -EPERM
  auto replies = split_replies(datagram);
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ((*replies)[0].error, EPERM);
}

TEST(IpvsCodecSplit, BrokenFramingIsAnError) {
  auto too_long = bytes({"40 00 00 00", "02 00", "00 00", "01 00 00 00", "00 00 00 00", "00 00 00 00"});
  EXPECT_FALSE(split_replies(too_long).ok());
  auto short_error = bytes({"10 00 00 00", "02 00", "00 00", "01 00 00 00", "00 00 00 00"});
  EXPECT_FALSE(split_replies(short_error).ok());
  auto stub = bytes({"10 00 00"});
  EXPECT_FALSE(split_replies(stub).ok());
}

TEST(IpvsCodecRoundTrip, DestDumpOfEncodedServiceDecodes) {
  // A service as we encode it, turned into a dump reply (cmd and nest flag
  // aside), decodes to the same value.
  model::VirtualService s;
  s.key = model::VsKey{ip("fd00::20"), 8443, model::Protocol::Udp};
  s.scheduler = "lblcr";
  s.persistence_seconds = 7200;
  auto message = encode_command(IpvsCommand{IpvsCommand::Kind::AddService, s, {}}, 0x1c, 1);
  auto decoded = decode_service(message);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ(**decoded, s);
}

}  // namespace
}  // namespace kvlb::kernel::ipvs
