// Resource::primary()'s probe of a peer that is Primary. A takeover (VRRP
// already declared the master dead) asks a Secondary to promote while its
// replication link still shows the peer as Primary: a live peer answers the
// probe and keeps its role; a silent one is dropped after probe_timeout, or
// at once when the link has been silent for ping_interval + probe_timeout,
// so the takeover does not wait for the longer ping_timeout.
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

TEST_F(ResourcePairTest, ProbeUnansweredWithinProbeTimeoutDropsTheLink) {
  bring_up_synced();
  net.set_stalled(true);  // the old Primary's node is gone: nothing arrives, no reset either
  advance(milliseconds(500));
  EXPECT_FALSE(b->primary().ok());
  advance(milliseconds(999));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);  // probe_timeout (1 s) not over yet
  EXPECT_FALSE(b->primary().ok());                                 // a second refusal: same probe, not a new one
  advance(milliseconds(2));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnecting);
  EXPECT_TRUE(contains(b->status().last_error, "did not answer a probe within 1000 ms")) << b->status().last_error;
  // The peer's role is unknown now; the UpToDate Secondary may promote.
  ASSERT_TRUE(b->primary().ok());
  EXPECT_EQ(b->status().role, Role::kPrimary);
}

TEST_F(ResourcePairTest, LinkSilentForPingIntervalPlusProbeTimeoutIsDroppedAtOnce) {
  bring_up_synced();
  net.set_stalled(true);
  advance(seconds(2) + milliseconds(100));  // ping_interval 1 s + probe_timeout 1 s; ping_timeout (5 s) not reached
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
  const CommandResult r = b->primary();
  ASSERT_TRUE(r.ok()) << r.error();  // dropped and promoted in the same call
  EXPECT_EQ(b->status().role, Role::kPrimary);
  EXPECT_TRUE(contains(b->status().last_error, "has sent nothing for")) << b->status().last_error;
}

TEST_F(ResourcePairTest, AnyBytesFromThePeerAnswerTheProbe) {
  bring_up_synced();
  net.set_stalled(true);
  advance(milliseconds(500));
  EXPECT_FALSE(b->primary().ok());  // probe sent, held by the stalled link
  advance(milliseconds(400));
  net.set_stalled(false);  // the peer's pending bytes (and its PingAck) arrive
  advance(seconds(3));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected) << b->status().last_error;
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_FALSE(b->primary().ok());
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
