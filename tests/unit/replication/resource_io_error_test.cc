// Resource: disk errors (on-io-error). passthrough returns the error and
// marks the block out of sync; detach gives the disk up, and a Primary with
// an UpToDate peer goes on serving reads and writes through the peer, while
// one without fails with EIO.
#include <gtest/gtest.h>

#include <cerrno>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

class IoErrorTest : public ResourcePairTest {
 protected:
  void make_with_policy(IoErrorPolicy p) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.on_io_error = ob.on_io_error = p;
    make(oa, ob);
  }
};

TEST_F(IoErrorTest, PassthroughReadErrorReachesTheCaller) {
  make_with_policy(IoErrorPolicy::kPassthrough);
  bring_up_synced();
  disk_a.fail_reads(8192, 4096);
  std::vector<uint8_t> out(4096);
  EXPECT_EQ(read_now(*a, 8192, out).errno_value(), EIO);
  EXPECT_EQ(a->status().io_errors, 1u);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << "passthrough keeps the disk";
}

TEST_F(IoErrorTest, DetachedPrimaryServesWritesAndReadsThroughThePeer) {
  make_with_policy(IoErrorPolicy::kDetach);
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 1 << 20, pattern(1 << 20, 8192, 1)).ok());
  disk_a.fail_writes(0, kTestDiskBytes);  // the disk dies
  disk_a.fail_reads(0, kTestDiskBytes);
  disk_a.clear_write_log();
  // The write that hits the error still succeeds: the peer has it.
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 2)).ok());
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kDiskless);
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.io_errors, 1u);
  EXPECT_NE(s.last_error.find("on-io-error detach"), std::string::npos) << s.last_error;
  EXPECT_EQ(b->status().peer_disk, DiskState::kDiskless);
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 2));
  // More writes, unaligned reads: all through the peer.
  ASSERT_TRUE(write_now(*a, 2 << 20, pattern(2 << 20, 4096, 3)).ok());
  std::vector<uint8_t> out(5000);
  ASSERT_TRUE(read_now(*a, (1 << 20) + 100, out).ok());
  const std::vector<uint8_t> written = pattern(1 << 20, 8192, 1);
  EXPECT_EQ(out, std::vector<uint8_t>(written.begin() + 100, written.begin() + 5100));
  EXPECT_TRUE(disk_a.writes().empty()) << "no more I/O to the failed disk";
  EXPECT_EQ(a->status().io_errors, 1u);
  // The failed disk cannot be attached again (its metadata is unreadable);
  // the Primary goes on serving through the peer.
  CommandResult r = a->attach();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("attach failed"), std::string::npos) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  ASSERT_TRUE(write_now(*a, 2 << 20, pattern(2 << 20, 4096, 4)).ok());
  EXPECT_EQ(read_back(disk_b, 2 << 20, 4096), pattern(2 << 20, 4096, 4));
}

TEST_F(IoErrorTest, DetachedPrimaryWithoutPeerFailsRequests) {
  make_with_policy(IoErrorPolicy::kDetach);
  bring_up_synced();
  net.set_link_up(false);
  settle();
  disk_a.fail_writes(0, kTestDiskBytes);
  EXPECT_EQ(write_now(*a, 4096, pattern(4096, 4096, 2)).errno_value(), EIO);
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  std::vector<uint8_t> out(4096);
  EXPECT_EQ(read_now(*a, 0, out).errno_value(), EIO);
}

TEST_F(IoErrorTest, DetachedPrimaryLosingThePeerFailsTheWaitingWrite) {
  make_with_policy(IoErrorPolicy::kDetach);
  bring_up_synced();
  disk_a.fail_writes(0, kTestDiskBytes);
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());  // now Diskless
  net.set_latency(std::chrono::milliseconds(1));
  auto done = submit(*a, 4096, pattern(4096, 4096, 2));
  net.cut();
  advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(done->value().errno_value(), EIO) << "the peer's copy was the only one";
}

TEST_F(IoErrorTest, DetachedSecondaryLeavesThePrimaryWritingToItsBitmap) {
  make_with_policy(IoErrorPolicy::kDetach);
  bring_up_synced();
  disk_b.fail_writes(0, kTestDiskBytes);
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 2)).ok());
  settle();
  EXPECT_EQ(b->status().disk, DiskState::kDiskless);
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(a->status().connection, ConnectionState::kConnecting);
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u) << "the block the peer failed to write";
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 3)).ok());
  EXPECT_EQ(a->status().out_of_sync_bytes, 2 * 4096u);
}

TEST_F(IoErrorTest, ResyncTargetWithABadBlockStaysInconsistentAndRetries) {
  make_with_policy(IoErrorPolicy::kPassthrough);
  bring_up_synced();
  net.set_link_up(false);
  settle();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 8192, 1)).ok());
  disk_b.fail_writes(4096, 4096);  // b cannot write the second block
  net.set_reconnect_delay(seconds(2));
  const int connections = net.connections();
  net.set_link_up(true);
  advance(seconds(3));
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  // Both blocks came in one ResyncReply, whose write failed.
  EXPECT_NE(b->status().last_error.find("resync incomplete: 8192 bytes still out of sync"), std::string::npos)
      << b->status().last_error;
  EXPECT_EQ(net.connections(), connections + 1) << "no retry before the connector's interval";
  EXPECT_FALSE(b->primary().ok());
  disk_b.clear_faults();  // the sector was remapped
  advance(seconds(3));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
