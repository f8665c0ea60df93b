// ActivityLog: transactions are written only for newly active extents, the
// LRU eviction spares extents with writes in flight, recovery returns the
// newest valid transaction also after a torn write, and a crashed primary's
// extents end up in the bitmap. UnflushedExtents, the record that decides
// whether an extent may leave the log without a flush first.
#include "replication/activity_log.h"
#include "replication/unflushed_extents.h"

#include <gtest/gtest.h>

#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

constexpr uint64_t kMiB = 1 << 20;
constexpr std::array<uint8_t, 16> kUuid = {9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

class ActivityLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = create_metadata(disk_, {.layout = MetadataLayout::kInternal, .device_uuid = kUuid, .al_slots = 4});
    ASSERT_TRUE(created) << created.error();
    sb_ = created.value();
    disk_.clear_write_log();
  }
  // Writes that landed in the activity-log area.
  size_t al_writes() const {
    size_t n = 0;
    for (const auto& w : disk_.writes()) n += (w.offset >= sb_.al_offset && w.offset < sb_.al_offset + sb_.al_length());
    return n;
  }
  FakeStorage disk_{32 * kMiB};
  Superblock sb_;
};

TEST_F(ActivityLogTest, FirstWriteToAnExtentWritesOneTransaction) {
  ActivityLog al(disk_, sb_, 0);
  ASSERT_TRUE(al.activate(3).ok());
  EXPECT_EQ(al_writes(), 1u);
  EXPECT_EQ(disk_.pending_writes(), 0u);  // flushed before activate() returned
  EXPECT_EQ(al.sequence(), 1u);
  EXPECT_TRUE(al.is_active(3));
}

TEST_F(ActivityLogTest, TransactionDoesNotFlushOtherPendingWrites) {
  // Data written to the disk before the transaction stays the data path's
  // to flush: the log syncs its own slot only (a whole-device flush would
  // write back every dirty data page first).
  std::vector<uint8_t> data(4096, 0xAB);
  ASSERT_TRUE(disk_.write(0, data).ok());
  ActivityLog al(disk_, sb_, 0);
  ASSERT_TRUE(al.activate(3).ok());
  EXPECT_EQ(disk_.durable_writes(), 1u);
  EXPECT_EQ(disk_.pending_writes(), 1u);  // the data write only
  disk_.crash();
  auto rec = recover_activity_log(disk_, sb_);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->extents, std::vector<uint32_t>{3});
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(disk_.read(0, out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(4096, 0));
}

TEST_F(ActivityLogTest, WriteToAnActiveExtentWritesNoTransaction) {
  ActivityLog al(disk_, sb_, 0);
  ASSERT_TRUE(al.activate(3).ok());
  al.release(3);
  const size_t flushes = disk_.flush_calls();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(al.activate(3).ok());
    al.release(3);
  }
  EXPECT_EQ(al_writes(), 1u);
  EXPECT_EQ(disk_.flush_calls(), flushes);
  EXPECT_EQ(al.transactions_written(), 1u);
}

TEST_F(ActivityLogTest, FullLogEvictsLeastRecentlyUsedIdleExtent) {
  Superblock small = sb_;
  small.al_max_extents = 3;
  ActivityLog al(disk_, small, 0);
  for (uint32_t e : {1u, 2u, 3u}) {
    ASSERT_TRUE(al.activate(e).ok());
    al.release(e);
  }
  ASSERT_TRUE(al.activate(1).ok());  // 1 becomes most recent, 2 is now LRU
  al.release(1);
  ASSERT_TRUE(al.activate(4).ok());
  EXPECT_EQ(al.active_extents(), (std::vector<uint32_t>{4, 1, 3}));
}

TEST_F(ActivityLogTest, ExtentWithWriteInFlightIsNeverEvicted) {
  Superblock small = sb_;
  small.al_max_extents = 2;
  ActivityLog al(disk_, small, 0);
  ASSERT_TRUE(al.activate(1).ok());  // stays pinned: write in flight
  ASSERT_TRUE(al.activate(2).ok());
  al.release(2);
  ASSERT_TRUE(al.activate(3).ok());  // evicts 2, not the older but pinned 1
  EXPECT_EQ(al.active_extents(), (std::vector<uint32_t>{3, 1}));
  EXPECT_EQ(al.activate(4).errno_value(), EBUSY);  // 1 and 3 both pinned
  EXPECT_FALSE(al.is_active(4));
  al.release(3);
  EXPECT_TRUE(al.activate(4).ok());
}

TEST_F(ActivityLogTest, EvictionVictimIsWhatTheNextNewExtentEvicts) {
  Superblock small = sb_;
  small.al_max_extents = 2;
  ActivityLog al(disk_, small, 0);
  ASSERT_TRUE(al.activate(1).ok());  // pinned
  EXPECT_FALSE(al.full());
  ASSERT_TRUE(al.activate(2).ok());
  EXPECT_TRUE(al.full());
  EXPECT_EQ(al.eviction_victim(), std::nullopt) << "both pinned";
  al.release(2);
  EXPECT_EQ(al.eviction_victim(), std::optional<uint32_t>(2)) << "the older extent 1 is pinned";
  al.release(1);
  EXPECT_EQ(al.eviction_victim(), std::optional<uint32_t>(1));
  ASSERT_TRUE(al.activate(3).ok());
  EXPECT_FALSE(al.is_active(1));
  EXPECT_EQ(al.active_extents(), (std::vector<uint32_t>{3, 2}));
}

TEST_F(ActivityLogTest, ExtentsAheadJoinTheNewExtentsTransactionUnpinned) {
  ActivityLog al(disk_, sb_, 0);
  const std::vector<uint32_t> ahead = {6, 7};
  ASSERT_TRUE(al.activate(5, ahead, nullptr).ok());
  EXPECT_EQ(al_writes(), 1u);  // one transaction for all three
  EXPECT_EQ(al.active_extents(), (std::vector<uint32_t>{5, 6, 7}));
  EXPECT_EQ(al.pinned_extents(), 1u) << "only the extent written is pinned";
  // On disk: a crash now resyncs all three.
  auto rec = recover_activity_log(disk_, sb_);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->extents, (std::vector<uint32_t>{5, 6, 7}));
  // The writer reaches extent 6: no I/O.
  ASSERT_TRUE(al.activate(6).ok());
  EXPECT_EQ(al_writes(), 1u);
  // An extent already active writes no transaction, so none is joined.
  const std::vector<uint32_t> more = {8};
  ASSERT_TRUE(al.activate(5, more, nullptr).ok());
  EXPECT_FALSE(al.is_active(8));
  EXPECT_EQ(al_writes(), 1u);
}

TEST_F(ActivityLogTest, AnExtentAheadEvictsOnlyAnUnpinnedVictimTheCallerAllows) {
  Superblock small = sb_;
  small.al_max_extents = 3;
  ActivityLog al(disk_, small, 0);
  ASSERT_TRUE(al.activate(1).ok());
  al.release(1);
  ASSERT_TRUE(al.activate(2).ok());  // pinned: a write in flight
  std::vector<uint32_t> asked;
  auto allow_1 = [&asked](uint32_t victim) {
    asked.push_back(victim);
    return victim == 1;
  };
  const std::vector<uint32_t> ahead = {4, 5};
  ASSERT_TRUE(al.activate(3, ahead, allow_1).ok());
  // 3 took the free slot; 4 evicted 1 (allowed); 5 found only pinned 2.
  EXPECT_EQ(al.active_extents(), (std::vector<uint32_t>{3, 4, 2}));
  EXPECT_EQ(asked, std::vector<uint32_t>{1});
  // A victim the caller refuses (its writes are not durable) stops them.
  al.release(2);
  al.release(3);
  asked.clear();
  const std::vector<uint32_t> next = {7};
  ASSERT_TRUE(al.activate(6, next, [&asked](uint32_t victim) {
    asked.push_back(victim);
    return false;
  }).ok());
  EXPECT_EQ(al.active_extents(), (std::vector<uint32_t>{6, 3, 4}));  // 6 evicted 2 as any new extent does
  EXPECT_EQ(asked, std::vector<uint32_t>{4});
  EXPECT_FALSE(al.is_active(7));
}

TEST(UnflushedExtents, AFlushForgetsOnlyTheExtentsWhoseWritesItCovered) {
  UnflushedExtents u;
  u.wrote(0, 4096, 1);                            // extent 0
  u.wrote(kAlExtentSize - 4096, 8192, 2);         // extents 0 and 1
  u.wrote(3 * kAlExtentSize + 100, 1, 3);         // extent 3
  u.wrote(5 * kAlExtentSize, 0, 4);               // nothing
  EXPECT_EQ(u.size(), 3u);
  EXPECT_TRUE(u.holds(0) && u.holds(1) && u.holds(3));
  EXPECT_FALSE(u.holds(2) || u.holds(5));
  u.flushed(1);  // extent 0's newest write is 2: still unflushed
  EXPECT_EQ(u.size(), 3u);
  u.flushed(2);
  EXPECT_FALSE(u.holds(0) || u.holds(1));
  EXPECT_TRUE(u.holds(3));
  u.wrote(kAlExtentSize, 4096, 5);
  EXPECT_EQ(u.take_all(), (std::vector<uint32_t>{1, 3}));
  EXPECT_TRUE(u.empty());
}

TEST_F(ActivityLogTest, RecoveryReturnsTheNewestTransactionAcrossTheRing) {
  {
    ActivityLog al(disk_, sb_, 0);
    for (uint32_t e = 10; e < 20; ++e) ASSERT_TRUE(al.activate(e).ok());  // 10 transactions, ring of 4
  }
  disk_.crash();
  auto rec = recover_activity_log(disk_, sb_);
  ASSERT_TRUE(rec) << rec.error();
  EXPECT_EQ(rec->last_sequence, 10u);
  EXPECT_EQ(rec->extents.size(), 10u);
  EXPECT_EQ(rec->extents.front(), 19u);
}

TEST_F(ActivityLogTest, TornTransactionRecoversThePreviousOne) {
  for (size_t torn : {size_t{0}, size_t{8}, size_t{40}, size_t{200}, size_t{299}}) {
    SCOPED_TRACE("torn after " + std::to_string(torn) + " bytes");
    FakeStorage disk(32 * kMiB);
    Superblock sb = create_metadata(disk, {.layout = MetadataLayout::kInternal, .device_uuid = kUuid, .al_slots = 4}).value();
    ActivityLog al(disk, sb, 0);
    ASSERT_TRUE(al.activate(1).ok());
    ASSERT_TRUE(al.activate(2).ok());
    disk.fail_flush(EIO);  // the third transaction never becomes durable
    EXPECT_EQ(al.activate(3).errno_value(), EIO);
    EXPECT_FALSE(al.is_active(3));  // the caller must not write extent 3
    disk.crash({.complete_writes = 0, .torn_bytes = torn});
    auto rec = recover_activity_log(disk, sb);
    ASSERT_TRUE(rec) << rec.error();
    EXPECT_EQ(rec->last_sequence, 2u);
    EXPECT_EQ(rec->extents, (std::vector<uint32_t>{2, 1}));
  }
}

TEST_F(ActivityLogTest, NewLogContinuesTheSequenceSoOldTransactionsNeverWin) {
  {
    ActivityLog al(disk_, sb_, 0);
    for (uint32_t e = 0; e < 6; ++e) ASSERT_TRUE(al.activate(e).ok());
  }
  auto rec = recover_activity_log(disk_, sb_);
  ASSERT_TRUE(rec);
  ActivityLog next(disk_, sb_, rec->last_sequence);
  ASSERT_TRUE(next.activate(42).ok());
  auto again = recover_activity_log(disk_, sb_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->last_sequence, 7u);
  EXPECT_EQ(again->extents, (std::vector<uint32_t>{42}));
}

TEST_F(ActivityLogTest, TransactionsOfOtherMetadataAreIgnored) {
  ActivityLog al(disk_, sb_, 0);
  ASSERT_TRUE(al.activate(5).ok());
  Superblock other = sb_;
  other.device_uuid[0] ^= 1;  // metadata re-created: new device UUID
  auto rec = recover_activity_log(disk_, other);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->last_sequence, 0u);
  EXPECT_TRUE(rec->extents.empty());
}

TEST_F(ActivityLogTest, CrashedPrimaryGetsItsActiveExtentsMarkedOutOfSync) {
  {
    ActivityLog al(disk_, sb_, 0);
    ASSERT_TRUE(al.activate(0).ok());
    ASSERT_TRUE(al.activate(5).ok());
  }
  sb_.flags.was_primary = true;
  ASSERT_TRUE(write_superblock(disk_, sb_).ok());
  disk_.crash();
  // Attach after the crash.
  Superblock sb = read_metadata(disk_, MetadataLayout::kInternal).value();
  ASSERT_TRUE(sb.flags.was_primary);
  auto bm = OutOfSyncBitmap::load(disk_, sb.bitmap_offset, sb.data_size);
  ASSERT_TRUE(bm);
  auto rec = recover_after_attach(disk_, sb, bm.value());
  ASSERT_TRUE(rec) << rec.error();
  const uint64_t blocks_per_extent = kAlExtentSize / kBlockSize;  // 1024
  EXPECT_EQ(bm->count(), 2 * blocks_per_extent);
  EXPECT_TRUE(bm->test(5 * blocks_per_extent + blocks_per_extent - 1));
  EXPECT_FALSE(bm->test(blocks_per_extent));
  // Already durable: a second crash right now keeps the marks.
  disk_.crash();
  auto reloaded = OutOfSyncBitmap::load(disk_, sb.bitmap_offset, sb.data_size);
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->count(), 2 * blocks_per_extent);
}

TEST_F(ActivityLogTest, CleanlyStoppedNodeMarksNothing) {
  {
    ActivityLog al(disk_, sb_, 0);
    ASSERT_TRUE(al.activate(7).ok());
  }
  OutOfSyncBitmap bm(sb_.data_size);
  auto rec = recover_after_attach(disk_, sb_, bm);  // was_primary is clear
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->last_sequence, 1u);
  EXPECT_EQ(bm.count(), 0u);
}

TEST(ActivityLogExtents, LastExtentIsClampedToTheDataSize) {
  OutOfSyncBitmap bm(6 * kMiB);  // extent 1 holds only 2 MiB of data
  EXPECT_EQ(mark_extents_out_of_sync({1}, bm), 512u);
  EXPECT_EQ(al_extent_of(4 * kMiB - 1), 0u);
  EXPECT_EQ(al_extent_of(4 * kMiB), 1u);
}

}  // namespace
}  // namespace vrrpd::replication
