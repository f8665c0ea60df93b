// Resource: invalidate-remote (drbdadm invalidate-remote). From an
// UpToDate node on an Established link, the peer's data is replaced by a
// full resync from this node: every block moves, also blocks that differ
// without either side knowing (a silently corrupted peer), and a Primary's
// writes go on meanwhile. Refused without the link, with a Primary peer or
// from a node whose own data is not UpToDate.
#include <gtest/gtest.h>

#include <memory>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

class InvalidateRemoteTest : public ResourcePairTest {};

TEST_F(InvalidateRemoteTest, APrimaryReplacesThePeersDataWithAFullResync) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 1u << 20, pattern(1u << 20, 8192, 2)).ok());
  advance(seconds(1));
  // The peer's copy rots where nobody looks: the bitmaps know nothing.
  disk_b.bytes()[3u << 20] ^= 0xFF;
  ASSERT_FALSE(disks_equal());
  net.reset_stats();
  ok(a->invalidate_remote());
  settle();
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  // Writes go on while the peer is resynced.
  ASSERT_TRUE(write_now(*a, 5u << 20, pattern(5u << 20, 4096, 4)).ok());
  advance(seconds(2));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().role, Role::kPrimary);
  // Every block but the one the write above put there (as good as resynced).
  EXPECT_EQ(resync_data_bytes(0), data_size() - 4096);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
}

TEST_F(InvalidateRemoteTest, RefusedWithoutTheLinkFromABadDiskOrToAPrimary) {
  bring_up_synced();
  CommandResult r = b->invalidate_remote();  // b is UpToDate, but a is Primary
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("the peer is Primary"), std::string::npos) << r.error();
  ok(a->invalidate_remote());  // a to b is fine
  settle();
  r = b->invalidate_remote();  // b is Inconsistent now
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("only UpToDate data"), std::string::npos) << r.error();
  advance(seconds(2));
  ok(a->disconnect());
  r = a->invalidate_remote();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("needs an Established link"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace vrrpd::replication::testing
