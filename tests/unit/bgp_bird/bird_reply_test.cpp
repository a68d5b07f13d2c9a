// BIRD's CLI protocol and the parsers of its replies, on text captured from
// BIRD 2.0.12's control socket.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bgp/bird/bird_reply.h"

namespace kvlb::bgp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// `show protocols all` of device + static + a BGP peer nobody answers.
const std::string kProtocolsAll =
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-device1    Device     ---        up     09:36:00.779  \n"
    "1006-\n"
    "1002-static_vips Static     master4    up     09:36:00.779  \n"
    "1006-  Channel ipv4\n"
    "     State:          UP\n"
    "     Table:          master4\n"
    "     Preference:     200\n"
    "     Input filter:   ACCEPT\n"
    "     Output filter:  REJECT\n"
    "     Routes:         3 imported, 0 exported, 3 preferred\n"
    "     Route change stats:     received   rejected   filtered    ignored   accepted\n"
    "       Import updates:              3          0          0          0          3\n"
    "       Import withdraws:            0          0        ---          0          0\n"
    "       Export updates:              0          0          0        ---          0\n"
    "       Export withdraws:            0        ---        ---        ---          0\n"
    " \n"
    "1002-peer1      BGP        ---        start  09:36:14.262  Active        \n"
    "1006-  BGP state:          Active\n"
    "     Neighbor address: 127.0.0.2\n"
    "     Neighbor AS:      65001\n"
    "     Local AS:         65000\n"
    "     Connect delay:    1.647/5\n"
    "   Channel ipv4\n"
    "     State:          DOWN\n"
    "     Table:          master4\n"
    "     Preference:     100\n"
    "     Input filter:   REJECT\n"
    "     Output filter:  ACCEPT\n"
    "     IGP IPv4 table: master4\n"
    " \n"
    "0000 \n";

// `show protocols all peer1` with the session up.
const std::string kEstablished =
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-peer1      BGP        ---        up     09:37:41.183  Established   \n"
    "1006-  BGP state:          Established\n"
    "     Neighbor address: 127.0.0.2\n"
    "     Neighbor AS:      65001\n"
    "     Local AS:         65000\n"
    "     Neighbor ID:      10.0.0.2\n"
    "     Local capabilities\n"
    "       Multiprotocol\n"
    "         AF announced: ipv4\n"
    "       Route refresh\n"
    "       4-octet AS numbers\n"
    "     Neighbor capabilities\n"
    "       Multiprotocol\n"
    "         AF announced: ipv4\n"
    "       4-octet AS numbers\n"
    "     Session:          external multihop AS4\n"
    "     Source address:   127.0.0.1\n"
    "     Hold timer:       223.754/240\n"
    "     Keepalive timer:  70.368/80\n"
    "   Channel ipv4\n"
    "     State:          UP\n"
    "     Table:          master4\n"
    "     Preference:     100\n"
    "     Input filter:   ACCEPT\n"
    "     Output filter:  ACCEPT\n"
    "     Routes:         0 imported, 2 exported, 0 preferred\n"
    "     Route change stats:     received   rejected   filtered    ignored   accepted\n"
    "       Import updates:              0          0          0          0          0\n"
    "       Export updates:              2          0          0        ---          2\n"
    "     BGP Next hop:   127.0.0.1\n"
    "     IGP IPv4 table: master4\n"
    " \n"
    "0000 \n";

std::vector<BirdReplyLine> read_all(BirdReplyReader& reader) {
  std::vector<BirdReplyLine> lines;
  while (auto reply = reader.next()) lines.insert(lines.end(), reply->lines.begin(), reply->lines.end());
  return lines;
}

TEST(BirdReplyReader, CodesDashesAndContinuations) {
  auto reply = parse_bird_reply(
      "1007-3 of 3 routes for 3 networks in table master4\n"
      " 0 of 0 routes for 0 networks in table master6\n"
      "0014 Total: 3 of 3 routes for 3 networks in 2 tables\n");
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_THAT(reply->lines, ElementsAre(BirdReplyLine{1007, "3 of 3 routes for 3 networks in table master4"},
                                        BirdReplyLine{1007, "0 of 0 routes for 0 networks in table master6"},
                                        BirdReplyLine{14, "Total: 3 of 3 routes for 3 networks in 2 tables"}));
  EXPECT_EQ(reply->code(), 14);
  EXPECT_FALSE(reply->failed());
}

TEST(BirdReplyReader, ErrorCodesFail) {
  auto parse = parse_bird_reply("9001 syntax error, unexpected CF_SYM_UNDEFINED\n");
  ASSERT_TRUE(parse.ok());
  EXPECT_TRUE(parse->failed());
  EXPECT_EQ(parse->message(), "syntax error, unexpected CF_SYM_UNDEFINED");
  auto runtime =
      parse_bird_reply("0002-Reading configuration from /x.conf\n8002 /x.conf:3:17 syntax error, unexpected S\n");
  ASSERT_TRUE(runtime.ok());
  EXPECT_TRUE(runtime->failed());
  EXPECT_EQ(runtime->code(), 8002);
  EXPECT_EQ(runtime->message(), "/x.conf:3:17 syntax error, unexpected S");
}

TEST(BirdReplyReader, BytesInAnyChunksGiveTheSameReplies) {
  const std::string stream = "0001 BIRD 2.0.12 ready.\n" + kProtocolsAll;
  BirdReplyReader whole;
  ASSERT_FALSE(whole.feed(stream));
  const auto expected = read_all(whole);
  BirdReplyReader bytewise;
  for (char c : stream) ASSERT_FALSE(bytewise.feed(std::string_view(&c, 1)));
  EXPECT_EQ(read_all(bytewise), expected);
  EXPECT_FALSE(bytewise.mid_reply());
}

TEST(BirdReplyReader, RepliesAreSeparatedByTheirFinalLines) {
  BirdReplyReader reader;
  ASSERT_FALSE(reader.feed("0001 BIRD 2.0.12 ready.\n0003-Daemon is up and running\n0000 \n1000-BIRD"));
  auto hello = reader.next();
  ASSERT_TRUE(hello);
  EXPECT_EQ(parse_bird_hello(*hello), "2.0.12");
  auto status = reader.next();
  ASSERT_TRUE(status);
  EXPECT_THAT(status->lines, ElementsAre(BirdReplyLine{3, "Daemon is up and running"}, BirdReplyLine{0, ""}));
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.mid_reply());
}

TEST(BirdReplyReader, AsynchronousEchoLinesBelongToNoReply) {
  auto reply = parse_bird_reply("1007-a\n+bird: Reconfigured\n b\n0000 \n");
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_THAT(reply->lines, ElementsAre(BirdReplyLine{1007, "a"}, BirdReplyLine{1007, "b"}, BirdReplyLine{0, ""}));
}

TEST(BirdReplyReader, LinesBirdWouldNotSendAreErrors) {
  EXPECT_THAT(parse_bird_reply("hello\n").error(), HasSubstr("not a BIRD reply line: \"hello\""));
  EXPECT_THAT(parse_bird_reply(" orphan\n0000 \n").error(), HasSubstr("continuation line without a reply"));
  EXPECT_THAT(parse_bird_reply("12a4 x\n").error(), HasSubstr("not a BIRD reply line"));
  EXPECT_THAT(parse_bird_reply("0000\n").error(), HasSubstr("not a BIRD reply line"));
  EXPECT_THAT(parse_bird_reply("1002-x\n").error(), HasSubstr("no final line"));
  EXPECT_THAT(parse_bird_reply("0000 \n0000 \n").error(), HasSubstr("more than one reply"));
  BirdReplyReader reader;
  EXPECT_THAT(reader.feed(std::string(BirdReplyReader::kMaxLine + 1, 'x')).value_or(""), HasSubstr("line longer than"));
}

TEST(BirdReplyReader, AContinuationNeedsAnOpenReply) {
  // After a final line, " text" has nothing to continue.
  BirdReplyReader reader;
  EXPECT_THAT(reader.feed("0000 \n late\n").value_or(""), HasSubstr("continuation line without a reply"));
}

TEST(BirdHello, OnlyTheGreeting) {
  EXPECT_EQ(parse_bird_hello(parse_bird_reply("0001 BIRD 2.0.12 ready.").value()), "2.0.12");
  EXPECT_EQ(parse_bird_hello(parse_bird_reply("0001 BIRD v3.1.0 ready.").value()), "v3.1.0");
  EXPECT_FALSE(parse_bird_hello(parse_bird_reply("0000 BIRD 2.0.12 ready.").value()));
  EXPECT_FALSE(parse_bird_hello(parse_bird_reply("0001 Welcome").value()));
  EXPECT_FALSE(parse_bird_hello(parse_bird_reply("0001-BIRD 2.0.12 ready.\n0000 ").value()));
}

TEST(ParseProtocols, ShowProtocolsAll) {
  auto protocols = parse_protocols(kProtocolsAll);
  ASSERT_TRUE(protocols.ok()) << protocols.error();
  ASSERT_EQ(protocols->size(), 3u);

  const BirdProtocol& device = (*protocols)[0];
  EXPECT_EQ(device.name, "device1");
  EXPECT_EQ(device.proto, "Device");
  EXPECT_EQ(device.table, "---");
  EXPECT_EQ(device.state, "up");
  EXPECT_EQ(device.since, "09:36:00.779");
  EXPECT_EQ(device.info, "");
  EXPECT_TRUE(device.channels.empty());
  EXPECT_FALSE(device.bgp);

  const BirdProtocol& statics = (*protocols)[1];
  EXPECT_EQ(statics.name, "static_vips");  // longer than BIRD's column: one space only
  EXPECT_EQ(statics.proto, "Static");
  EXPECT_EQ(statics.table, "master4");
  EXPECT_TRUE(statics.up());
  EXPECT_THAT(statics.channels, ElementsAre(BirdChannel{"ipv4", "UP", "master4", 3, 0, 0, 3}));
  EXPECT_EQ(statics.imported(), 3u);
  EXPECT_EQ(statics.exported(), 0u);

  const BirdProtocol& peer = (*protocols)[2];
  EXPECT_EQ(peer.name, "peer1");
  EXPECT_EQ(peer.proto, "BGP");
  EXPECT_EQ(peer.state, "start");
  EXPECT_EQ(peer.info, "Active");
  ASSERT_TRUE(peer.bgp);
  EXPECT_EQ(peer.bgp->state, "Active");
  EXPECT_FALSE(peer.bgp->established());
  EXPECT_EQ(peer.bgp->neighbor_address, "127.0.0.2");
  EXPECT_EQ(peer.bgp->neighbor_as, 65001u);
  EXPECT_EQ(peer.bgp->local_as, 65000u);
  EXPECT_EQ(peer.bgp->neighbor_id, "");
  EXPECT_THAT(peer.channels, ElementsAre(BirdChannel{"ipv4", "DOWN", "master4", 0, 0, 0, 0}));
}

TEST(ParseProtocols, EstablishedSession) {
  auto protocols = parse_protocols(kEstablished);
  ASSERT_TRUE(protocols.ok()) << protocols.error();
  ASSERT_EQ(protocols->size(), 1u);
  const BirdProtocol& peer = protocols->front();
  EXPECT_EQ(peer.state, "up");
  EXPECT_EQ(peer.info, "Established");
  ASSERT_TRUE(peer.bgp);
  EXPECT_TRUE(peer.bgp->established());
  EXPECT_EQ(peer.bgp->neighbor_id, "10.0.0.2");
  EXPECT_EQ(peer.bgp->source_address, "127.0.0.1");
  EXPECT_EQ(peer.bgp->last_error, "");
  // capabilities and "BGP Next hop" are not channel or session fields
  EXPECT_THAT(peer.channels, ElementsAre(BirdChannel{"ipv4", "UP", "master4", 0, 0, 2, 0}));
  EXPECT_EQ(peer.exported(), 2u);
}

TEST(ParseProtocols, DownSessionWithLastErrorAndKeptFilteredRoutes) {
  auto protocols = parse_protocols(
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-peer2      BGP        ---        down   2026-11-26    Error: Invalid next hop\n"
      "1006-  Description:    uplink to the spine\n"
      "   BGP state:          Down\n"
      "     Neighbor address: fe80::1%eth0\n"
      "     Neighbor AS:      4200000001\n"
      "     Local AS:         65000\n"
      "     Last error:       Error: Invalid next hop\n"
      "   Channel ipv6\n"
      "     State:          DOWN\n"
      "     Table:          master6\n"
      "     Routes:         2 imported, 1 filtered, 4 exported, 2 preferred\n"
      " \n"
      "0000 \n");
  ASSERT_TRUE(protocols.ok()) << protocols.error();
  const BirdProtocol& peer = protocols->front();
  EXPECT_EQ(peer.since, "2026-11-26");
  EXPECT_EQ(peer.info, "Error: Invalid next hop");
  EXPECT_EQ(peer.description, "uplink to the spine");
  ASSERT_TRUE(peer.bgp);
  EXPECT_EQ(peer.bgp->state, "Down");
  EXPECT_EQ(peer.bgp->neighbor_address, "fe80::1%eth0");
  EXPECT_EQ(peer.bgp->neighbor_as, 4200000001u);
  EXPECT_EQ(peer.bgp->last_error, "Error: Invalid next hop");
  EXPECT_THAT(peer.channels, ElementsAre(BirdChannel{"ipv6", "DOWN", "master6", 2, 1, 4, 2}));
}

TEST(ParseProtocols, SinceWithSpacesInAnIsoFormat) {
  auto protocols = parse_protocols(
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-peer1      BGP        ---        up     2026-11-27 09:37:41  Established\n"
      "0000 \n");
  ASSERT_TRUE(protocols.ok()) << protocols.error();
  EXPECT_EQ(protocols->front().since, "2026-11-27 09:37:41");
  EXPECT_EQ(protocols->front().info, "Established");
}

TEST(ParseProtocols, ShowProtocolsWithoutDetails) {
  auto protocols = parse_protocols(
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-device1    Device     ---        up     09:36:00.779  \n"
      " static_vips Static     master4    up     09:36:00.779  \n"
      " peer1      BGP        ---        down   09:36:00.780  Error: Invalid next hop\n"
      "0000 \n");
  ASSERT_TRUE(protocols.ok()) << protocols.error();
  ASSERT_EQ(protocols->size(), 3u);
  EXPECT_EQ((*protocols)[1].name, "static_vips");
  EXPECT_EQ((*protocols)[2].state, "down");
  EXPECT_EQ((*protocols)[2].info, "Error: Invalid next hop");
  EXPECT_FALSE((*protocols)[2].bgp);  // only `all` shows the session
}

TEST(ParseProtocols, NoProtocolsIsAnEmptyList) {
  auto protocols = parse_protocols("8003 No protocols match\n");
  ASSERT_TRUE(protocols.ok()) << protocols.error();
  EXPECT_TRUE(protocols->empty());
}

TEST(ParseProtocols, MalformedRepliesAreErrors) {
  EXPECT_THAT(parse_protocols("1002-peer1 BGP\n0000 \n").error(), HasSubstr("too few fields"));
  EXPECT_THAT(parse_protocols("1006-  BGP state: Active\n0000 \n").error(), HasSubstr("details before any protocol"));
  EXPECT_THAT(parse_protocols("1007-x\n0000 \n").error(), HasSubstr("unexpected line"));
  EXPECT_THAT(parse_protocols("9001 syntax error\n").error(), HasSubstr("9001 syntax error"));
  EXPECT_THAT(
      parse_protocols("1002-p BGP --- up 09:00:00  x\n1006-  BGP state: Active\n     Neighbor AS: lots\n0000 \n").error(),
      HasSubstr("neighbor AS"));
  EXPECT_THAT(parse_protocols("1002-p Static t up 09:00:00\n1006-  Channel ipv4\n     Routes: many\n0000 \n").error(),
              HasSubstr("routes line"));
}

TEST(ParseRouteCount, EveryTableAndTheTotal) {
  auto count = parse_route_count(
      "1007-3 of 3 routes for 3 networks in table master4\n"
      " 0 of 0 routes for 0 networks in table master6\n"
      "0014 Total: 3 of 3 routes for 3 networks in 2 tables\n");
  ASSERT_TRUE(count.ok()) << count.error();
  EXPECT_THAT(count->tables, ElementsAre(BirdTableRoutes{"master4", 3, 3, 3}, BirdTableRoutes{"master6", 0, 0, 0}));
  EXPECT_EQ(count->routes, 3u);
  EXPECT_EQ(count->networks, 3u);
  ASSERT_TRUE(count->table("master4"));
  EXPECT_EQ(count->table("master4")->networks, 3u);
  EXPECT_FALSE(count->table("nope"));
}

TEST(ParseRouteCount, OneTableHasNoTotalLine) {
  auto count = parse_route_count("1007-2 of 5 routes for 4 networks in table vips\n0000 \n");
  ASSERT_TRUE(count.ok()) << count.error();
  EXPECT_THAT(count->tables, ElementsAre(BirdTableRoutes{"vips", 2, 5, 4}));
  EXPECT_EQ(count->routes, 2u);
  EXPECT_EQ(count->networks, 4u);
}

TEST(ParseRouteCount, MalformedLines) {
  EXPECT_THAT(parse_route_count("1007-3 routes\n0000 \n").error(), HasSubstr("unreadable route count"));
  EXPECT_THAT(parse_route_count("0014 Total: many\n").error(), HasSubstr("unreadable route count total"));
}

TEST(ParseStatus, ShowStatus) {
  auto status = parse_status(
      "1000-BIRD 2.0.12\n"
      "1011-Router ID is 10.0.0.1\n"
      " Hostname is vm\n"
      " Current server time is 2026-11-27 09:37:32.529\n"
      " Last reboot on 2026-11-27 09:36:00.779\n"
      " Last reconfiguration on 2026-11-27 09:36:17.437\n"
      "0013 Daemon is up and running\n");
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_EQ(*status, (BirdDaemonStatus{"2.0.12", "10.0.0.1", "2026-11-27 09:36:00.779", "2026-11-27 09:36:17.437", "Daemon is up and running"}));
  EXPECT_THAT(parse_status("0000 \n").error(), HasSubstr("not a status report"));
}

TEST(ConfigureCommand, QuotesPathsBirdReadsBackUnchanged) {
  EXPECT_EQ(configure_command("/run/kvlb/bird.conf"), "configure \"/run/kvlb/bird.conf\"");
  EXPECT_EQ(configure_command("/tmp/with space/b.conf"), "configure \"/tmp/with space/b.conf\"");
  EXPECT_EQ(configure_command(""), "");
  EXPECT_EQ(configure_command("/x\"y"), "");
  EXPECT_EQ(configure_command("/x\ny"), "");
  EXPECT_EQ(configure_command(std::string_view("/x\0y", 4)), "");
}

}  // namespace
}  // namespace kvlb::bgp
