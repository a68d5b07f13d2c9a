// Requests checked byte for byte against layouts written by hand from
// linux/ip_vs.h (host-order fields as on x86, ports in network order).
#include <gtest/gtest.h>

#include <bit>

#include "kernel/ipvs/ipvs_codec.h"
#include "unit/ipvs/hex_bytes.h"

namespace kvlb::kernel::ipvs {
namespace {

static_assert(std::endian::native == std::endian::little, "expected bytes are written for little-endian hosts");

using kvlb::testing::bytes;
using Kind = IpvsCommand::Kind;

constexpr uint16_t kFamily = 0x1c;  // whatever the kernel assigned to "IPVS"

model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

model::VirtualService service(std::string_view vip, uint16_t port, model::Protocol protocol, std::string scheduler,
                              uint32_t persistence = 0) {
  model::VirtualService s;
  s.key = model::VsKey{ip(vip), port, protocol};
  s.scheduler = std::move(scheduler);
  s.persistence_seconds = persistence;
  return s;
}

model::RealServer real_server(std::string_view address, uint16_t port, uint32_t weight) {
  model::RealServer r;
  r.key = model::RealServerKey{ip(address), port};
  r.weight = weight;
  return r;
}

IpvsCommand command(Kind kind, model::VirtualService s, model::RealServer r = {}) {
  return IpvsCommand{kind, std::move(s), std::move(r)};
}

// The service identity every real-server command carries: 20.20.20.1:80/tcp.
const std::initializer_list<std::string_view> kServiceIdentity = {
    "30 00 01 80",                                              // nested IPVS_CMD_ATTR_SERVICE, 48 bytes
    "06 00 01 00", "02 00 00 00",                               // AF = AF_INET
    "06 00 02 00", "06 00 00 00",                               // PROTOCOL = 6 (tcp)
    "14 00 03 00", "14 14 14 01 00000000 00000000 00000000",    // ADDR, 16 bytes
    "06 00 04 00", "00 50 00 00",                               // PORT = 80, network order
};

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

TEST(IpvsCodecEncode, AddServiceV4TcpRoundRobin) {
  auto got = encode_command(command(Kind::AddService, service("20.20.20.1", 80, model::Protocol::Tcp, "rr")), kFamily, 1);
  auto want = bytes({
      "68 00 00 00",                                            // nlmsg_len = 104
      "1c 00", "05 00",                                         // type = family, flags = REQUEST|ACK
      "01 00 00 00", "00 00 00 00",                             // seq = 1, pid = 0
      "01 01 00 00",                                            // cmd NEW_SERVICE, version 1
      "54 00 01 80",                                            // nested IPVS_CMD_ATTR_SERVICE, 84 bytes
      "06 00 01 00", "02 00 00 00",                             // AF = AF_INET
      "06 00 02 00", "06 00 00 00",                             // PROTOCOL = tcp
      "14 00 03 00", "14 14 14 01 00000000 00000000 00000000",  // ADDR 20.20.20.1
      "06 00 04 00", "00 50 00 00",                             // PORT 80
      "07 00 06 00", "72 72 00 00",                             // SCHED_NAME "rr\0" + pad
      "0c 00 07 00", "00 00 00 00", "ff ff ff ff",              // FLAGS {flags 0, mask ~0}
      "08 00 08 00", "00 00 00 00",                             // TIMEOUT 0
      "08 00 09 00", "ff ff ff ff",                             // NETMASK 0xffffffff
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, AddPersistentService) {
  auto got = encode_command(command(Kind::AddService, service("20.20.20.2", 443, model::Protocol::Tcp, "wlc", 300)),
                            kFamily, 0x01020304);
  auto want = bytes({
      "68 00 00 00", "1c 00", "05 00", "04 03 02 01", "00 00 00 00",
      "01 01 00 00",
      "54 00 01 80",
      "06 00 01 00", "02 00 00 00",
      "06 00 02 00", "06 00 00 00",
      "14 00 03 00", "14 14 14 02 00000000 00000000 00000000",
      "06 00 04 00", "01 bb 00 00",                             // PORT 443
      "08 00 06 00", "77 6c 63 00",                             // SCHED_NAME "wlc\0"
      "0c 00 07 00", "01 00 00 00", "ff ff ff ff",              // FLAGS {IP_VS_SVC_F_PERSISTENT, ~0}
      "08 00 08 00", "2c 01 00 00",                             // TIMEOUT 300
      "08 00 09 00", "ff ff ff ff",
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, AddServiceV6Sctp) {
  auto got = encode_command(command(Kind::AddService, service("fd00::1", 3868, model::Protocol::Sctp, "rr")), kFamily, 2);
  auto want = bytes({
      "68 00 00 00", "1c 00", "05 00", "02 00 00 00", "00 00 00 00",
      "01 01 00 00",
      "54 00 01 80",
      "06 00 01 00", "0a 00 00 00",                             // AF = AF_INET6
      "06 00 02 00", "84 00 00 00",                             // PROTOCOL = 132 (sctp)
      "14 00 03 00", "fd 00 00 00 00000000 00000000 00000001",  // ADDR fd00::1
      "06 00 04 00", "0f 1c 00 00",                             // PORT 3868
      "07 00 06 00", "72 72 00 00",
      "0c 00 07 00", "00 00 00 00", "ff ff ff ff",
      "08 00 08 00", "00 00 00 00",
      "08 00 09 00", "80 00 00 00",                             // NETMASK = prefix length 128
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, UpdateServiceIsSetServiceWithFullSettings) {
  auto got =
      encode_command(command(Kind::UpdateService, service("20.20.20.1", 80, model::Protocol::Udp, "sh")), kFamily, 3);
  auto want = bytes({
      "68 00 00 00", "1c 00", "05 00", "03 00 00 00", "00 00 00 00",
      "02 01 00 00",                                            // cmd SET_SERVICE
      "54 00 01 80",
      "06 00 01 00", "02 00 00 00",
      "06 00 02 00", "11 00 00 00",                             // PROTOCOL = 17 (udp)
      "14 00 03 00", "14 14 14 01 00000000 00000000 00000000",
      "06 00 04 00", "00 50 00 00",
      "07 00 06 00", "73 68 00 00",                             // "sh\0"
      "0c 00 07 00", "00 00 00 00", "ff ff ff ff",
      "08 00 08 00", "00 00 00 00",
      "08 00 09 00", "ff ff ff ff",
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, DeleteServiceCarriesOnlyTheIdentity) {
  auto got =
      encode_command(command(Kind::DeleteService, service("20.20.20.1", 80, model::Protocol::Tcp, "wlc", 60)), kFamily, 4);
  auto want = concat({bytes({"44 00 00 00", "1c 00", "05 00", "04 00 00 00", "00 00 00 00",  // 68 bytes
                             "03 01 00 00"}),                                                 // cmd DEL_SERVICE
                      bytes(kServiceIdentity)});
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, AddDestMasqueradingWeight3) {
  auto s = service("20.20.20.1", 80, model::Protocol::Tcp, "rr");
  auto got = encode_command(command(Kind::AddRealServer, s, real_server("10.0.1.11", 8080, 3)), kFamily, 5);
  auto want = concat({
      bytes({"8c 00 00 00", "1c 00", "05 00", "05 00 00 00", "00 00 00 00",  // 140 bytes
             "05 01 00 00"}),                                                 // cmd NEW_DEST
      bytes(kServiceIdentity),
      bytes({
          "48 00 02 80",                                                      // nested IPVS_CMD_ATTR_DEST, 72 bytes
          "14 00 01 00", "0a 00 01 0b 00000000 00000000 00000000",            // ADDR 10.0.1.11
          "06 00 02 00", "1f 90 00 00",                                       // PORT 8080
          "06 00 0b 00", "02 00 00 00",                                       // ADDR_FAMILY AF_INET
          "08 00 03 00", "00 00 00 00",                                       // FWD_METHOD IP_VS_CONN_F_MASQ
          "08 00 04 00", "03 00 00 00",                                       // WEIGHT 3
          "08 00 05 00", "00 00 00 00",                                       // U_THRESH 0
          "08 00 06 00", "00 00 00 00",                                       // L_THRESH 0
      }),
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, UpdateDestIsSetDest) {
  auto s = service("20.20.20.1", 80, model::Protocol::Tcp, "rr");
  auto got = encode_command(command(Kind::UpdateRealServer, s, real_server("10.0.1.11", 8080, 0)), kFamily, 6);
  auto want = concat({
      bytes({"8c 00 00 00", "1c 00", "05 00", "06 00 00 00", "00 00 00 00", "06 01 00 00"}),  // cmd SET_DEST
      bytes(kServiceIdentity),
      bytes({"48 00 02 80",
             "14 00 01 00", "0a 00 01 0b 00000000 00000000 00000000",
             "06 00 02 00", "1f 90 00 00",
             "06 00 0b 00", "02 00 00 00",
             "08 00 03 00", "00 00 00 00",
             "08 00 04 00", "00 00 00 00",                                    // WEIGHT 0 (draining)
             "08 00 05 00", "00 00 00 00",
             "08 00 06 00", "00 00 00 00"}),
  });
  EXPECT_EQ(got, want);
}

// Observed-only fields never reach the kernel: an update programs kvlb's
// forwarding, thresholds, netmask and flags whatever they say, which is what
// puts someone else's changes back.
TEST(IpvsCodecEncode, ObservedOnlyFieldsAreNotEncoded) {
  auto s = service("20.20.20.1", 80, model::Protocol::Tcp, "rr");
  auto drifted_service = s;
  drifted_service.netmask_bits = 24;
  drifted_service.extra_flags = 0x0004;  // IP_VS_SVC_F_ONEPACKET
  EXPECT_EQ(encode_command(command(Kind::UpdateService, drifted_service), kFamily, 9),
            encode_command(command(Kind::UpdateService, s), kFamily, 9));

  auto server = real_server("10.0.1.11", 8080, 3);
  auto drifted_server = server;
  drifted_server.masquerade = false;
  drifted_server.upper_threshold = 5;
  drifted_server.lower_threshold = 2;
  EXPECT_EQ(encode_command(command(Kind::UpdateRealServer, s, drifted_server), kFamily, 10),
            encode_command(command(Kind::UpdateRealServer, s, server), kFamily, 10));
}

TEST(IpvsCodecEncode, DeleteDestCarriesOnlyIdentities) {
  auto s = service("20.20.20.1", 80, model::Protocol::Tcp, "rr");
  auto got = encode_command(command(Kind::DeleteRealServer, s, real_server("10.0.1.11", 8080, 3)), kFamily, 7);
  auto want = concat({
      bytes({"6c 00 00 00", "1c 00", "05 00", "07 00 00 00", "00 00 00 00",  // 108 bytes
             "07 01 00 00"}),                                                 // cmd DEL_DEST
      bytes(kServiceIdentity),
      bytes({"28 00 02 80",                                                   // nested DEST, 40 bytes
             "14 00 01 00", "0a 00 01 0b 00000000 00000000 00000000",
             "06 00 02 00", "1f 90 00 00",
             "06 00 0b 00", "02 00 00 00"}),
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, AddDestV6) {
  auto s = service("fd00::1", 80, model::Protocol::Tcp, "rr");
  auto got = encode_command(command(Kind::AddRealServer, s, real_server("fd00:1::b", 80, 1)), kFamily, 8);
  auto want = concat({
      bytes({"8c 00 00 00", "1c 00", "05 00", "08 00 00 00", "00 00 00 00", "05 01 00 00",
             "30 00 01 80",
             "06 00 01 00", "0a 00 00 00",
             "06 00 02 00", "06 00 00 00",
             "14 00 03 00", "fd 00 00 00 00000000 00000000 00000001",
             "06 00 04 00", "00 50 00 00",
             "48 00 02 80",
             "14 00 01 00", "fd 00 00 01 00000000 00000000 0000000b",
             "06 00 02 00", "00 50 00 00",
             "06 00 0b 00", "0a 00 00 00",
             "08 00 03 00", "00 00 00 00",
             "08 00 04 00", "01 00 00 00",
             "08 00 05 00", "00 00 00 00",
             "08 00 06 00", "00 00 00 00"}),
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsCodecEncode, ServiceDump) {
  auto want = bytes({"14 00 00 00", "1c 00", "01 03", "09 00 00 00", "00 00 00 00",  // flags REQUEST|DUMP
                     "04 01 00 00"});                                                 // cmd GET_SERVICE
  EXPECT_EQ(encode_service_dump(kFamily, 9), want);
}

TEST(IpvsCodecEncode, DestDumpNamesTheService) {
  auto key = model::VsKey{ip("20.20.20.1"), 80, model::Protocol::Tcp};
  auto want = concat({bytes({"44 00 00 00", "1c 00", "01 03", "0a 00 00 00", "00 00 00 00",
                             "08 01 00 00"}),  // cmd GET_DEST
                      bytes(kServiceIdentity)});
  EXPECT_EQ(encode_dest_dump(key, kFamily, 10), want);
}

TEST(IpvsCodecEncode, AppendPacksMessagesBackToBack) {
  auto add = command(Kind::AddService, service("20.20.20.1", 80, model::Protocol::Tcp, "rr"));
  auto del = command(Kind::DeleteService, service("20.20.20.1", 80, model::Protocol::Tcp, "rr"));
  Bytes batch;
  append_command(batch, add, kFamily, 100);
  append_command(batch, del, kFamily, 101);
  EXPECT_EQ(batch, concat({encode_command(add, kFamily, 100), encode_command(del, kFamily, 101)}));
}

}  // namespace
}  // namespace kvlb::kernel::ipvs
