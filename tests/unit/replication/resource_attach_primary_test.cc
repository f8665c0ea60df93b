// Resource: a disk attached under a Diskless Primary (drbdadm attach after
// on-io-error detach). The node stays Primary and resyncs the new disk in
// full from the UpToDate peer; meanwhile reads of blocks not yet here come
// from the peer, writes reach both disks, a write racing a resync reply is
// not lost, and losing the peer fails what only the peer could answer.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

#include "replication/grow.h"
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
  void bring_up_and_lose_a_disk(uint64_t resync_rate = uint64_t{1} << 30,
                                wire::ReplicationProtocol protocol = wire::ReplicationProtocol::kC,
                                uint16_t b_max_protocol_version = wire::kMaxProtocolVersion) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
    oa.protocol = ob.protocol = protocol;
    ob.max_protocol_version = b_max_protocol_version;
    synced_pair(oa, ob);
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
  // make(), then the initial sync from `a` (Primary) to its end.
  void synced_pair(const ResourceOptions& oa, const ResourceOptions& ob) {
    make(oa, ob);
    start_initial_sync();
    advance(seconds(1));
    ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  }
  // A synced pair under on-io-error detach whose link then went down: `a`
  // is Primary alone, its disk the only copy of what it writes now.
  void primary_alone_under_detach() {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
    synced_pair(oa, ob);
    net.set_link_up(false);
    advance(seconds(1));
  }
  // A synced pair under `protocol` with 5 ms of latency, and a write of
  // block 1 that `a` answered (after `wait`: A once sent, B once
  // received) before the peer's BarrierAck.
  void pair_with_an_answered_write(wire::ReplicationProtocol protocol, milliseconds wait) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.protocol = ob.protocol = protocol;
    synced_pair(oa, ob);
    net.set_latency(milliseconds(5));
    auto w = submit(*a, 4096, pattern(4096, 4096, 3));
    advance(wait);
    ASSERT_TRUE(w->has_value() && w->value().ok()) << "answered before the peer confirmed it";
  }
  // The operator's replacement: a new (zeroed) disk with fresh metadata.
  void replace_and_attach() {
    ok(a->replace_storage(new_disk, nullptr));
    ok(a->create_md());
    ok(a->attach());
  }
  // The replicated bytes of the new disk and the peer's are identical.
  bool new_disk_equals_peer() { return data_of(new_disk) == data_of(disk_b); }
  // Counts the bytes of data b sends in ResyncReplies from now on.
  void count_resync_replies() {
    net.on_frame = [this](int from, const wire::Frame& f) {
      if (const auto* r = std::get_if<wire::ResyncReply>(&f.message); from == 1 && r != nullptr)
        resynced_bytes += r->data.size();
    };
  }
  uint64_t resynced_bytes = 0;
  // `a` is a Diskless Primary served through b again.
  void expect_a_served_diskless() {
    ResourceStatus s = a->status();
    EXPECT_EQ((std::pair{s.connection, s.replication}),
              (std::pair{ConnectionState::kConnected, ReplicationState::kEstablished}))
        << s.last_error;
    EXPECT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kDiskless}));
  }
  // After bring_up_and_lose_a_disk() and a reconnect: `a` reads what it
  // wrote while Diskless, and its writes land on b and are recorded there
  // for the disk given up; then that disk comes back and is resynced from
  // the records only, and both disks end equal.
  void serve_a_then_take_its_disk_back() {
    std::vector<uint8_t> out(4096);
    ASSERT_TRUE(read_now(*a, 8192, out).ok());
    EXPECT_EQ(out, pattern(8192, 4096, 2)) << "written while Diskless, before the link went";
    const uint64_t recorded = b->status().out_of_sync_bytes;
    ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 4)).ok());
    EXPECT_EQ(read_back(disk_b, 12u << 20, 65536), pattern(12u << 20, 65536, 4));
    EXPECT_EQ(b->status().out_of_sync_bytes, recorded + 65536) << "recorded for a's disk";
    disk_a.clear_faults();
    ok(a->attach());
    EXPECT_TRUE(a->took_back_given_up_disk());
    advance(seconds(1));
    EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
    EXPECT_TRUE(disks_equal());
  }
  // After bring_up_and_lose_a_disk(): b restarts (see restart_b()) and
  // connects; `a` is served again, b's disk is UpToDate and goes on under
  // the generation it started for a's writes, and a's disk comes back.
  void expect_served_again_after_b_restarts(bool power_loss) {
    ASSERT_EQ(b->status().peer_disk, DiskState::kDiskless);
    const Generations served = b->generations();
    restart_b(power_loss);
    advance(seconds(1));
    EXPECT_EQ(write_now(*a, 4096, pattern(4096, 4096, 3)).errno_value(), EIO) << "no copy anywhere without the peer";
    ASSERT_EQ(b->status().disk, DiskState::kConsistent) << "restarted: it cannot know by itself";
    ok(b->connect(net.connector(1)));
    advance(seconds(2));
    expect_a_served_diskless();
    EXPECT_EQ(a->status().peer_disk, DiskState::kUpToDate);
    ResourceStatus s = b->status();
    EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
    EXPECT_EQ(s.peer_disk, DiskState::kDiskless);
    EXPECT_EQ(b->generations(), served) << "the generation started for a's writes goes on";
    serve_a_then_take_its_disk_back();
    // Its records are done with: nothing is left for a Diskless Primary.
    Result<Superblock> sb = read_metadata(disk_b, MetadataLayout::kInternal);
    ASSERT_TRUE(sb.ok()) << sb.error();
    EXPECT_EQ(sb->diskless_primary_generation, 0u);
  }
  // b's daemon killed (if still there), or b's power lost (what its disk
  // did not flush is gone), and b started again on its disk: attached, not
  // connected.
  void restart_b(bool power_loss = false, uint16_t max_protocol_version = wire::kMaxProtocolVersion) {
    b.reset();
    if (power_loss) disk_b.crash();
    ResourceOptions ob = options_for(1);
    ob.on_io_error = IoErrorPolicy::kDetach;
    ob.max_protocol_version = max_protocol_version;
    b = std::make_unique<Resource>(loop, ob, disk_b);
    ok(b->attach());
  }
  // After bring_up_and_lose_a_disk(): a new disk attached under `a`, its
  // resync a quarter done (4 MiB/s), a write landed on both disks; then b
  // restarts (see restart_b()) while `a` is Primary and Inconsistent, and
  // is Consistent, not connected.
  void cut_the_resync_by_restarting_b(bool power_loss, uint16_t b_max_protocol_version = wire::kMaxProtocolVersion) {
    bring_up_and_lose_a_disk(/*resync_rate=*/4u << 20);
    replace_and_attach();
    advance(milliseconds(500));
    ASSERT_EQ(a->status().replication, ReplicationState::kSyncTarget);
    ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 5)).ok());
    std::optional<IoStatus> flushed;  // (else a power loss of b may take it)
    a->submit_flush([&flushed](IoStatus st) { flushed = st; });
    advance(milliseconds(50));
    ASSERT_TRUE(flushed.has_value() && flushed->ok());
    restart_b(power_loss, b_max_protocol_version);
    advance(seconds(1));
    ResourceStatus s = a->status();
    ASSERT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kInconsistent}));
    std::vector<uint8_t> out(4096);
    EXPECT_EQ(read_now(*a, 12u << 20, out).errno_value(), EIO) << "only the peer has it";
    ASSERT_EQ(b->status().disk, DiskState::kConsistent) << "restarted: it cannot know by itself";
  }
  // The resync cut short by cut_the_resync_by_restarting_b() goes on from
  // the restarted b, which is UpToDate again, and ends with equal disks.
  void expect_the_resync_resumed() {
    ok(b->connect(net.connector(1)));
    advance(milliseconds(200));
    ResourceStatus s = a->status();
    EXPECT_EQ((std::pair{s.connection, s.replication}),
              (std::pair{ConnectionState::kConnected, ReplicationState::kSyncTarget}))
        << s.last_error;
    EXPECT_EQ(s.peer_disk, DiskState::kUpToDate);
    EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
    EXPECT_EQ(b->status().replication, ReplicationState::kSyncSource);
    advance(seconds(5));
    s = a->status();
    EXPECT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kUpToDate})) << s.last_error;
    EXPECT_TRUE(new_disk_equals_peer());
    std::vector<uint8_t> out(4096);
    ASSERT_TRUE(read_now(*a, 65536, out).ok());
    EXPECT_EQ(out, pattern(65536, 4096, 5)) << "written during the first resync";
    ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 4096, 6)).ok());
    EXPECT_TRUE(new_disk_equals_peer());
    EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
    // The Primary has its own copy again: b serves it no more.
    Result<Superblock> sb = read_metadata(disk_b, MetadataLayout::kInternal);
    ASSERT_TRUE(sb.ok()) << sb.error();
    EXPECT_EQ(sb->diskless_primary_generation, 0u);
  }

  // What the disk given up in bring_up_and_lose_a_disk() misses once the
  // Diskless Primary wrote 64 KiB at 12 MiB: its one hot extent (the 4 MiB
  // written before, and the write that failed) and that write.
  static constexpr uint64_t kMissedBytes = (4u << 20) + 65536;

  FakeStorage new_disk{kTestDiskBytes};
};

TEST_F(AttachUnderPrimaryTest, ResyncsTheNewDiskInFullWhileStayingPrimary) {
  bring_up_and_lose_a_disk();
  settle();
  // The generation the peer started for the Diskless time's writes.
  const uint64_t served = b->generations().current;
  ASSERT_NE(uuid_value(served), uuid_value(a->generations().current));
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
  EXPECT_EQ(a->generations().current, served | kUuidPrimaryBit)
      << "the pair's generation (the peer's, protocol 12), not the new disk's";
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

// Protocol A answers a write once it is sent, but not on a Primary whose
// own disk is still being resynced: the next resync would fetch an
// unreceived write's blocks back from the peer's older copy. Such a write
// is answered at its epoch's BarrierAck (the peer wrote and flushed it),
// so a link cut before that fails it, and one answered survives the cut
// and the resumed resync.
TEST_F(AttachUnderPrimaryTest, UnderProtocolAAWriteIsAnsweredOnlyOnceThePeerHoldsIt) {
  bring_up_and_lose_a_disk(/*resync_rate=*/4u << 20, wire::ReplicationProtocol::kA);
  replace_and_attach();
  advance(milliseconds(500));  // the first ~2 MiB are here, the rest not
  ASSERT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  net.set_latency(milliseconds(5));
  // One the peer confirms: answered, and it survives a cut.
  auto kept = submit(*a, 65536, pattern(65536, 4096, 5));
  advance(milliseconds(2));
  EXPECT_FALSE(kept->has_value()) << "sent is not enough: the resync would overwrite it";
  advance(milliseconds(50));
  ASSERT_TRUE(kept->has_value() && kept->value().ok());
  // Two the peer never receives: one on a block already resynced, one on a
  // block not yet here.
  net.set_stalled(true);
  auto lost_resynced = submit(*a, 131072, pattern(131072, 4096, 6));
  auto lost_missing = submit(*a, 12u << 20, pattern(12u << 20, 4096, 6));
  advance(milliseconds(100));
  EXPECT_FALSE(lost_resynced->has_value());
  EXPECT_FALSE(lost_missing->has_value());
  net.cut();
  net.set_stalled(false);
  net.set_link_up(false);
  advance(seconds(1));
  ASSERT_TRUE(lost_resynced->has_value() && lost_missing->has_value());
  EXPECT_EQ(lost_resynced->value().errno_value(), EIO);
  EXPECT_EQ(lost_missing->value().errno_value(), EIO);
  net.set_link_up(true);
  advance(seconds(8));
  ResourceStatus s = a->status();
  EXPECT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kUpToDate})) << s.last_error;
  EXPECT_TRUE(new_disk_equals_peer());
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(read_now(*a, 65536, out).ok());
  EXPECT_EQ(out, pattern(65536, 4096, 5)) << "answered: kept";
  ASSERT_TRUE(read_now(*a, 131072, out).ok());
  EXPECT_EQ(out, pattern(131072, 4096, 1)) << "failed, and the peer never had it";
}

// The peer serving that resync restarts (its daemon killed, a reboot): it
// comes up Consistent, and its superblock says it served this Primary
// since the Primary lost its disk, so it tells the Primary it is UpToDate
// before the bitmaps (protocol 11) and the resync goes on. Before, the
// Primary refused a Consistent source and stayed StandAlone, failing
// every read of a block not yet fetched, until demoted.
TEST_F(AttachUnderPrimaryTest, AnInconsistentPrimaryResumesItsResyncFromItsPeerRestartedSince) {
  cut_the_resync_by_restarting_b(/*power_loss=*/false);
  expect_the_resync_resumed();
}

TEST_F(AttachUnderPrimaryTest, AnInconsistentPrimaryResumesItsResyncFromItsPeerAfterAPowerLoss) {
  cut_the_resync_by_restarting_b(/*power_loss=*/true);
  expect_the_resync_resumed();
}

// The link drops before b hears that a lost its disk, so b records
// nothing; the disk is attached under a while the link is down, and b
// restarts. b holds a's current generation and no bitmap generation (a
// promotion of b would have started one): a's data, as for a Diskless
// Primary that b never heard of.
TEST_F(AttachUnderPrimaryTest, AnInconsistentPrimaryResumesFromARestartedPeerThatNeverHeardItLostItsDisk) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  synced_pair(oa, ob);
  oa.resync_rate = 4u << 20;
  ok(a->adjust(oa));
  ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 5)).ok());
  ASSERT_EQ(b->generations().bitmap, 0u);
  net.set_stalled(true);  // what a sends from now on stays on the wire
  disk_a.fail_writes(0, kTestDiskBytes);
  auto failed = submit(*a, 8192, pattern(8192, 4096, 2));
  advance(milliseconds(1));
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  net.set_link_up(false);  // and is lost
  advance(seconds(1));
  ASSERT_TRUE(failed->has_value());
  EXPECT_EQ(failed->value().errno_value(), EIO) << "no copy anywhere: the peer never got it";
  disk_a.clear_faults();
  replace_and_attach();
  restart_b();
  Result<Superblock> sb = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(sb.ok()) << sb.error();
  ASSERT_EQ(sb->diskless_primary_generation, 0u) << "b never heard that a lost its disk";
  ASSERT_EQ(b->status().disk, DiskState::kConsistent);
  net.set_stalled(false);
  net.set_link_up(true);
  expect_the_resync_resumed();
}

// Promoted while the link was down, b wrote: its generations still look
// like the Primary's data (the generation it started for that Primary's
// writes covers its own), only the record cleared at its promotion tells.
TEST_F(AttachUnderPrimaryTest, APeerThatWasPrimarySinceRefusesTheInconsistentPrimary) {
  bring_up_and_lose_a_disk(/*resync_rate=*/4u << 20);
  replace_and_attach();
  advance(milliseconds(500));
  net.set_link_up(false);
  advance(seconds(1));
  ok(b->primary());
  ASSERT_TRUE(write_now(*b, 12u << 20, pattern(12u << 20, 4096, 7)).ok());
  ok(b->secondary());
  restart_b();
  net.set_link_up(true);
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(contains(a->status().last_error, "demote it first")) << a->status().last_error;
  EXPECT_TRUE(contains(a->status().last_error, "did not take this node for the Primary it served"))
      << a->status().last_error;
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(read_back(disk_b, 12u << 20, 4096), pattern(12u << 20, 4096, 7)) << "nothing touched";
}

// A restarted peer of protocol 10 cannot tell the Primary: refused, as
// before, and nothing is touched.
TEST_F(AttachUnderPrimaryTest, WithARestartedPeerOfProtocol10TheInconsistentPrimaryIsRefused) {
  cut_the_resync_by_restarting_b(/*power_loss=*/false, /*b_max_protocol_version=*/10);
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(contains(a->status().last_error, "demote it first")) << a->status().last_error;
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(read_back(disk_b, 65536, 4096), pattern(65536, 4096, 5));
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

class InBandResyncGenerationsTest : public AttachUnderPrimaryTest, public ::testing::WithParamInterface<uint16_t> {};

TEST_P(InBandResyncGenerationsTest, AfterTheInBandResyncBothSidesShareOneGeneration) {
  // Protocol 12: the Primary takes the generation the peer started for its
  // Diskless time; below, the peer takes it back. Either way, one.
  bring_up_and_lose_a_disk(uint64_t{1} << 30, wire::ReplicationProtocol::kC, GetParam());
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());  // the peer's generation moves
  const Generations started = b->generations();
  replace_and_attach();
  advance(seconds(1));
  ASSERT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(GetParam() >= 12 ? started.current : started.bitmap));
  EXPECT_EQ(a->generations().current & kUuidPrimaryBit, kUuidPrimaryBit) << "taken as the Primary's";
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

INSTANTIATE_TEST_SUITE_P(PeerProtocol, InBandResyncGenerationsTest, ::testing::Values(uint16_t{12}, uint16_t{11}),
                         [](const ::testing::TestParamInfo<uint16_t>& p) {
                           return "Protocol" + std::to_string(p.param);
                         });

TEST_F(AttachUnderPrimaryTest, APeerThatMissesTheEndOfTheInBandResyncStillSharesTheGeneration) {
  // The pair simulation, seed 14016: the Primary's resync of its disk ended,
  // and the link dropped before the peer heard it. Below protocol 12 the
  // Primary kept its own generation and the peer one it started for the
  // Diskless time, over one common bitmap generation: once the Primary
  // started a new one (the link loss, a pull-ahead), both had changed data
  // since it, a split brain with no second Primary.
  bring_up_and_lose_a_disk();
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());
  net.drop_if = [](int from, const wire::Frame& f) {
    const auto* s = std::get_if<wire::StateChange>(&f.message);
    return from == 0 && s != nullptr && s->disk_state == DiskState::kUpToDate;
  };
  replace_and_attach();
  advance(seconds(1));
  ASSERT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncSource) << "it did not hear the end";
  net.set_link_up(false);
  advance(seconds(1));
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 7)).ok());  // under a generation of its own
  net.drop_if = nullptr;
  net.set_link_up(true);
  advance(seconds(2));
  for (Resource* r : {a.get(), b.get()}) {
    ResourceStatus s = r->status();
    EXPECT_FALSE(s.split_brain) << s.split_brain_text;
    EXPECT_EQ((std::pair{s.connection, s.replication}),
              (std::pair{ConnectionState::kConnected, ReplicationState::kEstablished}))
        << s.last_error;
    EXPECT_EQ(s.disk, DiskState::kUpToDate);
  }
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 7)) << "resynced from the Primary";
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

TEST_F(AttachUnderPrimaryTest, ANewDiskSmallerThanTheVolumeIsRefused) {
  bring_up_and_lose_a_disk();
  FakeStorage small_disk{kTestDiskBytes / 2};
  ok(a->replace_storage(small_disk, nullptr));
  ok(a->create_md());
  CommandResult r = a->attach();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the volume has")) << r.error();
  EXPECT_TRUE(contains(r.error(), "a disk of at least the volume's size is needed")) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  // Still serving through the peer.
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 4)).ok());
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 4));
  CommandResult attached = a->replace_storage(disk_a, nullptr);
  EXPECT_TRUE(attached.ok());
}

TEST_F(AttachUnderPrimaryTest, ANewDiskLargerThanTheVolumeTakesItsSize) {
  bring_up_and_lose_a_disk();
  const uint64_t volume = data_size();
  FakeStorage large_disk{2 * kTestDiskBytes};
  ok(a->replace_storage(large_disk, nullptr));
  ok(a->create_md());
  ok(a->attach());
  EXPECT_EQ(a->status().size_bytes, volume) << "the volume keeps its size";
  EXPECT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  advance(seconds(1));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(b->status().size_bytes, volume);
  EXPECT_EQ(data_of(large_disk), data_of(disk_b));
  // The new disk's metadata says so: the next start reads the volume's size.
  Result<Superblock> on_disk = read_metadata(large_disk, MetadataLayout::kInternal);
  ASSERT_TRUE(on_disk.ok()) << on_disk.error();
  EXPECT_EQ(on_disk->data_size, volume);
  a.reset();  // before large_disk, which it uses
}

TEST_F(AttachUnderPrimaryTest, ALargerDiskThatIsNotNewIsRefused) {
  bring_up_and_lose_a_disk();
  // A disk that held another volume (its generations are not fresh).
  FakeStorage used_disk{2 * kTestDiskBytes};
  Result<Superblock> sb = create_metadata(used_disk, CreateMetadataParams{});
  ASSERT_TRUE(sb.ok()) << sb.error();
  sb->generations.current = 0x5000;
  sb->flags.consistent = true;
  ASSERT_TRUE(write_superblock(used_disk, sb.value()).ok());
  ok(a->replace_storage(used_disk, nullptr));
  CommandResult r = a->attach();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "create-md on it first")) << r.error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  ok(a->replace_storage(disk_a, nullptr));
}

// The peer serving a Diskless Primary (passthrough) cannot write one range
// for a while: that write fails with EIO on the Primary, and only that
// write; the link stays (a Diskless Primary without it fails every request
// and is refused at every connect) and the peer's disk stays UpToDate: it
// lacks no write that was acknowledged. Once its disk works, the write
// retried lands. DRBD's pass_on on the Secondary, with its P_NEG_ACK.
TEST_F(AttachUnderPrimaryTest, AWriteThePeerCannotWriteFailsAloneUnderADisklessPrimary) {
  for (auto protocol : {wire::ReplicationProtocol::kC, wire::ReplicationProtocol::kB, wire::ReplicationProtocol::kA}) {
    SCOPED_TRACE(std::string("protocol ") + static_cast<char>(protocol));
    FakeStorage da{kTestDiskBytes}, db{kTestDiskBytes};
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.protocol = ob.protocol = protocol;
    oa.on_io_error = IoErrorPolicy::kDetach;  // b: passthrough
    a = std::make_unique<Resource>(loop, oa, da);
    b = std::make_unique<Resource>(loop, ob, db);
    start_initial_sync();
    advance(seconds(1));
    ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
    da.fail_writes(0, kTestDiskBytes);
    da.fail_reads(0, kTestDiskBytes);
    ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 2)).ok());
    ASSERT_EQ(a->status().disk, DiskState::kDiskless);
    db.fail_writes(65536, 4096);
    auto failed = submit(*a, 65536, pattern(65536, 4096, 3));
    advance(milliseconds(100));
    ASSERT_TRUE(failed->has_value());
    EXPECT_EQ(failed->value().errno_value(), EIO);
    EXPECT_EQ(a->status().connection, ConnectionState::kConnected) << a->status().last_error;
    EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
    EXPECT_EQ(b->status().io_errors, 1u);
    // Everything else goes on: writes, reads, a flush.
    ASSERT_TRUE(write_now(*a, 131072, pattern(131072, 4096, 4)).ok());
    std::vector<uint8_t> out(4096);
    ASSERT_TRUE(read_now(*a, 8192, out).ok());
    EXPECT_EQ(out, pattern(8192, 4096, 2));
    std::optional<IoStatus> flushed;
    a->submit_flush([&flushed](IoStatus st) { flushed = st; });
    advance(milliseconds(100));
    ASSERT_TRUE(flushed.has_value());
    EXPECT_TRUE(flushed->ok()) << flushed->message();
    // The disk works again: the write retried lands.
    db.clear_faults();
    ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 5)).ok());
    EXPECT_EQ(read_back(db, 65536, 4096), pattern(65536, 4096, 5));
    advance(seconds(1));
    EXPECT_EQ(a->status().connection, ConnectionState::kConnected);
    EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
    ok(a->disconnect());
    ok(b->disconnect());
    settle();
    a.reset();  // before da and db, which they use
    b.reset();
  }
}

// ---- a Diskless Primary reconnecting (protocol 10) ----

TEST_F(AttachUnderPrimaryTest, ADisklessPrimaryReconnectsAfterALinkCutAndIsServedAgain) {
  bring_up_and_lose_a_disk();
  net.set_link_up(false);
  advance(seconds(1));
  EXPECT_EQ(write_now(*a, 4096, pattern(4096, 4096, 3)).errno_value(), EIO) << "no copy anywhere without the peer";
  net.set_link_up(true);
  advance(seconds(2));
  expect_a_served_diskless();
  EXPECT_EQ(b->status().peer_disk, DiskState::kDiskless);
  serve_a_then_take_its_disk_back();
}

// The link drops before the peer hears that the Primary went Diskless: it
// has the same current generation and no bitmap generation (it was not
// Primary since: that would have started one), so it serves the Primary
// and starts the generation that records its writes then.
TEST_F(AttachUnderPrimaryTest, ADisklessPrimaryWhosePeerNeverHeardOfItIsServedAndRecorded) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  synced_pair(oa, ob);
  ASSERT_EQ(b->generations().bitmap, 0u);
  bool lost = false;
  net.drop_if = [&lost](int from, const wire::Frame& f) {
    if (from == 0 && std::holds_alternative<wire::StateChange>(f.message)) lost = true;
    return lost;
  };
  ok(a->detach());
  settle();
  ASSERT_TRUE(lost);
  ASSERT_EQ(b->status().peer_disk, DiskState::kUpToDate) << "b did not hear of it";
  net.drop_if = nullptr;
  net.cut();
  advance(seconds(2));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().peer_disk, DiskState::kDiskless);
  EXPECT_EQ(uuid_value(b->generations().bitmap), uuid_value(a->generations().current))
      << "b started a generation for the Diskless Primary's writes";
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 3)).ok());
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 3));
  EXPECT_EQ(b->status().out_of_sync_bytes, 4096u) << "recorded for a's disk";
}

TEST_F(AttachUnderPrimaryTest, ADisklessPrimaryIsRefusedByAPeerThatWasPrimarySince) {
  bring_up_and_lose_a_disk();
  net.set_link_up(false);
  advance(seconds(1));
  // The other node took over meanwhile (a failover), wrote, and stepped down.
  ok(b->primary());
  ASSERT_TRUE(write_now(*b, 0, pattern(0, 4096, 7)).ok());
  ok(b->secondary());
  net.set_link_up(true);
  advance(seconds(2));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(contains(b->status().last_error, "was Primary since")) << b->status().last_error;
  EXPECT_TRUE(contains(a->status().last_error, "demote the Diskless Primary")) << a->status().last_error;
  EXPECT_EQ(write_now(*a, 4096, pattern(4096, 4096, 3)).errno_value(), EIO);
  EXPECT_EQ(read_back(disk_b, 0, 4096), pattern(0, 4096, 7)) << "nothing touched";
}

// The node that serves the Diskless Primary restarts (its daemon killed,
// or a reboot): it comes up Consistent, and what it served is in its
// superblock, so the Diskless Primary, which has no copy of its own, is
// served again on the data it left, and the peer is UpToDate again.
TEST_F(AttachUnderPrimaryTest, ADisklessPrimaryIsServedAgainByItsPeerRestartedSince) {
  bring_up_and_lose_a_disk();
  settle();
  expect_served_again_after_b_restarts(/*power_loss=*/false);
}

// The same after a power loss of b: the record is durable (its superblock
// write is flushed), and so is what a flushed before.
TEST_F(AttachUnderPrimaryTest, ADisklessPrimaryIsServedAgainByItsPeerAfterAPowerLoss) {
  bring_up_and_lose_a_disk();
  std::optional<IoStatus> flushed;
  a->submit_flush([&flushed](IoStatus st) { flushed = st; });
  advance(milliseconds(100));
  ASSERT_TRUE(flushed.has_value() && flushed->ok()) << "the write made while Diskless is on b's disk for good";
  expect_served_again_after_b_restarts(/*power_loss=*/true);
}

// Protocol C answers a write once both disks have it, but a Diskless
// Primary has only the peer's, and the peer's "written" may still sit in
// its volatile cache: a power loss there would lose a write already
// answered, and the next flush, once the peer is back, would succeed
// without it. Such a write is answered at its epoch's BarrierAck (the peer
// wrote and flushed it), as under A and B; one whose BarrierAck never
// comes fails (the pair simulation, protocol C seed 28406).
TEST_F(AttachUnderPrimaryTest, UnderProtocolCADisklessPrimaryAnswersAWriteOnceThePeerFlushedIt) {
  bring_up_and_lose_a_disk();
  settle();
  net.set_latency(milliseconds(5));
  auto kept = submit(*a, 65536, pattern(65536, 4096, 5));
  advance(milliseconds(50));
  ASSERT_TRUE(kept->has_value() && kept->value().ok()) << "answered at the BarrierAck";
  // The peer writes the next one but never flushes it: its BarrierAck is lost.
  net.drop_if = [](int from, const wire::Frame& f) {
    return from == 1 && std::holds_alternative<wire::BarrierAck>(f.message);
  };
  auto lost = submit(*a, 131072, pattern(131072, 4096, 6));
  advance(milliseconds(50));
  EXPECT_EQ(read_back(disk_b, 131072, 4096), pattern(131072, 4096, 6)) << "written on b, in its cache";
  EXPECT_FALSE(lost->has_value()) << "written on the peer is not stored there";
  net.drop_if = nullptr;
  net.set_latency(milliseconds(0));
  restart_b(/*power_loss=*/true);
  advance(milliseconds(100));
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ(lost->value().errno_value(), EIO) << "the peer's power loss took the only copy";
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  expect_a_served_diskless();
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(read_now(*a, 65536, out).ok());
  EXPECT_EQ(out, pattern(65536, 4096, 5)) << "the write answered survived the power loss";
}

// Promoted while the link was down, it wrote and stepped down, then
// restarted: its generations still look like the Diskless Primary's (the
// generation it started for that Primary's writes covers its own too), so
// only the superblock, cleared before its first write as Primary, tells.
TEST_F(AttachUnderPrimaryTest, APeerThatWasPrimaryBeforeItRestartedRefusesTheDisklessPrimary) {
  bring_up_and_lose_a_disk();
  settle();
  net.set_link_up(false);
  advance(seconds(1));
  ok(b->primary());
  ASSERT_TRUE(write_now(*b, 0, pattern(0, 4096, 7)).ok());
  ok(b->secondary());
  const uint64_t data = uuid_value(a->generations().current);
  ASSERT_TRUE(data == uuid_value(b->generations().current) || data == uuid_value(b->generations().bitmap))
      << "the generations alone would let it in";
  restart_b();
  net.set_link_up(true);
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(contains(b->status().last_error, "was Primary since")) << b->status().last_error;
  EXPECT_TRUE(contains(a->status().last_error, "demote the Diskless Primary")) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kConsistent);
  EXPECT_EQ(write_now(*a, 4096, pattern(4096, 4096, 3)).errno_value(), EIO);
  EXPECT_EQ(read_back(disk_b, 0, 4096), pattern(0, 4096, 7)) << "nothing touched";
}

// Metadata that does not hold the Diskless Primary (a build before it
// was recorded wrote the superblock last): refused, as before.
TEST_F(AttachUnderPrimaryTest, ARestartedPeerWithoutTheRecordRefusesTheDisklessPrimary) {
  bring_up_and_lose_a_disk();
  settle();
  b.reset();
  Result<Superblock> sb = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(sb.ok()) << sb.error();
  ASSERT_NE(sb->diskless_primary_generation, 0u) << "recorded when a went Diskless";
  sb->diskless_primary_generation = 0;
  sb->flags.diskless_primary_new_generation = false;
  ASSERT_TRUE(write_superblock(disk_b, sb.value()).ok());
  restart_b();
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(contains(b->status().last_error, "did not record it")) << b->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kConsistent);
}

TEST_F(AttachUnderPrimaryTest, WithAPeerOfProtocol9ADisklessPrimaryStaysDisconnected) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = IoErrorPolicy::kDetach;
  ob.max_protocol_version = 9;
  synced_pair(oa, ob);
  disk_a.fail_writes(0, kTestDiskBytes);
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 2)).ok());
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  net.set_link_up(false);
  advance(seconds(1));
  net.set_link_up(true);
  advance(seconds(2));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(contains(a->status().last_error, "replication protocol 10 is needed")) << a->status().last_error;
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 2));
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

TEST_F(AttachUnderPrimaryTest, TheDiskGivenUpComesBackWithOnlyWhatItMissed) {
  // A transient fault (on-io-error detach), and the operator attaches the
  // same disk again: as DRBD, only its hot extents and what the peer
  // recorded while the Primary was Diskless are resynced, not the volume.
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);  // 1 MiB/s: one request before the answer
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());
  count_resync_replies();
  disk_a.clear_faults();
  ok(a->attach());
  ResourceStatus s = a->status();
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kInconsistent);
  EXPECT_EQ(s.replication, ReplicationState::kSyncTarget);
  EXPECT_EQ(s.out_of_sync_bytes, data_size()) << "every block, until the peer's bitmap is in";
  settle();
  EXPECT_EQ(b->status().replication, ReplicationState::kSyncSource);
  EXPECT_EQ(b->status().resync_total_bytes, kMissedBytes) << "its own records and ours, not the volume";
  EXPECT_LE(a->status().out_of_sync_bytes, kMissedBytes);
  EXPECT_EQ(a->status().resync_total_bytes, kMissedBytes);
  advance(seconds(10));
  s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(resynced_bytes, kMissedBytes);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(read_back(disk_a, 12u << 20, 65536), pattern(12u << 20, 65536, 6)) << "written while Diskless";
  EXPECT_EQ(read_back(disk_a, 8192, 4096), pattern(8192, 4096, 2)) << "the write that failed here";
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
  // And a Primary in every respect again.
  ASSERT_TRUE(write_now(*a, 8u << 20, pattern(8u << 20, 4096, 3)).ok());
  EXPECT_EQ(read_back(disk_a, 8u << 20, 4096), pattern(8u << 20, 4096, 3));
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, WritesWhileTheAnswerIsOnItsWayAreNotFetchedAgainNorLost) {
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());
  net.set_latency(milliseconds(5));
  disk_a.clear_faults();
  ok(a->attach());
  // Before the peer's bitmap is in: a write to a block the peer recorded,
  // and one to a block nobody recorded. Both reach both disks.
  auto w1 = submit(*a, (12u << 20) + 4096, pattern((12u << 20) + 4096, 4096, 8));
  auto w2 = submit(*a, 10u << 20, pattern(10u << 20, 4096, 8));
  advance(milliseconds(3));
  std::vector<uint8_t> out(4096);
  std::optional<IoStatus> read;
  a->submit_read(12u << 20, out, [&read](IoStatus st) { read = st; });
  advance(milliseconds(30));
  ASSERT_TRUE(read.has_value() && read->ok());
  EXPECT_EQ(out, pattern(12u << 20, 4096, 6)) << "read from the peer, not the stale local block";
  advance(seconds(10));
  ASSERT_TRUE(w1->has_value() && w1->value().ok());
  ASSERT_TRUE(w2->has_value() && w2->value().ok());
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(read_back(disk_a, (12u << 20) + 4096, 4096), pattern((12u << 20) + 4096, 4096, 8));
  EXPECT_EQ(read_back(disk_a, 10u << 20, 4096), pattern(10u << 20, 4096, 8));
}

TEST_F(AttachUnderPrimaryTest, ADiskWhoseMetadataMovedOnSinceIsResyncedInFull) {
  // An older copy of the same disk (its activity log and superblock from
  // before the last writes): nothing says what it lacks.
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  synced_pair(oa, ob);
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 65536, 1)).ok());
  const std::vector<uint8_t> older = disk_a.bytes();
  for (uint64_t off = 4u << 20; off < (12u << 20); off += 4u << 20)  // two more extents: new transactions
    ASSERT_TRUE(write_now(*a, off, pattern(off, 65536, 2)).ok());
  ok(a->detach());
  disk_a.bytes() = older;
  count_resync_replies();
  ok(a->attach());
  settle();
  EXPECT_EQ(b->status().resync_total_bytes, data_size()) << "a full resync";
  advance(seconds(2));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(resynced_bytes, data_size());
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, WithAPeerOfProtocol7TheDiskGivenUpIsResyncedInFull) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  ob.max_protocol_version = 7;  // knows no BitmapChunk on the running link
  synced_pair(oa, ob);
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 65536, 1)).ok());
  ok(a->detach());
  ASSERT_TRUE(write_now(*a, 8u << 20, pattern(8u << 20, 65536, 2)).ok());
  count_resync_replies();
  ok(a->attach());
  advance(seconds(2));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(resynced_bytes, data_size());
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, TheDiskGivenUpAttachedWhileTheLinkIsDownIsNarrowedByTheHandshake) {
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());
  net.set_link_up(false);
  advance(seconds(1));
  ASSERT_NE(a->status().connection, ConnectionState::kConnected);
  disk_a.clear_faults();
  ok(a->attach());
  std::vector<uint8_t> out(4096);
  EXPECT_FALSE(read_now(*a, 12u << 20, out).ok()) << "nothing local is known good before the peer's bitmap";
  count_resync_replies();
  net.set_link_up(true);
  advance(seconds(10));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(resynced_bytes, kMissedBytes);
  EXPECT_TRUE(disks_equal());
}

// Found by the pair simulation (protocol B seed 11394): the Primary's disk
// failed under detach while the link was down (an invalidate-remote had
// just dropped it to reconnect), so it was the only copy of the Primary's
// writes since. Attached again, it was taken for a disk that missed what
// the peer served and fetched back over from the stale peer: acknowledged
// writes lost. Now it comes back UpToDate and the handshake resyncs the
// peer from it.
TEST_F(AttachUnderPrimaryTest, TheDiskGivenUpWithNoPeerHoldingTheDataComesBackAsTheData) {
  primary_alone_under_detach();
  ASSERT_NE(a->status().connection, ConnectionState::kConnected);
  const uint64_t only_here = 4u << 20;
  ASSERT_TRUE(write_now(*a, only_here, pattern(only_here, 65536, 5)).ok()) << "acknowledged from a's disk alone";
  disk_a.fail_writes(8u << 20, 4096);
  EXPECT_EQ(write_now(*a, 8u << 20, pattern(8u << 20, 4096, 6)).errno_value(), EIO);
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  std::vector<uint8_t> out(4096);
  EXPECT_FALSE(read_now(*a, only_here, out).ok()) << "no copy to serve from";
  disk_a.clear_faults();
  // Another disk is refused: there is nothing to fill it from.
  ok(a->replace_storage(new_disk, nullptr));
  ok(a->create_md());
  CommandResult refused = a->attach();
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error(), "no peer holding its data")) << refused.error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  ok(a->replace_storage(disk_a, nullptr));
  ok(a->attach());
  ResourceStatus s = a->status();
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  ASSERT_TRUE(read_now(*a, only_here, out).ok());
  EXPECT_EQ(out, pattern(only_here, 4096, 5));
  EXPECT_GE(s.out_of_sync_bytes, 65536u) << "what the peer lacks";
  net.set_link_up(true);
  advance(seconds(10));
  s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished) << s.last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(read_back(disk_b, only_here, 65536), pattern(only_here, 65536, 5)) << "the peer got it from a";
  EXPECT_TRUE(disks_equal());
  EXPECT_FALSE(b->status().split_brain);
}

// A Primary with no peer: a flush fails and loses a write (Linux marks
// such pages clean: the page cache still has the bytes, the disk not), and
// under detach the disk is given up at once. It is the only copy, and
// attach() drops the cache: the Primary keeps the extents no flush made
// durable as reads returned them and writes them back when the disk is
// attached again. (Before, the lost write went with the cache: the double
// fault the pair simulation had to accept for such a disk.)
TEST_F(AttachUnderPrimaryTest, TheOnlyCopyGivenUpGetsBackWhatAFailedFlushLeftInThePageCache) {
  primary_alone_under_detach();
  const uint64_t at = 4u << 20;
  ASSERT_TRUE(write_now(*a, at, pattern(at, 65536, 5)).ok());
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  std::optional<IoStatus> flushed;
  a->submit_flush([&flushed](IoStatus st) { flushed = st; });
  settle();
  ASSERT_TRUE(flushed.has_value());
  EXPECT_FALSE(flushed->ok());
  EXPECT_GT(disk_a.lost_bytes(), 0u) << "only in the page cache";
  ResourceStatus s = a->status();
  ASSERT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kDiskless})) << s.last_error;
  ASSERT_TRUE(a->gave_up_the_only_copy());
  EXPECT_TRUE(s.only_copy_given_up) << "the operator is told";
  EXPECT_EQ(s.kept_for_write_back_bytes, kAlExtentSize) << "the extent of the lost write, held in memory";
  disk_a.clear_faults();
  ok(a->attach());
  s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_FALSE(s.only_copy_given_up);
  EXPECT_EQ(s.kept_for_write_back_bytes, 0u);
  EXPECT_EQ(disk_a.lost_bytes(), 0u) << "written again and flushed";
  EXPECT_EQ(read_back(disk_a, at, 65536), pattern(at, 65536, 5)) << "on the disk";
  std::vector<uint8_t> out(65536);
  ASSERT_TRUE(read_now(*a, at, out).ok());
  EXPECT_EQ(out, pattern(at, 65536, 5)) << "what the Primary served before";
  net.set_link_up(true);
  advance(seconds(5));
  s = a->status();
  EXPECT_EQ(s.replication, ReplicationState::kEstablished) << s.last_error;
  EXPECT_EQ(read_back(disk_b, at, 65536), pattern(at, 65536, 5)) << "the peer got it from a";
  EXPECT_TRUE(disks_equal());
}

// The only copy given up (a write error under detach with the link down)
// had grown under metadata that had not moved yet: attach finds no
// metadata at the end, and the operator moves it there first (vrrpctl
// replication resize on the disk). The move copies the metadata as it is,
// two superblock writes on and elsewhere on the disk: still that disk as
// it was given up, taken back as the data (the pair simulation, protocol A
// seed 5356: refused as "changed since", the Primary left without data).
TEST_F(AttachUnderPrimaryTest, TheOnlyCopyGivenUpComesBackAfterItsMetadataMovedToTheGrownEnd) {
  primary_alone_under_detach();
  const uint64_t alone = 4u << 20;
  ASSERT_TRUE(write_now(*a, alone, pattern(alone, 65536, 5)).ok()) << "on a's disk only";
  disk_a.fail_writes(8u << 20, 4096);
  EXPECT_FALSE(write_now(*a, 8u << 20, pattern(8u << 20, 4096, 6)).ok());
  ResourceStatus s = a->status();
  ASSERT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kDiskless})) << s.last_error;
  ASSERT_TRUE(a->gave_up_the_only_copy());
  disk_a.clear_faults();
  const Superblock before = read_metadata(disk_a, MetadataLayout::kInternal).value();
  disk_a.grow(disk_a.size() + (4u << 20));
  ASSERT_FALSE(read_metadata(disk_a, MetadataLayout::kInternal).ok()) << "not at the new end";
  Result<Superblock> found = find_internal_metadata_below_end(disk_a);
  ASSERT_TRUE(found.ok()) << found.error();
  Result<Superblock> moved = move_internal_metadata_to_end(disk_a, found.value());
  ASSERT_TRUE(moved.ok()) << moved.error();
  ASSERT_NE(moved->superblock_offset, before.superblock_offset);
  ok(a->attach());
  s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.size_bytes, before.data_size) << "the volume keeps its size until a resize";
  std::vector<uint8_t> out(65536);
  ASSERT_TRUE(read_now(*a, alone, out).ok());
  EXPECT_EQ(out, pattern(alone, 65536, 5));
  net.set_link_up(true);
  advance(seconds(5));
  s = a->status();
  EXPECT_EQ(s.replication, ReplicationState::kEstablished) << s.last_error;
  EXPECT_FALSE(s.split_brain);
  EXPECT_EQ(read_back(disk_b, alone, 65536), pattern(alone, 65536, 5)) << "the peer got it from a";
  EXPECT_TRUE(disks_equal());
}

// A Primary with no peer keeps its disk when a superblock write fails,
// even under detach (it holds the only copy); a failed flush after that
// gives it up. Its superblock then holds the generations from before the
// failed write, the Primary the new one (a link loss started it). The disk
// must still come back as the data (the pair simulation, protocol C/B
// seed 13835: it was refused as "changed since", and the Primary stayed
// without data until a restart).
TEST_F(AttachUnderPrimaryTest, TheOnlyCopyGivenUpWithItsNewGenerationUnsavedComesBack) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  synced_pair(oa, ob);
  const uint64_t before_link_loss = 4u << 20;
  ASSERT_TRUE(write_now(*a, before_link_loss, pattern(before_link_loss, 65536, 5)).ok());
  std::optional<IoStatus> flushed;
  a->submit_flush([&flushed](IoStatus st) { flushed = st; });
  settle();
  ASSERT_TRUE(flushed.has_value() && flushed->ok());
  const Generations pair = a->generations();
  // The superblock's write, with the new generation: lost.
  disk_a.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  net.set_link_up(false);
  advance(seconds(1));
  ResourceStatus s = a->status();
  ASSERT_NE(s.last_error.find("writing the superblock failed"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << "kept: no peer holds its data";
  EXPECT_NE(uuid_value(a->generations().current), uuid_value(pair.current));
  disk_a.fail_flush(EIO, /*once=*/true);
  flushed.reset();
  a->submit_flush([&flushed](IoStatus st) { flushed = st; });
  settle();
  ASSERT_TRUE(flushed.has_value());
  EXPECT_FALSE(flushed->ok());
  s = a->status();
  ASSERT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kDiskless})) << s.last_error;
  EXPECT_TRUE(a->gave_up_the_only_copy());
  disk_a.drop_cache();  // what attach() reads: the disk, not the clean page the failed writeback left
  Result<Superblock> on_disk = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(on_disk.ok()) << on_disk.error();
  EXPECT_EQ(uuid_value(on_disk->generations.current), uuid_value(pair.current)) << "the new one was not saved";
  ok(a->attach());
  s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_FALSE(a->gave_up_the_only_copy());
  on_disk = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(on_disk.ok()) << on_disk.error();
  EXPECT_EQ(uuid_value(on_disk->generations.current), uuid_value(a->generations().current)) << "saved now";
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(read_now(*a, before_link_loss, out).ok());
  EXPECT_EQ(out, pattern(before_link_loss, 4096, 5));
  const uint64_t after = 8u << 20;
  ASSERT_TRUE(write_now(*a, after, pattern(after, 4096, 6)).ok());
  net.set_link_up(true);
  advance(seconds(5));
  s = a->status();
  EXPECT_EQ((std::pair{s.connection, s.replication}),
            (std::pair{ConnectionState::kConnected, ReplicationState::kEstablished}))
      << s.last_error;
  EXPECT_FALSE(s.split_brain);
  EXPECT_EQ(read_back(disk_b, after, 4096), pattern(after, 4096, 6)) << "the peer got it from a";
  EXPECT_TRUE(disks_equal());
}

TEST_F(AttachUnderPrimaryTest, TheDiskGivenUpFailingAgainMidResyncComesBackWithWhatItStillMisses) {
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);
  ASSERT_TRUE(write_now(*a, 12u << 20, pattern(12u << 20, 65536, 6)).ok());
  disk_a.clear_faults();
  count_resync_replies();
  ok(a->attach());
  advance(milliseconds(2500));  // part of extent 0 is here
  ASSERT_EQ(a->status().replication, ReplicationState::kSyncTarget);
  disk_a.fail_writes(0, kTestDiskBytes);
  advance(milliseconds(1500));
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  ASSERT_TRUE(write_now(*a, 14u << 20, pattern(14u << 20, 4096, 7)).ok());
  const uint64_t first_round = resynced_bytes;
  disk_a.clear_faults();
  ok(a->attach());
  advance(seconds(10));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_TRUE(disks_equal());
  EXPECT_LT(resynced_bytes, kMissedBytes + first_round + (4u << 20)) << "not a full resync the second time";
  EXPECT_EQ(read_back(disk_a, 14u << 20, 4096), pattern(14u << 20, 4096, 7));
}

TEST_F(AttachUnderPrimaryTest, AWriteCutOffBeforeThePeersBitmapCameIsFetchedAgain) {
  // Written on the disk taken back, never on the peer (the link dropped
  // first): no record of either side names the block, so the write itself
  // must, or the narrowed resync would leave the two copies different.
  bring_up_and_lose_a_disk(/*resync_rate=*/1u << 20);
  net.set_latency(milliseconds(5));
  disk_a.clear_faults();
  ok(a->attach());
  auto w = submit(*a, 10u << 20, pattern(10u << 20, 4096, 9));
  advance(milliseconds(1));
  ASSERT_EQ(read_back(disk_a, 10u << 20, 4096), pattern(10u << 20, 4096, 9)) << "on the local disk";
  net.cut();
  advance(seconds(10));
  ASSERT_TRUE(w->has_value());
  EXPECT_FALSE(w->value().ok()) << "the peer never got it, and our copy alone is not the data";
  ResourceStatus s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(read_back(disk_a, 10u << 20, 4096), read_back(disk_b, 10u << 20, 4096));
}

TEST_F(AttachUnderPrimaryTest, APlannedDetachUnderProtocolAWaitsUntilThePeerHoldsWhatWasAcknowledged) {
  pair_with_an_answered_write(wire::ReplicationProtocol::kA, milliseconds(1));
  ASSERT_NE(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 3)) << "still on its way";
  CommandResult now = a->detach();
  EXPECT_FALSE(now.ok());
  EXPECT_TRUE(contains(now.error(), "on this disk only until the peer confirms them")) << now.error();
  std::optional<CommandResult> done;
  a->detach_when_confirmed([&done](CommandResult r) { done = r; });
  EXPECT_FALSE(done.has_value());
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  // A write meanwhile is answered only once the peer holds it.
  auto later = submit(*a, 8192, pattern(8192, 4096, 4));
  advance(milliseconds(2));
  EXPECT_FALSE(later->has_value());
  advance(milliseconds(50));
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok()) << done->error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  EXPECT_EQ(a->status().role, Role::kPrimary);
  ASSERT_TRUE(later->has_value() && later->value().ok());
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 3));
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 4));
}

// Under protocol B a write is answered once the peer received it (in its
// memory, not on its disk). A write whose "received" comes while a detach
// waits is answered only at the BarrierAck that covers it instead: the
// disk about to be given up would be its only durable copy.
TEST_F(AttachUnderPrimaryTest, APlannedDetachUnderProtocolBHoldsWritesUntilThePeerHoldsThem) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.protocol = ob.protocol = wire::ReplicationProtocol::kB;
  synced_pair(oa, ob);
  net.set_latency(milliseconds(5));  // "received" after 10 ms; the epoch's BarrierAck after ~20
  auto first = submit(*a, 4096, pattern(4096, 4096, 3));
  advance(milliseconds(5));
  auto second = submit(*a, 8192, pattern(8192, 4096, 4));
  advance(milliseconds(6));
  ASSERT_TRUE(first->has_value() && first->value().ok()) << "received by the peer";
  ASSERT_FALSE(second->has_value());
  std::optional<CommandResult> done;
  a->detach_when_confirmed([&done](CommandResult r) { done = r; });
  ASSERT_FALSE(done.has_value()) << "the first write is not confirmed yet";
  advance(milliseconds(6));  // the second's "received" is in
  EXPECT_FALSE(second->has_value()) << "answered at \"received\" while a detach waits";
  advance(milliseconds(50));
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok()) << done->error();
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
  ASSERT_TRUE(second->has_value() && second->value().ok());
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 3));
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 4));
}

TEST_F(AttachUnderPrimaryTest, APlannedDetachWaitingForThePeerIsCancelledByALinkLoss) {
  pair_with_an_answered_write(wire::ReplicationProtocol::kB, milliseconds(11));
  std::optional<CommandResult> done;
  a->detach_when_confirmed([&done](CommandResult r) { done = r; });
  ASSERT_FALSE(done.has_value());
  net.cut();
  advance(milliseconds(20));
  ASSERT_TRUE(done.has_value());
  EXPECT_FALSE(done->ok());
  EXPECT_TRUE(contains(done->error(), "the disk stays attached")) << done->error();
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << "the only confirmed copy of that write stays";
  EXPECT_EQ(read_back(disk_a, 4096, 4096), pattern(4096, 4096, 3));
}

// Demoted while its planned detach waits (a switchover, or VRRP failing
// over): the detach is cancelled and the disk stays, as after a link loss.
// (Found by the pair simulation: protocol A seeds 641 and 857 detached the
// demoted node's disk once the peer confirmed, and its switchover could
// neither promote the peer nor go back.)
TEST_F(AttachUnderPrimaryTest, APlannedDetachWaitingForThePeerIsCancelledByADemotion) {
  pair_with_an_answered_write(wire::ReplicationProtocol::kA, milliseconds(1));
  std::optional<CommandResult> done;
  a->detach_when_confirmed([&done](CommandResult r) { done = r; });
  ASSERT_FALSE(done.has_value());
  ok(a->secondary());
  ASSERT_TRUE(done.has_value());
  EXPECT_FALSE(done->ok());
  EXPECT_TRUE(contains(done->error(), "demoted")) << done->error();
  advance(milliseconds(50));  // the peer's BarrierAck
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(read_back(disk_b, 4096, 4096), pattern(4096, 4096, 3));
  ok(a->primary());  // and it can take its role back
}

// The daemon's demotion waits for the same BarrierAck as the detach: it
// cancels the detach when asked, not when both are due (the pair
// simulation, protocol A seed 641: the node ended Diskless and Secondary,
// and could take its role back no more).
TEST_F(AttachUnderPrimaryTest, APlannedDetachWaitingForThePeerIsCancelledByAWaitingDemotion) {
  pair_with_an_answered_write(wire::ReplicationProtocol::kA, milliseconds(1));
  std::optional<CommandResult> detached, demoted;
  a->detach_when_confirmed([&detached](CommandResult r) { detached = r; });
  a->secondary_when_confirmed([&demoted](CommandResult r) { demoted = r; });
  ASSERT_TRUE(detached.has_value());
  EXPECT_TRUE(contains(detached->error(), "demoted")) << detached->error();
  EXPECT_FALSE(demoted.has_value()) << "the write is not confirmed yet";
  advance(milliseconds(50));  // the peer's BarrierAck
  ASSERT_TRUE(demoted.has_value());
  EXPECT_TRUE(demoted->ok()) << demoted->error();
  EXPECT_EQ((std::pair{a->status().role, a->status().disk}), (std::pair{Role::kSecondary, DiskState::kUpToDate}));
  ok(a->primary());
}

TEST_F(AttachUnderPrimaryTest, APlannedDetachOfThePrimaryLeavesItsDiskDurable) {
  // The disk a planned detach gives up holds every write acknowledged
  // before it, durably: if this node dies before the peer hears of the
  // detach, a restart attaches that disk as a crashed Primary's, the
  // source of its hot extents (before, a write still in the page cache was
  // lost with a power loss and the old block resynced over the peer's
  // copy: the pair simulation, seed 3163).
  bring_up_synced();
  const std::vector<uint8_t> data = pattern(1u << 20, 65536, 6);
  ASSERT_TRUE(write_now(*a, 1u << 20, data).ok());
  ok(a->detach());
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  disk_a.crash();  // power loss: what no flush covered is gone
  EXPECT_EQ(read_back(disk_a, 1u << 20, data.size()), data);
}

TEST_F(AttachUnderPrimaryTest, APrimaryVerifyingThePeerAbandonsItsVerifyWhenItsDiskFails) {
  // a runs the verify (VerifyS) and its disk fails under on-io-error
  // detach: a goes on as a Diskless Primary, and the peer's replies still
  // on their way find no verify to compare them for (before, they were
  // compared with the disk that was gone: a null dereference, pair
  // simulation seed 3159).
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.on_io_error = ob.on_io_error = IoErrorPolicy::kDetach;
  synced_pair(oa, ob);
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
  net.set_latency(milliseconds(5));
  ok(a->verify());
  ASSERT_EQ(a->status().replication, ReplicationState::kVerifyS);
  disk_a.fail_writes(0, kTestDiskBytes);
  disk_a.fail_reads(0, kTestDiskBytes);
  auto written = submit(*a, 8192, pattern(8192, 4096, 2));
  settle();
  ResourceStatus s = a->status();
  ASSERT_EQ((std::pair{s.role, s.disk}), (std::pair{Role::kPrimary, DiskState::kDiskless}));
  EXPECT_EQ(s.replication, ReplicationState::kEstablished) << "the verify is abandoned";
  advance(milliseconds(50));  // the replies to its VerifyRequests arrive
  ASSERT_TRUE(written->has_value());
  EXPECT_TRUE(written->value().ok()) << "served through the peer";
  s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << "its VerifyT ended too";
  net.set_latency(milliseconds(0));
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(read_now(*a, 8192, back).ok());
  EXPECT_EQ(back, pattern(8192, 4096, 2));
}

TEST_F(AttachUnderPrimaryTest, AVerifyOfThePeerIsAbandonedWhenThePrimarysDiskChangesUnderIt) {
  // b verifies against a's disk while a detaches it and attaches a new
  // one: the verify ends without a result, and b serves the new disk's
  // resync (before, b stayed VerifyS, never became SyncSource, kept the
  // generation it started for the Diskless time, and the next connect
  // found a split brain).
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
  net.set_latency(milliseconds(5));
  ok(b->verify());
  ok(a->detach());
  advance(milliseconds(8));  // its first VerifyRequests found a Diskless
  replace_and_attach();
  advance(milliseconds(20));
  EXPECT_EQ(b->status().replication, ReplicationState::kSyncSource) << b->status().last_error;
  advance(seconds(2));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << "no protocol error on the way";
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(new_disk_equals_peer());
  net.set_latency(milliseconds(0));
  net.cut();
  advance(seconds(1));
  s = a->status();
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_FALSE(s.split_brain) << s.split_brain_text;
  EXPECT_EQ(s.role, Role::kPrimary);
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 5)).ok());
  EXPECT_TRUE(new_disk_equals_peer());
}

}  // namespace
}  // namespace vrrpd::replication::testing
