// Resource: protocol A with on_congestion pull-ahead (DRBD's Ahead/Behind).
// A Primary whose link's send queue is above congestion_fill stops
// mirroring instead of making the writer wait: it is Ahead, its writes go
// to the bitmap in a new generation, the peer is told and is Behind with
// its disk Outdated; once the queue has drained the Primary reconnects and
// the handshake resyncs only what was written meanwhile. With the default
// policy (block), or a peer older than protocol 4, writers wait instead.
// Also when too many activity-log extents wait for the peer's confirmation
// with little queued (congestion_extents).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1u << 20;

class PullAheadTest : public ResourcePairTest {
 protected:
  void make_protocol_a(CongestionPolicy policy, uint16_t peer_version = wire::kMaxProtocolVersion,
                       uint32_t congestion_extents = kMaxAlExtents) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.protocol = ob.protocol = wire::ReplicationProtocol::kA;
    oa.on_congestion = ob.on_congestion = policy;
    oa.congestion_fill = ob.congestion_fill = kMiB;
    oa.congestion_extents = ob.congestion_extents = congestion_extents;
    ob.max_protocol_version = peer_version;
    make(oa, ob);
    net.on_frame = [this](int from, const wire::Frame& f) {
      if (from == 0 && std::holds_alternative<wire::PullAhead>(f.message)) ++pull_aheads;
      if (const auto* s = std::get_if<wire::StateChange>(&f.message); from == 1 && s != nullptr)
        peer_disks.push_back(s->disk_state);
    };
  }
  // Writes `count` MiB at `first` MiB without waiting; their completions.
  std::vector<std::shared_ptr<std::optional<IoStatus>>> write_mib(uint64_t first, uint64_t count, uint8_t seed) {
    std::vector<std::shared_ptr<std::optional<IoStatus>>> done;
    for (uint64_t i = first; i < first + count; ++i) done.push_back(submit(*a, i * kMiB, pattern(i * kMiB, kMiB, seed)));
    settle();
    return done;
  }
  static size_t answered(const std::vector<std::shared_ptr<std::optional<IoStatus>>>& done) {
    size_t n = 0;
    for (const auto& d : done) n += d->has_value() && d->value().ok() ? 1 : 0;
    return n;
  }

  // One 4 KiB write at the start of activity-log extent `extent`, without
  // waiting; whether it was answered at once.
  bool write_extent(uint32_t extent, uint8_t seed) {
    const uint64_t offset = uint64_t{extent} * kAlExtentSize;
    auto done = submit(*a, offset, pattern(offset, 4096, seed));
    settle();
    return done->has_value() && done->value().ok();
  }

  int pull_aheads = 0;
  std::vector<wire::DiskState> peer_disks;  // b's StateChange frames
};

TEST_F(PullAheadTest, ACongestedPrimaryPullsAheadAndResyncsThePeerOnceTheLinkDrains) {
  make_protocol_a(CongestionPolicy::kPullAhead);
  bring_up_synced();
  const Generations before = a->generations();
  net.set_stalled(true);  // nothing leaves: the send queue fills
  auto done = write_mib(0, 6, 3);
  // Nobody waits: the first write fit in the queue, the second found it
  // above the fill and pulled ahead, the rest went to the bitmap.
  EXPECT_EQ(answered(done), 6u);
  EXPECT_EQ(a->status().replication, ReplicationState::kAhead);
  EXPECT_EQ(a->status().peer_disk, DiskState::kOutdated);
  EXPECT_EQ(a->status().out_of_sync_bytes, 5 * kMiB);
  EXPECT_EQ(pull_aheads, 1);
  EXPECT_NE(a->generations().current, before.current);  // a new generation for the writes only here
  EXPECT_EQ(uuid_value(a->generations().bitmap), uuid_value(before.current));
  // The queue drains: the peer hears it is Behind (and outdates itself),
  // then the reconnect resyncs what it lacks, not the whole disk.
  net.reset_stats();
  net.set_stalled(false);
  advance(seconds(3));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  ASSERT_FALSE(peer_disks.empty());
  EXPECT_NE(std::find(peer_disks.begin(), peer_disks.end(), DiskState::kOutdated), peer_disks.end());
  // What was written while Ahead, and the write mirrored before, whose
  // epoch the reconnect cut short: not the whole disk.
  EXPECT_GE(resync_data_bytes(0), 5 * kMiB);
  EXPECT_LE(resync_data_bytes(0), 6 * kMiB);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  // Mirroring again: a write reaches the peer.
  ASSERT_TRUE(write_now(*a, 8 * kMiB, pattern(8 * kMiB, 4096, 9)).ok());
  EXPECT_EQ(read_back(disk_b, 8 * kMiB, 4096), pattern(8 * kMiB, 4096, 9));
}

TEST_F(PullAheadTest, ABehindNodeLeftBehindIsOutdatedAndRefusesToPromote) {
  make_protocol_a(CongestionPolicy::kPullAhead);
  bring_up_synced();
  net.set_stalled(true);
  write_mib(0, 4, 5);
  ASSERT_EQ(a->status().replication, ReplicationState::kAhead);
  // What was queued (the PullAhead with it) reaches b; the reconnect that
  // would resync it is held, and a writes on meanwhile.
  net.set_stalled(false);
  net.set_stalled(true);
  write_mib(4, 2, 5);
  settle();
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  // Then the Primary dies, and the link with it.
  net.set_link_up(false);
  a.reset();
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  auto md = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(md.ok());
  EXPECT_TRUE(md->flags.outdated);  // persisted: also after a restart
  CommandResult promoted = b->primary();
  ASSERT_FALSE(promoted.ok());
  EXPECT_NE(promoted.error().find("Outdated"), std::string::npos) << promoted.error();
}

TEST_F(PullAheadTest, TheBlockPolicyMakesWritersWait) {
  make_protocol_a(CongestionPolicy::kBlock);
  bring_up_synced();
  net.set_stalled(true);
  auto done = write_mib(0, 4, 7);
  EXPECT_LT(answered(done), 4u);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(pull_aheads, 0);
  net.set_stalled(false);
  settle();
  EXPECT_EQ(answered(done), 4u);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

TEST_F(PullAheadTest, APeerOlderThanProtocolFourIsNotLeftBehind) {
  make_protocol_a(CongestionPolicy::kPullAhead, /*peer_version=*/3);
  bring_up_synced();
  net.set_stalled(true);
  auto done = write_mib(0, 4, 7);
  EXPECT_LT(answered(done), 4u);  // it could not be told: back-pressure instead
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(pull_aheads, 0);
  net.set_stalled(false);
  settle();
  EXPECT_EQ(answered(done), 4u);
}

// DRBD's congestion-extents. A long link: every byte leaves at once, so
// the send queue stays empty, but each BarrierAck comes back 100 ms later,
// and until then the writes of its epoch keep their extents in the log.
TEST_F(PullAheadTest, ExtentsThePeerHasNotConfirmedPullAheadWithLittleQueued) {
  make_protocol_a(CongestionPolicy::kPullAhead, wire::kMaxProtocolVersion, /*congestion_extents=*/2);
  bring_up_synced();
  const Generations before = a->generations();
  net.set_latency(milliseconds(50));
  EXPECT_TRUE(write_extent(0, 1));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);  // one extent waits for the peer
  EXPECT_TRUE(write_extent(1, 1));  // the second: at congestion_extents
  EXPECT_EQ(a->status().replication, ReplicationState::kAhead);
  EXPECT_EQ(pull_aheads, 1);
  EXPECT_EQ(uuid_value(a->generations().bitmap), uuid_value(before.current));
  // Ahead: the next writes go to the bitmap only, answered at once.
  EXPECT_TRUE(write_extent(2, 1));
  EXPECT_TRUE(write_extent(3, 1));
  EXPECT_EQ(a->status().out_of_sync_bytes, 2 * 4096u);
  // The peer confirms the two mirrored writes: the Primary reconnects and
  // the peer is resynced (the Behind peer had outdated itself meanwhile).
  advance(seconds(2));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_NE(std::find(peer_disks.begin(), peer_disks.end(), DiskState::kOutdated), peer_disks.end());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(PullAheadTest, TheBlockPolicyIgnoresCongestionExtents) {
  make_protocol_a(CongestionPolicy::kBlock, wire::kMaxProtocolVersion, /*congestion_extents=*/2);
  bring_up_synced();
  net.set_latency(milliseconds(50));
  for (uint32_t e = 0; e < 4; ++e) EXPECT_TRUE(write_extent(e, 2)) << "extent " << e;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(pull_aheads, 0);
  advance(seconds(1));
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
}

// The default congestion_extents is the activity log's size: only a log
// whose every extent waits for the peer pulls ahead (here a log of 3).
TEST_F(PullAheadTest, ByDefaultOnlyALogFullOfUnconfirmedExtentsPullsAhead) {
  make_protocol_a(CongestionPolicy::kPullAhead);
  bring_up_synced_with_al_extents(3);
  net.set_latency(milliseconds(50));
  EXPECT_TRUE(write_extent(0, 3));
  EXPECT_TRUE(write_extent(1, 3));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(write_extent(2, 3));
  EXPECT_EQ(a->status().replication, ReplicationState::kAhead);
  EXPECT_EQ(pull_aheads, 1);
  // As in DRBD with its default, the next new extent still waits: the
  // three in the log keep their mirrored writes until the BarrierAck.
  const uint64_t offset = 3 * kAlExtentSize;
  auto fourth = submit(*a, offset, pattern(offset, 4096, 3));
  settle();
  EXPECT_FALSE(fourth->has_value());
  advance(milliseconds(150));
  ASSERT_TRUE(fourth->has_value());
  EXPECT_TRUE(fourth->value().ok());
  advance(seconds(2));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
