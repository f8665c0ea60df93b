// Resource: discard (TRIM). A discard on the Primary makes the range read as
// zeros on both disks, travels as one Discard frame per activity-log extent
// (protocol 4), completes per protocol like a write, goes into the bitmap
// while disconnected (the resync then carries the zeros), reaches an older
// peer as Data frames of zeros, and counts as resynced on a SyncTarget.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

class DiscardTest : public ResourcePairTest {
 protected:
  std::shared_ptr<std::optional<IoStatus>> start_discard(Resource& r, uint64_t offset, uint64_t length) {
    auto slot = std::make_shared<std::optional<IoStatus>>();
    r.submit_discard(offset, length, [slot](IoStatus s) { *slot = s; });
    return slot;
  }
  IoStatus discard_now(Resource& r, uint64_t offset, uint64_t length) {
    auto slot = start_discard(r, offset, length);
    settle();
    EXPECT_TRUE(slot->has_value()) << "discard did not complete";
    return slot->value_or(IoStatus::error(ETIMEDOUT));
  }
  // Fills [offset, offset+length) on the Primary with a pattern, 1 MiB at a time.
  void fill(uint64_t offset, uint64_t length, uint8_t seed) {
    for (uint64_t pos = offset; pos < offset + length; pos += 1u << 20) {
      const uint64_t n = std::min<uint64_t>(1u << 20, offset + length - pos);
      ASSERT_TRUE(write_now(*a, pos, pattern(pos, n, seed)).ok());
    }
  }
  static bool all_zero(const std::vector<uint8_t>& v) {
    return std::all_of(v.begin(), v.end(), [](uint8_t c) { return c == 0; });
  }
};

TEST_F(DiscardTest, ZeroesTheRangeOnBothDisksWithOneFramePerExtent) {
  bring_up_synced();
  fill(0, 12u << 20, 3);
  advance(seconds(1));
  net.reset_stats();
  disk_a.clear_write_log();
  disk_b.clear_write_log();
  const uint64_t offset = (1u << 20) + 4096, length = 6u << 20;  // extents 0 and 1
  ASSERT_TRUE(discard_now(*a, offset, length).ok());
  for (FakeStorage* d : {&disk_a, &disk_b}) {
    EXPECT_TRUE(all_zero(read_back(*d, offset, length)));
    EXPECT_EQ(read_back(*d, offset - 4096, 4096), pattern(offset - 4096, 4096, 3));
    EXPECT_EQ(read_back(*d, offset + length, 4096), pattern(offset + length, 4096, 3));
    ASSERT_EQ(d->discards().size(), 2u);  // cut at the 4 MiB extent boundary
    EXPECT_EQ(d->discards()[0].offset, offset);
    EXPECT_EQ(d->discards()[0].length, (4u << 20) - offset);
    EXPECT_EQ(d->discards()[1].offset, 4u << 20);
    EXPECT_EQ(d->discards()[1].length, offset + length - (4u << 20));
  }
  EXPECT_TRUE(disk_b.writes().empty());
  EXPECT_EQ(net.sent(0, wire::FrameType::kDiscard).frames, 2u);
  EXPECT_EQ(net.sent(0, wire::FrameType::kData).frames, 0u);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(a->status().discarded_bytes, length);
  EXPECT_EQ(b->status().discarded_bytes, length);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

TEST_F(DiscardTest, PartialSectorsAtTheEndsAreWrittenAsZeros) {
  bring_up_synced();
  fill(0, 1u << 20, 5);
  disk_b.clear_write_log();
  ASSERT_TRUE(discard_now(*a, 1000, 10000).ok());
  for (FakeStorage* d : {&disk_a, &disk_b}) {
    EXPECT_TRUE(all_zero(read_back(*d, 1000, 10000)));
    EXPECT_EQ(read_back(*d, 0, 1000), pattern(0, 1000, 5));
    EXPECT_EQ(read_back(*d, 11000, 4096), pattern(11000, 4096, 5));
  }
  // The whole sectors in between as a discard, the ends as Data.
  ASSERT_EQ(disk_b.discards().size(), 1u);
  EXPECT_EQ(disk_b.discards()[0].offset, 1024u);
  EXPECT_EQ(disk_b.discards()[0].length, 10752u - 1024u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(DiscardTest, ProtocolCAnswersOnlyOnceThePeerHasDiscarded) {
  bring_up_synced();
  net.set_stalled(true);
  auto done = start_discard(*a, 0, 1u << 20);
  advance(std::chrono::milliseconds(100));
  EXPECT_FALSE(done->has_value());
  net.set_stalled(false);
  settle();
  ASSERT_TRUE(done->has_value());
  EXPECT_TRUE(done->value().ok());
  EXPECT_EQ(b->status().discarded_bytes, 1u << 20);
}

TEST_F(DiscardTest, RefusedOnASecondaryAndBeyondTheEnd) {
  bring_up_synced();
  EXPECT_EQ(discard_now(*b, 0, 4096).errno_value(), EROFS);
  EXPECT_EQ(discard_now(*a, data_size() - 4096, 8192).errno_value(), EINVAL);
  EXPECT_TRUE(discard_now(*a, 4096, 0).ok());
  EXPECT_TRUE(disk_a.discards().empty());
  EXPECT_TRUE(disk_b.discards().empty());
}

TEST_F(DiscardTest, WhileDisconnectedTheRangeIsResyncedAsZeros) {
  bring_up_synced();
  fill(0, 8u << 20, 7);
  advance(seconds(1));
  net.set_link_up(false);
  advance(seconds(1));
  ASSERT_NE(a->status().replication, ReplicationState::kEstablished);
  ASSERT_TRUE(discard_now(*a, 2u << 20, 3u << 20).ok());
  EXPECT_EQ(a->status().out_of_sync_bytes, 3u << 20);
  EXPECT_EQ(read_back(disk_b, 2u << 20, 4096), pattern(2u << 20, 4096, 7));  // b has not seen it
  net.reset_stats();
  net.set_link_up(true);
  advance(seconds(2));
  ASSERT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(all_zero(read_back(disk_b, 2u << 20, 3u << 20)));
  EXPECT_EQ(resync_data_bytes(0), 3u << 20);
  EXPECT_TRUE(disks_equal());
}

TEST_F(DiscardTest, AnOlderPeerIsSentZerosAsData) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  ob.max_protocol_version = 3;
  make(oa, ob);
  bring_up_synced();
  fill(0, 4u << 20, 9);
  advance(seconds(1));
  net.reset_stats();
  disk_a.clear_write_log();
  ASSERT_TRUE(discard_now(*a, 1u << 20, 2u << 20).ok());
  EXPECT_EQ(net.sent(0, wire::FrameType::kDiscard).frames, 0u);
  EXPECT_EQ(net.sent(0, wire::FrameType::kData).frames, 2u);  // 1 MiB each
  EXPECT_EQ(disk_a.discards().size(), 1u);                    // ours is still a discard
  EXPECT_TRUE(disk_b.discards().empty());
  EXPECT_TRUE(all_zero(read_back(disk_b, 1u << 20, 2u << 20)));
  EXPECT_TRUE(disks_equal());
}

TEST_F(DiscardTest, ASyncTargetCountsADiscardedRangeAsResynced) {
  make_with_resync_rate(1u << 20);  // 1 MiB/s: the initial sync takes a while
  start_initial_sync();
  advance(std::chrono::milliseconds(500));
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  const uint64_t block = (8u << 20) / 4096;
  ASSERT_TRUE(b->bitmap()->test(block));
  const uint64_t before = b->status().out_of_sync_bytes;
  ASSERT_TRUE(discard_now(*a, 8u << 20, 4u << 20).ok());
  for (uint64_t i = 0; i < 1024; ++i) ASSERT_FALSE(b->bitmap()->test(block + i)) << i;
  EXPECT_LE(b->status().out_of_sync_bytes, before - (4u << 20));
  advance(seconds(30));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(all_zero(read_back(disk_b, 8u << 20, 4u << 20)));
  EXPECT_TRUE(disks_equal());
}

TEST_F(DiscardTest, APeerDiscardFailureMarksTheRangeOutOfSync) {
  bring_up_synced();
  disk_b.fail_writes(1u << 20, 4096);
  EXPECT_TRUE(discard_now(*a, 1u << 20, 1u << 20).ok());  // our copy is good
  EXPECT_EQ(a->status().out_of_sync_bytes, 1u << 20);
  EXPECT_EQ(b->status().io_errors, 1u);
}

}  // namespace
}  // namespace vrrpd::replication::testing
