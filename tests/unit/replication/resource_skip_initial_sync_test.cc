// Resource: skip-initial-sync (drbdadm new-current-uuid --clear-bitmap).
// Two freshly created, connected disks are declared identical: both become
// UpToDate in one new generation without a byte of resync, the Primary
// needs no force, and a later flap finds nothing to do. Refused for disks
// that hold data, without the link, or with an older peer; a peer that
// cannot follow drops the link and gets the full sync after all.
#include <gtest/gtest.h>

#include <memory>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class SkipInitialSyncTest : public ResourcePairTest {
 protected:
  void connect_fresh(ResourceOptions oa, ResourceOptions ob) {
    make(oa, ob);
    attach_and_connect_both();
    advance(seconds(1));
    ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
    ASSERT_EQ(b->status().disk, DiskState::kInconsistent);
  }
  void connect_fresh() { connect_fresh(options_for(0), options_for(1)); }
};

TEST_F(SkipInitialSyncTest, BothBecomeUpToDateInOneGenerationWithoutAResync) {
  connect_fresh();
  net.reset_stats();
  ok(a->skip_initial_sync());
  settle();
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().peer_disk, DiskState::kUpToDate);
  EXPECT_EQ(a->generations(), b->generations());
  EXPECT_NE(a->generations(), just_created_generations());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(net.sent(0, wire::FrameType::kResyncReply).frames, 0u);
  EXPECT_EQ(net.sent(1, wire::FrameType::kResyncReply).frames, 0u);
  // A Primary without force, whose writes replicate as usual.
  ok(a->primary());
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 1)).ok());
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 1));
  // Persisted: a flap (and the metadata) agree there is nothing to sync.
  auto md = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(md.ok());
  EXPECT_TRUE(md->flags.consistent);
  advance(seconds(1));  // the write retired (its epoch acknowledged)
  net.cut();
  advance(seconds(2));
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(net.sent(0, wire::FrameType::kResyncReply).frames, 0u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(SkipInitialSyncTest, RefusedForDisksThatHoldDataOrWithoutTheLink) {
  bring_up_synced();  // after a real initial sync
  CommandResult r = b->skip_initial_sync();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "only for two freshly created disks")) << r.error();
  make();
  create_and_attach(*a);
  r = a->skip_initial_sync();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "needs the connected peer")) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kInconsistent);
}

TEST_F(SkipInitialSyncTest, RefusedWithAnOlderPeer) {
  ResourceOptions ob = options_for(1);
  ob.max_protocol_version = 2;
  connect_fresh(options_for(0), ob);
  CommandResult r = a->skip_initial_sync();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "does not know it")) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kInconsistent);
}

TEST_F(SkipInitialSyncTest, APeerThatCannotFollowGetsTheFullSyncAfterAll) {
  connect_fresh();
  net.set_reconnect_delay(seconds(1));
  disk_a.bytes()[4096] = 0x5A;  // the disks differ: only a full sync makes them equal
  // b cannot write its superblock: it cannot follow.
  disk_b.fail_writes(disk_b.size() - 2 * kSuperblockSlotSize, 2 * kSuperblockSlotSize);
  ok(a->skip_initial_sync());
  settle();
  EXPECT_TRUE(contains(b->status().last_error, "skip-initial-sync cannot be followed (writing the metadata failed"))
      << b->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  EXPECT_NE(b->status().connection, ConnectionState::kConnected);
  disk_b.clear_faults();
  advance(seconds(4));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(resync_data_bytes(0), data_size()) << "the full sync after all";
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
