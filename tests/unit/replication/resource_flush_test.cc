// Resource: what is durable on a node's disk, and what a failed flush of it
// leaves behind (resource.h, "What is durable on our disk"). A write is
// durable only once a completed flush covered it; a failed flush leaves
// unknown what reached the disk. The rules shown here:
//  * an activity-log extent leaves the log only when its writes are
//    flushed; a victim flushed already costs the write nothing;
//  * a full log flushes ahead of its next eviction, so a stream of writes
//    over more extents than the log holds rarely waits;
//  * a failed flush marks every extent with unflushed writes out of sync,
//    and the next handshake resyncs them;
//  * a Secondary does not acknowledge a Barrier it could not flush.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <variant>

#include "replication/activity_log.h"
#include "replication/bitmap.h"
#include "replication/metadata.h"
#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kExtent = kAlExtentSize;

class FlushTest : public ResourcePairTest {
 protected:
  // A synced pair, a Primary, whose activity logs hold two extents (of the
  // four the test disk has).
  void bring_up_with_two_extent_logs(ResourceOptions oa, ResourceOptions ob) {
    make(std::move(oa), std::move(ob));
    bring_up_synced_with_al_extents(kMinAlExtents);
  }
  void bring_up_with_two_extent_logs() { bring_up_with_two_extent_logs(options_for(0), options_for(1)); }

  // Writes 4 KiB at `offset` on a and waits until the write is retired (the
  // epoch closed and b flushed it): only a's own flush is missing.
  void write_and_retire(uint64_t offset, uint8_t seed) {
    ASSERT_TRUE(write_now(*a, offset, pattern(offset, 4096, seed)).ok()) << a->status().last_error;
    advance(milliseconds(50));
  }
  // Submits a write on a and reports whether it reached a's disk at once,
  // before the loop ran (a write waiting for an eviction flush has not).
  bool written_without_waiting(uint64_t offset, uint8_t seed) {
    auto slot = submit(*a, offset, pattern(offset, 4096, seed));
    const bool at_once = read_back(disk_a, offset, 4096) == pattern(offset, 4096, seed);
    advance(milliseconds(50));
    EXPECT_TRUE(slot->has_value() && slot->value().ok());
    return at_once;
  }
  // Whether a power loss of `disk` now leaves block `block` recorded out
  // of sync: in the bitmap on disk or, with `hot_extents`, as an
  // activity-log extent that attach marks after a crash as Primary.
  static bool recorded_after_power_loss(const FakeStorage& disk, uint64_t block, bool hot_extents) {
    FakeStorage after = disk;
    after.crash();
    Result<Superblock> sb = read_metadata(after, MetadataLayout::kInternal);
    EXPECT_TRUE(sb.ok()) << sb.error();
    if (!sb.ok()) return false;
    Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(after, sb->bitmap_offset, sb->data_size);
    EXPECT_TRUE(bm.ok()) << bm.error();
    if (!bm.ok()) return false;
    if (hot_extents) {
      EXPECT_TRUE(recover_after_attach(after, sb.value(), bm.value()).ok());
    }
    return bm->test(block);
  }
  IoStatus flush_now(Resource& r) {
    std::optional<IoStatus> result;
    r.submit_flush([&result](IoStatus s) { result = s; });
    settle();
    EXPECT_TRUE(result.has_value()) << "flush did not complete";
    return result.value_or(IoStatus::error(ETIMEDOUT));
  }
};

TEST_F(FlushTest, AnExtentWhoseWritesAreFlushedLeavesTheLogWithoutAFlush) {
  bring_up_with_two_extent_logs();
  write_and_retire(0, 1);
  ASSERT_TRUE(flush_now(*a).ok());  // extent 0's write is durable on a
  write_and_retire(kExtent, 2);
  const size_t pending = disk_a.pending_writes();
  ASSERT_GT(pending, 0u) << "extent 1's write is in a's page cache";
  // Extent 2 evicts extent 0, flushed already: the write goes straight on,
  // and nothing flushed a's data (extent 1's write is still pending).
  auto slot = submit(*a, 2 * kExtent, pattern(2 * kExtent, 4096, 3));
  EXPECT_EQ(read_back(disk_a, 2 * kExtent, 4096), pattern(2 * kExtent, 4096, 3));
  EXPECT_EQ(disk_a.pending_writes(), pending + 1);
  advance(milliseconds(50));
  ASSERT_TRUE(slot->has_value() && slot->value().ok());
  EXPECT_TRUE(disks_equal());
}

TEST_F(FlushTest, AFullLogFlushesAheadSoAStreamOfExtentsWaitsOnlyOnce) {
  bring_up_with_two_extent_logs();
  write_and_retire(0, 1);
  write_and_retire(kExtent, 2);
  // The log is full; extent 0 holds an unflushed write: the first eviction
  // waits for a flush (which covers extent 1's write too).
  EXPECT_FALSE(written_without_waiting(2 * kExtent, 3));
  EXPECT_EQ(disk_a.pending_writes(), 1u) << "the eviction flush covered everything before extent 2's write";
  // Extent 3 evicts extent 1 (flushed): no wait. Extent 2, the next victim,
  // holds an unflushed write: its flush starts now, in the background ...
  EXPECT_TRUE(written_without_waiting(3 * kExtent, 4));
  // ... so extent 0's return, which evicts extent 2, does not wait either.
  EXPECT_TRUE(written_without_waiting(0, 5));
  EXPECT_TRUE(written_without_waiting(kExtent, 6));
  EXPECT_EQ(a->status().io_errors, 0u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(FlushTest, AFailedEvictionFlushMarksTheUnflushedExtentsAndTheWriteGoesOn) {
  bring_up_with_two_extent_logs();
  write_and_retire(0, 1);
  write_and_retire(kExtent, 2);
  ASSERT_EQ(a->status().out_of_sync_bytes, 0u);
  // The flush fails and loses what it covered, as failed writeback does.
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  auto third = submit(*a, 2 * kExtent, pattern(2 * kExtent, 4096, 3));
  settle();
  EXPECT_FALSE(third->has_value()) << "waits for the retry";
  ASSERT_GT(disk_a.lost_bytes(), 0u);
  advance(milliseconds(200));  // the eviction flush is tried again (100 ms) and works
  ASSERT_TRUE(third->has_value() && third->value().ok());
  // Whether extents 0 and 1 reached a's disk was unknown: both are
  // recorded, and were written again, so the retried flush made them durable.
  EXPECT_EQ(disk_a.lost_bytes(), 0u);
  EXPECT_EQ(a->status().io_errors, 1u);
  EXPECT_EQ(a->status().out_of_sync_bytes, 2 * kExtent);
  EXPECT_NE(a->status().last_error.find("marked out of sync"), std::string::npos) << a->status().last_error;
  // Nobody's flush reported it: the application's next one does (as Linux
  // reports a writeback error at the next fsync), then no more.
  EXPECT_EQ(flush_now(*a).errno_value(), EIO);
  EXPECT_TRUE(flush_now(*a).ok());
  // The next handshake resyncs them (a is the source, as Primary).
  const uint64_t resynced_before = resync_data_bytes(0);
  net.set_link_up(false);
  settle();
  net.set_link_up(true);
  advance(seconds(2));
  ASSERT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_GE(resync_data_bytes(0) - resynced_before, 2 * kExtent);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
  // The bits are gone now; a's copy of extent 0 must not depend on them.
  a.reset();
  disk_a.crash();
  EXPECT_EQ(read_back(disk_a, 0, 4096), pattern(0, 4096, 1));
}

TEST_F(FlushTest, AFailedFlushOnThePrimaryFailsTheCallerAndMarksItsExtents) {
  bring_up_with_two_extent_logs();
  write_and_retire(kExtent + 8192, 1);
  disk_a.fail_flush(EIO);
  EXPECT_EQ(flush_now(*a).errno_value(), EIO);
  EXPECT_EQ(a->status().io_errors, 1u);
  EXPECT_EQ(a->status().out_of_sync_bytes, kExtent) << "extent 1, where the unflushed write is";
  // A retry that works does not clear the record: the failed flush may
  // have lost the write although a later one succeeds.
  EXPECT_TRUE(flush_now(*a).ok());
  EXPECT_EQ(a->status().out_of_sync_bytes, kExtent);
}

// Found by the pair simulation (protocol C seed 97, once disks could also
// fail writes): a failed flush lost a write, and writing its extent again
// from the page cache failed too (the disk refused writes there). Later
// flushes succeeded, a resync cleared the bits from our page cache, and a
// power loss brought back the old block here with nothing recorded. Now
// every flush fails until that rewrite has succeeded.
TEST_F(FlushTest, FlushesFailUntilTheExtentsAFailedFlushLostAreWrittenAgain) {
  bring_up_with_two_extent_logs();
  const uint64_t offset = kExtent + 8192;
  write_and_retire(offset, 1);
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  disk_a.fail_writes(kExtent, 4096);  // in the extent: its rewrite fails
  EXPECT_EQ(flush_now(*a).errno_value(), EIO);
  EXPECT_EQ(flush_now(*a).errno_value(), EIO) << "the lost write is still not on the disk";
  EXPECT_EQ(a->status().io_errors, 3u) << "each failed flush, and the rewrite once";
  disk_a.clear_faults();
  EXPECT_TRUE(flush_now(*a).ok());
  disk_a.crash();  // power loss: what the successful flush covered stays
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 1));
}

// Found by the pair simulation (protocol A seed 29814): two flushes were
// submitted together. The first failed and lost a write, and writing its
// extent again failed too; the second, submitted before that failure was
// known, found nothing to rewrite then, and its disk flush succeeded: it
// answered success for a write no disk held, and a power loss lost it.
// A flush submitted before another's failure was noted cannot vouch for
// what that failure lost: it fails too.
TEST_F(FlushTest, AFlushSubmittedBeforeAnotherFailedDoesNotVouchForWhatThatOneLost) {
  bring_up_with_two_extent_logs();
  const uint64_t offset = kExtent + 8192;
  write_and_retire(offset, 1);
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  disk_a.fail_writes(kExtent, 4096);  // in the extent: its rewrite fails
  std::optional<IoStatus> first, second;
  a->submit_flush([&first](IoStatus s) { first = s; });
  a->submit_flush([&second](IoStatus s) { second = s; });
  settle();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->errno_value(), EIO);
  EXPECT_EQ(second->errno_value(), EIO) << "the lost write is on no disk";
  disk_a.clear_faults();
  EXPECT_TRUE(flush_now(*a).ok());
  disk_a.crash();  // power loss: what the successful flush covered stays
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 1));
}

// Found by the pair simulation (protocol A seed 1044): a flush on the
// Primary failed and lost a write, its rewrite failed too, and the daemon
// was killed. The page cache still held the lost write as clean (as Linux
// keeps a page whose writeback failed), so the next run read it back
// although its disk held the old data, and a full sync from that node gave
// the peer a block that neither disk's own history explains: after a power
// loss of both the copies differed. Attach now drops the clean cache, so
// the new run reads what the disk holds and sends that.
TEST_F(FlushTest, ARestartedNodeReadsWhatItsDiskHoldsNotWhatAFailedFlushLost) {
  bring_up_with_two_extent_logs();
  const uint64_t offset = kExtent + 8192;
  const std::vector<uint8_t> before = read_back(disk_a, offset, 4096);
  write_and_retire(offset, 7);
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  disk_a.fail_writes(offset, 4096);  // the rewrite of that block fails too
  EXPECT_EQ(flush_now(*a).errno_value(), EIO);
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 7)) << "still in the page cache";
  a.reset();  // kill -9: the page cache outlives the process
  disk_a.clear_faults();
  const int drops = disk_a.drop_cache_calls();
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  EXPECT_EQ(disk_a.drop_cache_calls(), drops + 1);
  EXPECT_EQ(read_back(disk_a, offset, 4096), before) << "what the disk holds";
  disk_a.crash();
  EXPECT_EQ(read_back(disk_a, offset, 4096), before);
}

// Found by the pair simulation (protocol B seed 37799): a flush on the
// Primary failed and lost an acknowledged write, whose rewrite failed too
// (the disk refused writes for a while). The disk then took writes again,
// but no flush came to write the extent again, and a kill -9 lost the
// block with the restart's cache drop; the resync then took the old block
// from this node over the peer's copy. Now the rewrite is retried every
// 100 ms while the disk refuses it, not only at the next flush.
TEST_F(FlushTest, ALostBlockIsWrittenAgainOnceTheDiskTakesWritesWithoutWaitingForAFlush) {
  bring_up_with_two_extent_logs();
  const uint64_t offset = kExtent + 8192;
  write_and_retire(offset, 7);
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  disk_a.fail_writes(offset, 4096);  // the rewrite of that block fails too
  EXPECT_EQ(flush_now(*a).errno_value(), EIO);
  advance(std::chrono::milliseconds(250));  // retried, still refused
  disk_a.clear_faults();                    // the disk takes writes again; no flush follows
  advance(std::chrono::milliseconds(150));
  a.reset();  // kill -9: dirty pages outlive the process, clean ones are dropped at the attach
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 7)) << "written again before the kill";
  disk_a.crash();  // the attach flushed it
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 7));
}

// Found by the pair simulation (protocol C seed 5341): a flush on the
// Primary failed and lost an acknowledged write (its peer had just been
// invalidated, so no other copy held it), and the disk refused writes to a
// few other blocks of the same extent. The extent's rewrite was one write,
// which the disk refused as a whole, so the lost block was never dirtied
// again; a kill -9 and the restart's cache drop then lost it for good. Now
// a refused rewrite goes on block by block: the flushes still fail until
// the whole extent is written, but the blocks the disk takes are in the
// page cache as dirty data, which the restart's attach flushes.
TEST_F(FlushTest, ABlockAFailedFlushLostIsWrittenAgainBesideBlocksTheDiskRefuses) {
  bring_up_with_two_extent_logs();
  const uint64_t offset = kExtent + 8192;
  write_and_retire(offset, 7);
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  disk_a.fail_writes(kExtent, 4096);  // another block of the extent
  EXPECT_EQ(flush_now(*a).errno_value(), EIO);
  EXPECT_EQ(flush_now(*a).errno_value(), EIO) << "the extent is not yet written again as a whole";
  a.reset();  // kill -9: the page cache outlives the process
  disk_a.clear_faults();
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 7));
  disk_a.crash();  // power loss: attach flushed what the cache held dirty
  EXPECT_EQ(read_back(disk_a, offset, 4096), pattern(offset, 4096, 7)) << "the acknowledged write was lost";
}

// Found by the pair simulation (protocol A seed 11746): the Primary lost
// its peer and started a new generation, whose superblock write failed
// (the flush it counts as lost it). Writes went on being answered under a
// generation the disk did not hold; after a kill -9 the restart read the
// old one, the handshake took both nodes for crashed Primaries of one
// generation, and the tie-break resynced the peer's older data over them.
// Now the superblock is written again before the next write, which fails
// while it cannot be.
TEST_F(FlushTest, AWriteWaitsForTheNewGenerationOnDisk) {
  bring_up_with_two_extent_logs();
  const uint64_t before = uuid_value(a->generations().current);
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);  // the superblock's write
  net.set_link_up(false);
  advance(milliseconds(20));
  ASSERT_NE(uuid_value(a->generations().current), before) << "a new generation: lost the peer while Primary";
  ASSERT_NE(a->status().last_error.find("writing the superblock failed"), std::string::npos) << a->status().last_error;
  ASSERT_TRUE(write_now(*a, kExtent, pattern(kExtent, 4096, 4)).ok()) << a->status().last_error;
  const uint64_t current = uuid_value(a->generations().current);
  a.reset();  // kill -9: the page cache outlives the process,
  disk_a.drop_cache();  // but not the pages whose writeback failed (the restart's attach drops them)
  Result<Superblock> sb = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(sb.ok()) << sb.error();
  EXPECT_EQ(uuid_value(sb->generations.current), current) << "the disk holds the generation the write was made in";
}

// Found by the pair simulation (seed 131 under every protocol): the
// SyncTarget's bitmap write at the start of a resync failed (its flush lost
// it), the resync went on, the source forgot each block it sent, and a
// power loss of the target then left a block that neither bitmap recorded.
// Now the target drops the link when it cannot record what it fetches, and
// the next connect tries again.
TEST_F(FlushTest, ASyncTargetThatCannotRecordItsBitmapDoesNotResync) {
  make();
  bring_up_synced();
  ok(b->disconnect());
  settle();
  ASSERT_TRUE(write_now(*a, 40960, pattern(40960, 4096, 7)).ok());  // b lacks it
  disk_b.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  // At b's first resync request: what b's bitmap on disk says after a
  // power loss there.
  bool asked = false, recorded = false;
  net.on_frame = [&](int from, const wire::Frame& f) {
    if (from != 1 || asked || !std::holds_alternative<wire::ResyncRequest>(f.message)) return;
    asked = true;
    recorded = recorded_after_power_loss(disk_b, 40960 / 4096, /*hot_extents=*/false);
  };
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  net.on_frame = nullptr;
  EXPECT_TRUE(asked);
  EXPECT_TRUE(recorded) << "the target fetched a block its disk did not record as missing";
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

// Found by the pair simulation (seed 202 under every protocol): an
// extent left the activity log although the bitmap save before it failed
// (its flush lost it). The disconnected Primary's record of a write there
// was then neither in the bitmap on disk nor in the log, and a power loss
// left a block that no resync would fetch. Now the extent stays in the log
// and the write that needed its slot fails.
TEST_F(FlushTest, AnExtentStaysInTheLogWhenTheBitmapSaveBeforeItsEvictionFails) {
  bring_up_with_two_extent_logs();
  ok(b->disconnect());
  settle();
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 1)).ok());  // extent 0, recorded for b
  ASSERT_TRUE(flush_now(*a).ok());
  ASSERT_TRUE(write_now(*a, kExtent, pattern(kExtent, 4096, 2)).ok());  // extent 1: the log is full
  ASSERT_TRUE(flush_now(*a).ok());
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  // Extent 2 evicts extent 0; the bitmap save before it fails.
  EXPECT_EQ(write_now(*a, 2 * kExtent, pattern(2 * kExtent, 4096, 3)).errno_value(), EIO);
  // What a power loss now leaves on a's disk still says block 2 (in
  // extent 0) may differ from b: in the bitmap, or as a hot extent.
  EXPECT_TRUE(recorded_after_power_loss(disk_a, 8192 / 4096, /*hot_extents=*/true))
      << "the write to extent 0 is recorded nowhere";
  // The disk works again: the next write evicts as usual.
  EXPECT_TRUE(write_now(*a, 2 * kExtent, pattern(2 * kExtent, 4096, 3)).ok());
}

// Found in review: the Secondary used to send the BarrierAck even when the
// flush it stands for failed. The Primary then retired the epoch's writes,
// and a power loss of the Secondary could lose them with no record anywhere.
TEST_F(FlushTest, ASecondaryWhoseBarrierFlushFailsDoesNotAcknowledgeIt) {
  bring_up_with_two_extent_logs();
  // 1 ms each way: the reconnect after b drops the link takes a few round
  // trips, time enough to cut b's power before it resyncs.
  net.set_latency(milliseconds(1));
  const uint64_t acks_before = net.sent(1, wire::FrameType::kBarrierAck).frames;
  disk_b.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  const uint64_t offset = kExtent + 4096;
  auto written = submit(*a, offset, pattern(offset, 4096, 7));
  advance(milliseconds(3));
  ASSERT_TRUE(written->has_value() && written->value().ok()) << "protocol C: written on b";
  // The epoch's Barrier leaves kEpochInterval after the write and reaches b
  // 1 ms later, where the flush fails.
  advance(kEpochInterval);
  EXPECT_EQ(net.sent(1, wire::FrameType::kBarrierAck).frames, acks_before);
  EXPECT_EQ(b->status().io_errors, 1u);
  EXPECT_NE(b->status().last_error.find("flush for the peer's barrier"), std::string::npos)
      << b->status().last_error;
  EXPECT_NE(b->status().connection, ConnectionState::kConnected);
  // Both record the write: a (never retired, the link dropped) and b,
  // whose disk lacks what a has: Inconsistent, as after a failed write.
  EXPECT_GE(a->status().out_of_sync_bytes, 4096u);
  EXPECT_EQ(b->status().out_of_sync_bytes, kExtent);
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  // b loses power before the reconnect: its record survives.
  b.reset();
  disk_b.crash();
  b = std::make_unique<Resource>(loop, options_for(1), disk_b);
  ok(b->attach());
  EXPECT_EQ(b->status().out_of_sync_bytes, kExtent) << "b's record survived its power loss";
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(read_back(disk_b, offset, 4096), pattern(offset, 4096, 7));
  EXPECT_TRUE(disks_equal());
}

TEST_F(FlushTest, ADetachingSecondaryWhoseBarrierFlushFailsLeavesThePrimaryTheRecord) {
  ResourceOptions ob = options_for(1);
  ob.on_io_error = IoErrorPolicy::kDetach;
  bring_up_with_two_extent_logs(options_for(0), ob);
  disk_b.fail_flush(EIO);
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 8)).ok());
  const uint64_t acks_before = net.sent(1, wire::FrameType::kBarrierAck).frames;
  advance(kEpochInterval + milliseconds(1));
  EXPECT_EQ(net.sent(1, wire::FrameType::kBarrierAck).frames, acks_before);
  EXPECT_EQ(b->status().disk, DiskState::kDiskless);
  EXPECT_GE(a->status().out_of_sync_bytes, 4096u);
  EXPECT_EQ(a->status().role, Role::kPrimary);
}

TEST_F(FlushTest, AWriteLongerThanOneExtentIsRefused) {
  bring_up_with_two_extent_logs();
  const std::vector<uint8_t> big(Resource::kMaxWriteBytes + 4096, 1);
  EXPECT_EQ(write_now(*a, 0, big).errno_value(), EINVAL);
  const std::vector<uint8_t> largest(Resource::kMaxWriteBytes, 2);
  EXPECT_TRUE(write_now(*a, kExtent / 2, largest).ok()) << "one extent long, across two";
  advance(milliseconds(50));
  EXPECT_TRUE(disks_equal());
}

// A sequential writer's next extents join the activity-log transaction of
// the extent it moves into (one synchronous metadata write per 16 MiB
// instead of per 4 MiB); writes that jump around get one each, as before.
TEST_F(ResourcePairTest, ASequentialWriteActivatesTheNextExtentsInTheSameTransaction) {
  bring_up_synced();
  Result<Superblock> sb = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(sb.ok()) << sb.error();
  auto al_writes = [&] {
    size_t n = 0;
    for (const auto& w : disk_a.writes()) n += w.offset >= sb->al_offset && w.offset < sb->al_offset + sb->al_length();
    return n;
  };
  auto logged = [&] {
    Result<AlRecovery> r = recover_activity_log(disk_a, sb.value());
    EXPECT_TRUE(r.ok()) << r.error();
    std::vector<uint32_t> e = r.ok() ? r->extents : std::vector<uint32_t>{};
    std::sort(e.begin(), e.end());
    return e;
  };
  disk_a.clear_write_log();
  // Extent 2, then extent 0: no run to continue, one transaction each.
  ASSERT_TRUE(write_now(*a, 2 * kExtent, pattern(2 * kExtent, 4096, 1)).ok());
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 2)).ok());
  EXPECT_EQ(al_writes(), 2u);
  EXPECT_EQ(logged(), (std::vector<uint32_t>{0, 2}));
  // Extent 1 continues extent 0: its transaction takes extent 3 too (2 is
  // active; the test disk has four extents).
  ASSERT_TRUE(write_now(*a, kExtent, pattern(kExtent, 4096, 3)).ok());
  EXPECT_EQ(al_writes(), 3u);
  EXPECT_EQ(logged(), (std::vector<uint32_t>{0, 1, 2, 3}));
  // So the write that reaches extent 3 writes no transaction.
  ASSERT_TRUE(write_now(*a, 3 * kExtent, pattern(3 * kExtent, 4096, 4)).ok());
  EXPECT_EQ(al_writes(), 3u);
  advance(milliseconds(50));
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
