// Resource: the disk state of a node that attaches its disk from metadata
// (a restart, `up`). As in DRBD, a consistent image is Consistent, not
// UpToDate, until a handshake with the peer decides: UpToDate when no resync
// runs in our disfavour or we are SyncSource, Inconsistent (then UpToDate
// after the resync) as SyncTarget. A Consistent node refuses to become
// Primary unless forced. A node that was UpToDate and only lost its link
// while running stays UpToDate.
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>

#include "replication/bitmap.h"
#include "replication/metadata.h"
#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kConsistentRefusal = "primary refused: disk is Consistent";

class AttachStateTest : public ResourcePairTest {
 protected:
  // A synced pair, both Secondary (no new generation when the link goes),
  // then both disconnected.
  void synced_then_disconnected() {
    bring_up_synced();
    ok(a->secondary());
    settle();
    ok(a->disconnect());
    ok(b->disconnect());
    settle();
  }
  // A pair whose resyncs take time (4 MiB/s, here too after a restart),
  // synced, then b disconnected.
  void synced_at_4_mib_per_s_then_b_disconnected() {
    make_with_resync_rate(4u << 20);
    restart_resync_rate_ = 4u << 20;
    start_initial_sync();
    advance(seconds(5));  // 16 MiB at 4 MiB/s
    ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
    ok(b->disconnect());
    settle();
  }
  std::unique_ptr<Resource>& node(int side) { return side == 0 ? a : b; }
  FakeStorage& disk(int side) { return side == 0 ? disk_a : disk_b; }
  // Stops the node (clean shutdown: its disk keeps every write), lets `edit`
  // change the superblock, and starts it again from its disk.
  void restart(int side, const std::function<void(Superblock&)>& edit = nullptr) {
    node(side).reset();
    if (edit) {
      Result<Superblock> sb = read_metadata(disk(side), MetadataLayout::kInternal);
      ASSERT_TRUE(sb.ok()) << sb.error();
      edit(sb.value());
      ASSERT_TRUE(write_superblock(disk(side), sb.value()).ok());
    }
    ResourceOptions o = options_for(static_cast<uint32_t>(side));
    if (restart_resync_rate_ != 0) o.resync_rate = restart_resync_rate_;
    node(side) = std::make_unique<Resource>(loop, std::move(o), disk(side));
    ok(node(side)->attach());
  }
  // Damages one block of a stopped node's data and records it in its
  // on-disk bitmap, as a SyncTarget that had not yet received it.
  void lose_block(int side, uint64_t offset) {
    Result<Superblock> sb = read_metadata(disk(side), MetadataLayout::kInternal);
    ASSERT_TRUE(sb.ok()) << sb.error();
    Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(disk(side), sb->bitmap_offset, sb->data_size);
    ASSERT_TRUE(bm.ok()) << bm.error();
    bm->set_range(offset, 4096);
    ASSERT_TRUE(bm->flush_dirty_pages(disk(side), sb->bitmap_offset).ok());
    for (uint64_t i = 0; i < 4096; ++i) disk(side).bytes()[offset + i] ^= 0x5a;
  }
  void connect_both() {
    ok(a->connect(net.connector(0)));
    ok(b->connect(net.connector(1)));
  }
  uint64_t restart_resync_rate_ = 0;  // restart(): 0 keeps options_for()'s

  static void expect_consistent_refusal(Resource& r) {
    CommandResult p = r.primary();
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().rfind(kConsistentRefusal, 0), 0u) << p.error();
    EXPECT_EQ(r.status().role, Role::kSecondary);
  }
};

TEST_F(AttachStateTest, RestartedNodeIsConsistentAndRefusesPrimaryUntilConnected) {
  synced_then_disconnected();
  restart(0);
  EXPECT_EQ(a->status().disk, DiskState::kConsistent);
  expect_consistent_refusal(*a);
  // Still refused while it keeps trying to reach a peer that is not there.
  ok(a->connect(net.connector(0)));
  advance(seconds(5));
  EXPECT_EQ(a->status().connection, ConnectionState::kConnecting);
  expect_consistent_refusal(*a);
  // The peer comes: the same generation, so confirmed; promotion works now.
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  ok(a->primary());
}

TEST_F(AttachStateTest, LosingTheLinkWhileRunningKeepsUpToDate) {
  bring_up_synced();
  net.set_link_up(false);
  settle();
  EXPECT_EQ(b->status().connection, ConnectionState::kConnecting);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  ok(a->secondary());
  ok(b->primary());  // the survivor of a failover needs no force
}

TEST_F(AttachStateTest, PeerKnownOutdatedMakesTheAttachedDiskUpToDate) {
  synced_then_disconnected();
  restart(0, [](Superblock& sb) { sb.flags.peer_outdated = true; });
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  ok(a->primary());
}

TEST_F(AttachStateTest, BothRestartedWithOneCrashedPrimaryResyncItsHotExtentsFromIt) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 1)).ok());
  // a dies as Primary (its disk keeps what it flushed); b is shut down.
  a.reset();
  ok(b->disconnect());
  settle();
  restart(1);
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  EXPECT_EQ(a->status().disk, DiskState::kConsistent);
  EXPECT_EQ(b->status().disk, DiskState::kConsistent);
  EXPECT_EQ(a->status().out_of_sync_bytes, kAlExtentSize) << "the hot extent";
  expect_consistent_refusal(*a);
  expect_consistent_refusal(*b);
  net.reset_stats();
  connect_both();
  advance(seconds(1));
  // Rule 40: the crashed Primary is the SyncSource of its hot extent.
  EXPECT_EQ(resync_data_bytes(0), kAlExtentSize);
  EXPECT_EQ(resync_data_bytes(1), 0u);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

// The activity log only covers what a crash can have left different: an
// extent evicted from it must hold nothing that is durable on the peer and
// not here. A write completed into our page cache is not durable until our
// disk flushes; the peer's flush (the BarrierAck that retires the write)
// does not make ours durable.
TEST_F(AttachStateTest, PowerLossAfterAnExtentLeftTheActivityLogLeavesNoSilentDifference) {
  make();
  // An activity log of two extents: extent 2's first write evicts extent 0.
  create_md_with_al_extents(kMinAlExtents);
  ok(a->attach());
  ok(b->attach());
  connect_both();
  settle();
  ok(a->primary(/*force=*/true));
  advance(seconds(1));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  // Retired: acknowledged, and the peer flushed its epoch. Here it is in the
  // page cache only (nobody flushed this disk).
  const std::vector<uint8_t> first = pattern(8192, 4096, 1);
  ASSERT_TRUE(write_now(*a, 8192, first).ok());
  advance(milliseconds(50));
  ASSERT_EQ(read_back(disk_b, 8192, 4096), first);
  ASSERT_TRUE(write_now(*a, kAlExtentSize, pattern(kAlExtentSize, 4096, 2)).ok());
  ASSERT_TRUE(write_now(*a, 2 * kAlExtentSize, pattern(2 * kAlExtentSize, 4096, 2)).ok());
  // Power loss on a; b is shut down cleanly; both come back.
  a.reset();
  disk_a.crash();
  ok(b->disconnect());
  settle();
  restart(1);
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  connect_both();
  advance(seconds(1));
  ASSERT_EQ(a->status().disk, DiskState::kUpToDate);
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(read_back(disk_a, 8192, 4096), first) << "the evicted extent's write was not durable here";
  EXPECT_TRUE(disks_equal());
}

// A SyncTarget clears a block's bit when the block lands in its page cache.
// The SyncSource forgets the block when it sends it, so the target's bitmap
// on disk is the only record: it may say "in sync" only for data that is
// durable. Here the link drops mid-resync (the target saves its bitmap) and
// then the target loses power. Found by the randomized pair simulation.
TEST_F(AttachStateTest, PowerLossOfAnInterruptedSyncTargetResyncsWhatItHadNotFlushed) {
  synced_at_4_mib_per_s_then_b_disconnected();
  for (uint64_t off = 0; off < (2u << 20); off += 4096) ASSERT_TRUE(write_now(*a, off, pattern(off, 4096, 3)).ok());
  ok(b->connect(net.connector(1)));
  advance(milliseconds(300));  // about half of the 2 MiB has landed on b
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  const uint64_t left = b->status().out_of_sync_bytes;
  ASSERT_GT(left, 0u);
  ASSERT_LT(left, 2u << 20);
  net.set_link_up(false);
  settle();
  b.reset();
  disk_b.crash();
  restart(1);
  // What b's bitmap says has landed (the resync goes in order) survived.
  EXPECT_EQ(b->status().out_of_sync_bytes, left);
  const uint64_t landed = (2u << 20) - left;
  EXPECT_EQ(read_back(disk_b, 0, landed), read_back(disk_a, 0, landed))
      << "the bitmap on disk said in sync for blocks the power loss undid";
  net.set_link_up(true);
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachStateTest, RestartedWhileThePeerIsPrimaryItIsSyncTargetThenUpToDate) {
  synced_at_4_mib_per_s_then_b_disconnected();
  restart(1);
  // The Primary writes while b is away: b's data is older, not the newest.
  for (uint64_t off = 0; off < (4u << 20); off += 4096)
    ASSERT_TRUE(write_now(*a, off, pattern(off, 4096, 3)).ok());
  EXPECT_EQ(b->status().disk, DiskState::kConsistent);
  expect_consistent_refusal(*b);
  net.reset_stats();
  ok(b->connect(net.connector(1)));
  advance(milliseconds(500));
  EXPECT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  EXPECT_EQ(a->status().peer_disk, DiskState::kInconsistent);
  EXPECT_FALSE(b->primary().ok());
  advance(seconds(2));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().peer_disk, DiskState::kUpToDate);
  EXPECT_EQ(resync_data_bytes(0), 4u << 20) << "only what the Primary wrote meanwhile";
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachStateTest, ForcedPrimaryOnAConsistentDiskKeepsWhatThePeerLacks) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 1)).ok());
  // a dies as Primary with a write on its disk that never reached b.
  a.reset();
  net.set_link_up(false);
  settle();
  const std::vector<uint8_t> lost = pattern(8192, 4096, 7);
  std::copy(lost.begin(), lost.end(), disk_a.bytes().begin() + 8192);
  // b is lost for good as far as the operator knows: force a up alone.
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  expect_consistent_refusal(*a);
  ok(a->primary(/*force=*/true));
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().out_of_sync_bytes, kAlExtentSize) << "the bitmap still says what b lacks";
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 4096, 2)).ok());
  // b comes back: a is the SyncSource for its hot extent and the new write.
  net.reset_stats();
  net.set_link_up(true);
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(resync_data_bytes(0), kAlExtentSize + 4096);
  EXPECT_EQ(read_back(disk_b, 8192, 4096), lost);
  EXPECT_TRUE(disks_equal());
}

// ---- equal generations: the grid of disk states ----

// How a node comes to the handshake.
enum class Start { kRunning, kConsistent, kOutdated, kInconsistent };

const char* start_name(Start s) {
  switch (s) {
    case Start::kRunning: return "RunningUpToDate";
    case Start::kConsistent: return "RestartedConsistent";
    case Start::kOutdated: return "RestartedOutdated";
    case Start::kInconsistent: return "RestartedInconsistent";
  }
  return "?";
}

struct GridCase {
  Start a, b;
  DiskState a_after, b_after;
  uint64_t resync_from_a, resync_from_b;  // ResyncReply data bytes
};

void PrintTo(const GridCase& c, std::ostream* os) { *os << start_name(c.a) << " vs " << start_name(c.b); }

class EqualGenerationsTest : public AttachStateTest, public ::testing::WithParamInterface<GridCase> {};

TEST_P(EqualGenerationsTest, HandshakeSettlesTheDiskStates) {
  const GridCase& c = GetParam();
  synced_then_disconnected();
  const Generations before = a->generations();
  for (int side = 0; side < 2; ++side) {
    const Start s = side == 0 ? c.a : c.b;
    if (s == Start::kRunning) continue;
    // An Inconsistent node lacks a block (an interrupted SyncTarget would).
    if (s == Start::kInconsistent) {
      node(side).reset();
      lose_block(side, 40960);
    }
    restart(side, [s](Superblock& sb) {
      sb.flags.outdated = s == Start::kOutdated;
      sb.flags.consistent = s != Start::kInconsistent;
    });
  }
  for (int side = 0; side < 2; ++side) {
    const Start s = side == 0 ? c.a : c.b;
    if (s == Start::kConsistent) {
      EXPECT_EQ(node(side)->status().disk, DiskState::kConsistent);
    }
  }
  net.reset_stats();
  connect_both();
  advance(seconds(1));
  EXPECT_EQ(a->status().disk, c.a_after);
  EXPECT_EQ(b->status().disk, c.b_after);
  EXPECT_EQ(a->status().peer_disk, c.b_after);
  EXPECT_EQ(b->status().peer_disk, c.a_after);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(resync_data_bytes(0), c.resync_from_a);
  EXPECT_EQ(resync_data_bytes(1), c.resync_from_b);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(before.current));
}

const GridCase kGrid[] = {
    // Consistent vs Consistent, same generation: both confirmed.
    {Start::kConsistent, Start::kConsistent, DiskState::kUpToDate, DiskState::kUpToDate, 0, 0},
    // An UpToDate node vs a restarted one: both UpToDate, nothing moves.
    {Start::kRunning, Start::kConsistent, DiskState::kUpToDate, DiskState::kUpToDate, 0, 0},
    {Start::kConsistent, Start::kRunning, DiskState::kUpToDate, DiskState::kUpToDate, 0, 0},
    // Outdated with the same data as a good image is current after all.
    {Start::kConsistent, Start::kOutdated, DiskState::kUpToDate, DiskState::kUpToDate, 0, 0},
    {Start::kRunning, Start::kOutdated, DiskState::kUpToDate, DiskState::kUpToDate, 0, 0},
    // Inconsistent opposite a good image is the SyncTarget, whatever the
    // generations say; a Consistent source is confirmed by it.
    {Start::kConsistent, Start::kInconsistent, DiskState::kUpToDate, DiskState::kUpToDate, 4096, 0},
    {Start::kInconsistent, Start::kConsistent, DiskState::kUpToDate, DiskState::kUpToDate, 0, 4096},
    {Start::kRunning, Start::kInconsistent, DiskState::kUpToDate, DiskState::kUpToDate, 4096, 0},
    // Nobody holds a good image: nothing is promoted to UpToDate.
    {Start::kOutdated, Start::kOutdated, DiskState::kOutdated, DiskState::kOutdated, 0, 0},
};

INSTANTIATE_TEST_SUITE_P(Grid, EqualGenerationsTest, ::testing::ValuesIn(kGrid),
                         [](const ::testing::TestParamInfo<GridCase>& param) {
                           return std::string(start_name(param.param.a)) + "_vs_" + start_name(param.param.b);
                         });

}  // namespace
}  // namespace vrrpd::replication::testing
