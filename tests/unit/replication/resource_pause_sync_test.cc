// Resource: pause-sync / resume-sync (DRBD's user-isp / peer-isp). A pause
// on either node stops the SyncTarget from asking for blocks, shows as
// PausedSyncS / PausedSyncT on both sides, holds across a reconnect and for
// a resync that starts later, and ends only with resume-sync on the node
// that paused; application writes go on meanwhile.
#include <gtest/gtest.h>

#include <memory>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class PauseSyncTest : public ResourcePairTest {
 protected:
  // A synced pair, `a` Primary; the link is cut, 8 MiB written, the link
  // back at 4 MiB/s: a resync of about 2 s from a to b is running.
  void start_resync(ResourceOptions ob = {}) {
    if (ob.name.empty()) ob = options_for(1);
    make(options_for(0), ob);
    bring_up_synced();
    ResourceOptions slow = options_for(1);
    slow.max_protocol_version = ob.max_protocol_version;
    slow.resync_rate = 4u << 20;
    ok(b->adjust(slow));
    write_while_the_link_is_down(8u << 20, 5);
    advance(milliseconds(200));
    ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget) << b->status().last_error;
  }
  uint64_t b_out_of_sync() { return b->status().out_of_sync_bytes; }
};

TEST_F(PauseSyncTest, APauseOnTheSourceHoldsTheTargetUntilResumed) {
  start_resync();
  ok(a->pause_sync());
  advance(milliseconds(100));  // requests in flight are answered
  const uint64_t left = b_out_of_sync();
  EXPECT_GT(left, 0u);
  advance(seconds(3));
  EXPECT_EQ(b_out_of_sync(), left) << "nothing asked for while paused";
  EXPECT_EQ(a->status().replication, ReplicationState::kPausedSyncS);
  EXPECT_EQ(a->status().resync_paused, "user");
  EXPECT_EQ(b->status().replication, ReplicationState::kPausedSyncT);
  EXPECT_EQ(b->status().resync_paused, "peer");
  // Application writes still reach both disks.
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 4096, 6)).ok());
  EXPECT_EQ(read_back(disk_b, 12u << 20, 4096), pattern(12u << 20, 4096, 6));
  // Only the node that paused can resume.
  CommandResult r = b->resume_sync();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "not paused on this node")) << r.error();
  ok(a->resume_sync());
  advance(seconds(4));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().resync_paused, "");
  EXPECT_TRUE(disks_equal());
}

TEST_F(PauseSyncTest, BothOperatorsMustResume) {
  start_resync();
  ok(b->pause_sync());
  ok(a->pause_sync());
  advance(milliseconds(100));
  EXPECT_EQ(b->status().resync_paused, "user,peer");
  const uint64_t left = b_out_of_sync();
  ok(b->resume_sync());
  advance(seconds(2));
  EXPECT_EQ(b_out_of_sync(), left) << "a still holds it";
  EXPECT_EQ(b->status().replication, ReplicationState::kPausedSyncT);
  ok(a->resume_sync());
  advance(seconds(4));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
}

TEST_F(PauseSyncTest, APauseHoldsAcrossAReconnectAndForALaterResync) {
  make();
  bring_up_synced();
  ok(a->pause_sync());  // no resync running: it holds the next one
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  net.set_link_up(false);
  advance(seconds(1));
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 7)).ok());
  net.set_link_up(true);
  advance(seconds(3));
  EXPECT_EQ(b->status().replication, ReplicationState::kPausedSyncT);
  EXPECT_EQ(b->status().out_of_sync_bytes, 1u << 20) << "the handshake's bitmap, nothing fetched";
  ok(a->resume_sync());
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(PauseSyncTest, WithAnOlderPeerOnlyTheTargetCanPause) {
  ResourceOptions ob = options_for(1);
  ob.max_protocol_version = 2;
  start_resync(ob);
  CommandResult r = a->pause_sync();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "pause it on the SyncTarget")) << r.error();
  ok(b->pause_sync());
  advance(milliseconds(100));
  const uint64_t left = b_out_of_sync();
  advance(seconds(2));
  EXPECT_EQ(b_out_of_sync(), left);
  EXPECT_EQ(b->status().replication, ReplicationState::kPausedSyncT);
  EXPECT_EQ(a->status().replication, ReplicationState::kSyncSource) << "the old peer cannot be told";
  ok(b->resume_sync());
  advance(seconds(4));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
}

// resync_after (DRBD's after-isp), as the daemon sets it: a pause of its
// own, which the operator's resume does not end, told to the peer while it
// holds, and lifted by the daemon alone.
TEST_F(PauseSyncTest, AResyncAfterPauseOnTheSourceIsApartFromTheOperatorsPause) {
  start_resync();
  a->set_sync_paused_after(true, "r9 resyncs");
  advance(milliseconds(100));
  const uint64_t left = b_out_of_sync();
  EXPECT_GT(left, 0u);
  EXPECT_EQ(a->status().replication, ReplicationState::kPausedSyncS);
  EXPECT_EQ(a->status().resync_paused, "after");
  EXPECT_EQ(b->status().resync_paused, "peer");
  // The operator pauses and resumes: the resync_after pause holds, and the
  // peer was not told to go on.
  ok(a->pause_sync());
  EXPECT_EQ(a->status().resync_paused, "user,after");
  ok(a->resume_sync());
  advance(seconds(2));
  EXPECT_EQ(b_out_of_sync(), left) << "nothing asked for while resync_after holds";
  EXPECT_EQ(b->status().resync_paused, "peer");
  // It holds across a reconnect too (the peer is told in the handshake).
  net.cut();
  advance(seconds(1));
  EXPECT_EQ(b->status().resync_paused, "peer");
  EXPECT_GT(b_out_of_sync(), 0u);
  a->set_sync_paused_after(false, "r9 is done");
  advance(seconds(4));
  EXPECT_EQ(b_out_of_sync(), 0u);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().resync_paused, "");
  EXPECT_EQ(b->status().resync_paused, "");
  EXPECT_TRUE(disks_equal());
}

TEST_F(PauseSyncTest, AResyncAfterPauseOnTheTargetStopsItsRequests) {
  start_resync();
  b->set_sync_paused_after(true, "r9 resyncs");
  advance(milliseconds(100));
  const uint64_t left = b_out_of_sync();
  advance(seconds(2));
  EXPECT_EQ(b_out_of_sync(), left);
  EXPECT_EQ(b->status().replication, ReplicationState::kPausedSyncT);
  EXPECT_EQ(a->status().resync_paused, "peer");
  b->set_sync_paused_after(false, "r9 is done");
  advance(seconds(4));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
