// Resource::adjust(): new settings for a running resource (a configuration
// reload). Live settings take effect at once; what the handshake carries
// changes only while StandAlone; what describes the disk never.
#include <gtest/gtest.h>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(ResourcePairTest, AdjustedResyncRatePacesTheRunningResync) {
  make_with_resync_rate(1u << 20);  // bytes/s: the 16 MiB initial sync would take ~15 s
  start_initial_sync();
  advance(seconds(2));
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  const uint64_t done_slow = b->status().resync_done_bytes;
  EXPECT_LE(done_slow, 4u << 20);  // 2 s at 1 MiB/s, the burst, one request of slack
  // The SyncTarget paces the resync (it asks for the blocks).
  ResourceOptions faster = b->options();
  faster.resync_rate = 64u << 20;
  ok(b->adjust(faster));
  EXPECT_EQ(b->status().resync_rate_limit, 64u << 20);
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, AdjustedPingTimeoutDropsASilentLinkSooner) {
  bring_up_synced();
  ResourceOptions quick = b->options();
  quick.ping_interval = milliseconds(100);
  quick.ping_timeout = milliseconds(300);
  ok(b->adjust(quick));
  net.set_stalled(true);  // nothing arrives any more, no reset either
  // b pings within 100 ms (the old interval was 1 s) and gives up 300 ms
  // later (the old timeout was 5 s).
  advance(milliseconds(450));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnecting);
  EXPECT_TRUE(contains(b->status().last_error, "no PingAck within 300 ms")) << b->status().last_error;
  // The reason of the drop, for the daemon's timeline.
  EXPECT_TRUE(contains(b->status().connection_why, "no PingAck within 300 ms")) << b->status().connection_why;
}

TEST_F(ResourcePairTest, AdjustedHandshakeSettingsWaitForStandAloneThenNegotiate) {
  bring_up_synced();
  ResourceOptions pa = a->options(), pb = b->options();
  pa.protocol = pb.protocol = wire::ReplicationProtocol::kA;
  const CommandResult refused = a->adjust(pa);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error(), "only while StandAlone")) << refused.error();
  EXPECT_EQ(a->status().protocol, 'C');  // nothing applied
  // Only one side changed: its next handshake is refused with both values named.
  ok(a->disconnect());
  settle();
  ok(a->adjust(pa));
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  EXPECT_NE(a->status().connection, ConnectionState::kConnected);
  EXPECT_TRUE(contains(a->status().last_error + b->status().last_error, "protocol A, this node C") ||
              contains(a->status().last_error + b->status().last_error, "protocol C, this node A"))
      << a->status().last_error << " / " << b->status().last_error;
  // Both changed: connected with protocol A, and writes still reach the peer.
  if (b->status().connection != ConnectionState::kStandAlone) ok(b->disconnect());
  if (a->status().connection != ConnectionState::kStandAlone) ok(a->disconnect());
  settle();
  ok(b->adjust(pb));
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(a->status().protocol, 'A');
  EXPECT_EQ(b->status().protocol, 'A');
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 3)).ok());
  advance(milliseconds(100));
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, AdjustRefusesWhatDescribesTheDiskAndKeepsDiscardMyData) {
  make();
  create_and_attach(*a);
  ResourceOptions renamed = a->options();
  renamed.name = "r1";
  EXPECT_FALSE(a->adjust(renamed).ok());
  ResourceOptions external = a->options();
  external.metadata_layout = MetadataLayout::kExternal;
  EXPECT_FALSE(a->adjust(external).ok());
  EXPECT_EQ(a->options().name, "r0");
  // The operator's one-shot discard-my-data survives a reload.
  a->set_discard_my_data(true);
  ResourceOptions next = a->options();
  next.discard_my_data = false;
  next.ko_count = 3;
  ok(a->adjust(next));
  EXPECT_TRUE(a->options().discard_my_data);
  EXPECT_EQ(a->options().ko_count, 3u);
}

}  // namespace
}  // namespace vrrpd::replication::testing
