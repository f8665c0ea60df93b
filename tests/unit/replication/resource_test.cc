// Resource: the engine core on two nodes linked in memory. Initial sync,
// mirrored writes per protocol, flush durability, roles.
#include "replication/resource.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>

#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_F(ResourcePairTest, ForcedPrimaryFullySyncsTheFreshPeer) {
  make();
  create_and_attach(*a);
  create_and_attach(*b);
  // Fresh data on the future primary's disk, as if it had been in use.
  const std::vector<uint8_t> old = pattern(0, 1 << 20, 9);
  std::copy(old.begin(), old.end(), disk_a.bytes().begin());
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  settle();
  // Both just created: connected, but nobody knows which side is good.
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(a->status().disk, DiskState::kInconsistent);
  EXPECT_EQ(b->status().peer_disk, DiskState::kInconsistent);
  ok(a->primary(/*force=*/true));
  advance(seconds(1));
  ResourceStatus sa = a->status(), sb = b->status();
  EXPECT_EQ(sa.role, Role::kPrimary);
  EXPECT_EQ(sa.disk, DiskState::kUpToDate);
  EXPECT_EQ(sa.replication, ReplicationState::kEstablished);
  EXPECT_EQ(sb.disk, DiskState::kUpToDate);
  EXPECT_EQ(sb.peer_role, Role::kPrimary);
  EXPECT_EQ(sb.resync_done_bytes, data_size());
  EXPECT_EQ(resync_data_bytes(0), data_size());  // every block once
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(uuid_value(a->generations().current), uuid_value(b->generations().current));
}

TEST_F(ResourcePairTest, PrimaryRefusedUnlessUpToDateAllowedWithForce) {
  make();
  create_and_attach(*a);
  CommandResult r = a->primary();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("disk is Inconsistent, not UpToDate"), std::string::npos) << r.error();
  EXPECT_EQ(a->status().role, Role::kSecondary);
  ok(a->primary(/*force=*/true));
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
}

TEST_F(ResourcePairTest, PromotionFailsWhenTheSuperblockCannotBeWritten) {
  make();
  create_and_attach(*a);
  disk_a.fail_writes(0, kTestDiskBytes);
  CommandResult r = a->primary(true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("primary failed: writing the superblock"), std::string::npos) << r.error();
  EXPECT_EQ(a->status().role, Role::kSecondary);
  EXPECT_FALSE(a->writable());
}

TEST_F(ResourcePairTest, PrimaryRefusedWhilePeerIsPrimary) {
  bring_up_synced();
  CommandResult r = b->primary();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("the peer is Primary"), std::string::npos) << r.error();
}

TEST_F(ResourcePairTest, SecondaryRefusesWritesWithErofs) {
  bring_up_synced();
  EXPECT_EQ(write_now(*b, 0, pattern(0, 4096, 1)).errno_value(), EROFS);
  EXPECT_FALSE(b->writable());
  EXPECT_TRUE(a->writable());
}

TEST_F(ResourcePairTest, WritesAreMirroredToThePeersDisk) {
  bring_up_synced();
  disk_b.clear_write_log();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());
  ASSERT_TRUE(write_now(*a, 5 << 20, pattern(5 << 20, 3 << 20, 2)).ok());  // spans 3 Data frames
  ASSERT_TRUE(write_now(*a, 12345, pattern(12345, 1000, 3)).ok());         // not sector aligned
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(read_back(disk_b, 12345, 1000), pattern(12345, 1000, 3));
  EXPECT_FALSE(disk_b.writes().empty());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  // b wrote the initial sync and then exactly what a wrote.
  EXPECT_EQ(b->status().written_bytes, data_size() + a->status().written_bytes);
}

TEST_F(ResourcePairTest, ProtocolCCompletesOnlyAfterThePeerWrote) {
  bring_up_synced();
  net.set_latency(milliseconds(1));
  auto done = submit(*a, 8192, pattern(8192, 4096, 4));
  settle();
  EXPECT_FALSE(done->has_value()) << "completed before the peer's DataAck";
  EXPECT_EQ(read_back(disk_a, 8192, 4096), pattern(8192, 4096, 4));  // written locally already
  advance(milliseconds(1));                                          // Data reaches b, b writes and acks
  EXPECT_FALSE(done->has_value());
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 4));
  advance(milliseconds(1));  // the ack reaches a
  ASSERT_TRUE(done->has_value());
  EXPECT_TRUE(done->value().ok());
}

TEST_F(ResourcePairTest, ProtocolACompletesBeforeThePeerHasIt) {
  make_with_protocol(wire::ReplicationProtocol::kA);
  bring_up_synced();
  net.set_latency(milliseconds(1));
  auto done = submit(*a, 8192, pattern(8192, 4096, 4));
  ASSERT_TRUE(done->has_value()) << "protocol A waits only for the local write";
  EXPECT_NE(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 4));
  advance(milliseconds(5));
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 4));
  advance(kEpochInterval);
  EXPECT_GE(net.sent(0, wire::FrameType::kBarrier).frames, 1u);  // the epoch was closed
}

// Protocol A answers a write once it is sent. A Primary demoted right after
// such a write, whose link then drops before the peer got it, keeps its
// generation (only a Primary starts a new one) but records the write in its
// bitmap: the reconnect resyncs it from there (protocol 7), so the peer can
// be promoted with it. Found by the randomized pair simulation.
TEST_F(ResourcePairTest, ADemotedNodesUnconfirmedWritesAreResyncedAtTheReconnect) {
  make_with_protocol(wire::ReplicationProtocol::kA);
  bring_up_synced();
  net.set_latency(milliseconds(1));
  const std::vector<uint8_t> data = pattern(65536, 8192, 9);
  ASSERT_TRUE(write_now(*a, 65536, data).ok());  // answered: sent, not arrived
  net.cut();                                     // lost with the link
  ok(a->secondary());                            // before the loss is noticed
  net.reset_stats();
  advance(milliseconds(500));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(resync_data_bytes(0), 8192u);
  EXPECT_EQ(read_back(disk_b, 65536, 8192), data);
  EXPECT_TRUE(disks_equal());
  ok(b->primary());
}

// With a peer of protocol 6 the rule does not apply (both sides must decide
// alike): no resync, as before; the blocks stay recorded out of sync.
TEST_F(ResourcePairTest, ADemotedNodesUnconfirmedWritesStayRecordedWithAProtocol6Peer) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  oa.protocol = ob.protocol = wire::ReplicationProtocol::kA;
  ob.max_protocol_version = 6;
  make(oa, ob);
  bring_up_synced();
  net.set_latency(milliseconds(1));
  ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 8192, 9)).ok());
  net.cut();
  ok(a->secondary());
  net.reset_stats();
  advance(milliseconds(500));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(resync_data_bytes(0), 0u);
  EXPECT_EQ(a->status().out_of_sync_bytes, 8192u);
}

// The daemon's demotion (secondary_when_confirmed()) waits for the peer's
// BarrierAck of every write sent: until then the node stays Primary,
// refuses new writes, and the peer cannot be promoted.
TEST_F(ResourcePairTest, ADemotionWaitsUntilThePeerConfirmedEveryWrite) {
  make_with_protocol(wire::ReplicationProtocol::kA);
  bring_up_synced();
  net.set_latency(milliseconds(5));
  const std::vector<uint8_t> data = pattern(65536, 8192, 9);
  ASSERT_TRUE(write_now(*a, 65536, data).ok());  // answered: sent, not arrived
  std::optional<CommandResult> demoted;
  a->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  settle();
  EXPECT_FALSE(demoted.has_value()) << "the peer has not confirmed the write yet";
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_EQ(write_now(*a, 0, pattern(0, 4096, 2)).errno_value(), EROFS) << "demoting: no new writes";
  EXPECT_FALSE(b->primary().ok()) << "the peer is still Primary";
  advance(milliseconds(20));
  ASSERT_TRUE(demoted.has_value());
  EXPECT_TRUE(demoted->ok()) << demoted->error();
  EXPECT_EQ(a->status().role, Role::kSecondary);
  EXPECT_EQ(read_back(disk_b, 65536, 8192), data);
  advance(milliseconds(20));
  ok(b->primary());
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

// The link drops while the demotion waits: the node is still Primary, so
// it starts a new generation for the writes the peer never confirmed, and
// the next handshake resyncs them from it. Before (demoted at once), the
// writes stayed recorded in the generation both sides shared; with the
// old Primary's records of a failed local write on the other side, the
// handshake could not tell whose records were newer, resynced nothing and
// left the disks different (the pair simulation, protocol A seed 519).
TEST_F(ResourcePairTest, ALinkLostWhileADemotionWaitsStartsANewGenerationForTheUnconfirmedWrites) {
  make_with_protocol(wire::ReplicationProtocol::kA);
  bring_up_synced();
  disk_a.fail_writes(8192, 4096);
  EXPECT_EQ(write_now(*a, 8192, pattern(8192, 4096, 3)).errno_value(), EIO);
  disk_a.clear_faults();
  advance(kEpochInterval + milliseconds(10));
  ASSERT_EQ(a->status().out_of_sync_bytes, 4096u) << "recorded on the old Primary, as passthrough does";
  // The switchover; a's record stays: no retry cleared it, and the
  // demotion cannot read the block to send it to b.
  disk_a.fail_reads(8192, 4096);
  std::optional<CommandResult> demoted;
  a->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  advance(milliseconds(20));
  ASSERT_TRUE(demoted.has_value() && demoted->ok());
  disk_a.clear_faults();
  ASSERT_EQ(a->status().out_of_sync_bytes, 4096u);
  ok(b->primary());
  const uint64_t shared = uuid_value(b->generations().current);
  ASSERT_EQ(uuid_value(a->generations().current), shared);
  // b's write under protocol A, answered once sent; then b is demoted and
  // the link drops before the write arrives.
  net.set_latency(milliseconds(5));
  const std::vector<uint8_t> data = pattern(65536, 8192, 9);
  ASSERT_TRUE(write_now(*b, 65536, data).ok());
  demoted.reset();
  b->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  settle();
  ASSERT_FALSE(demoted.has_value());
  net.cut();
  net.set_link_up(false);
  advance(milliseconds(100));
  ASSERT_TRUE(demoted.has_value());
  EXPECT_TRUE(demoted->ok()) << demoted->error();
  EXPECT_EQ(b->status().role, Role::kSecondary);
  EXPECT_NE(uuid_value(b->generations().current), shared) << "started while still Primary";
  EXPECT_EQ(b->status().out_of_sync_bytes, 8192u);
  net.set_latency(milliseconds(0));
  net.set_link_up(true);
  advance(seconds(1));
  for (Resource* r : {a.get(), b.get()}) {
    ResourceStatus s = r->status();
    EXPECT_EQ(s.replication, ReplicationState::kEstablished) << s.last_error;
    EXPECT_EQ(s.disk, DiskState::kUpToDate);
    EXPECT_EQ(s.out_of_sync_bytes, 0u);
  }
  EXPECT_EQ(read_back(disk_a, 65536, 8192), data) << "b's acknowledged write reached a";
  EXPECT_TRUE(disks_equal()) << "and a's recorded block was resynced from b";
}

// A local write failed under passthrough: the peer holds the new bytes,
// this disk the old ones, which are what this Primary reads back, and the
// block is recorded here. The demotion writes this disk's copy again, on
// both disks, so the promoted peer serves what the old Primary served (before,
// the record waited for the next connect, and a switchover back and forth
// read the peer's bytes, then the old Primary's again: the pair
// simulation, protocol B and C seed 858).
TEST_F(ResourcePairTest, ADemotionWritesAgainTheBlocksItRecordsAfterAFailedLocalWrite) {
  bring_up_synced();
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished);
  const std::vector<uint8_t> before = pattern(8192, 8192, 2);
  ASSERT_TRUE(write_now(*a, 8192, before).ok());
  disk_a.fail_writes(12288, 4096);
  EXPECT_EQ(write_now(*a, 8192, pattern(8192, 8192, 3)).errno_value(), EIO);
  disk_a.clear_faults();
  advance(kEpochInterval + milliseconds(10));
  ASSERT_EQ(a->status().out_of_sync_bytes, 8192u) << "the failed write's blocks, recorded here";
  ASSERT_NE(read_back(disk_b, 8192, 8192), read_back(disk_a, 8192, 8192)) << "the peer wrote them";
  std::vector<uint8_t> served(8192);
  ASSERT_TRUE(read_now(*a, 8192, served).ok());
  net.reset_stats();
  std::optional<CommandResult> demoted;
  a->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  EXPECT_FALSE(demoted.has_value()) << "waits for the peer to confirm the blocks sent";
  advance(milliseconds(20));
  ASSERT_TRUE(demoted.has_value());
  EXPECT_TRUE(demoted->ok()) << demoted->error();
  EXPECT_EQ(a->status().role, Role::kSecondary);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u) << "retired on both disks: the records are gone";
  EXPECT_TRUE(disks_equal());
  ok(b->primary());
  std::vector<uint8_t> read(8192);
  ASSERT_TRUE(read_now(*b, 8192, read).ok());
  EXPECT_EQ(read, served) << "the new Primary serves what the old one did";
  // Back again: no resync, the same bytes.
  demoted.reset();
  b->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  advance(milliseconds(20));
  ASSERT_TRUE(demoted.has_value() && demoted->ok());
  ok(a->primary());
  ASSERT_TRUE(read_now(*a, 8192, read).ok());
  EXPECT_EQ(read, served);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
}

// The same while the disk still fails those writes: the retry fails here
// and the blocks stay recorded, but the peer got this node's bytes (its
// Data leaves before the local write), so the new Primary still serves
// what the old one did.
TEST_F(ResourcePairTest, ADemotionWhoseRetryFailsHereStillGivesThePeerTheBytesItServed) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 8192, pattern(8192, 4096, 2)).ok());
  disk_a.fail_writes(8192, 4096);
  EXPECT_EQ(write_now(*a, 8192, pattern(8192, 4096, 3)).errno_value(), EIO);
  advance(kEpochInterval + milliseconds(10));
  std::vector<uint8_t> served(4096);
  ASSERT_TRUE(read_now(*a, 8192, served).ok());
  ASSERT_NE(read_back(disk_b, 8192, 4096), served);
  std::optional<CommandResult> demoted;
  a->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  advance(milliseconds(20));
  ASSERT_TRUE(demoted.has_value());
  EXPECT_TRUE(demoted->ok()) << demoted->error();
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u) << "the retry failed here too";
  EXPECT_EQ(read_back(disk_b, 8192, 4096), served);
  disk_a.clear_faults();
  ok(b->primary());
  std::vector<uint8_t> read(4096);
  ASSERT_TRUE(read_now(*b, 8192, read).ok());
  EXPECT_EQ(read, served);
}

// Promoted while a handshake was under way (its Hello, with the old
// generations, already sent): the handshake starts again, so the peer
// decides on, and adopts at the end of the resync, the generation this
// promotion started. Before, the peer took the old one, and the next
// connect after a link loss met the new one as diverged data: a split
// brain with no second Primary (the pair simulation, seed 3041).
TEST_F(ResourcePairTest, APromotionDuringTheHandshakeStartsItAgainWithTheNewGeneration) {
  bring_up_synced();
  ok(a->secondary());
  net.set_link_up(false);
  advance(seconds(1));
  ASSERT_NE(a->status().connection, ConnectionState::kConnected);
  net.set_latency(milliseconds(5));
  net.set_link_up(true);
  advance(milliseconds(6));  // connected; authentication and Hellos take round trips of 10 ms
  ASSERT_NE(a->status().replication, ReplicationState::kEstablished);
  ok(a->primary());
  advance(seconds(1));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.replication, ReplicationState::kEstablished) << s.last_error;
  EXPECT_EQ(uuid_value(b->generations().current), uuid_value(a->generations().current))
      << "the peer holds the generation the promotion started";
  net.set_latency(milliseconds(0));
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 4)).ok());
  net.cut();
  advance(seconds(1));
  s = a->status();
  EXPECT_FALSE(s.split_brain) << s.split_brain_text;
  EXPECT_EQ(s.replication, ReplicationState::kEstablished) << s.last_error;
  EXPECT_TRUE(disks_equal());
}

// Asked to be Primary again before the peer confirmed: the demotion does
// not happen, and the node writes on.
TEST_F(ResourcePairTest, APromotionCancelsAWaitingDemotion) {
  make_with_protocol(wire::ReplicationProtocol::kA);
  bring_up_synced();
  net.set_latency(milliseconds(5));
  ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 9)).ok());
  std::optional<CommandResult> demoted;
  a->secondary_when_confirmed([&demoted](CommandResult r) { demoted = std::move(r); });
  ok(a->primary());
  ASSERT_TRUE(demoted.has_value());
  EXPECT_FALSE(demoted->ok());
  EXPECT_NE(demoted->error().find("cancelled by a promotion"), std::string::npos) << demoted->error();
  advance(milliseconds(50));
  EXPECT_EQ(a->status().role, Role::kPrimary);
  EXPECT_TRUE(write_now(*a, 0, pattern(0, 4096, 2)).ok());
}

// A block the Secondary failed to write: as DRBD's pass_on, its disk is
// Inconsistent (it lacks data the Primary has, and must not be promoted),
// and it reconnects so that the handshake resyncs the block to it. Before,
// both sides kept the block recorded on the running link; a switchover
// then promoted the Secondary without it (the pair simulation, once its
// disks failed writes and flushes).
TEST_F(ResourcePairTest, ASecondaryThatFailsToWriteThePeersDataIsResyncedAtOnce) {
  bring_up_synced();
  disk_b.fail_writes(65536, 4096);
  const std::vector<uint8_t> data = pattern(65536, 4096, 4);
  ASSERT_TRUE(write_now(*a, 65536, data).ok()) << "written here; the peer's failure is recorded";
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  EXPECT_EQ(b->status().io_errors, 1u);
  EXPECT_FALSE(b->primary().ok()) << "Inconsistent: not promotable";
  disk_b.clear_faults();
  net.reset_stats();
  advance(milliseconds(500));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(resync_data_bytes(0), 4096u);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(read_back(disk_b, 65536, 4096), data);
}

TEST_F(ResourcePairTest, OneBarrierPerEpochNotPerWriteAndAFlushClosesItAtOnce) {
  bring_up_synced();
  net.reset_stats();
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(write_now(*a, i * 4096, pattern(i * 4096, 4096, 5)).ok());
  EXPECT_EQ(net.sent(0, wire::FrameType::kBarrier).frames, 0u) << "the epoch is still open";
  advance(kEpochInterval);
  EXPECT_EQ(net.sent(0, wire::FrameType::kBarrier).frames, 1u) << "eight writes, one peer flush";
  // The writes are retired (the peer flushed them): a link loss now leaves
  // nothing out of sync.
  ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 6)).ok());
  auto flushed = std::make_shared<std::optional<IoStatus>>();
  a->submit_flush([flushed](IoStatus st) { *flushed = st; });
  settle();
  ASSERT_TRUE(flushed->has_value()) << "a flush does not wait for the epoch timer";
  EXPECT_TRUE(flushed->value().ok());
  EXPECT_EQ(net.sent(0, wire::FrameType::kBarrier).frames, 2u);
  net.set_link_up(false);
  settle();
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
}

TEST_F(ResourcePairTest, ProtocolAWaitsWhenTheLinkCannotTakeMore) {
  make_with_protocol(wire::ReplicationProtocol::kA);
  bring_up_synced();
  net.set_stalled(true);  // the socket takes nothing: everything queues here
  std::vector<std::shared_ptr<std::optional<IoStatus>>> done;
  const uint64_t n = kDefaultCongestionFill / (1u << 20) + 3;
  for (uint64_t i = 0; i < n; ++i) done.push_back(submit(*a, i << 20, pattern(i << 20, 1u << 20, 7)));
  advance(milliseconds(50));
  uint64_t answered = 0;
  for (auto& d : done) answered += d->has_value() ? 1 : 0;
  // Answered while their own frames left at most kDefaultCongestionFill queued
  // (frame headers make the 8th go just over it).
  EXPECT_EQ(answered, kDefaultCongestionFill / (1u << 20) - 1);
  EXPECT_FALSE(done.back()->has_value()) << "a writer faster than the link must wait";
  net.set_stalled(false);
  settle();  // the queue drained: answered at once (on_drained), not at the next poll
  for (auto& d : done) {
    ASSERT_TRUE(d->has_value());
    EXPECT_TRUE(d->value().ok());
  }
  advance(milliseconds(50));
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, ProtocolBCompletesWhenThePeerReceived) {
  make_with_protocol(wire::ReplicationProtocol::kB);
  bring_up_synced();
  net.set_latency(milliseconds(1));
  auto done = submit(*a, 0, pattern(0, 4096, 5));
  advance(milliseconds(1));
  EXPECT_FALSE(done->has_value());
  advance(milliseconds(1));
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(net.sent(1, wire::FrameType::kDataAck).frames, 1u);
}

TEST_F(ResourcePairTest, FlushUnderProtocolCIsDurableOnBothDisks) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 4096, pattern(4096, 8192, 6)).ok());
  auto flushed = std::make_shared<std::optional<IoStatus>>();
  net.set_latency(milliseconds(1));
  a->submit_flush([flushed](IoStatus s) { *flushed = s; });
  advance(milliseconds(1));
  EXPECT_FALSE(flushed->has_value()) << "flush completed before the peer's BarrierAck";
  advance(milliseconds(1));
  ASSERT_TRUE(flushed->has_value());
  ASSERT_TRUE(flushed->value().ok());
  // Power loss on both nodes: what the flush covered survives.
  disk_a.crash();
  disk_b.crash();
  EXPECT_EQ(read_back(disk_a, 4096, 8192), pattern(4096, 8192, 6));
  EXPECT_EQ(read_back(disk_b, 4096, 8192), pattern(4096, 8192, 6));
}

TEST_F(ResourcePairTest, WriteBeyondTheEndIsEinval) {
  bring_up_synced();
  EXPECT_EQ(write_now(*a, data_size() - 512, pattern(0, 1024, 1)).errno_value(), EINVAL);
}

TEST_F(ResourcePairTest, LocalWriteErrorGoesToTheCallerAndMarksOutOfSync) {
  bring_up_synced();
  disk_a.fail_writes(40960, 4096);
  EXPECT_EQ(write_now(*a, 40960, pattern(40960, 4096, 1)).errno_value(), EIO);
  EXPECT_EQ(a->status().io_errors, 1u);
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u);
  EXPECT_NE(a->status().last_error.find("local write at offset 40960 failed: Input/output error"),
            std::string::npos);
}

TEST_F(ResourcePairTest, DataGoesToThePeerBeforeTheLocalWriteSoBothOverlap) {
  bring_up_synced();
  const std::vector<uint8_t> data = pattern(65536, 8192, 4);
  int frames = 0;
  bool local_already_written = true;
  net.on_frame = [&](int from, const wire::Frame& f) {
    if (from != 0 || !std::holds_alternative<wire::Data>(f.message)) return;
    ++frames;
    local_already_written = read_back(disk_a, 65536, 8192) == data;
  };
  ASSERT_TRUE(write_now(*a, 65536, data).ok());
  net.on_frame = nullptr;
  EXPECT_EQ(frames, 1);
  EXPECT_FALSE(local_already_written) << "the frame should leave before the local write";
  EXPECT_EQ(read_back(disk_a, 65536, 8192), data);
  EXPECT_EQ(read_back(disk_b, 65536, 8192), data);
}

TEST_F(ResourcePairTest, LocalWriteErrorAfterTheFrameLeftStillFailsTheCallerAndResyncsThePeer) {
  bring_up_synced();
  disk_a.fail_writes(40960, 4096);
  EXPECT_EQ(write_now(*a, 40960, pattern(40960, 4096, 1)).errno_value(), EIO);
  advance(milliseconds(10));
  // The peer got the write our disk refused: the block is out of sync here,
  // the write is retired (its activity-log extent released) all the same.
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u);
  disk_a.clear_faults();
  ok(a->disconnect());
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal()) << "our copy (what we report to readers) wins";
}

TEST_F(ResourcePairTest, PeerWriteErrorMarksTheBlockOutOfSyncOnBothSides) {
  bring_up_synced();
  disk_b.fail_writes(40960, 4096);
  ASSERT_TRUE(write_now(*a, 40960, pattern(40960, 4096, 1)).ok());  // our copy is fine
  EXPECT_EQ(a->status().out_of_sync_bytes, 4096u);
  EXPECT_EQ(b->status().io_errors, 1u);
}

// (A Primary's detach: resource_attach_primary_test.cc.)
TEST_F(ResourcePairTest, SecondaryDetachAndReattachReconnects) {
  bring_up_synced();
  ok(b->detach());
  EXPECT_EQ(b->status().disk, DiskState::kDiskless);
  settle();
  EXPECT_EQ(a->status().connection, ConnectionState::kConnecting);
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());
  // The disk comes back: the pair reconnects by itself and catches up.
  ok(b->attach());
  advance(std::chrono::seconds(1));
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, ObserverHearsOfStateChangesOncePerLoopTurn) {
  make();
  int calls = 0;
  std::vector<std::string> seen;
  a->set_state_observer([&] {
    ++calls;
    seen.push_back(std::string(to_string(a->status().disk)) + "/" + to_string(a->status().connection));
  });
  create_and_attach(*a);  // Diskless -> Attaching -> Inconsistent in one turn
  EXPECT_EQ(calls, 0) << "never from inside a transition";
  settle();
  EXPECT_EQ(calls, 1);
  create_and_attach(*b);
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  settle();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), "Inconsistent/Connected");
}

TEST_F(ResourcePairTest, DestroyingTheResourceFailsWhatIsStillPending) {
  bring_up_synced();
  net.set_latency(milliseconds(1));
  auto done = submit(*a, 0, pattern(0, 4096, 1));
  ASSERT_FALSE(done->has_value());
  a.reset();
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(done->value().errno_value(), EIO);
}

TEST_F(ResourcePairTest, WritesToAnExtentTheLogEvictedSurviveACrashInTheBitmap) {
  // Standalone, every write sets bits. An extent that leaves the activity
  // log is no longer resynced wholesale after a crash, so its bits must be
  // on disk before the transaction that evicts it: the 65th extent evicts
  // the first.
  constexpr uint64_t kExtents = kMaxAlExtents + 1;
  FakeStorage disk(kExtents * kAlExtentSize + (4u << 20));
  {
    Resource r(loop, options_for(0), disk);
    ok(r.create_md());
    // A good image (Consistent: no peer confirmed it yet), so that the
    // forced promotion keeps its empty bitmap (forcing an Inconsistent
    // disk marks every block for the peer).
    Result<Superblock> sb = read_metadata(disk, MetadataLayout::kInternal);
    ASSERT_TRUE(sb.ok()) << sb.error();
    sb->flags.consistent = true;
    ASSERT_TRUE(write_superblock(disk, sb.value()).ok());
    ok(r.attach());
    ok(r.primary(/*force=*/true));
    ASSERT_EQ(r.bitmap()->count(), 0u);
    for (uint64_t e = 0; e < kExtents; ++e) {
      auto done = std::make_shared<std::optional<IoStatus>>();
      r.submit_write(e * kAlExtentSize, pattern(e, 4096, 1), 0, [done](IoStatus s) { *done = s; });
      settle();
      ASSERT_TRUE(done->has_value() && done->value().ok()) << "extent " << e;
    }
    ASSERT_EQ(r.bitmap()->count(), kExtents);
    disk.crash();  // nothing was flushed by the application
  }
  Resource r(loop, options_for(0), disk);
  ok(r.attach());
  ASSERT_NE(r.bitmap(), nullptr);
  EXPECT_TRUE(r.bitmap()->test(0)) << "the evicted extent's write is not in the bitmap";
}

TEST_F(ResourcePairTest, ExternalMetadataLeavesTheWholeDeviceToData) {
  FakeStorage md(1 << 20);
  ResourceOptions o = options_for(0);
  o.metadata_layout = MetadataLayout::kExternal;
  Resource r(loop, o, disk_a, &md);
  ok(r.create_md());
  ok(r.attach());
  EXPECT_EQ(r.status().size_bytes, kTestDiskBytes);
  ok(r.primary(true));
  disk_a.clear_write_log();
  const uint64_t last = kTestDiskBytes - 4096;
  auto done = std::make_shared<std::optional<IoStatus>>();
  r.submit_write(last, pattern(last, 4096, 1), kWriteFua, [done](IoStatus s) { *done = s; });
  ASSERT_TRUE(done->has_value() && done->value().ok());
  ASSERT_EQ(disk_a.writes().size(), 1u) << "only the data: AL and bitmap are on the metadata storage";
  EXPECT_EQ(disk_a.writes()[0].offset, last);
  disk_a.crash();
  EXPECT_EQ(read_back(disk_a, last, 4096), pattern(last, 4096, 1)) << "FUA made it durable";
}

}  // namespace
}  // namespace vrrpd::replication::testing
