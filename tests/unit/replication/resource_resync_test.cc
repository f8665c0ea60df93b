// Resource: what happens around a lost link and a crash. Writes of a
// disconnected Primary go to the bitmap and only those blocks are resynced;
// a crashed Primary resyncs its activity-log extents, not the whole disk;
// the resync is rate-limited and application writes during it stay correct;
// ping timeouts drop the link and the pair comes back by itself.
#include <gtest/gtest.h>

#include "replication/metadata.h"
#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_F(ResourcePairTest, ReconnectResyncsOnlyTheBlocksWrittenWhileDisconnected) {
  bring_up_synced();
  const Generations before = a->generations();
  net.set_link_up(false);
  settle();
  EXPECT_EQ(a->status().connection, ConnectionState::kConnecting);
  EXPECT_EQ(b->status().connection, ConnectionState::kConnecting);
  // The Primary keeps writing; it completes locally and records the blocks.
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());
  ASSERT_TRUE(write_now(*a, 1 << 20, pattern(1 << 20, 8192, 2)).ok());
  ASSERT_TRUE(write_now(*a, 9 << 20, pattern(9 << 20, 100, 3)).ok());  // one partial block
  EXPECT_EQ(a->status().out_of_sync_bytes, 4 * 4096u);
  // A new data generation, so the handshake knows a is newer (DRBD's new current UUID).
  EXPECT_EQ(uuid_value(a->generations().bitmap), uuid_value(before.current));
  EXPECT_NE(uuid_value(a->generations().current), uuid_value(before.current));
  EXPECT_FALSE(disks_equal());

  net.reset_stats();
  net.set_link_up(true);
  advance(seconds(1));
  EXPECT_EQ(resync_data_bytes(0), 4 * 4096u) << "only the changed blocks travel";
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
  // Generations agree again; a's bitmap generation went into its history.
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
  EXPECT_EQ(a->generations().bitmap, 0u);
}

TEST_F(ResourcePairTest, ScatteredChangesAreResyncedInFewRequestsAcrossSmallCleanGaps) {
  bring_up_synced();
  net.set_link_up(false);
  settle();
  // Every other 4 KiB block of the 2nd MiB (clean gaps of one block), one
  // block after a 64 KiB gap, and one far away after a gap too wide to span.
  const uint64_t base = 1u << 20;
  std::vector<uint64_t> changed;
  for (uint64_t i = 0; i < 64; ++i) changed.push_back(base + 2 * i * 4096);
  const uint64_t after_gap = changed.back() + 4096 + 16 * 4096;  // gap of exactly kResyncMaxGapBlocks
  changed.push_back(after_gap);
  const uint64_t far = 6u << 20;
  changed.push_back(far);
  for (uint64_t off : changed) ASSERT_TRUE(write_now(*a, off, pattern(off, 4096, 9)).ok());
  // The clean gap blocks must come through untouched: give them a value only
  // a correct copy reproduces (the same on both disks, as clean blocks are).
  for (uint64_t i = 0; i < 64; ++i) {
    const uint64_t gap = base + (2 * i + 1) * 4096;
    const std::vector<uint8_t> v = pattern(gap, 4096, 11);
    std::copy(v.begin(), v.end(), disk_a.bytes().begin() + static_cast<long>(gap));
    std::copy(v.begin(), v.end(), disk_b.bytes().begin() + static_cast<long>(gap));
  }
  net.reset_stats();
  disk_b.clear_write_log();
  std::vector<wire::ResyncRequest> requests;
  net.on_frame = [&](int from, const wire::Frame& f) {
    if (const auto* r = std::get_if<wire::ResyncRequest>(&f.message); r && from == 1) requests.push_back(*r);
  };
  net.set_link_up(true);
  advance(seconds(1));
  net.on_frame = nullptr;
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
  // One request from the first changed block to the one after the 64 KiB
  // gap, one for the far block.
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].offset, base);
  EXPECT_EQ(requests[0].offset + requests[0].length, after_gap + 4096);
  EXPECT_EQ(requests[1].offset, far);
  EXPECT_EQ(requests[1].length, 4096u);
  // Nothing outside the requested ranges was written on the target's data.
  for (const FakeStorage::WriteRecord& w : disk_b.writes()) {
    if (w.offset >= data_size()) continue;  // metadata
    const bool in_first = w.offset >= base && w.offset + w.length <= after_gap + 4096;
    const bool in_far = w.offset == far && w.length == 4096;
    EXPECT_TRUE(in_first || in_far) << "write at " << w.offset << " length " << w.length;
  }
}

TEST_F(ResourcePairTest, WriteDuringAuthenticationIsNotHeldAndIsResynced) {
  bring_up_synced();
  net.set_link_up(false);
  settle();
  net.set_latency(milliseconds(1));
  net.set_link_up(true);
  advance(milliseconds(1));  // connected, authenticating
  ASSERT_EQ(a->status().connection, ConnectionState::kConnecting);
  // A stalling handshake must not stall the application: into the bitmap,
  // which goes to the peer once authenticated.
  auto done = submit(*a, 4096, pattern(4096, 4096, 7));
  ASSERT_TRUE(done->has_value());
  EXPECT_TRUE(done->value().ok());
  advance(milliseconds(50));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

TEST_F(ResourcePairTest, PrimaryCrashResyncsTheActivityLogExtentsOnly) {
  bring_up_synced();
  // Writes in extents 0 and 2 (4 MiB each); the disk has 4 extents.
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 1)).ok());
  ASSERT_TRUE(write_now(*a, (8 << 20) + 512, pattern(0, 4096, 2)).ok());
  // Power loss of the Primary: the unflushed data writes are lost.
  disk_a.crash();
  a.reset();
  net.set_link_up(false);
  settle();
  EXPECT_EQ(b->status().connection, ConnectionState::kConnecting);

  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  EXPECT_EQ(a->status().role, Role::kSecondary);
  EXPECT_EQ(a->status().out_of_sync_bytes, 2 * kAlExtentSize) << "the two hot extents";
  net.reset_stats();
  net.set_link_up(true);
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  // Rule 40: the crashed primary is the SyncSource for its hot extents.
  EXPECT_EQ(resync_data_bytes(0), 2 * kAlExtentSize);
  EXPECT_EQ(resync_data_bytes(1), 0u);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
  // The crash is dealt with: the next start is not a crashed primary again.
  a.reset();
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

TEST_F(ResourcePairTest, ResyncTakesAsLongAsTheRateSays) {
  make_with_resync_rate(4u << 20);  // bytes/s
  start_initial_sync();
  advance(seconds(2));
  ResourceStatus s = b->status();
  EXPECT_EQ(s.replication, ReplicationState::kSyncTarget);
  // 2 s at 4 MiB/s plus the initial 1 MiB burst allowance, one request of slack.
  EXPECT_GE(s.resync_done_bytes, 8u << 20);
  EXPECT_LE(s.resync_done_bytes, (2 * 4 + 1 + 1) << 20);
  EXPECT_NEAR(double(s.resync_rate), double(4u << 20), double(1u << 20)) << "achieved rate, bytes/s";
  EXPECT_EQ(s.resync_rate_limit, 4u << 20);
  advance(seconds(3));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, ApplicationWritesDuringResyncEndUpOnBothDisks) {
  make_with_resync_rate(4u << 20);
  start_initial_sync();
  advance(seconds(2));  // about half done
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  // Blocks already resynced, not yet resynced, and one in flight right now.
  const uint64_t offsets[] = {4096, 12u << 20, 14u << 20, (8u << 20) + 4096};
  uint8_t seed = 10;
  for (uint64_t off : offsets) ASSERT_TRUE(write_now(*a, off, pattern(off, 3 * 4096, seed++)).ok());
  advance(seconds(4));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  seed = 10;
  for (uint64_t off : offsets) EXPECT_EQ(read_back(disk_b, off, 3 * 4096), pattern(off, 3 * 4096, seed++));
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, PingTimeoutDropsTheLinkAndThePairComesBack) {
  bring_up_synced();
  net.set_stalled(true);                                // nothing gets through, no reset either
  advance(seconds(1) + seconds(5) + milliseconds(1));  // ping-int, then ping-timeout
  EXPECT_EQ(a->status().connection, ConnectionState::kConnecting);
  EXPECT_NE(a->status().last_error.find("ping timeout: no PingAck within 5000 ms"), std::string::npos)
      << a->status().last_error;
  // Meanwhile the Primary writes into its bitmap.
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 3)).ok());
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u);
  net.set_stalled(false);
  advance(seconds(10));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
  EXPECT_GE(net.connections(), 3);
}

TEST_F(ResourcePairTest, ShortStallIsRiddenOut) {
  bring_up_synced();
  const int connections = net.connections();
  advance(milliseconds(9500));
  net.set_stalled(true);
  advance(seconds(4));  // the ping at 10 s waits 3.5 s for its answer (ping_timeout 5 s)
  net.set_stalled(false);
  advance(seconds(30));
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(net.connections(), connections);
}

TEST_F(ResourcePairTest, UnansweredWritesDropTheLinkAfterKoCount) {
  bring_up_synced();
  // The peer keeps answering pings but never acknowledges data (stuck disk).
  net.drop_if = [](int from, const wire::Frame& f) {
    return from == 1 && std::holds_alternative<wire::DataAck>(f.message);
  };
  auto done = submit(*a, 0, pattern(0, 4096, 1));
  advance(seconds(6 * 7 - 1));
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected);
  EXPECT_FALSE(done->has_value());
  advance(seconds(7));
  net.drop_if = nullptr;
  // Dropped: the write completes locally, its block goes to the bitmap and
  // is resynced after the reconnect.
  ASSERT_TRUE(done->has_value());
  EXPECT_TRUE(done->value().ok());
  EXPECT_NE(a->status().last_error.find("ko-count 7"), std::string::npos) << a->status().last_error;
  advance(seconds(1));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, ChecksumResyncTransfersOnlyTheBlocksThatDiffer) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.checksum_resync = ob.checksum_resync = true;
  make(oa, ob);
  bring_up_synced();
  disk_b.bytes()[40960] ^= 0xff;  // one damaged block the operator knows of
  net.reset_stats();
  ok(b->invalidate());  // every block out of sync; all but one are equal
  advance(seconds(2));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
  // Digests for every run, data only for the 1 MiB run with the damaged block.
  EXPECT_EQ(resync_data_bytes(0), uint64_t{wire::kMaxDataBytes});
  EXPECT_EQ(net.sent(0, wire::FrameType::kChecksumReply).frames,
            (data_size() + wire::kMaxDataBytes - 1) / wire::kMaxDataBytes);
  EXPECT_EQ(b->status().resync_equal_bytes, data_size() - wire::kMaxDataBytes);
}

TEST_F(ResourcePairTest, FinishedResyncsAndVerifiesAreCountedOnBothSides) {
  // Counted, so that an observer that polls (the daemon's notify events)
  // sees each one, also one shorter than its poll.
  bring_up_synced();
  EXPECT_EQ(a->status().resyncs_finished_as_source, 1u);
  EXPECT_EQ(a->status().resyncs_finished_as_target, 0u);
  EXPECT_EQ(b->status().resyncs_finished_as_target, 1u);
  EXPECT_EQ(b->status().resyncs_finished_as_source, 0u);
  // A second resync, after a cut and a write.
  net.cut();
  advance(seconds(1));
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 3)).ok());
  advance(seconds(3));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().resyncs_finished_as_source, 2u);
  EXPECT_EQ(b->status().resyncs_finished_as_target, 2u);
  EXPECT_EQ(a->status().verifies_finished, 0u);
  ok(a->verify());
  for (int i = 0; i < 5000 && a->status().replication != ReplicationState::kEstablished; ++i)
    advance(milliseconds(1));
  settle();
  EXPECT_EQ(a->status().verifies_finished, 1u);
  EXPECT_EQ(b->status().verifies_finished, 1u) << "the peer's VerifyEnd";
}

TEST_F(ResourcePairTest, OnlineVerifyMarksOnlyTheDifferingBlockAndReconnectRepairsIt) {
  bring_up_synced();
  disk_b.bytes()[3 * 4096 + 7] ^= 0x01;  // silent corruption on the peer, inside the first 1 MiB step
  net.reset_stats();
  ok(a->verify());
  EXPECT_EQ(a->status().replication, ReplicationState::kVerifyS);
  // The peer shows the verify too (DRBD's VerifyT), from its first request.
  bool peer_showed_verify_t = false;
  for (int i = 0; i < 1000 && a->status().replication == ReplicationState::kVerifyS; ++i) {
    advance(milliseconds(1));
    if (b->status().replication == ReplicationState::kVerifyT) peer_showed_verify_t = true;
  }
  EXPECT_TRUE(peer_showed_verify_t);
  ResourceStatus s = a->status();
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.verify_done_bytes, data_size());
  EXPECT_EQ(s.verify_out_of_sync_bytes, 4096u);  // the one block, not its 1 MiB step
  EXPECT_EQ(s.out_of_sync_bytes, 4096u);
  EXPECT_NE(s.last_error.find("online verify finished: 4096 of"), std::string::npos) << s.last_error;
  // The differing step was asked about again block by block: 256 more small requests.
  const uint64_t steps = (data_size() + wire::kMaxDataBytes - 1) / wire::kMaxDataBytes;
  EXPECT_EQ(net.sent(0, wire::FrameType::kVerifyRequest).frames, steps + 256);
  settle();
  ResourceStatus t = b->status();
  EXPECT_EQ(t.replication, ReplicationState::kEstablished);  // VerifyEnd ended VerifyT
  EXPECT_EQ(t.verify_done_bytes, data_size());
  EXPECT_EQ(t.verify_out_of_sync_bytes, 4096u);
  EXPECT_FALSE(disks_equal()) << "verify reports, it does not repair";
  // As in DRBD: disconnect and connect resyncs what verify found, 4 KiB.
  net.reset_stats();
  ok(a->disconnect());
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  EXPECT_EQ(resync_data_bytes(0), 4096u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, OnlineVerifyMarksSeveralBlocksAcrossSteps) {
  bring_up_synced();
  const uint64_t mib = wire::kMaxDataBytes;
  const std::vector<uint64_t> damaged = {0, 5 * 4096, mib + 255 * 4096, 2 * mib + 17 * 4096, 2 * mib + 18 * 4096};
  for (uint64_t off : damaged) disk_b.bytes()[off + 100] ^= 0x80;
  disk_a.bytes()[3 * mib + 4096] ^= 0x01;  // a difference is a difference, whichever side has it
  ok(a->verify());
  advance(seconds(2));
  ResourceStatus s = a->status();
  ASSERT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.verify_out_of_sync_bytes, 6 * 4096u);
  EXPECT_EQ(s.out_of_sync_bytes, 6 * 4096u);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  ok(a->disconnect());
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

// A pair where one node speaks only protocol version 1 (before VerifyEnd):
// the verify still runs and finds the block, the newer node sends no
// VerifyEnd, the target never shows VerifyT (it would never leave it), and
// the link stays up. Either node may be the older one.
class MixedVersionVerify : public ResourcePairTest, public ::testing::WithParamInterface<int> {};

TEST_P(MixedVersionVerify, VerifyWorksWithoutVerifyEnd) {
  const int older = GetParam();
  ResourceOptions oa = options_for(0), ob = options_for(1);
  (older == 0 ? oa : ob).max_protocol_version = 1;
  make(oa, ob);
  bring_up_synced();
  disk_b.bytes()[2 * 4096 + 9] ^= 0x04;
  net.reset_stats();
  ok(a->verify());
  bool peer_showed_verify_t = false;
  for (int i = 0; i < 2000 && a->status().replication == ReplicationState::kVerifyS; ++i) {
    advance(milliseconds(1));
    if (b->status().replication == ReplicationState::kVerifyT) peer_showed_verify_t = true;
  }
  settle();
  EXPECT_FALSE(peer_showed_verify_t);
  EXPECT_EQ(net.sent(0, wire::FrameType::kVerifyEnd).frames, 0u);
  ResourceStatus s = a->status();
  EXPECT_EQ(s.replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.verify_out_of_sync_bytes, 4096u);
  EXPECT_EQ(s.out_of_sync_bytes, 4096u);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(s.connection, ConnectionState::kConnected) << s.last_error;
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected) << b->status().last_error;
  // And the mixed pair still replicates.
  ASSERT_TRUE(write_now(*a, 8 * 4096, pattern(8 * 4096, 4096, 3)).ok());
  settle();
  EXPECT_EQ(read_back(disk_b, 8 * 4096, 4096), pattern(8 * 4096, 4096, 3));
}

INSTANTIATE_TEST_SUITE_P(OlderNode, MixedVersionVerify, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return i.param == 0 ? std::string("SourceSpeaksV1") : std::string("TargetSpeaksV1");
                         });

TEST_F(ResourcePairTest, VerifyOfEqualDisksAsksOneDigestPerStep) {
  bring_up_synced();
  net.reset_stats();
  ok(a->verify());
  advance(seconds(1));
  EXPECT_EQ(a->status().verify_out_of_sync_bytes, 0u);
  EXPECT_EQ(net.sent(0, wire::FrameType::kVerifyRequest).frames,
            (data_size() + wire::kMaxDataBytes - 1) / wire::kMaxDataBytes);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

TEST_F(ResourcePairTest, LinkLostDuringVerifyEndsVerifyTOnThePeer) {
  bring_up_synced();
  ok(a->verify());
  for (int i = 0; i < 1000 && b->status().replication != ReplicationState::kVerifyT; ++i) advance(milliseconds(1));
  ASSERT_EQ(b->status().replication, ReplicationState::kVerifyT);
  ok(a->disconnect());
  settle();
  EXPECT_NE(b->status().replication, ReplicationState::kVerifyT);
  EXPECT_NE(a->status().replication, ReplicationState::kVerifyS);
}

TEST_F(ResourcePairTest, VerifyRefusedWhenNotEstablished) {
  make();
  create_and_attach(*a);
  CommandResult r = a->verify();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("it must be Established"), std::string::npos) << r.error();
}

TEST_F(ResourcePairTest, SecondaryCrashLosingAckedButUnflushedWritesIsResynced) {
  bring_up_synced();
  // The peer's BarrierAcks (its flushes) do not get through for a while.
  net.drop_if = [](int, const wire::Frame& f) { return std::holds_alternative<wire::Barrier>(f.message); };
  ASSERT_TRUE(write_now(*a, 20480, pattern(20480, 8192, 5)).ok());  // protocol C: b wrote it
  EXPECT_EQ(read_back(disk_b, 20480, 8192), pattern(20480, 8192, 5));
  // b loses power: the write was only in its volatile cache.
  disk_b.crash();
  EXPECT_NE(read_back(disk_b, 20480, 8192), pattern(20480, 8192, 5));
  b.reset();
  net.drop_if = nullptr;
  settle();
  EXPECT_EQ(a->status().out_of_sync_bytes, 8192u) << "not flushed on the peer: into the bitmap";
  b = std::make_unique<Resource>(loop, options_for(1), disk_b);
  ok(b->attach());
  net.reset_stats();
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  EXPECT_EQ(resync_data_bytes(0), 8192u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, InterruptedResyncResumesWhereItStopped) {
  make_with_resync_rate(4u << 20);
  start_initial_sync();
  advance(seconds(5));  // the initial full sync (16 MiB at 4 MiB/s) is done
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  net.set_link_up(false);
  settle();
  for (uint64_t off = 0; off < (8u << 20); off += 4096)
    ASSERT_TRUE(write_now(*a, off, pattern(off, 4096, 8)).ok());
  net.reset_stats();
  net.set_link_up(true);
  advance(seconds(1));  // about half of the 8 MiB
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  const uint64_t first_part = resync_data_bytes(0);
  net.set_link_up(false);
  settle();
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  net.set_link_up(true);
  advance(seconds(5));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
  // What was already resynced is not sent again (only requests in flight when
  // the link went down could be); starting over would be first_part + 8 MiB.
  EXPECT_GT(first_part, 0u);
  EXPECT_LT(resync_data_bytes(0), first_part + (8u << 20));
  EXPECT_GE(resync_data_bytes(0), 8u << 20);
}

TEST_F(ResourcePairTest, SwitchoverWhileConnected) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());
  ok(a->secondary());
  settle();
  ok(b->primary());
  settle();
  EXPECT_EQ(a->status().peer_role, Role::kPrimary);
  ASSERT_TRUE(write_now(*b, 4096, pattern(4096, 4096, 2)).ok());
  EXPECT_EQ(write_now(*a, 8192, pattern(8192, 4096, 3)).errno_value(), EROFS);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
}

TEST_F(ResourcePairTest, FailoverAfterPrimaryCrashMakesTheOldPrimaryATarget) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 4096, 1)).ok());
  disk_a.crash();
  a.reset();
  net.set_link_up(false);
  settle();
  // The survivor takes over and writes (VRRP made it MASTER).
  ok(b->primary());
  ASSERT_TRUE(write_now(*b, 12u << 20, pattern(12u << 20, 4096, 2)).ok());
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  ok(a->attach());
  net.reset_stats();
  net.set_link_up(true);
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  // b is newer (rule 50): a is the target for b's changes and its own hot
  // extent, which may hold writes b never saw.
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(resync_data_bytes(1), kAlExtentSize + 4096);
  EXPECT_EQ(resync_data_bytes(0), 0u);
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(b->status().role, Role::kPrimary);
}

TEST_F(ResourcePairTest, WritesWaitForAFullActivityLog) {
  make();
  // An activity log of two extents (the fewest allowed), so a third hot
  // extent must wait until the first one's write is retired (its BarrierAck).
  bring_up_synced_with_al_extents(kMinAlExtents);
  net.set_latency(std::chrono::milliseconds(1));
  auto first = submit(*a, 0, pattern(0, 4096, 1));                          // extent 0
  auto second = submit(*a, kAlExtentSize, pattern(0, 4096, 2));             // extent 1
  auto third = submit(*a, 2 * kAlExtentSize, pattern(0, 4096, 3));          // extent 2: waits
  settle();
  EXPECT_EQ(read_back(disk_a, kAlExtentSize, 4096), pattern(0, 4096, 2)) << "room for the second extent";
  EXPECT_NE(read_back(disk_a, 2 * kAlExtentSize, 4096), pattern(0, 4096, 3)) << "not started yet";
  advance(std::chrono::milliseconds(10));
  ASSERT_TRUE(first->has_value() && second->has_value() && third->has_value());
  EXPECT_TRUE(first->value().ok());
  EXPECT_TRUE(second->value().ok());
  EXPECT_TRUE(third->value().ok());
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
