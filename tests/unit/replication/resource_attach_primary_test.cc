// Resource: a disk attached under a Diskless Primary (drbdadm attach after
// on-io-error detach). The node stays Primary and resyncs the new disk in
// full from the UpToDate peer; meanwhile reads of blocks not yet here come
// from the peer, writes reach both disks, a write racing a resync reply is
// not lost, and losing the peer fails what only the peer could answer.
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

class AttachUnderPrimaryTest : public ResourcePairTest {
 protected:
  // A synced pair with detach on both, `a` Primary, 4 MiB written; then a's
  // disk dies and `a` serves through the peer (Diskless Primary).
  void bring_up_and_lose_a_disk(uint64_t resync_rate = uint64_t{1} << 30) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
    make(oa, ob);
    start_initial_sync();
    advance(seconds(1));
    ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
    oa.resync_rate = resync_rate;  // for the resync of the new disk (a drives it)
    ok(a->adjust(oa));
    for (uint64_t off = 0; off < (4u << 20); off += 1u << 20)
      ASSERT_TRUE(write_now(*a, off, pattern(off, 1u << 20, 1)).ok());
    disk_a.fail_writes(0, kTestDiskBytes);
    disk_a.fail_reads(0, kTestDiskBytes);
    ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 2)).ok());
    ASSERT_EQ(a->status().disk, DiskState::kDiskless);
    ASSERT_EQ(a->status().role, Role::kPrimary);
  }
  // The operator's replacement: a new (zeroed) disk with fresh metadata.
  void replace_and_attach() {
    ok(a->replace_storage(new_disk, nullptr));
    ok(a->create_md());
    ok(a->attach());
  }
  // The replicated bytes of the new disk and the peer's are identical.
  bool new_disk_equals_peer() { return data_of(new_disk) == data_of(disk_b); }

  FakeStorage new_disk{kTestDiskBytes};
};

TEST_F(AttachUnderPrimaryTest, ResyncsTheNewDiskInFullWhileStayingPrimary) {
  bring_up_and_lose_a_disk();
  const uint64_t before = a->generations().current;
  replace_and_attach();
  ResourceStatus s = a->status();
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kInconsistent);
  EXPECT_EQ(s.replication, ReplicationState::kSyncTarget);
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << "the link is not dropped";
  settle();
  EXPECT_EQ(b->status().replication, ReplicationState::kSyncSource);
  EXPECT_EQ(b->status().peer_disk, DiskState::kInconsistent);
  EXPECT_EQ(b->status().resync_total_bytes, data_size()) << "a full resync, shown on the source too";
  advance(seconds(1));
  s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.out_of_sync_bytes, 0u);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().peer_disk, DiskState::kUpToDate);
  EXPECT_TRUE(new_disk_equals_peer());
  EXPECT_EQ(read_back(new_disk, 8192, 4096), pattern(8192, 4096, 2)) << "the write made while Diskless";
  EXPECT_EQ(a->generations().current, before) << "the pair's generation is kept, not the new disk's";
  // A Primary again in every respect: new writes land on both disks.
  ASSERT_TRUE(write_now(*a, 12288, pattern(12288, 4096, 3)).ok());
  EXPECT_EQ(read_back(new_disk, 12288, 4096), pattern(12288, 4096, 3));
  EXPECT_TRUE(new_disk_equals_peer());
}

TEST_F(AttachUnderPrimaryTest, ReadsOfBlocksNotYetResyncedComeFromThePeer) {
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);  // 1 MiB/s: 16 s for the disk
  replace_and_attach();
  advance(milliseconds(500));  // about the first half MiB is here
  ASSERT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  EXPECT_GT(a->status().out_of_sync_bytes, 8u << 20);
  disk_b.clear_write_log();
  std::vector<uint8_t> out(1u << 20);
  ASSERT_TRUE(read_now(*a, 3u << 20, out).ok());
  EXPECT_EQ(out, pattern(3u << 20, 1u << 20, 1)) << "not the zeroes of the new disk";
  // Unaligned, across the part already resynced and the part not.
  std::vector<uint8_t> small(5000);
  ASSERT_TRUE(read_now(*a, 6000, small).ok());
  std::vector<uint8_t> expect(5000);
  for (size_t i = 0; i < expect.size(); ++i) expect[i] = disk_b.bytes()[6000 + i];
  EXPECT_EQ(small, expect);
  // A write while resyncing lands on both disks and reads back as written.
  ASSERT_TRUE(write_now(*a, 2u << 20, pattern(2u << 20, 65536, 4)).ok());
  EXPECT_EQ(read_back(disk_b, 2u << 20, 65536), pattern(2u << 20, 65536, 4));
  EXPECT_EQ(read_back(new_disk, 2u << 20, 65536), pattern(2u << 20, 65536, 4));
  std::vector<uint8_t> back(65536);
  ASSERT_TRUE(read_now(*a, 2u << 20, back).ok());
  EXPECT_EQ(back, pattern(2u << 20, 65536, 4));
  advance(seconds(20));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_TRUE(new_disk_equals_peer());
}

TEST_F(AttachUnderPrimaryTest, AWriteRacingAResyncReplyIsNotOverwrittenByIt) {
  bring_up_and_lose_a_disk();
  net.set_latency(milliseconds(2));
  replace_and_attach();
  // The first requests are on their way; the peer reads its disk when they
  // arrive, before the Data of this write does.
  advance(milliseconds(1));
  auto done = submit(*a, 4096, pattern(4096, 4096, 9));
  const uint64_t requests_before = net.sent(0, wire::FrameType::kResyncRequest).frames;
  advance(seconds(2));
  ASSERT_TRUE(done->has_value());
  EXPECT_TRUE(done->value().ok());
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(read_back(new_disk, 4096, 4096), pattern(4096, 4096, 9)) << "the stale reply was applied over the write";
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 9));
  EXPECT_TRUE(new_disk_equals_peer());
  EXPECT_GT(net.sent(0, wire::FrameType::kResyncRequest).frames, requests_before)
      << "the overwritten range was asked for again";
}

TEST_F(AttachUnderPrimaryTest, ChecksumResyncAlsoAsksAgainAfterAWrite) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  oa.checksum_resync = ob.checksum_resync = true;
  make(oa, ob);
  start_initial_sync();
  advance(seconds(2));
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
  disk_a.fail_writes(0, kTestDiskBytes);
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 2)).ok());
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  // The old disk comes back (a cable, not a dead disk): its blocks mostly
  // match, so the checksum resync skips them.
  disk_a.clear_faults();
  net.set_latency(milliseconds(2));
  ok(a->create_md());
  ok(a->attach());
  advance(milliseconds(1));
  auto done = submit(*a, 0, pattern(0, 4096, 7));
  advance(seconds(2));
  ASSERT_TRUE(done->has_value() && done->value().ok());
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(read_back(disk_a, 0, 4096), pattern(0, 4096, 7));
  EXPECT_EQ(read_back(disk_a, 8192, 4096), pattern(8192, 4096, 2));
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, LosingThePeerMidResyncFailsWhatOnlyThePeerHasThenResumes) {
  bring_up_and_lose_a_disk(/*resync_rate=*/4u << 20);
  replace_and_attach();
  advance(milliseconds(500));  // ~2 MiB here, the rest not
  ASSERT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  net.set_link_up(false);
  settle();
  ResourceStatus s = a->status();
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kInconsistent);
  std::vector<uint8_t> out(4096);
  EXPECT_EQ(read_now(*a, 12u << 20, out).errno_value(), EIO) << "only the peer has it";
  EXPECT_TRUE(read_now(*a, 0, out).ok()) << "resynced already: served here";
  EXPECT_EQ(out, pattern(0, 4096, 1));
  EXPECT_EQ(write_now(*a, 65536, pattern(65536, 4096, 5)).errno_value(), EIO)
      << "a write the next resync would overwrite is not acknowledged";
  // The link returns: the handshake lets this Inconsistent Primary be the
  // SyncTarget again, and it finishes.
  net.set_link_up(true);
  advance(milliseconds(100));
  s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kSyncTarget);
  EXPECT_LT(s.out_of_sync_bytes, 15u << 20) << "what had landed is not fetched again";
  advance(seconds(5));
  s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_TRUE(new_disk_equals_peer());
  ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 6)).ok());
  EXPECT_TRUE(new_disk_equals_peer());
  // Finished by a handshake, the Primary took the source's generation: one
  // more flap finds the same data.
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
  net.cut();
  advance(seconds(1));
  s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_FALSE(s.split_brain) << s.split_brain_text;
}

TEST_F(AttachUnderPrimaryTest, APartialSectorWriteOnABlockNotYetHereIsRefused) {
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);
  replace_and_attach();
  advance(milliseconds(100));
  EXPECT_EQ(write_now(*a, (8u << 20) + 100, pattern(0, 200, 3)).errno_value(), EIO);
  EXPECT_TRUE(contains(a->status().last_error, "whole sectors")) << a->status().last_error;
  // Whole sectors are fine anywhere.
  EXPECT_TRUE(write_now(*a, 8u << 20, pattern(8u << 20, 512, 3)).ok());
}

TEST_F(AttachUnderPrimaryTest, ADemotedDisklessNodeAttachesWithANewHandshake) {
  // The usual course with VRRP: the Diskless Primary is demoted (its
  // instance went FAULT) while the peer takes over; then the disk comes back.
  bring_up_and_lose_a_disk();
  ok(a->secondary());
  settle();
  ok(b->primary());
  settle();
  ASSERT_TRUE(write_now(*b, 1u << 20, pattern(1u << 20, 65536, 5)).ok());  // a's disk lacks it
  disk_a.clear_faults();
  ok(a->attach());  // the same disk: its metadata and bitmap
  advance(seconds(1));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().peer_disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal()) << "the writes a missed while Diskless were resynced";
}

TEST_F(AttachUnderPrimaryTest, TheSameDiskBackAfterDemotionGetsWhatTheDisklessPrimaryWrote) {
  // The disk's own activity log covers the writes in flight when it failed;
  // what the Diskless Primary wrote afterwards (here an extent it had not
  // touched before) only the peer can record: it starts a new generation
  // and marks those writes in its bitmap (durably, before writing them).
  bring_up_and_lose_a_disk();
  settle();
  EXPECT_EQ(uuid_value(b->generations().bitmap), uuid_value(a->generations().current))
      << "the peer started a new generation; the Primary's is its bitmap generation";
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());
  EXPECT_EQ(b->status().out_of_sync_bytes, 65536u) << "and recorded the write the Diskless Primary made";
  ok(a->secondary());
  settle();
  disk_a.clear_faults();
  ok(a->attach());  // the same disk, as it was when it failed
  advance(seconds(1));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_FALSE(s.split_brain);
  EXPECT_EQ(read_back(disk_a, 12u << 20, 65536), pattern(12u << 20, 65536, 6));
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, AfterTheInBandResyncBothSidesShareOneGeneration) {
  bring_up_and_lose_a_disk();
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());  // the peer's generation moves
  replace_and_attach();
  advance(seconds(1));
  ASSERT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
  // A flap afterwards: the handshake finds the same data, not a split brain
  // and not a Primary that would have to become SyncTarget.
  net.cut();
  advance(seconds(1));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_FALSE(s.split_brain) << s.split_brain_text;
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kUpToDate);
  EXPECT_EQ(s.out_of_sync_bytes, 0u);
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 7)).ok());
  EXPECT_TRUE(new_disk_equals_peer());
}

TEST_F(AttachUnderPrimaryTest, APlannedDetachOfThePrimaryKeepsServingAndAttachBringsTheDiskBack) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
  ok(a->detach());  // drbdadm detach on the Primary: a disk swap without a failover
  ResourceStatus s = a->status();
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kDiskless);
  EXPECT_EQ(s.connection, ConnectionState::kConnected);
  disk_a.clear_write_log();
  ASSERT_TRUE(write_now(*a, 8u << 20, pattern(8u << 20, 65536, 2)).ok());
  EXPECT_TRUE(disk_a.writes().empty()) << "nothing goes to the detached disk";
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(read_now(*a, 0, out).ok());
  EXPECT_EQ(out, pattern(0, 4096, 1));
  ok(a->attach());  // the same disk, under the Primary
  EXPECT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  advance(seconds(1));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, APrimaryWithoutAnUpToDatePeerRefusesDetach) {
  bring_up_synced();
  net.set_link_up(false);
  settle();
  CommandResult r = a->detach();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "detach refused: Primary without an UpToDate peer")) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
}

TEST_F(AttachUnderPrimaryTest, TheNewDiskMustDescribeTheSameSize) {
  bring_up_and_lose_a_disk();
  FakeStorage small_disk{kTestDiskBytes / 2};
  ok(a->replace_storage(small_disk, nullptr));
  ok(a->create_md());
  CommandResult r = a->attach();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the volume has")) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  // Still serving through the peer.
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 4)).ok());
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 4));
  CommandResult attached = a->replace_storage(disk_a, nullptr);
  EXPECT_TRUE(attached.ok());
}

TEST_F(AttachUnderPrimaryTest, ReplacingTheStorageIsRefusedWhileAttached) {
  bring_up_synced();
  CommandResult r = a->replace_storage(new_disk, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "attached")) << r.error();
}

TEST_F(AttachUnderPrimaryTest, TheNewDiskFailingDuringItsResyncGoesBackToServingThroughThePeer) {
  bring_up_and_lose_a_disk(/*resync_rate=*/2u << 20);
  replace_and_attach();
  advance(milliseconds(300));
  ASSERT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  new_disk.fail_writes(0, kTestDiskBytes);
  advance(milliseconds(300));  // the next resync reply fails to land
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kDiskless);
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  settle();
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 8)).ok());
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(read_now(*a, 4096, out).ok());
  EXPECT_EQ(out, pattern(4096, 4096, 8));
}

}  // namespace
}  // namespace vrrpd::replication::testing
