// Resource: disk errors (on-io-error). passthrough returns the error and
// marks the block out of sync; detach gives the disk up, and a Primary with
// an UpToDate peer goes on serving reads and writes through the peer, while
// one without fails with EIO.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <optional>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

class IoErrorTest : public ResourcePairTest {
 protected:
  void make_with_policy(IoErrorPolicy p, wire::ReplicationProtocol protocol = wire::ReplicationProtocol::kC) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.on_io_error = ob.on_io_error = p;
    oa.protocol = ob.protocol = protocol;
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

// "A retry clears it": the write that failed on our disk is made again,
// reaches both disks, and its block is in sync without a reconnect.
TEST_F(IoErrorTest, PassthroughRetriedWriteClearsTheBlockOnARunningLink) {
  make_with_policy(IoErrorPolicy::kPassthrough);
  bring_up_synced();
  disk_a.fail_writes(40960, 4096);
  const std::vector<uint8_t> data = pattern(40960, 8192, 3);
  EXPECT_EQ(write_now(*a, 40960, data).errno_value(), EIO);
  advance(seconds(1));  // the epoch's BarrierAck
  EXPECT_EQ(a->status().out_of_sync_bytes, 8192u) << "the peer has the write our disk refused";
  disk_a.clear_faults();
  // Part of one block is not enough: its other bytes may still differ.
  ASSERT_TRUE(write_now(*a, 40960 + 512, pattern(40960 + 512, 1024, 4)).ok());
  advance(seconds(1));
  EXPECT_EQ(a->status().out_of_sync_bytes, 8192u);
  ASSERT_TRUE(write_now(*a, 40960, data).ok());
  advance(seconds(1));
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(a->status().io_errors, 1u) << "the counter keeps the history";
}

// A Primary resyncing its peer (SyncSource) whose own write fails on a
// block the peer has fetched already: the peer holds the write, this disk
// does not. The end of the resync clears what the peer fetched, not this
// record: it waits for the next connect, which settles the block.
TEST_F(IoErrorTest, PassthroughWriteFailingOnTheSyncSourceStaysRecordedPastTheResync) {
  make_with_policy(IoErrorPolicy::kPassthrough);
  bring_up_synced();
  ResourceOptions ob = options_for(1);
  ob.resync_rate = 2u << 20;  // the target paces: 8 MiB take ~4 s
  ok(b->adjust(ob));
  write_while_the_link_is_down(8u << 20, 1);
  advance(std::chrono::milliseconds(1500));  // the first MiB is resynced
  ASSERT_EQ(a->status().replication, ReplicationState::kSyncSource);
  disk_a.fail_writes(4096, 4096);
  EXPECT_EQ(write_now(*a, 4096, pattern(4096, 4096, 5)).errno_value(), EIO);
  disk_a.clear_faults();
  advance(seconds(10));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u) << "the record outlives the resync";
  net.cut();
  advance(seconds(3));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
}

// A write that reached both disks does not clear a block that a later,
// overlapping write failed on here: the peer has the later one.
TEST_F(IoErrorTest, PassthroughWriteDoesNotClearABlockALaterOverlappingWriteFailed) {
  make_with_policy(IoErrorPolicy::kPassthrough);
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 40960, pattern(40960, 4096, 1)).ok());  // retires at the epoch's end
  disk_a.fail_writes(40960, 4096);
  EXPECT_EQ(write_now(*a, 40960, pattern(40960, 4096, 2)).errno_value(), EIO);
  disk_a.clear_faults();
  advance(seconds(1));
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u);
  EXPECT_EQ(read_back(disk_b, 40960, 4096), pattern(40960, 4096, 2));
}

// A write made before a flush failed here may never reach our disk (Linux
// marks failed writeback's pages clean): its blocks stay recorded even
// though both writes "succeeded". One made after the failure clears.
TEST_F(IoErrorTest, WriteBeforeAFailedFlushDoesNotClearItsBlocks) {
  make_with_policy(IoErrorPolicy::kPassthrough);
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 40960, pattern(40960, 4096, 1)).ok());
  disk_a.fail_flush(EIO, /*once=*/true);
  auto flushed = std::make_shared<std::optional<IoStatus>>();
  a->submit_flush([flushed](IoStatus s) { *flushed = s; });
  advance(seconds(1));
  ASSERT_TRUE(flushed->has_value());
  EXPECT_EQ(flushed->value().errno_value(), EIO);
  const uint64_t marked = a->status().out_of_sync_bytes;
  EXPECT_GE(marked, 4096u) << "the failed flush marks the write's extent";
  ASSERT_TRUE(write_now(*a, 40960, pattern(40960, 4096, 1)).ok());  // written again, after
  advance(seconds(1));
  EXPECT_EQ(a->status().out_of_sync_bytes, marked - 4096);
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

// Protocol A answers a write once it is sent, because our own disk has it.
// Diskless, the peer's disk is the only copy: a write is answered when the
// peer wrote and flushed it (its BarrierAck), and a flush waits for the
// peer's, so a link that drops loses nothing acknowledged.
TEST_F(IoErrorTest, DetachedPrimaryUnderProtocolAAnswersOnlyWhatThePeerStored) {
  make_with_policy(IoErrorPolicy::kDetach, wire::ReplicationProtocol::kA);
  bring_up_synced();
  disk_a.fail_writes(0, kTestDiskBytes);
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());  // now Diskless
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  EXPECT_EQ(read_back(disk_b, 0, 4096), pattern(0, 4096, 1));
  net.set_latency(std::chrono::milliseconds(1));

  auto flushed = std::make_shared<std::optional<IoStatus>>();
  a->submit_flush([flushed](IoStatus st) { *flushed = st; });
  settle();
  EXPECT_FALSE(flushed->has_value()) << "a Diskless flush waits for the peer's";
  advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(flushed->has_value());
  EXPECT_TRUE(flushed->value().ok());

  auto written = submit(*a, 4096, pattern(4096, 4096, 2));
  settle();
  EXPECT_FALSE(written->has_value()) << "sent is not stored";
  net.cut();
  advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(written->has_value());
  EXPECT_EQ(written->value().errno_value(), EIO) << "the link dropped before the peer stored it";
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

// The pair simulation, protocol C seed 16786: a Barrier's flush was queued
// on the Secondary, the next epoch's Data failed to write and the disk was
// given up (detach), and then the flush failed too. Its late answer took
// the Diskless node for one with a disk: "Inconsistent" without a disk or
// bitmap, and its next handshake sent a bitmap that was not there (SIGSEGV).
TEST_F(IoErrorTest, AFlushFailingAfterTheSecondaryGaveUpItsDiskLeavesItDiskless) {
  make_with_policy(IoErrorPolicy::kDetach);
  bring_up_synced();
  net.set_latency(std::chrono::milliseconds(2));
  auto first = submit(*a, 4096, pattern(4096, 4096, 2));
  std::optional<IoStatus> flushed;
  a->submit_flush([&flushed](IoStatus st) { flushed = st; });  // a Barrier now
  auto second = submit(*a, 8192, pattern(8192, 4096, 3));       // right behind it
  disk_b.fail_writes(8192, 4096);
  disk_b.fail_flush(EIO, /*once=*/true);
  advance(std::chrono::milliseconds(50));
  ResourceStatus s = b->status();
  EXPECT_EQ(s.disk, DiskState::kDiskless) << s.last_error;
  EXPECT_EQ(s.connection, ConnectionState::kStandAlone);
  disk_b.clear_faults();
  ok(b->attach());
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  s = b->status();
  EXPECT_EQ((std::pair{s.connection, s.replication}),
            (std::pair{ConnectionState::kConnected, ReplicationState::kEstablished}))
      << s.last_error;
  EXPECT_EQ(s.disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

// A metadata write that fails (here the superblock's, at a promotion):
// under detach the disk is given up, as DRBD detaches a disk whose
// metadata it cannot write; under passthrough it stays, and the write is
// made again at the next chance.
class MetadataErrorTest : public IoErrorTest, public ::testing::WithParamInterface<IoErrorPolicy> {};

TEST_P(MetadataErrorTest, AFailedSuperblockWriteDetachesOnlyUnderDetach) {
  make_with_policy(GetParam());
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 2)).ok());
  ok(a->secondary());
  settle();
  disk_b.fail_writes(data_size(), kTestDiskBytes - data_size());  // b's metadata area
  CommandResult promoted = b->primary();
  ASSERT_FALSE(promoted.ok());
  EXPECT_NE(promoted.error().find("writing the superblock"), std::string::npos) << promoted.error();
  settle();
  ResourceStatus s = b->status();
  EXPECT_EQ(s.role, Role::kSecondary);
  if (GetParam() == IoErrorPolicy::kDetach) {
    EXPECT_EQ(s.disk, DiskState::kDiskless);
    EXPECT_NE(s.last_error.find("on-io-error detach"), std::string::npos) << s.last_error;
  } else {
    EXPECT_EQ(s.disk, DiskState::kUpToDate);
    EXPECT_EQ(s.connection, ConnectionState::kConnected);
    disk_b.clear_faults();
    ok(b->primary());  // written this time
    ASSERT_TRUE(write_now(*b, 8192, pattern(8192, 4096, 3)).ok());
    EXPECT_TRUE(disks_equal());
  }
  // Either way the other node takes over with the data.
  if (GetParam() == IoErrorPolicy::kDetach) {
    ok(a->primary());
    std::vector<uint8_t> out(4096);
    ASSERT_TRUE(read_now(*a, 4096, out).ok());
    EXPECT_EQ(out, pattern(4096, 4096, 2));
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, MetadataErrorTest,
                         ::testing::Values(IoErrorPolicy::kDetach, IoErrorPolicy::kPassthrough),
                         [](const ::testing::TestParamInfo<IoErrorPolicy>& p) {
                           return p.param == IoErrorPolicy::kDetach ? "Detach" : "Passthrough";
                         });

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
