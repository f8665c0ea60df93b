// Resource::primary()'s probe of a peer that is Primary. A takeover (VRRP
// already declared the master dead) asks a Secondary to promote while its
// replication link still shows the peer as Primary: a live peer answers the
// probe and keeps its role; a silent one is dropped by the first request
// probe_timeout after the probe, so the takeover does not wait for the
// longer ping_timeout; without further requests nothing is dropped.
#include <gtest/gtest.h>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(ResourcePairTest, ProbeOfALivePrimaryKeepsTheLinkAndTheRefusal) {
  bring_up_synced();
  const int connections = net.connections();
  const uint64_t pings_before = net.sent(1, wire::FrameType::kPing).frames;
  const CommandResult r = b->primary();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the peer is Primary")) << r.error();
  settle();
  EXPECT_EQ(net.sent(1, wire::FrameType::kPing).frames, pings_before + 1);  // the probe went out at once
  advance(seconds(3));                                                        // several probe timeouts
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected) << b->status().last_error;
  EXPECT_EQ(b->status().role, Role::kSecondary);
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_EQ(net.connections(), connections);
  EXPECT_FALSE(b->primary().ok());
}

TEST_F(ResourcePairTest, ProbeUnansweredWithinProbeTimeoutDropsTheLinkAtTheNextRequest) {
  bring_up_synced();
  net.set_stalled(true);  // the old Primary's node is gone: nothing arrives, no reset either
  advance(milliseconds(500));
  EXPECT_FALSE(b->primary().ok());  // the probe goes out
  advance(milliseconds(1499));
  EXPECT_FALSE(b->primary().ok());  // probe_timeout (1.5 s) not over yet: same probe, no new one
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
  advance(milliseconds(2));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);  // nothing happens without a request
  // The next request drops the link and promotes: the peer's role is unknown now.
  const CommandResult r = b->primary();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(b->status().role, Role::kPrimary);
  EXPECT_EQ(b->status().connection, ConnectionState::kConnecting);
  EXPECT_TRUE(contains(b->status().last_error, "did not answer a probe within 1500 ms")) << b->status().last_error;
}

TEST_F(ResourcePairTest, WhileTheProbeWaitsEveryByteIsAskedForNotWholeFrames) {
  // Between frames the reader asks the transport for a whole header (the
  // transport may then wake it once per frame); the probe counts any byte
  // as a sign of life, so while it waits the reader asks for one.
  bring_up_synced();
  EXPECT_EQ(net.expected_bytes(1), wire::kHeaderSize);
  net.set_stalled(true);
  advance(milliseconds(10));  // the probe is sent later than anything heard
  EXPECT_FALSE(b->primary().ok());  // the probe goes out
  EXPECT_EQ(net.expected_bytes(1), 1u);
  net.set_stalled(false);
  settle();
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(net.expected_bytes(1), wire::kHeaderSize);  // answered: whole frames again
}

TEST_F(ResourcePairTest, ALongSilentLinkIsStillProbedBeforeItIsDropped) {
  // Silence alone proves nothing: after a blip TCP may take seconds to
  // retransmit. Only a probe that stays unanswered counts.
  bring_up_synced();
  net.set_stalled(true);
  advance(milliseconds(4500));  // ping_timeout (5 s after the first unanswered ping) not reached
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
  EXPECT_FALSE(b->primary().ok());
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
}

TEST_F(ResourcePairTest, AnyBytesFromThePeerAnswerTheProbe) {
  bring_up_synced();
  net.set_stalled(true);
  advance(milliseconds(500));
  EXPECT_FALSE(b->primary().ok());  // probe sent, held by the stalled link
  advance(milliseconds(1000));
  net.set_stalled(false);  // the peer's pending bytes (and its PingAck) arrive
  advance(milliseconds(600));
  EXPECT_FALSE(b->primary().ok());  // answered: still refused, the link kept
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected) << b->status().last_error;
  EXPECT_EQ(a->status().role, Role::kPrimary);
}

TEST_F(ResourcePairTest, AnAbandonedPromotionLeavesTheLinkAlone) {
  // The "dead" master was cut off for a moment: its next advert ends the
  // takeover before the probe's time is up, and nobody asks again.
  bring_up_synced();
  const int connections = net.connections();
  net.set_stalled(true);
  advance(milliseconds(500));
  EXPECT_FALSE(b->primary().ok());
  advance(milliseconds(2500));  // unanswered for longer than probe_timeout, but no request
  net.set_stalled(false);
  advance(seconds(5));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected) << b->status().last_error;
  EXPECT_EQ(net.connections(), connections);
}

TEST_F(ResourcePairTest, SilenceAloneDropsNothingWithoutAPromotion) {
  // The keep-alive alone keeps its longer ping_timeout: a 4 s stall with no
  // takeover is ridden out (flap tolerance).
  bring_up_synced();
  const int connections = net.connections();
  net.set_stalled(true);
  advance(seconds(4));
  net.set_stalled(false);
  advance(seconds(10));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected) << b->status().last_error;
  EXPECT_EQ(net.connections(), connections);
}

}  // namespace
}  // namespace vrrpd::replication::testing
