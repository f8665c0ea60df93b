// Resource: promoting a SyncTarget (a switchover while a resync runs, as
// DRBD 9 allows). The new Primary reads the blocks it does not have yet
// from the peer, its writes reach both disks (also over blocks still to be
// resynced), the resync finishes under it with one generation on both
// sides, and losing the peer before the end fails what only the peer had.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr uint64_t kChanged = 4u << 20;  // written on `a` while `b` was away: 4..8 MiB

class PromoteSyncTargetTest : public ResourcePairTest {
 protected:
  // `a` Primary writes 4 MiB while the link is down; the link is back and
  // b resyncs at 1 MiB/s (about 4 s); then `a` is demoted.
  void switchover_during_resync() {
    make();
    bring_up_synced();
    ResourceOptions slow = options_for(1);
    slow.resync_rate = 1u << 20;
    ok(b->adjust(slow));
    net.set_link_up(false);
    advance(seconds(1));
    for (uint64_t off = kChanged; off < 2 * kChanged; off += 1u << 20)
      ASSERT_TRUE(write_now(*a, off, pattern(off, 1u << 20, 3)).ok());
    net.set_link_up(true);
    advance(milliseconds(300));
    ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget) << b->status().last_error;
    ok(a->secondary());
    settle();
  }
  std::vector<uint8_t> read_b(uint64_t offset, size_t length) {
    std::vector<uint8_t> out(length);
    EXPECT_TRUE(read_now(*b, offset, out).ok());
    return out;
  }
};

TEST_F(PromoteSyncTargetTest, TheNewPrimaryReadsWhatIsNotHereFromThePeerAndTheResyncFinishes) {
  switchover_during_resync();
  const uint64_t left = b->status().out_of_sync_bytes;
  ASSERT_GT(left, 2u << 20) << "most of the 4 MiB still to come";
  ok(b->primary());
  ResourceStatus s = b->status();
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kInconsistent);
  EXPECT_EQ(s.replication, ReplicationState::kSyncTarget);
  settle();
  EXPECT_EQ(a->status().peer_role, Role::kPrimary);
  EXPECT_EQ(a->status().replication, ReplicationState::kSyncSource);
  // The last MiB is not on b's disk yet; b reads a's data all the same.
  const uint64_t last = 2 * kChanged - (1u << 20);
  ASSERT_NE(read_back(disk_b, last, 4096), pattern(last, 4096, 3)) << "not resynced yet";
  EXPECT_EQ(read_b(last, 1u << 20), pattern(last, 1u << 20, 3));
  // Writes: one over a block still to be resynced, one elsewhere; both
  // reach both disks and the resync does not undo the first.
  ASSERT_TRUE(write_now(*b, last + 8192, pattern(last + 8192, 4096, 4)).ok());
  ASSERT_TRUE(write_now(*b, 12u << 20, pattern(12u << 20, 8192, 5)).ok());
  EXPECT_EQ(read_back(disk_a, last + 8192, 4096), pattern(last + 8192, 4096, 4));
  advance(seconds(6));
  s = b->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(read_back(disk_b, last + 8192, 4096), pattern(last + 8192, 4096, 4));
  EXPECT_EQ(read_back(disk_b, last, 4096), pattern(last, 4096, 3));
  // One generation on both sides: a flap finds nothing to resync and no
  // split brain.
  EXPECT_EQ(b->generations().current & ~uint64_t{1}, a->generations().current & ~uint64_t{1});
  net.cut();
  advance(seconds(2));
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_FALSE(b->status().split_brain);
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
}

TEST_F(PromoteSyncTargetTest, LosingThePeerBeforeTheEndFailsWhatOnlyThePeerHas) {
  switchover_during_resync();
  ok(b->primary());
  settle();
  net.set_link_up(false);
  advance(seconds(1));
  const uint64_t last = 2 * kChanged - (1u << 20);
  std::vector<uint8_t> out(4096);
  EXPECT_EQ(read_now(*b, last, out).errno_value(), EIO) << "not here, and the peer is gone";
  EXPECT_TRUE(read_now(*b, 0, out).ok()) << "blocks in sync are served locally";
  EXPECT_EQ(write_now(*b, 0, pattern(0, 4096, 6)).errno_value(), EIO) << "the local copy alone is not the data";
  // The link back: b, Primary and Inconsistent, is SyncTarget again.
  net.set_link_up(true);
  advance(seconds(8));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(b->status().role, Role::kPrimary);
  EXPECT_TRUE(disks_equal());
}

// The source restarts (its daemon killed, a reboot) while the promoted
// SyncTarget resyncs from it: it comes up Consistent and would be refused
// as a source by a Primary; its superblock says whom it served since that
// node became Primary, so it tells the Primary it is UpToDate before the
// bitmaps (protocol 11) and the resync goes on.
TEST_F(PromoteSyncTargetTest, ThePromotedTargetResumesFromItsRestartedSource) {
  switchover_during_resync();
  ok(b->primary());
  settle();
  const uint64_t last = 2 * kChanged - (1u << 20);
  ASSERT_NE(read_back(disk_b, last, 4096), pattern(last, 4096, 3)) << "not resynced yet";
  ASSERT_TRUE(write_now(*b, 12u << 20, pattern(12u << 20, 8192, 5)).ok());
  a.reset();  // killed
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  ASSERT_EQ(a->status().disk, DiskState::kConsistent);
  std::vector<uint8_t> out(4096);
  EXPECT_EQ(read_now(*b, last, out).errno_value(), EIO) << "only the peer has it";
  ok(a->connect(net.connector(0)));
  advance(milliseconds(300));
  ResourceStatus s = b->status();
  EXPECT_EQ((std::pair{s.connection, s.replication}),
            (std::pair{ConnectionState::kConnected, ReplicationState::kSyncTarget}))
      << s.last_error;
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  advance(seconds(8));
  s = b->status();
  EXPECT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kUpToDate})) << s.last_error;
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(read_b(last, 4096), pattern(last, 4096, 3));
  EXPECT_EQ(read_b(12u << 20, 8192), pattern(12u << 20, 8192, 5));
  Result<Superblock> sb = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(sb.ok()) << sb.error();
  EXPECT_EQ(sb->diskless_primary_generation, 0u) << "the Primary has its own copy: served no more";
}

TEST_F(PromoteSyncTargetTest, RefusedWithForceOrWithoutAnUpToDatePeer) {
  switchover_during_resync();
  CommandResult r = b->primary(/*force=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "force would declare half-resynced data good")) << r.error();
  EXPECT_EQ(b->status().role, Role::kSecondary);
  // The peer is Primary again: refused as always.
  ok(a->primary());
  settle();
  r = b->primary();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the peer is Primary")) << r.error();
}

}  // namespace
}  // namespace vrrpd::replication::testing
