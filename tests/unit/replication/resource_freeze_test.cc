// fencing resource-and-stonith (ResourceOptions::freeze_io_while_fencing):
// a Primary that loses its UpToDate peer answers no write or flush until
// the peer is outdated, the link is back, or the operator resumes I/O; so no
// write is acknowledged that the peer, promoted, would lack.
#include <gtest/gtest.h>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class FreezeTest : public ResourcePairTest {
 protected:
  void make_freezing(bool freeze = true) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.freeze_io_while_fencing = ob.freeze_io_while_fencing = freeze;
    make(oa, ob);
  }
  std::shared_ptr<std::optional<IoStatus>> flush(Resource& r) {
    auto slot = std::make_shared<std::optional<IoStatus>>();
    r.submit_flush([slot](IoStatus s) { *slot = s; });
    return slot;
  }
};

TEST_F(FreezeTest, WritesAfterTheLinkIsLostWaitUntilThePeerIsOutdated) {
  make_freezing();
  bring_up_synced();
  net.set_link_up(false);
  settle();
  ASSERT_TRUE(a->status().io_suspended);
  EXPECT_TRUE(contains(a->status().io_suspended_why, "fencing it")) << a->status().io_suspended_why;
  EXPECT_TRUE(a->wants_peer_fenced());
  auto w = submit(*a, 4096, pattern(4096, 8192, 1));
  auto f = flush(*a);
  advance(seconds(2));
  EXPECT_FALSE(w->has_value()) << "a write was acknowledged while the peer could still be promoted";
  EXPECT_FALSE(f->has_value());
  // On the local disk already: only the answer waits.
  EXPECT_EQ(read_back(disk_a, 4096, 8192), pattern(4096, 8192, 1));
  // The fence path reaches the peer: it is outdated, the answers go out.
  a->note_peer_fenced(FenceAnswer::kOutdated, "disk Outdated");
  ASSERT_TRUE(w->has_value());
  EXPECT_TRUE(w->value().ok());
  ASSERT_TRUE(f->has_value());
  EXPECT_TRUE(f->value().ok());
  EXPECT_FALSE(a->status().io_suspended);
  EXPECT_EQ(a->status().peer_disk, DiskState::kOutdated);
  // From now on writes are answered at once: the peer cannot be promoted.
  EXPECT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 2)).ok());
}

TEST_F(FreezeTest, AWriteInFlightWhenTheLinkDropsIsHeldUntilTheLinkIsBack) {
  make_freezing();
  bring_up_synced();
  net.set_stalled(true);  // the peer gets nothing more and answers nothing
  auto w = submit(*a, 8192, pattern(8192, 4096, 3));
  settle();
  EXPECT_FALSE(w->has_value());  // protocol C: waits for the peer's ack
  net.set_reconnect_delay(milliseconds(500));  // as a real connector's connect-int
  net.cut();
  net.set_stalled(false);
  settle();
  EXPECT_TRUE(a->status().io_suspended);
  EXPECT_FALSE(w->has_value()) << "answered although the peer may not have it";
  // The link comes back: the handshake makes the peer SyncTarget for what
  // it missed (it cannot be promoted), and the held write is answered.
  advance(seconds(1));
  ASSERT_TRUE(w->has_value());
  EXPECT_TRUE(w->value().ok());
  EXPECT_FALSE(a->status().io_suspended);
  advance(seconds(1));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(FreezeTest, ResourceOnlyAnswersAtOnce) {
  make_freezing(false);
  bring_up_synced();
  net.set_link_up(false);
  settle();
  EXPECT_FALSE(a->status().io_suspended);
  EXPECT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 4)).ok());
}

TEST_F(FreezeTest, NoFreezeWhenThePeerWasNotUpToDate) {
  // During the initial sync the peer is Inconsistent: it cannot be promoted
  // without force, so there is nothing to fence.
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.freeze_io_while_fencing = ob.freeze_io_while_fencing = true;
  oa.resync_rate = ob.resync_rate = 1u << 20;
  make(oa, ob);
  start_initial_sync();
  advance(milliseconds(500));
  ASSERT_EQ(b->status().disk, DiskState::kInconsistent);
  net.set_link_up(false);
  settle();
  EXPECT_FALSE(a->status().io_suspended);
  EXPECT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 5)).ok());
}

TEST_F(FreezeTest, TheOperatorResumesAndDemotionWaitsForIt) {
  make_freezing();
  bring_up_synced();
  EXPECT_FALSE(a->resume_io().ok());  // nothing suspended
  net.set_link_up(false);
  settle();
  auto w = submit(*a, 4096, pattern(4096, 4096, 6));
  settle();
  const CommandResult demote = a->secondary();
  ASSERT_FALSE(demote.ok());
  EXPECT_TRUE(contains(demote.error(), "resume-io")) << demote.error();
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_FALSE(w->has_value());
  ok(a->resume_io());
  ASSERT_TRUE(w->has_value());
  EXPECT_TRUE(w->value().ok());
  EXPECT_FALSE(a->status().io_suspended);
  ok(a->secondary());
}

TEST_F(FreezeTest, AdjustingToResourceOnlyResumes) {
  make_freezing();
  bring_up_synced();
  net.set_link_up(false);
  settle();
  auto w = submit(*a, 4096, pattern(4096, 4096, 7));
  settle();
  EXPECT_FALSE(w->has_value());
  ResourceOptions o = a->options();
  o.freeze_io_while_fencing = false;
  ok(a->adjust(o));
  ASSERT_TRUE(w->has_value());
  EXPECT_TRUE(w->value().ok());
}

TEST_F(FreezeTest, StoppingFailsWhatIsHeldAndWhatComesWhileThePeerIsNotFenced) {
  make_freezing();
  bring_up_synced();
  net.set_link_up(false);
  settle();
  auto w = submit(*a, 4096, pattern(4096, 4096, 9));
  auto f = flush(*a);
  settle();
  a->fail_suspended_io("stopping");
  ASSERT_TRUE(w->has_value());
  EXPECT_EQ(w->value().errno_value(), EIO);
  ASSERT_TRUE(f->has_value());
  EXPECT_EQ(f->value().errno_value(), EIO);
  // Still not fenced: a later write is not acknowledged either, nor held.
  EXPECT_TRUE(a->status().io_suspended);
  EXPECT_EQ(write_now(*a, 8192, pattern(8192, 4096, 10)).errno_value(), EIO);
  EXPECT_EQ(read_back(disk_a, 8192, 4096), pattern(8192, 4096, 10));  // on the local disk all the same
  // The stop goes on: demotion is allowed and ends the suspension.
  ok(a->secondary());
  EXPECT_FALSE(a->status().io_suspended);
}

TEST_F(FreezeTest, StoppingWhileConnectedChangesNothingUntilTheLinkIsLost) {
  make_freezing();
  bring_up_synced();
  a->fail_suspended_io("stopping");
  EXPECT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 11)).ok());  // the peer has it
  net.set_link_up(false);
  settle();
  EXPECT_TRUE(a->status().io_suspended);
  EXPECT_EQ(write_now(*a, 8192, pattern(8192, 4096, 12)).errno_value(), EIO);
}

TEST_F(FreezeTest, DestroyingAFrozenResourceFailsWhatItHeld) {
  make_freezing();
  bring_up_synced();
  net.set_link_up(false);
  settle();
  auto w = submit(*a, 4096, pattern(4096, 4096, 8));
  settle();
  a.reset();
  ASSERT_TRUE(w->has_value());
  EXPECT_EQ(w->value().errno_value(), EIO);
}

}  // namespace
}  // namespace vrrpd::replication::testing
