// OutOfSyncBitmap: rounding of set (outward) and clear (inward), counts in
// blocks/bytes/KiB, dirty-run search, and persistence that rewrites only the
// 4 KiB pages that changed.
#include "replication/bitmap.h"

#include <gtest/gtest.h>

#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;
using DirtyRun = OutOfSyncBitmap::Run;

constexpr uint64_t kB = 4096;             // one block
constexpr uint64_t kPageSpan = 128 << 20;  // data covered by one bitmap page

TEST(OutOfSyncBitmap, SetRoundsOutwardToWholeBlocks) {
  OutOfSyncBitmap bm(100 * kB);
  // One byte in block 2 and the last byte of block 4 .. first of block 5.
  EXPECT_EQ(bm.set_range(2 * kB + 100, 1), 1u);
  EXPECT_EQ(bm.set_range(5 * kB - 1, 2), 2u);
  EXPECT_TRUE(bm.test(2));
  EXPECT_TRUE(bm.test(4));
  EXPECT_TRUE(bm.test(5));
  EXPECT_FALSE(bm.test(3));
  EXPECT_EQ(bm.count(), 3u);
  EXPECT_EQ(bm.set_range(2 * kB, kB), 0u);  // already set: nothing new
}

TEST(OutOfSyncBitmap, ClearRoundsInwardAndKeepsPartlyCoveredBlocks) {
  OutOfSyncBitmap bm(100 * kB);
  bm.set_range(0, 10 * kB);
  // [1.5 blocks, 4.5 blocks): only blocks 2 and 3 are fully covered.
  EXPECT_EQ(bm.clear_range(kB + kB / 2, 3 * kB), 2u);
  EXPECT_TRUE(bm.test(1));
  EXPECT_FALSE(bm.test(2));
  EXPECT_FALSE(bm.test(3));
  EXPECT_TRUE(bm.test(4));
  EXPECT_EQ(bm.clear_range(6 * kB + 1, kB), 0u);  // covers no block fully
  EXPECT_EQ(bm.count(), 8u);
}

TEST(OutOfSyncBitmap, PartialLastBlockIsClearedByARangeReachingTheEnd) {
  OutOfSyncBitmap bm(10 * kB + 100);  // 11 blocks, the last holds 100 bytes
  EXPECT_EQ(bm.block_count(), 11u);
  bm.set_range(10 * kB + 50, 1);
  EXPECT_EQ(bm.out_of_sync_bytes(), 100u);  // only the real bytes of the last block
  EXPECT_EQ(bm.clear_range(10 * kB, 100), 1u);
  EXPECT_EQ(bm.count(), 0u);
}

TEST(OutOfSyncBitmap, MergeAndKeepOnlyWorkWordWiseAndMarkOnlyChangedPagesDirty) {
  // Three bitmap pages; bits in the first and the third.
  OutOfSyncBitmap here(3 * kPageSpan), other(3 * kPageSpan);
  here.set_range(0, 3 * kB);               // blocks 0-2
  here.set_range(2 * kPageSpan, 70 * kB);  // across a word boundary
  other.set_range(kB, 4 * kB);             // blocks 1-4
  FakeStorage md(3 * 4096);
  ASSERT_TRUE(here.flush_dirty_pages(md, 0).ok());
  EXPECT_EQ(here.merge(other), 2u) << "blocks 3 and 4 are new";
  EXPECT_EQ(here.count(), 5u + 70u);
  EXPECT_EQ(here.dirty_page_count(), 1u) << "only the first page changed";
  EXPECT_EQ(here.merge(other), 0u);
  ASSERT_TRUE(here.flush_dirty_pages(md, 0).ok());
  EXPECT_EQ(here.keep_only(other), 1u + 70u) << "block 0 and the third page's run go";
  EXPECT_EQ(here.count(), 4u);
  EXPECT_FALSE(here.test(0));
  EXPECT_TRUE(here.test(1));
  EXPECT_TRUE(here.test(4));
  EXPECT_FALSE(here.test(2 * kPageSpan / kB));
  EXPECT_EQ(here.dirty_page_count(), 2u);
  EXPECT_EQ(here.find_next_dirty_run(0), (DirtyRun{1, 4}));
  // A bitmap of another size changes nothing.
  OutOfSyncBitmap small(kPageSpan);
  small.set_all();
  EXPECT_EQ(here.merge(small), 0u);
  EXPECT_EQ(here.keep_only(OutOfSyncBitmap(kPageSpan)), 0u);
  EXPECT_EQ(here.count(), 4u);
}

TEST(OutOfSyncBitmap, RangesBeyondTheDataAreClamped) {
  OutOfSyncBitmap bm(10 * kB);
  EXPECT_EQ(bm.set_range(9 * kB, 100 * kB), 1u);
  EXPECT_EQ(bm.set_range(20 * kB, kB), 0u);
  EXPECT_EQ(bm.count(), 1u);
}

TEST(OutOfSyncBitmap, CountsInBlocksBytesAndKiB) {
  OutOfSyncBitmap bm(1000 * kB);
  bm.set_range(0, 3 * kB);
  bm.set_range(500 * kB, 1);
  EXPECT_EQ(bm.count(), 4u);
  EXPECT_EQ(bm.out_of_sync_bytes(), 4 * kB);
  EXPECT_EQ(bm.out_of_sync_kib(), 16u);
  bm.set_all();
  EXPECT_EQ(bm.count(), 1000u);
  bm.clear_all();
  EXPECT_EQ(bm.count(), 0u);
}

TEST(OutOfSyncBitmap, FindsDirtyRunsInOrderAcrossWordBoundaries) {
  OutOfSyncBitmap bm(1000 * kB);
  bm.set_range(60 * kB, 10 * kB);   // blocks 60..69, crosses word 0/1
  bm.set_range(700 * kB, 1);        // block 700
  EXPECT_EQ(bm.find_next_dirty_run(0), (DirtyRun{60, 10}));
  EXPECT_EQ(bm.find_next_dirty_run(65), (DirtyRun{65, 5}));
  EXPECT_EQ(bm.find_next_dirty_run(70), (DirtyRun{700, 1}));
  EXPECT_EQ(bm.find_next_dirty_run(701), std::nullopt);
  EXPECT_EQ(bm.find_next_dirty_run(0, 4), (DirtyRun{60, 4}));  // bounded request size
}

TEST(OutOfSyncBitmap, FlushWritesOnlyChangedPages) {
  const uint64_t data = 4 * kPageSpan;  // 4 bitmap pages
  FakeStorage md(64 * 1024);
  OutOfSyncBitmap bm(data);
  EXPECT_EQ(bm.page_count(), 4u);
  bm.set_range(2 * kPageSpan + 5 * kB, kB);  // page 2 only
  EXPECT_EQ(bm.dirty_page_count(), 1u);
  ASSERT_TRUE(bm.flush_dirty_pages(md, 8192).ok());
  ASSERT_EQ(md.writes().size(), 1u);
  EXPECT_EQ(md.writes()[0].offset, 8192u + 2 * 4096);
  EXPECT_EQ(md.writes()[0].length, 4096u);
  EXPECT_EQ(md.pending_writes(), 0u);  // flushed
  // Nothing changed since: no I/O at all, not even a flush.
  md.clear_write_log();
  const size_t flushes = md.flush_calls();
  ASSERT_TRUE(bm.flush_dirty_pages(md, 8192).ok());
  EXPECT_TRUE(md.writes().empty());
  EXPECT_EQ(md.flush_calls(), flushes);
  // Setting an already-set bit does not dirty the page.
  bm.set_range(2 * kPageSpan + 5 * kB, 1);
  EXPECT_EQ(bm.dirty_page_count(), 0u);
}

TEST(OutOfSyncBitmap, FailedFlushKeepsPagesDirtyForRetry) {
  FakeStorage md(64 * 1024);
  OutOfSyncBitmap bm(2 * kPageSpan);
  bm.set_range(0, kB);
  md.fail_flush(EIO);
  EXPECT_EQ(bm.flush_dirty_pages(md, 0).errno_value(), EIO);
  EXPECT_EQ(bm.dirty_page_count(), 1u);
  ASSERT_TRUE(bm.flush_dirty_pages(md, 0).ok());
  EXPECT_EQ(bm.dirty_page_count(), 0u);
}

TEST(OutOfSyncBitmap, LoadRestoresWhatWasFlushedAndNotMore) {
  FakeStorage md(64 * 1024);
  const uint64_t data = 3 * kPageSpan + 10 * kB;
  {
    OutOfSyncBitmap bm(data);
    bm.set_range(0, kB);
    bm.set_range(3 * kPageSpan + 9 * kB, kB);  // last block, in page 3
    ASSERT_TRUE(bm.flush_dirty_pages(md, 4096).ok());
    bm.set_range(kPageSpan, kB);  // never flushed
    md.crash();
  }
  auto loaded = OutOfSyncBitmap::load(md, 4096, data);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->count(), 2u);
  EXPECT_TRUE(loaded->test(0));
  EXPECT_TRUE(loaded->test(3 * kPageSpan / kB + 9));
  EXPECT_EQ(loaded->dirty_page_count(), 0u);
}

TEST(OutOfSyncBitmap, LoadIgnoresBitsPastTheLastBlock) {
  FakeStorage md(8192);
  md.bytes()[0] = 0xFF;  // 8 bits, but the data has only 3 blocks
  auto loaded = OutOfSyncBitmap::load(md, 0, 3 * kB);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->count(), 3u);
}

TEST(OutOfSyncBitmap, OnDiskBitOrderIsLsbFirstPerByte) {
  FakeStorage md(8192);
  OutOfSyncBitmap bm(100 * kB);
  bm.set_range(9 * kB, kB);  // block 9 = byte 1, bit 1
  ASSERT_TRUE(bm.flush_dirty_pages(md, 0).ok());
  EXPECT_EQ(md.bytes()[0], 0);
  EXPECT_EQ(md.bytes()[1], 0x02);
}

TEST(OutOfSyncBitmap, LoadReportsReadErrors) {
  FakeStorage md(8192);
  md.fail_reads(0, 1, EIO);
  auto loaded = OutOfSyncBitmap::load(md, 0, 100 * kB);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("read bitmap page 0"), std::string::npos) << loaded.error();
}

}  // namespace
}  // namespace vrrpd::replication
