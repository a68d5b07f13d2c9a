// Sync-daemon requests checked byte for byte against layouts written by hand
// from linux/ip_vs.h, and dump replies written the way ip_vs_genl_fill_daemon
// fills them (nest without NLA_F_NESTED, every setting, the group last).
#include <gtest/gtest.h>

#include <linux/netlink.h>

#include <bit>
#include <cerrno>

#include "kernel/ipvs/ipvs_sync_codec.h"
#include "unit/ipvs/hex_bytes.h"

namespace kvlb::kernel::ipvs {
namespace {

static_assert(std::endian::native == std::endian::little, "expected bytes are written for little-endian hosts");

using kvlb::testing::bytes;

constexpr uint16_t kFamily = 0x1c;

model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

SyncDaemon daemon(SyncRole role, std::string interface, uint32_t sync_id) {
  SyncDaemon d;
  d.role = role;
  d.interface = std::move(interface);
  d.sync_id = sync_id;
  return d;
}

TEST(IpvsSyncCodec, StartMasterWithKernelDefaults) {
  auto got = encode_daemon_start(daemon(SyncRole::Master, "eth1", 5), kFamily, 1);
  auto want = bytes({
      "34 00 00 00", "1c 00", "05 00",           // 52 bytes, family, REQUEST|ACK
      "01 00 00 00", "00 00 00 00",              // seq 1, pid 0
      "09 01 00 00",                             // cmd NEW_DAEMON, version 1
      "20 00 03 80",                             // nested IPVS_CMD_ATTR_DAEMON, 32 bytes
      "08 00 01 00", "01 00 00 00",              // STATE = IP_VS_STATE_MASTER
      "09 00 02 00", "65 74 68 31 00 00 00 00",  // MCAST_IFN "eth1\0" + pad
      "08 00 03 00", "05 00 00 00",              // SYNC_ID 5
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsSyncCodec, StartBackupWithEverySetting) {
  SyncDaemon d = daemon(SyncRole::Backup, "eth1", 3);
  d.group = ip("239.1.1.1");
  d.port = 9000;
  d.ttl = 4;
  d.sync_maxlen = 1400;
  auto got = encode_daemon_start(d, kFamily, 0x01020304);
  auto want = bytes({
      "54 00 00 00", "1c 00", "05 00", "04 03 02 01", "00 00 00 00",
      "09 01 00 00",
      "40 00 03 80",                             // 64 bytes
      "08 00 01 00", "02 00 00 00",              // STATE = IP_VS_STATE_BACKUP
      "09 00 02 00", "65 74 68 31 00 00 00 00",
      "08 00 03 00", "03 00 00 00",
      "06 00 04 00", "78 05 00 00",              // SYNC_MAXLEN 1400, host order
      "06 00 07 00", "28 23 00 00",              // MCAST_PORT 9000, host order
      "05 00 08 00", "04 00 00 00",              // MCAST_TTL 4 (u8) + pad
      "08 00 05 00", "ef 01 01 01",              // MCAST_GROUP 239.1.1.1, network order
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsSyncCodec, StartWithIpv6GroupSendsGroup6) {
  SyncDaemon d = daemon(SyncRole::Master, "eth1", 0);
  d.group = ip("ff02::1234");
  auto got = encode_daemon_start(d, kFamily, 2);
  auto want = bytes({
      "48 00 00 00", "1c 00", "05 00", "02 00 00 00", "00 00 00 00",
      "09 01 00 00",
      "34 00 03 80",
      "08 00 01 00", "01 00 00 00",
      "09 00 02 00", "65 74 68 31 00 00 00 00",
      "08 00 03 00", "00 00 00 00",
      "14 00 06 00", "ff 02 00 00 00000000 00000000 00001234",  // MCAST_GROUP6
  });
  EXPECT_EQ(got, want);
}

TEST(IpvsSyncCodec, StopCarriesOnlyTheState) {
  EXPECT_EQ(encode_daemon_stop(SyncRole::Master, kFamily, 3),
            bytes({"20 00 00 00", "1c 00", "05 00", "03 00 00 00", "00 00 00 00",
                   "0a 01 00 00",                 // cmd DEL_DAEMON
                   "0c 00 03 80", "08 00 01 00", "01 00 00 00"}));
  EXPECT_EQ(encode_daemon_stop(SyncRole::Backup, kFamily, 4),
            bytes({"20 00 00 00", "1c 00", "05 00", "04 00 00 00", "00 00 00 00",
                   "0a 01 00 00",
                   "0c 00 03 80", "08 00 01 00", "02 00 00 00"}));
}

TEST(IpvsSyncCodec, DumpRequest) {
  auto want = bytes({
      "14 00 00 00", "1c 00", "01 03",  // 20 bytes, REQUEST|DUMP
      "05 00 00 00", "00 00 00 00",
      "0b 01 00 00",                    // cmd GET_DAEMON
  });
  EXPECT_EQ(encode_daemon_dump(kFamily, 5), want);
}

// A GET_DAEMON dump datagram: master on d0 (every default), backup on eth1
// with its own group, port and ttl, then the end of the dump.
const std::vector<uint8_t> kMasterReply = bytes({
    "50 00 00 00", "1c 00", "02 00", "07 00 00 00", "34 12 00 00",  // 80 bytes, NLM_F_MULTI, seq 7
    "09 01 00 00",                                                  // NEW_DAEMON
    "3c 00 03 00",                                                  // IPVS_CMD_ATTR_DAEMON, 60 bytes
    "08 00 01 00", "01 00 00 00",                                   // master
    "07 00 02 00", "64 30 00 00",                                   // "d0"
    "08 00 03 00", "05 00 00 00",                                   // syncid 5
    "06 00 04 00", "c0 05 00 00",                                   // maxlen 1472
    "06 00 07 00", "90 22 00 00",                                   // port 8848
    "05 00 08 00", "01 00 00 00",                                   // ttl 1
    "08 00 05 00", "e0 00 00 51",                                   // 224.0.0.81
});
const std::vector<uint8_t> kBackupReply = bytes({
    "54 00 00 00", "1c 00", "02 00", "07 00 00 00", "34 12 00 00",
    "09 01 00 00",
    "40 00 03 00",
    "08 00 01 00", "02 00 00 00",                                   // backup
    "09 00 02 00", "65 74 68 31 00 00 00 00",                       // "eth1"
    "08 00 03 00", "ff 00 00 00",                                   // syncid 255
    "06 00 04 00", "00 04 00 00",                                   // maxlen 1024
    "06 00 07 00", "28 23 00 00",                                   // port 9000
    "05 00 08 00", "04 00 00 00",                                   // ttl 4
    "08 00 05 00", "ef 01 01 01",                                   // 239.1.1.1
});
const std::vector<uint8_t> kDone = bytes({
    "14 00 00 00", "03 00", "02 00", "07 00 00 00", "34 12 00 00",  // NLMSG_DONE
    "00 00 00 00",                                                  // error 0
});

TEST(IpvsSyncCodec, DecodeDumpDatagram) {
  std::vector<uint8_t> datagram = kMasterReply;
  datagram.insert(datagram.end(), kBackupReply.begin(), kBackupReply.end());
  datagram.insert(datagram.end(), kDone.begin(), kDone.end());
  auto replies = split_replies(datagram);
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  ASSERT_EQ(replies->size(), 3u);
  EXPECT_EQ((*replies)[2].type, NLMSG_DONE);

  auto master = decode_daemon((*replies)[0].message);
  ASSERT_TRUE(master.ok()) << master.error().describe();
  SyncDaemon want_master = daemon(SyncRole::Master, "d0", 5);
  want_master.group = ip("224.0.0.81");
  want_master.port = 8848;
  want_master.ttl = 1;
  want_master.sync_maxlen = 1472;
  EXPECT_EQ(*master, want_master);

  auto backup = decode_daemon((*replies)[1].message);
  ASSERT_TRUE(backup.ok()) << backup.error().describe();
  SyncDaemon want_backup = daemon(SyncRole::Backup, "eth1", 255);
  want_backup.group = ip("239.1.1.1");
  want_backup.port = 9000;
  want_backup.ttl = 4;
  want_backup.sync_maxlen = 1024;
  EXPECT_EQ(*backup, want_backup);
}

TEST(IpvsSyncCodec, DecodeIpv6Group) {
  auto reply = bytes({
      "5c 00 00 00", "1c 00", "02 00", "07 00 00 00", "34 12 00 00",
      "09 01 00 00",
      "48 00 03 00",
      "08 00 01 00", "01 00 00 00",
      "07 00 02 00", "64 30 00 00",
      "08 00 03 00", "03 00 00 00",
      "06 00 04 00", "ac 05 00 00",                                 // maxlen 1452
      "06 00 07 00", "90 22 00 00",
      "05 00 08 00", "01 00 00 00",
      "14 00 06 00", "ff 02 00 00 00000000 00000000 00001234",
  });
  auto decoded = decode_daemon(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->group, ip("ff02::1234"));
  EXPECT_EQ(decoded->sync_maxlen, 1452);
}

TEST(IpvsSyncCodec, DecodeReplyOfAnOldKernel) {
  // Before 4.3 only state, interface and sync id.
  auto reply = bytes({
      "30 00 00 00", "1c 00", "02 00", "07 00 00 00", "34 12 00 00",
      "09 01 00 00",
      "1c 00 03 00",
      "08 00 01 00", "02 00 00 00",
      "07 00 02 00", "64 30 00 00",
      "08 00 03 00", "09 00 00 00",
  });
  auto decoded = decode_daemon(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(*decoded, daemon(SyncRole::Backup, "d0", 9));
}

int decode_error(const std::vector<uint8_t>& message) {
  auto decoded = decode_daemon(message);
  return decoded.ok() ? 0 : decoded.error().code.value();
}

TEST(IpvsSyncCodec, EveryTruncationIsAnErrorNotACrash) {
  for (std::size_t len = 0; len < kMasterReply.size(); ++len) {
    std::vector<uint8_t> cut(kMasterReply.begin(), kMasterReply.begin() + static_cast<std::ptrdiff_t>(len));
    EXPECT_EQ(decode_error(cut), EBADMSG) << "length " << len;
  }
}

TEST(IpvsSyncCodec, MalformedRepliesAreErrors) {
  auto unknown_state = kMasterReply;
  unknown_state[28] = 0x03;  // STATE = 3
  EXPECT_EQ(decode_error(unknown_state), EBADMSG);

  auto no_state = kMasterReply;
  no_state[26] = 0x09;  // the STATE attribute becomes an unknown type 9
  EXPECT_EQ(decode_error(no_state), EBADMSG);

  auto overrun = kMasterReply;
  overrun[32] = 0x40;  // MCAST_IFN claims 64 bytes
  EXPECT_EQ(decode_error(overrun), EBADMSG);

  auto short_group = kMasterReply;
  short_group[72] = 0x06;  // MCAST_GROUP of 2 bytes
  EXPECT_EQ(decode_error(short_group), EBADMSG);

  auto no_daemon = kMasterReply;
  no_daemon[22] = 0x01;  // the nest is IPVS_CMD_ATTR_SERVICE
  EXPECT_EQ(decode_error(no_daemon), EBADMSG);

  auto message_overrun = kMasterReply;
  message_overrun[0] = 0x60;  // nlmsg_len past the end
  EXPECT_EQ(decode_error(message_overrun), EBADMSG);
}

}  // namespace
}  // namespace kvlb::kernel::ipvs
