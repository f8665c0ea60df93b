// Online grow of the metadata (grow.h): the geometry for a larger size, the
// refusals an operator sees, the move of internal metadata to the new end
// with its bitmap and activity log, a power cut after every single write of
// that move (one valid copy at every point: the old one until the commit,
// the new one after), and external metadata growing in place.
#include "replication/grow.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "replication/activity_log.h"
#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

constexpr uint64_t kMiB = 1 << 20;
constexpr std::array<uint8_t, 16> kUuid = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

void expect_error(const Result<Superblock>& r, const std::string& substring) {
  ASSERT_FALSE(r.ok()) << "expected failure containing: " << substring;
  EXPECT_NE(r.error().find(substring), std::string::npos) << r.error();
}

Superblock create_internal(FakeStorage& disk) {
  auto sb = create_metadata(disk, {.layout = MetadataLayout::kInternal, .node_id = 3, .device_uuid = kUuid});
  EXPECT_TRUE(sb.ok()) << sb.error();
  return sb.value();
}

// Passes I/O through to a FakeStorage and refuses every write after the
// first `limit`: a power cut after that many writes (each of which the
// grow code flushes before it relies on it).
class CutAfterWrites final : public BlockStorage {
 public:
  CutAfterWrites(FakeStorage& inner, size_t limit) : inner_(inner), limit_(limit) {}
  uint64_t size() const override { return inner_.size(); }
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override { return inner_.read(offset, out); }
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override {
    if (writes_ >= limit_) return IoStatus::error(EIO);
    ++writes_;
    return inner_.write(offset, data);
  }
  IoStatus flush() override { return inner_.flush(); }
  size_t writes() const { return writes_; }

 private:
  FakeStorage& inner_;
  size_t limit_;
  size_t writes_ = 0;
};

TEST(Grow, MaxDataSizeIsWhatTheGrownDeviceLeavesAfterTheMetadata) {
  FakeStorage disk(16 * kMiB);
  const Superblock sb = create_internal(disk);
  EXPECT_EQ(max_data_size(sb, 16 * kMiB, 16 * kMiB), sb.data_size) << "not grown";
  auto planned = plan_metadata(64 * kMiB, {.layout = MetadataLayout::kInternal, .device_uuid = kUuid});
  ASSERT_TRUE(planned.ok());
  EXPECT_EQ(max_data_size(sb, 64 * kMiB, 64 * kMiB), planned->data_size);
  EXPECT_EQ(max_data_size(sb, 8 * kMiB, 8 * kMiB), sb.data_size) << "never below the current size";
}

TEST(Grow, RefusalsSayWhatToDo) {
  FakeStorage disk(16 * kMiB);
  const Superblock sb = create_internal(disk);
  expect_error(plan_grown_metadata(sb, 16 * kMiB, 16 * kMiB, sb.data_size), "only growing is supported");
  expect_error(plan_grown_metadata(sb, 32 * kMiB, 32 * kMiB, sb.data_size + 100), "multiple of 4096");
  expect_error(plan_grown_metadata(sb, 32 * kMiB, 32 * kMiB, 32 * kMiB - 4096), "has room for");
  // Grown by 8 KiB: the new metadata would overlap the old copy.
  const uint64_t md_len = 16 * kMiB - sb.bitmap_offset;
  expect_error(plan_grown_metadata(sb, 16 * kMiB + 8192, 16 * kMiB + 8192, sb.data_size + 4096),
               "grow the device by at least " + std::to_string(md_len) + " bytes");
  // Grown by exactly enough: the new copy starts where the old one ends.
  auto just = plan_grown_metadata(sb, 16 * kMiB + md_len, 16 * kMiB + md_len, sb.data_size + 4096);
  ASSERT_TRUE(just.ok()) << just.error();
  EXPECT_EQ(just->bitmap_offset, 16 * kMiB);
}

TEST(Grow, InternalMetadataMovesToTheNewEndWithItsBitsAndLog) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_internal(disk);
  sb.flags.consistent = true;
  sb.generations.current = 0x1234;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  OutOfSyncBitmap bm(sb.data_size);
  bm.set_range(40960, 8192);  // blocks 10, 11
  const uint64_t old_size = sb.data_size;

  disk.grow(48 * kMiB, 0xAB);  // what was on the disk there before
  auto plan = plan_grown_metadata(sb, disk.size(), disk.size(), 40 * kMiB);
  ASSERT_TRUE(plan.ok()) << plan.error();
  Superblock grown = plan.value();
  OutOfSyncBitmap gbm = resized_bitmap(bm, grown.data_size, /*mark_added=*/true);
  GrowResult w = write_grown_metadata(disk, sb, grown, gbm, {2, 0}, 5);
  ASSERT_TRUE(w.status.ok()) << w.status.message();
  EXPECT_TRUE(w.committed);

  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->data_size, 40 * kMiB) << "the agreed size, below what the device holds";
  EXPECT_EQ(read->superblock_offset, 48 * kMiB - 2 * kSuperblockSlotSize);
  EXPECT_EQ(read->generations.current, 0x1234u);
  EXPECT_TRUE(read->flags.consistent);
  EXPECT_EQ(read->device_uuid, kUuid);
  auto loaded = OutOfSyncBitmap::load(disk, read->bitmap_offset, read->data_size);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->test(10) && loaded->test(11) && !loaded->test(12)) << "the old bits came along";
  EXPECT_EQ(loaded->count(), 2 + (40 * kMiB - old_size) / kBlockSize) << "every added block is out of sync";
  auto al = recover_activity_log(disk, read.value());
  ASSERT_TRUE(al.ok());
  EXPECT_EQ(al->last_sequence, 5u);
  EXPECT_EQ(al->extents, (std::vector<uint32_t>{2, 0}));
  // The old superblock, now inside the data area, no longer reads as one.
  std::vector<uint8_t> old_slots(2 * kSuperblockSlotSize);
  ASSERT_TRUE(disk.read(sb.superblock_offset, old_slots).ok());
  EXPECT_EQ(old_slots, std::vector<uint8_t>(old_slots.size(), 0));
  // Both new slots hold the new geometry: a torn later update cannot fall
  // back to the old size.
  disk.bytes()[read->superblock_offset + (read->sequence % 2) * kSuperblockSlotSize] ^= 0xFF;
  auto fallback = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(fallback.ok()) << fallback.error();
  EXPECT_EQ(fallback->data_size, 40 * kMiB);
}

TEST(Grow, APowerCutAtAnyWriteLeavesTheOldOrTheNewMetadataWhole) {
  FakeStorage original(16 * kMiB);
  Superblock sb = create_internal(original);
  OutOfSyncBitmap bm(sb.data_size);
  bm.set_range(0, 4096);
  bm.mark_all_pages_dirty();
  ASSERT_TRUE(bm.flush_dirty_pages(original, sb.bitmap_offset).ok());
  const uint64_t old_device = original.size();
  original.grow(32 * kMiB, 0x5C);
  // A stale superblock left at the new place by an earlier, larger life of
  // the disk, with a higher sequence: must never win.
  Superblock stale = sb;
  stale.superblock_offset = 32 * kMiB - 2 * kSuperblockSlotSize;
  stale.sequence = 99;
  stale.data_size = 4096;
  std::vector<uint8_t> slot(kSuperblockSlotSize);
  encode_superblock(stale, slot);
  std::copy(slot.begin(), slot.end(), original.bytes().begin() + stale.superblock_offset + kSuperblockSlotSize);

  size_t total_writes = 0;
  for (size_t cut = 0;; ++cut) {
    FakeStorage disk(0);
    disk.bytes() = original.bytes();
    CutAfterWrites storage(disk, cut);
    auto plan = plan_grown_metadata(sb, disk.size(), disk.size(), 24 * kMiB);
    ASSERT_TRUE(plan.ok()) << plan.error();
    Superblock grown = plan.value();
    OutOfSyncBitmap gbm = resized_bitmap(bm, grown.data_size, true);
    GrowResult w = write_grown_metadata(storage, sb, grown, gbm, {}, 1);
    SCOPED_TRACE("power cut after " + std::to_string(cut) + " writes");
    auto at_end = read_metadata(disk, MetadataLayout::kInternal);
    if (w.committed) {
      ASSERT_TRUE(at_end.ok()) << at_end.error();
      EXPECT_EQ(at_end->data_size, 24 * kMiB);
      auto loaded = OutOfSyncBitmap::load(disk, at_end->bitmap_offset, at_end->data_size);
      ASSERT_TRUE(loaded.ok());
      EXPECT_TRUE(loaded->test(0));
      EXPECT_EQ(loaded->count(), 1 + (24 * kMiB - sb.data_size) / kBlockSize);
    } else {
      // Once the new slots are zeroed (the first write), nothing valid is
      // at the new end until the commit: not the stale copy either.
      if (cut > 0) {
        EXPECT_FALSE(at_end.ok()) << at_end->data_size;
      }
      // ... and the old metadata is whole where it was.
      StorageRegion old_device_view(disk, 0, old_device);
      auto old = read_metadata(old_device_view, MetadataLayout::kInternal);
      ASSERT_TRUE(old.ok()) << old.error();
      EXPECT_EQ(old->data_size, sb.data_size);
      auto loaded = OutOfSyncBitmap::load(disk, old->bitmap_offset, old->data_size);
      ASSERT_TRUE(loaded.ok());
      EXPECT_EQ(loaded->count(), 1u);
    }
    if (w.status.ok()) {
      total_writes = storage.writes();
      break;
    }
  }
  EXPECT_GE(total_writes, 5u) << "zero, bitmap, log, two superblocks, old slots";
}

TEST(Grow, MetadataLeftInTheMiddleOfAGrownDeviceIsFoundAndMovedToTheEnd) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_internal(disk);
  sb.flags.was_primary = true;  // crashed as Primary: its hot extents must survive
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  OutOfSyncBitmap bm(sb.data_size);
  bm.set_range(4096 * 7, 4096);
  bm.mark_all_pages_dirty();
  ASSERT_TRUE(bm.flush_dirty_pages(disk, sb.bitmap_offset).ok());
  std::vector<uint8_t> slot(kAlTransactionSize, 0);
  encode_al_transaction(3, kUuid, {1}, slot);
  ASSERT_TRUE(disk.write(sb.al_offset + 3 % sb.al_slots * kAlTransactionSize, slot).ok());
  disk.grow(40 * kMiB + 4096 * 3, 0);  // grown while the daemon was down
  EXPECT_FALSE(read_metadata(disk, MetadataLayout::kInternal).ok()) << "not at the end any more";

  auto found = find_internal_metadata_below_end(disk);
  ASSERT_TRUE(found.ok()) << found.error();
  EXPECT_EQ(found->superblock_offset, sb.superblock_offset);
  EXPECT_EQ(found->sequence, sb.sequence) << "the newest copy";
  auto moved = move_internal_metadata_to_end(disk, found.value());
  ASSERT_TRUE(moved.ok()) << moved.error();
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->data_size, sb.data_size) << "the volume grows later, with the peer";
  EXPECT_TRUE(read->flags.was_primary);
  auto loaded = OutOfSyncBitmap::load(disk, read->bitmap_offset, read->data_size);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->count(), 1u);
  EXPECT_TRUE(loaded->test(7));
  auto al = recover_activity_log(disk, read.value());
  ASSERT_TRUE(al.ok());
  EXPECT_EQ(al->extents, std::vector<uint32_t>{1});
  EXPECT_EQ(al->last_sequence, 3u);

  // Then the online resize grows the data in place: the metadata is at the
  // end already.
  auto grown = plan_grown_metadata(read.value(), disk.size(), disk.size(), 32 * kMiB);
  ASSERT_TRUE(grown.ok()) << grown.error();
  EXPECT_EQ(grown->superblock_offset, read->superblock_offset);
  Superblock g = grown.value();
  OutOfSyncBitmap gbm = resized_bitmap(loaded.value(), g.data_size, true);
  ASSERT_TRUE(write_grown_metadata(disk, read.value(), g, gbm, {}, 0).status.ok());
  auto after = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->data_size, 32 * kMiB);

  FakeStorage blank(8 * kMiB);
  auto none = find_internal_metadata_below_end(blank);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no vrrpd metadata anywhere"), std::string::npos) << none.error();
}

TEST(Grow, ExternalMetadataGrowsInPlaceAndNeedsRoomForTheBitmap) {
  FakeStorage data(16 * kMiB);
  // Two superblock slots, a two-slot log, then one bitmap page: 4 KiB of
  // bitmap covers 128 MiB of data.
  FakeStorage md(5 * 4096);
  auto created = create_metadata(md, {.layout = MetadataLayout::kExternal,
                                      .external_data_size = data.size(),
                                      .node_id = 1,
                                      .device_uuid = kUuid,
                                      .al_slots = 2});
  ASSERT_TRUE(created.ok()) << created.error();
  Superblock sb = created.value();
  OutOfSyncBitmap bm(sb.data_size);
  bm.set_range(8 * kMiB, 4096);
  data.grow(160 * kMiB);
  EXPECT_EQ(max_data_size(sb, md.size(), data.size()), 128 * kMiB) << "bounded by the bitmap room";
  expect_error(plan_grown_metadata(sb, md.size(), data.size(), 144 * kMiB), "grow it too");
  auto plan = plan_grown_metadata(sb, md.size(), data.size(), 96 * kMiB);
  ASSERT_TRUE(plan.ok()) << plan.error();
  Superblock grown = plan.value();
  EXPECT_EQ(grown.superblock_offset, sb.superblock_offset);
  EXPECT_EQ(grown.bitmap_offset, sb.bitmap_offset);
  OutOfSyncBitmap gbm = resized_bitmap(bm, grown.data_size, false);
  GrowResult w = write_grown_metadata(md, sb, grown, gbm, {}, 0);
  ASSERT_TRUE(w.status.ok()) << w.status.message();
  auto read = read_metadata(md, MetadataLayout::kExternal);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->data_size, 96 * kMiB);
  auto loaded = OutOfSyncBitmap::load(md, read->bitmap_offset, read->data_size);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->count(), 1u) << "mark_added=false: only the old bit";
  EXPECT_TRUE(loaded->test(8 * kMiB / kBlockSize));
}

}  // namespace
}  // namespace vrrpd::replication
