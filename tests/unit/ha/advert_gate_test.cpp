// Admission: each drop reason counted once, and what still gets through.
#include <gtest/gtest.h>

#include "ha/advert_gate.h"
#include "unit/ha/ha_test_support.h"

namespace kvlb::ha {
namespace {

using namespace std::chrono_literals;
using kvlb::testing::ip;
using kvlb::testing::key;
using kvlb::testing::sample_advert;

constexpr uint64_t kNow = 1'700'000'000'000'000'000;  // ns since the epoch

class AdvertGateTest : public ::testing::Test {
 protected:
  AdvertGateTest()
      : wall_(kNow),
        gate_(GateConfig{key(), {{"web-1", 0xdeadbeef}, {"db", 7}}, {ip("10.0.0.2"), ip("2001:db8::2")}}, wall_) {}

  // sample_advert() from 10.0.0.2, stamped with the wall clock's time.
  Advert advert(uint64_t sequence = kNow) {
    Advert a = sample_advert();
    a.sequence = sequence;
    return a;
  }
  Admission admit(const Advert& a, std::string_view source = "10.0.0.2") {
    return gate_.admit(encode_advert(a, key()), ip(source));
  }
  DropReason dropped(const Admission& admission) {
    EXPECT_FALSE(admission.ok());
    return admission.ok() ? DropReason::Malformed : admission.error().reason;
  }

  ManualWallClock wall_;
  AdvertGate gate_;
};

TEST_F(AdvertGateTest, AcceptsAFreshAdvertFromAPeer) {
  auto admission = admit(advert());
  ASSERT_TRUE(admission.ok()) << admission.error().describe();
  EXPECT_EQ(admission->advert, advert());
  EXPECT_FALSE(admission->config_mismatch);
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 1, .accepted = 1}));
}

TEST_F(AdvertGateTest, AcceptsIpv6Peer) {
  Advert a = advert();
  a.sender = ip("2001:db8::2");
  EXPECT_TRUE(admit(a, "2001:db8::2").ok());
}

TEST_F(AdvertGateTest, MalformedDatagramsAreCounted) {
  Bytes packet = encode_advert(advert(), key());
  packet.resize(50);
  auto admission = gate_.admit(packet, ip("10.0.0.2"));
  EXPECT_EQ(dropped(admission), DropReason::Malformed);
  EXPECT_EQ(admission.error().describe(), "malformed: truncated: 50 of 108 bytes from 10.0.0.2");
  packet = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'};
  EXPECT_EQ(dropped(gate_.admit(packet, ip("10.0.0.2"))), DropReason::Malformed);
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 2, .malformed = 2}));
}

TEST_F(AdvertGateTest, WrongKeyIsBadAuth) {
  auto admission = gate_.admit(encode_advert(advert(), key("other")), ip("10.0.0.2"));
  EXPECT_EQ(dropped(admission), DropReason::BadAuth);
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 1, .bad_auth = 1}));
}

TEST_F(AdvertGateTest, ReplayedSequenceIsDropped) {
  ASSERT_TRUE(admit(advert(kNow)).ok());
  auto again = admit(advert(kNow));
  EXPECT_EQ(dropped(again), DropReason::Replayed);
  EXPECT_EQ(again.error().describe(),
            "replayed: sequence " + std::to_string(kNow) + " not after " + std::to_string(kNow) + " from 10.0.0.2");
  EXPECT_EQ(dropped(admit(advert(kNow - 1))), DropReason::Replayed);
  EXPECT_TRUE(admit(advert(kNow + 1)).ok());
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 4, .accepted = 2, .replayed = 2}));
}

TEST_F(AdvertGateTest, SequencesAreTrackedPerInstanceAndKind) {
  // A probe on the sync link overtaking an advert must not make it a replay.
  Advert probe = advert(kNow + 10);
  probe.probe = true;
  ASSERT_TRUE(admit(probe).ok());
  ASSERT_TRUE(admit(advert(kNow + 5)).ok());
  Advert db = advert(kNow + 1);
  db.instance = "db";
  db.config_digest = 7;
  EXPECT_TRUE(admit(db).ok());
}

TEST_F(AdvertGateTest, AdvertOlderThanTheWindowIsAReplay) {
  EXPECT_TRUE(admit(advert(kNow - 60'000'000'000)).ok());  // exactly 60 s old: still fresh
  auto old = admit(advert(kNow - 61'000'000'000));
  EXPECT_EQ(dropped(old), DropReason::Replayed);
  EXPECT_EQ(old.error().detail, "advert 61000 ms old from 10.0.0.2");
}

TEST_F(AdvertGateTest, AdvertFromTheFutureIsDropped) {
  auto future = admit(advert(kNow + 61'000'000'000));
  EXPECT_EQ(dropped(future), DropReason::Replayed);
  EXPECT_EQ(future.error().detail, "advert 61000 ms in the future from 10.0.0.2");
  // Not remembered: the peer's next honest advert still passes.
  EXPECT_TRUE(admit(advert(kNow)).ok());
  EXPECT_EQ(gate_.counters().replayed, 1u);
}

TEST_F(AdvertGateTest, RecordedAdvertReplayedLaterIsRefusedByAFreshGate) {
  Bytes recorded = encode_advert(advert(kNow), key());
  wall_.advance(120s);  // e.g. after this node restarted with an empty sequence map
  AdvertGate restarted(GateConfig{key(), {{"web-1", 0xdeadbeef}}, {ip("10.0.0.2")}}, wall_);
  EXPECT_EQ(dropped(restarted.admit(recorded, ip("10.0.0.2"))), DropReason::Replayed);
}

TEST_F(AdvertGateTest, SenderRestartingWithTheWallClockIsAccepted) {
  ManualWallClock sender_clock(kNow);
  AdvertSequencer before(sender_clock);
  ASSERT_TRUE(admit(advert(before.next())).ok());
  sender_clock.advance(2s);
  wall_.advance(2s);
  AdvertSequencer after_restart(sender_clock);
  EXPECT_TRUE(admit(advert(after_restart.next())).ok());
}

TEST_F(AdvertGateTest, SequencerIsStrictlyIncreasingWhenTheClockStandsOrStepsBack) {
  ManualWallClock clock(kNow);
  AdvertSequencer sequencer(clock);
  EXPECT_EQ(sequencer.next(), kNow);
  EXPECT_EQ(sequencer.next(), kNow + 1);
  clock.set_ns(kNow - 5);
  EXPECT_EQ(sequencer.next(), kNow + 2);
  clock.set_ns(kNow + 100);
  EXPECT_EQ(sequencer.next(), kNow + 100);
}

TEST_F(AdvertGateTest, SourceMismatch) {
  auto admission = admit(advert(), "10.0.0.9");
  EXPECT_EQ(dropped(admission), DropReason::SourceMismatch);
  EXPECT_EQ(admission.error().detail, "sender 10.0.0.2 sent from 10.0.0.9");
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 1, .source_mismatch = 1}));
}

TEST_F(AdvertGateTest, UnknownPeerIsNotTracked) {
  Advert a = advert();
  a.sender = ip("10.0.0.77");
  EXPECT_EQ(dropped(admit(a, "10.0.0.77")), DropReason::UnknownPeer);
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 1, .unknown_peer = 1}));
}

TEST_F(AdvertGateTest, UnknownInstance) {
  Advert a = advert();
  a.instance = "mail";
  auto admission = admit(a);
  EXPECT_EQ(dropped(admission), DropReason::UnknownInstance);
  EXPECT_EQ(admission.error().describe(), "unknown instance: instance mail from 10.0.0.2");
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 1, .unknown_instance = 1}));
}

TEST_F(AdvertGateTest, ConfigMismatchIsCountedButAccepted) {
  Advert a = advert();
  a.config_digest = 1;
  auto admission = admit(a);
  ASSERT_TRUE(admission.ok());
  EXPECT_TRUE(admission->config_mismatch);
  EXPECT_EQ(gate_.counters(), (AdvertGate::Counters{.received = 1, .accepted = 1, .config_mismatch = 1}));
}

TEST_F(AdvertGateTest, ProbesCarryNoConfiguration) {
  Advert probe = advert();
  probe.probe = true;
  probe.config_digest = 0;
  auto admission = admit(probe);
  ASSERT_TRUE(admission.ok());
  EXPECT_FALSE(admission->config_mismatch);
  EXPECT_EQ(gate_.counters().config_mismatch, 0u);
}

TEST_F(AdvertGateTest, DropReasonNames) {
  EXPECT_STREQ(to_string(DropReason::Malformed), "malformed");
  EXPECT_STREQ(to_string(DropReason::BadAuth), "bad auth");
  EXPECT_STREQ(to_string(DropReason::Replayed), "replayed");
  EXPECT_STREQ(to_string(DropReason::SourceMismatch), "source mismatch");
  EXPECT_STREQ(to_string(DropReason::UnknownPeer), "unknown peer");
  EXPECT_STREQ(to_string(DropReason::UnknownInstance), "unknown instance");
}

}  // namespace
}  // namespace kvlb::ha
