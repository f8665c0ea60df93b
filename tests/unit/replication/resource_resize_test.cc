// Resource: online grow (drbdadm resize). Both backing disks grow, one node
// is asked; both end with the same larger size, the added blocks resynced
// from the Primary to the Secondary (and only those), the generations kept.
// Refusals name the reason; a link lost between the peer's growth and ours
// is finished by the next handshake, in the right direction.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "replication/grow.h"
#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

constexpr uint64_t kGrownDiskBytes = 2 * kTestDiskBytes;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ResizeTest : public ResourcePairTest {
 protected:
  // A synced pair, `a` Primary, some data written; the disks hold
  // different bytes in the space they are about to gain.
  void bring_up_with_data() {
    bring_up_synced();
    ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
    old_size = data_size();
  }
  // bring_up_with_data() and grown disks, with b speaking at most
  // `peer_version` of the replication protocol.
  void bring_up_grown_with_peer_version(uint16_t peer_version) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    ob.max_protocol_version = peer_version;
    make(oa, ob);
    bring_up_with_data();
    grow_disks();
  }
  // bring_up_with_data() and grown disks, `a` under on-io-error detach.
  void bring_up_grown_with_a_detaching_on_io_errors() {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.on_io_error = IoErrorPolicy::kDetach;
    make(oa, ob);
    bring_up_with_data();
    grow_disks();
  }
  void grow_disks(bool grow_a = true, bool grow_b = true) {
    if (grow_a) disk_a.grow(kGrownDiskBytes, 0xA1);
    if (grow_b) disk_b.grow(kGrownDiskBytes, 0xB2);
  }
  // Runs r.resize() and the loop until it answered.
  CommandResult resize_now(Resource& r, const ResizeOptions& options = {}) {
    std::optional<CommandResult> result;
    r.resize([&result](CommandResult c) { result = std::move(c); }, options);
    settle();
    EXPECT_TRUE(result.has_value()) << "resize did not answer";
    return result.value_or(CommandResult::failure("no answer"));
  }

  // The ResizeReply that `side` sends, and everything after it, is lost
  // (the link breaks right after the peer resized); reply_lost tells when.
  void lose_the_link_at_the_reply_from(int side) {
    reply_lost = false;
    net.drop_if = [this, side](int from, const wire::Frame& f) {
      if (from == side && std::holds_alternative<wire::ResizeReply>(f.message)) reply_lost = true;
      return reply_lost;
    };
  }

  uint64_t old_size = 0;
  bool reply_lost = false;
};

TEST_F(ResizeTest, BothNodesGrowAndOnlyTheAddedBlocksGoToTheSecondary) {
  bring_up_with_data();
  grow_disks();
  const uint64_t generation_a = a->generations().current, generation_b = b->generations().current;
  net.reset_stats();
  ok(resize_now(*a));
  const uint64_t new_size = a->status().size_bytes;
  EXPECT_GT(new_size, old_size);
  EXPECT_EQ(a->size(), new_size) << "the frontend sees the new size";
  EXPECT_EQ(b->status().size_bytes, new_size);
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent) << "the Secondary takes the added blocks";
  EXPECT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  EXPECT_EQ(a->status().replication, ReplicationState::kSyncSource);
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected) << "no reconnect";
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal()) << "over the new size";
  EXPECT_EQ(resync_data_bytes(0), new_size - old_size) << "the added blocks, not the old data";
  EXPECT_EQ(a->generations().current, generation_a) << "no new generation: nothing diverged";
  EXPECT_EQ(b->generations().current, generation_b);
  // The added space is in use like the rest.
  ASSERT_TRUE(write_now(*a, new_size - 8192, pattern(new_size - 8192, 8192, 4)).ok());
  EXPECT_EQ(read_back(disk_b, new_size - 8192, 8192), pattern(new_size - 8192, 8192, 4));
  // And the metadata of both says so after a restart.
  auto read_a = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(read_a.ok()) << read_a.error();
  EXPECT_EQ(read_a->data_size, new_size);
  EXPECT_TRUE(read_a->flags.consistent);
  auto read_b = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(read_b.ok()) << read_b.error();
  EXPECT_EQ(read_b->data_size, new_size);
}

TEST_F(ResizeTest, AskedOnTheSecondaryThePrimaryStillIsTheSource) {
  bring_up_with_data();
  grow_disks();
  ok(resize_now(*b));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent);
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_GT(data_size(), old_size);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, WritesDuringTheResyncOfTheAddedBlocksAreKept) {
  bring_up_with_data();
  ResourceOptions ob = options_for(1);
  ob.resync_rate = 4u << 20;  // the added ~16 MiB take ~4 s (b, the target, paces)
  ok(b->adjust(ob));
  grow_disks();
  ok(resize_now(*a));
  advance(std::chrono::milliseconds(500));
  ASSERT_EQ(b->status().replication, ReplicationState::kSyncTarget);
  const uint64_t late = data_size() - (1u << 20);
  ASSERT_TRUE(write_now(*a, late, pattern(late, 1u << 20, 6)).ok());
  advance(seconds(10));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(read_back(disk_b, late, 1u << 20), pattern(late, 1u << 20, 6));
  EXPECT_TRUE(disks_equal());
}

// Asked on both nodes at once (two operators, or a script run on each
// node), with different sizes: the requests cross on the link. Neither
// node grows; both are told why, the link stays up, and asking again on
// one node works.
TEST_F(ResizeTest, TwoRequestsThatCrossAreBothRefusedAndNothingChanges) {
  bring_up_with_data();
  grow_disks();
  std::optional<CommandResult> from_a, from_b;
  a->resize([&from_a](CommandResult r) { from_a = std::move(r); }, ResizeOptions{old_size + (1u << 20), false});
  b->resize([&from_b](CommandResult r) { from_b = std::move(r); }, ResizeOptions{old_size + (2u << 20), false});
  settle();
  ASSERT_TRUE(from_a.has_value() && from_b.has_value()) << "both answered";
  ASSERT_FALSE(from_a->ok());
  ASSERT_FALSE(from_b->ok());
  EXPECT_TRUE(contains(from_a->error(), "the two requests crossed")) << from_a->error();
  EXPECT_TRUE(contains(from_b->error(), "the two requests crossed")) << from_b->error();
  EXPECT_EQ(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected) << "no reconnect";
  ok(resize_now(*b, ResizeOptions{old_size + (2u << 20), false}));
  EXPECT_EQ(data_size(), old_size + (2u << 20));
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

// Found by the pair simulation (seed 11934, protocols B and C): the
// Secondary asked for a resize and started a verify before the answer.
// The answer made it the target of the added blocks, which ended its
// verify without a word to the peer, and the Primary stayed VerifyT, never
// the source of those blocks. A verify now waits for the resize, as a
// resize waits for a verify.
TEST_F(ResizeTest, AVerifyIsRefusedWhileAResizeWaitsForThePeer) {
  bring_up_with_data();
  grow_disks();
  std::optional<CommandResult> resized;
  b->resize([&resized](CommandResult r) { resized = std::move(r); });
  CommandResult verify = b->verify();
  ASSERT_FALSE(verify.ok());
  EXPECT_TRUE(contains(verify.error(), "a resize is waiting for the peer's answer")) << verify.error();
  settle();
  ASSERT_TRUE(resized.has_value());
  ok(*resized);
  advance(seconds(1));
  for (Resource* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->status().replication, ReplicationState::kEstablished) << r->status().last_error;
    EXPECT_EQ(r->status().out_of_sync_bytes, 0u);
  }
  EXPECT_TRUE(disks_equal());
  ok(b->verify());  // and once it is done
}

// Found by the pair simulation (seed 47761 under every protocol): the
// Primary detached while its resize waited for the peer, which then grew
// as the target of the added blocks (Inconsistent) with no disk left to
// send them; a Diskless Primary does not connect to an Inconsistent peer,
// and the pair never connected again.
TEST_F(ResizeTest, APrimaryDoesNotDetachWhileItsResizeWaitsForThePeer) {
  bring_up_with_data();
  grow_disks();
  std::optional<CommandResult> resized;
  a->resize([&resized](CommandResult r) { resized = std::move(r); });
  CommandResult detach = a->detach();
  ASSERT_FALSE(detach.ok());
  EXPECT_TRUE(contains(detach.error(), "a resize is waiting for the peer's answer")) << detach.error();
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  settle();
  ASSERT_TRUE(resized.has_value());
  ok(*resized);
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
  ok(a->detach());  // and once it is answered
  EXPECT_EQ(a->status().disk, DiskState::kDiskless);
}

// The variant of seed 47761 that cannot be refused: the Primary's disk
// fails (on-io-error detach) while its plain resize waits for the peer.
// The peer grows as the target of the added blocks, which only that disk
// could send. The Primary's volume never grew, so the peer, Inconsistent
// for those blocks alone, takes back its old size and is UpToDate again,
// and the Diskless Primary serves through it.
TEST_F(ResizeTest, APrimaryWhoseDiskFailsWhileItsResizeWaitsKeepsServingThroughThePeer) {
  bring_up_grown_with_a_detaching_on_io_errors();
  net.set_latency(std::chrono::milliseconds(2));
  std::optional<CommandResult> resized;
  a->resize([&resized](CommandResult r) { resized = std::move(r); });
  // a's disk fails a write before the answer is in: given up. The next
  // write goes straight to b, which has grown by the time it lands.
  disk_a.fail_writes(0, kGrownDiskBytes);
  auto failed_locally = submit(*a, 0, pattern(0, 4096, 7));
  auto through_peer = submit(*a, 65536, pattern(65536, 4096, 9));
  advance(seconds(4));
  ASSERT_TRUE(resized.has_value());
  EXPECT_FALSE(resized->ok());
  ResourceStatus sa = a->status(), sb = b->status();
  EXPECT_EQ(sa.disk, DiskState::kDiskless);
  EXPECT_EQ(sa.role, Role::kPrimary);
  EXPECT_EQ(sb.disk, DiskState::kUpToDate) << sb.last_error;
  EXPECT_EQ(sb.size_bytes, old_size) << "the volume never grew";
  EXPECT_EQ(sa.size_bytes, old_size);
  // What a wrote through b since its disk failed is recorded there for
  // that disk (the first write went out before, and a's activity log
  // holds its extent).
  EXPECT_EQ(sb.out_of_sync_bytes, 4096u);
  EXPECT_EQ((std::pair{sa.connection, sa.replication}),
            (std::pair{ConnectionState::kConnected, ReplicationState::kEstablished}))
      << sa.last_error;
  // The write that found the disk failing went on through the peer, and
  // the next ones do too.
  ASSERT_TRUE(failed_locally->has_value());
  EXPECT_TRUE(failed_locally->value().ok()) << failed_locally->value().message();
  EXPECT_EQ(read_back(disk_b, 0, 4096), pattern(0, 4096, 7));
  auto later = submit(*a, 8192, pattern(8192, 4096, 8));
  advance(std::chrono::milliseconds(100));
  ASSERT_TRUE(later->has_value());
  EXPECT_TRUE(later->value().ok()) << later->value().message();
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 8));
  ASSERT_TRUE(through_peer->has_value());
  EXPECT_TRUE(through_peer->value().ok()) << through_peer->value().message();
  // b's disk says so after a restart: the old size, consistent.
  auto on_disk = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(on_disk.ok()) << on_disk.error();
  EXPECT_EQ(on_disk->data_size, old_size);
  EXPECT_TRUE(on_disk->flags.consistent);
  // a's disk, healthy again, comes back under it and gets all it missed
  // (its metadata moved to the end of the grown disk first, as drbdadm's
  // dump and restore would).
  disk_a.clear_faults();
  Result<Superblock> found = find_internal_metadata_below_end(disk_a);
  ASSERT_TRUE(found.ok()) << found.error();
  ASSERT_TRUE(move_internal_metadata_to_end(disk_a, found.value()).ok());
  ok(a->attach());
  advance(seconds(4));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(a->status().size_bytes, old_size);
  EXPECT_TRUE(disks_equal());
}

// The other side of the crossing: the peer answered the growth (it is the
// source of the added blocks) and its operator started a verify before the
// asking node's disk went Inconsistent. The verify is abandoned when that
// StateChange comes, and the added blocks are resynced as without it.
TEST_F(ResizeTest, AVerifyThePeerStartsRightAfterAnsweringAGrowthGivesWayToItsResync) {
  bring_up_with_data();
  grow_disks();
  net.set_latency(std::chrono::milliseconds(5));
  std::optional<CommandResult> resized;
  b->resize([&resized](CommandResult r) { resized = std::move(r); });
  advance(std::chrono::milliseconds(7));  // a has answered; b has not heard yet
  ASSERT_GT(a->size(), old_size) << "a grew as it answered";
  ASSERT_EQ(b->size(), old_size) << "b has not heard the answer";
  ok(a->verify());
  advance(seconds(3));
  ASSERT_TRUE(resized.has_value());
  ok(*resized);
  for (Resource* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->status().replication, ReplicationState::kEstablished) << r->status().last_error;
    EXPECT_EQ(r->status().disk, DiskState::kUpToDate);
    EXPECT_EQ(r->status().out_of_sync_bytes, 0u);
  }
  EXPECT_TRUE(disks_equal());
}

// With internal metadata the resize's flushes are flushes of the data's
// file: one that fails (and loses what it covered, as failed writeback
// does) loses the peer's writes still in the page cache too. They are
// written again, as after any failed metadata write, so that the next
// flush that works makes them durable.
TEST_F(ResizeTest, AFailedFlushOfTheGrownMetadataKeepsThePeersWrites) {
  bring_up_with_data();
  // Not yet flushed on b: its epoch's Barrier comes 10 ms later.
  auto write = submit(*a, 8192, pattern(8192, 4096, 7));
  settle();
  ASSERT_TRUE(write->has_value() && write->value().ok());
  ASSERT_GT(disk_b.pending_writes(), 0u);
  grow_disks();
  disk_b.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  CommandResult r = resize_now(*a);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "writing the grown metadata failed")) << r.error();
  ASSERT_GT(disk_b.lost_bytes(), 0u);
  advance(seconds(1));  // b's Barrier flush, which works
  // A power loss of b keeps the write: it was written again, and flushed.
  b.reset();
  disk_b.crash();
  EXPECT_EQ(read_back(disk_b, 8192, 4096), pattern(8192, 4096, 7));
}

// A block the Primary recorded out of sync before the resize (its own
// write failed there under passthrough; the peer has the data) is not
// among the added blocks the Secondary fetches. The end of that resync
// must not clear it: it waits for the next connect, as before.
TEST_F(ResizeTest, ARecordOfTheSourceOutsideTheAddedBlocksOutlivesTheirResync) {
  bring_up_with_data();
  disk_a.fail_writes(65536, 4096);
  auto w = submit(*a, 65536, pattern(65536, 4096, 9));
  settle();
  ASSERT_TRUE(w->has_value());
  ASSERT_FALSE(w->value().ok());
  disk_a.clear_faults();
  const uint64_t recorded = a->status().out_of_sync_bytes;
  ASSERT_GE(recorded, 4096u);
  ASSERT_FALSE(disks_equal());
  grow_disks();
  ok(resize_now(*a));
  advance(seconds(1));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(a->status().out_of_sync_bytes, recorded) << "the record waits for the next connect";
  net.cut();
  advance(seconds(3));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, RefusedWhenThePeerDidNotGrowAndNothingChanges) {
  bring_up_with_data();
  grow_disks(/*grow_a=*/true, /*grow_b=*/false);
  CommandResult r = resize_now(*a);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "resize refused by the peer: the peer's backing storage did not grow")) << r.error();
  EXPECT_EQ(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << "the link stays";
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
}

TEST_F(ResizeTest, RefusalsBeforeAnythingIsAsked) {
  bring_up_with_data();
  CommandResult r = resize_now(*a);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the backing storage did not grow")) << r.error();
  grow_disks();
  ok(b->disconnect());
  settle();
  r = resize_now(*a);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the link must be Established")) << r.error();
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeRequest).frames, 0u);
  EXPECT_EQ(data_size(), old_size);
}

TEST_F(ResizeTest, RefusedWithAPeerThatSpeaksAnOlderProtocol) {
  bring_up_grown_with_peer_version(2);
  CommandResult r = resize_now(*a);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "does not know online resize")) << r.error();
  EXPECT_EQ(data_size(), old_size);
}

// ---- resize --size / --assume-clean (protocol 5) ----

TEST_F(ResizeTest, SizeGrowsBothNodesToExactlyThatSize) {
  bring_up_with_data();
  grow_disks();
  const uint64_t asked = old_size + (4u << 20);
  net.reset_stats();
  ok(resize_now(*a, {.size = asked}));
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeWithOptions).frames, 1u);
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeRequest).frames, 0u);
  EXPECT_EQ(data_size(), asked) << "not the largest both hold";
  EXPECT_EQ(a->size(), asked);
  EXPECT_EQ(b->status().size_bytes, asked);
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(resync_data_bytes(0), asked - old_size) << "the added 4 MiB";
  EXPECT_TRUE(disks_equal());
  // A later plain resize takes the rest.
  ok(resize_now(*a));
  EXPECT_GT(data_size(), asked);
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, SizeThePeerCannotHoldIsRefusedAndNothingChanges) {
  bring_up_with_data();
  disk_a.grow(kGrownDiskBytes, 0xA1);
  disk_b.grow(kTestDiskBytes + (8u << 20), 0xB2);
  const uint64_t asked = old_size + (12u << 20);
  CommandResult r = resize_now(*a, {.size = asked});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "resize refused by the peer: the peer's backing storage holds ")) << r.error();
  EXPECT_TRUE(contains(r.error(), "not " + std::to_string(asked) + "; grow it too")) << r.error();
  EXPECT_EQ(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << "the link stays";
  // Without --size the same pair grows to what both hold.
  ok(resize_now(*a));
  EXPECT_GT(data_size(), old_size);
  EXPECT_LT(data_size(), asked);
  EXPECT_EQ(b->status().size_bytes, data_size());
}

TEST_F(ResizeTest, SizeRefusalsBeforeAnythingIsAsked) {
  bring_up_with_data();
  grow_disks();
  net.reset_stats();
  struct Case {
    uint64_t size;
    std::string says;
  };
  const Case cases[] = {
      {old_size, "the volume has " + std::to_string(old_size) + " bytes already"},
      {old_size + 1000, "is not a multiple of 4096 bytes"},
      {kGrownDiskBytes, "does not fit: this node's backing storage holds "},
  };
  for (const Case& c : cases) {
    CommandResult r = resize_now(*a, {.size = c.size});
    ASSERT_FALSE(r.ok()) << c.size;
    EXPECT_TRUE(contains(r.error(), "resize refused: --size " + std::to_string(c.size)) ||
                contains(r.error(), "resize refused: " + c.says))
        << r.error();
    EXPECT_TRUE(contains(r.error(), c.says)) << r.error();
  }
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeWithOptions).frames, 0u);
  EXPECT_EQ(data_size(), old_size);
}

TEST_F(ResizeTest, AssumeCleanGrowsWithoutAResyncAndBothStayUpToDate) {
  bring_up_with_data();
  // Fresh space that reads the same on both nodes (zeroed devices).
  disk_a.grow(kGrownDiskBytes, 0);
  disk_b.grow(kGrownDiskBytes, 0);
  const uint64_t generation_a = a->generations().current;
  net.reset_stats();
  ok(resize_now(*b, {.assume_clean = true}));
  EXPECT_GT(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, data_size());
  for (Resource* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->status().disk, DiskState::kUpToDate);
    EXPECT_EQ(r->status().replication, ReplicationState::kEstablished);
    EXPECT_EQ(r->status().out_of_sync_bytes, 0u);
  }
  advance(seconds(1));
  EXPECT_EQ(resync_data_bytes(0), 0u) << "nothing to resync";
  EXPECT_EQ(net.sent(1, wire::FrameType::kResyncRequest).frames, 0u);
  EXPECT_EQ(a->generations().current, generation_a);
  EXPECT_TRUE(disks_equal());
  // Persisted: the Secondary's metadata says Consistent with the new size,
  // and a reconnect finds nothing to resync.
  auto read_b = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(read_b.ok()) << read_b.error();
  EXPECT_EQ(read_b->data_size, data_size());
  EXPECT_TRUE(read_b->flags.consistent);
  net.cut();
  advance(seconds(3));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(resync_data_bytes(0), 0u);
  // The added space is mirrored like the rest.
  const uint64_t late = data_size() - 8192;
  ASSERT_TRUE(write_now(*a, late, pattern(late, 8192, 5)).ok());
  EXPECT_EQ(read_back(disk_b, late, 8192), pattern(late, 8192, 5));
}

TEST_F(ResizeTest, AssumeCleanOldMetadataThatCannotBeZeroedStaysOutOfSyncUntilResynced) {
  bring_up_with_data();
  auto old_b = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(old_b.ok()) << old_b.error();
  disk_a.grow(kGrownDiskBytes, 0);
  disk_b.grow(kGrownDiskBytes, 0);
  // b's old bitmap and activity log cannot be overwritten.
  disk_b.fail_writes(old_b->bitmap_offset, old_b->superblock_offset - old_b->bitmap_offset);
  ok(resize_now(*a, {.assume_clean = true}));
  EXPECT_EQ(b->status().size_bytes, data_size());
  EXPECT_GT(b->status().out_of_sync_bytes, 0u) << "b's old metadata differs from a's zeros";
  EXPECT_LE(b->status().out_of_sync_bytes, kTestDiskBytes - old_size);
  EXPECT_GT(b->status().io_errors, 0u);
  EXPECT_NE(b->status().last_error.find("zeroing the old metadata after the move failed"), std::string::npos)
      << b->status().last_error;
  EXPECT_NE(b->status().last_error.find("stay out of sync until the next connect resyncs them"), std::string::npos)
      << b->status().last_error;
  // The next connect resyncs them from the Primary.
  disk_b.clear_faults();
  net.cut();
  advance(seconds(3));
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, AssumeCleanLaterStillFindsZerosWhereASizedResizeLeftTheOldMetadata) {
  bring_up_with_data();
  disk_a.grow(kGrownDiskBytes, 0);
  disk_b.grow(kGrownDiskBytes, 0);
  // One block more: the metadata moves to the new end, and most of the old
  // copy is left in the unused space between the data and it.
  ok(resize_now(*a, {.size = old_size + 4096}));
  advance(seconds(1));
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(read_back(disk_b, old_size, kTestDiskBytes - old_size),
            std::vector<uint8_t>(kTestDiskBytes - old_size, 0))
      << "the old metadata was discarded";
  // The rest, assumed clean: the metadata does not move again, and the
  // space it left reads as zeros on both nodes.
  ok(resize_now(*a, {.assume_clean = true}));
  EXPECT_GT(data_size(), kTestDiskBytes);
  EXPECT_EQ(b->status().out_of_sync_bytes, 0u);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, AWrongAssumeCleanClaimIsFoundByAnOnlineVerify) {
  bring_up_with_data();
  grow_disks();  // the added space holds 0xA1 on a, 0xB2 on b
  ok(resize_now(*a, {.assume_clean = true}));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << "the operator's claim is not checked";
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u);
  ok(a->verify());
  for (int i = 0; i < 5000 && a->status().replication != ReplicationState::kEstablished; ++i)
    advance(std::chrono::milliseconds(1));
  // What the disks gained differs; the old metadata between the old data
  // and the old end of the device was zeroed on both, so it does not.
  const uint64_t differing = data_size() - kTestDiskBytes;
  EXPECT_EQ(a->status().verify_out_of_sync_bytes, differing);
  EXPECT_EQ(a->status().out_of_sync_bytes, differing);
  EXPECT_EQ(read_back(disk_a, old_size, kTestDiskBytes - old_size),
            std::vector<uint8_t>(kTestDiskBytes - old_size, 0))
      << "the old metadata reads as zeros";
}

TEST_F(ResizeTest, OptionsNeedAPeerOfProtocolFive) {
  bring_up_grown_with_peer_version(4);
  for (const ResizeOptions& o :
       {ResizeOptions{.size = old_size + (4u << 20)}, ResizeOptions{.assume_clean = true}}) {
    CommandResult r = resize_now(*a, o);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.error(), "it speaks replication protocol 4; 5 is needed); a plain resize works"))
        << r.error();
  }
  EXPECT_EQ(data_size(), old_size);
  ok(resize_now(*a));
  EXPECT_GT(data_size(), old_size);
}

TEST_F(ResizeTest, ALinkLostAfterThePeerGrewIsFinishedByTheNextHandshake) {
  bring_up_with_data();
  grow_disks();
  // b grows and answers; the answer is lost with the link.
  lose_the_link_at_the_reply_from(1);
  std::optional<CommandResult> result;
  a->resize([&result](CommandResult c) { result = std::move(c); });
  settle();
  ASSERT_TRUE(reply_lost);
  EXPECT_GT(b->status().size_bytes, old_size);
  EXPECT_EQ(data_size(), old_size);
  net.drop_if = nullptr;
  net.cut();
  advance(seconds(2));
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
  EXPECT_TRUE(contains(result->error(), "the link dropped before the peer answered")) << result->error();
  // Reconnected: a grew to b's size as the source of the added blocks.
  advance(seconds(2));
  EXPECT_EQ(data_size(), b->status().size_bytes);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(disks_equal());
}

// Found by the pair simulation (seed 43067 under every protocol): b grew
// in a resize whose answer a never heard; a lost its disk meanwhile
// (there an operator's detach, refused now while a resize waits; here
// on-io-error detach) and attached it again under the Primary
// (Inconsistent, SyncTarget), and every handshake after that was refused:
// "this Primary would have to take the added blocks from it". It takes
// everything it lacks from the peer anyway: it now grows and fetches the
// added blocks with the rest.
TEST_F(ResizeTest, AnInconsistentPrimaryTakesThePeersGrowthWithTheRestOfItsResync) {
  bring_up_grown_with_a_detaching_on_io_errors();
  lose_the_link_at_the_reply_from(1);
  a->resize([](CommandResult) {}, {.assume_clean = true});  // b stays UpToDate
  settle();
  ASSERT_TRUE(reply_lost);
  ASSERT_GT(b->status().size_bytes, old_size);
  ASSERT_EQ(b->status().disk, DiskState::kUpToDate);
  // a's disk fails a write: given up, a serves through b.
  disk_a.fail_writes(0, kGrownDiskBytes);
  auto failed_locally = submit(*a, 0, pattern(0, 4096, 7));
  settle();
  ASSERT_EQ(a->status().disk, DiskState::kDiskless);
  ASSERT_EQ(a->status().role, Role::kPrimary);
  disk_a.clear_faults();
  // The same disk, under the Primary; grown, its metadata is moved to its
  // new end first (drbdadm's way: dump and restore).
  Result<Superblock> found = find_internal_metadata_below_end(disk_a);
  ASSERT_TRUE(found.ok()) << found.error();
  ASSERT_TRUE(move_internal_metadata_to_end(disk_a, found.value()).ok());
  ok(a->attach());
  ASSERT_EQ(a->status().disk, DiskState::kInconsistent);
  net.drop_if = nullptr;
  net.cut();
  advance(seconds(4));
  ResourceStatus s = a->status();
  EXPECT_EQ(s.size_bytes, b->status().size_bytes);
  EXPECT_EQ((std::pair{s.connection, s.replication}),
            (std::pair{ConnectionState::kConnected, ReplicationState::kEstablished}))
      << s.last_error;
  EXPECT_EQ(s.disk, DiskState::kUpToDate) << s.last_error;
  EXPECT_EQ(s.role, Role::kPrimary);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, ASecondaryThatMissedTheResizeGrowsAsTargetAtConnect) {
  bring_up_with_data();
  grow_disks();
  // b (Secondary) asks; a grows and answers, b never hears it.
  lose_the_link_at_the_reply_from(0);
  b->resize([](CommandResult) {});
  settle();
  ASSERT_TRUE(reply_lost);
  EXPECT_GT(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
  // a writes into the added space while b is away.
  const uint64_t late = data_size() - 8192;
  net.drop_if = nullptr;
  net.cut();
  advance(seconds(1));
  ASSERT_TRUE(write_now(*a, late, pattern(late, 8192, 9)).ok());
  advance(seconds(3));
  EXPECT_EQ(b->status().size_bytes, data_size());
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(read_back(disk_b, late, 8192), pattern(late, 8192, 9));
  EXPECT_TRUE(disks_equal());
}

// ---- a new disk larger than the peer's (protocol 9) ----

// The Secondary's disk is replaced by a larger one (detach, new disk,
// create-md, attach); a's disk has room to grow as well.
TEST_F(ResizeTest, ANewLargerDiskOnTheSecondaryTakesThePeersSizeAndNothingGrows) {
  bring_up_with_data();
  grow_disks(/*grow_a=*/true, /*grow_b=*/false);
  ok(b->detach());
  FakeStorage large_disk{kGrownDiskBytes};
  ok(b->replace_storage(large_disk, nullptr));
  ok(b->create_md());
  ok(b->attach());
  ASSERT_GT(b->status().size_bytes, old_size) << "create-md takes the whole disk";
  if (b->status().connection == ConnectionState::kStandAlone) ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(data_size(), old_size) << "only a resize grows the volume";
  EXPECT_EQ(b->status().size_bytes, old_size);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(data_of(large_disk), data_of(disk_a));
  Result<Superblock> on_disk = read_metadata(large_disk, MetadataLayout::kInternal);
  ASSERT_TRUE(on_disk.ok()) << on_disk.error();
  EXPECT_EQ(on_disk->data_size, old_size);
  // The rest of the new disk is there for a resize.
  ok(resize_now(*a));
  EXPECT_GT(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, data_size());
  advance(seconds(1));
  EXPECT_EQ(data_of(large_disk), data_of(disk_a));
  b.reset();  // before large_disk, which it uses
}

// Two new disks of different sizes: the pair replicates the smaller one,
// whichever node has the larger.
TEST_F(ResizeTest, TwoNewDisksOfDifferentSizesReplicateTheSmaller) {
  for (int larger : {0, 1}) {
    SCOPED_TRACE(larger == 0 ? "a larger" : "b larger");
    FakeStorage da{larger == 0 ? kGrownDiskBytes : kTestDiskBytes};
    FakeStorage db{larger == 1 ? kGrownDiskBytes : kTestDiskBytes};
    auto ra = std::make_unique<Resource>(loop, options_for(0), da);
    auto rb = std::make_unique<Resource>(loop, options_for(1), db);
    create_and_attach(*ra);
    create_and_attach(*rb);
    const uint64_t smaller = std::min(ra->status().size_bytes, rb->status().size_bytes);
    ASSERT_LT(smaller, std::max(ra->status().size_bytes, rb->status().size_bytes));
    ok(ra->connect(net.connector(0)));
    ok(rb->connect(net.connector(1)));
    settle();
    ok(ra->primary(/*force=*/true));
    advance(seconds(2));
    EXPECT_EQ(ra->status().size_bytes, smaller);
    EXPECT_EQ(rb->status().size_bytes, smaller);
    EXPECT_EQ(rb->status().disk, DiskState::kUpToDate) << rb->status().last_error;
    EXPECT_TRUE(std::equal(da.bytes().begin(), da.bytes().begin() + static_cast<long>(smaller), db.bytes().begin()));
    ok(ra->disconnect());
    ok(rb->disconnect());
    settle();
  }
}

// With a peer of protocol 8 the old rule holds: the smaller node grows to
// the new disk's size when its storage has room.
TEST_F(ResizeTest, WithAPeerOfProtocol8ANewLargerDiskGrowsThePeer) {
  bring_up_grown_with_peer_version(8);  // both disks have grown, b's is replaced below
  ok(b->detach());
  FakeStorage large_disk{kGrownDiskBytes};
  ok(b->replace_storage(large_disk, nullptr));
  ok(b->create_md());
  ok(b->attach());
  const uint64_t new_disk_size = b->status().size_bytes;
  if (b->status().connection == ConnectionState::kStandAlone) ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(data_size(), new_disk_size);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  b.reset();  // before large_disk, which it uses
}

// ---- shrinking: resize --size below the current size (protocol 6) ----

// An ext4 superblock (at byte 1024 of the volume) for a file system of
// `bytes`, as fs_probe.h reads it.
std::vector<uint8_t> ext4_head(uint64_t bytes) {
  std::vector<uint8_t> head(4096, 0);
  const uint64_t blocks = bytes / 4096;
  for (int i = 0; i < 4; ++i) head[1024 + 0x04 + i] = static_cast<uint8_t>(blocks >> (8 * i));
  head[1024 + 0x18] = 2;  // 4096-byte blocks
  head[1024 + 0x38] = 0x53;
  head[1024 + 0x39] = 0xEF;
  return head;
}

TEST_F(ResizeTest, ShrinkCutsBothNodesWithoutAResyncAndAPlainResizeGrowsBack) {
  bring_up_with_data();
  const uint64_t end = old_size - 8192;
  ASSERT_TRUE(write_now(*a, end, pattern(end, 8192, 3)).ok());  // to be cut off
  const uint64_t generation_a = a->generations().current;
  const uint64_t asked = old_size - (4u << 20);
  net.reset_stats();
  ok(resize_now(*a, {.size = asked}));
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeWithOptions).frames, 1u);
  EXPECT_EQ(data_size(), asked);
  EXPECT_EQ(a->size(), asked) << "the frontend sees the new size";
  EXPECT_EQ(b->status().size_bytes, asked);
  advance(seconds(1));
  for (Resource* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->status().disk, DiskState::kUpToDate) << r->status().last_error;
    EXPECT_EQ(r->status().replication, ReplicationState::kEstablished);
    EXPECT_EQ(r->status().connection, ConnectionState::kConnected) << "no reconnect";
    EXPECT_EQ(r->status().out_of_sync_bytes, 0u);
  }
  EXPECT_EQ(resync_data_bytes(0), 0u) << "nothing to resync";
  EXPECT_EQ(a->generations().current, generation_a);
  EXPECT_TRUE(disks_equal());
  // The end is gone from the volume; below it, writes are mirrored.
  EXPECT_EQ(write_now(*a, asked, pattern(asked, 4096, 4)).errno_value(), EINVAL);
  std::vector<uint8_t> buf(4096);
  EXPECT_EQ(read_now(*a, asked, buf).errno_value(), EINVAL);
  ASSERT_TRUE(write_now(*a, asked - 4096, pattern(asked - 4096, 4096, 5)).ok());
  EXPECT_EQ(read_back(disk_b, asked - 4096, 4096), pattern(asked - 4096, 4096, 5));
  // Persisted on both; the metadata did not move; a reconnect resyncs nothing.
  for (FakeStorage* d : {&disk_a, &disk_b}) {
    auto md = read_metadata(*d, MetadataLayout::kInternal);
    ASSERT_TRUE(md.ok()) << md.error();
    EXPECT_EQ(md->data_size, asked);
    EXPECT_TRUE(md->flags.consistent);
  }
  advance(seconds(1));  // the last write's epoch closes, so the cut leaves nothing unconfirmed
  net.cut();
  advance(seconds(3));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(resync_data_bytes(0), 0u);
  // The backing storage still holds the old size: a plain resize grows
  // back into it, and the end is resynced (neither node trusts it).
  ok(resize_now(*a));
  EXPECT_EQ(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(resync_data_bytes(0), old_size - asked);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, ShrinkIsRefusedWhileAFileSystemReachesPastTheNewEnd) {
  bring_up_with_data();
  const uint64_t fs_bytes = old_size - (2u << 20);
  ASSERT_TRUE(write_now(*a, 0, ext4_head(fs_bytes)).ok());
  net.reset_stats();
  const uint64_t too_small = old_size - (4u << 20);
  CommandResult r = resize_now(*a, {.size = too_small});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "resize refused: the ext2/3/4 file system on the volume spans " +
                                      std::to_string(fs_bytes) + " bytes, more than --size " +
                                      std::to_string(too_small) + ": shrink it first"))
      << r.error();
  EXPECT_TRUE(contains(r.error(), "resize2fs DEVICE " + std::to_string(too_small / 1024) + "K")) << r.error();
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeWithOptions).frames, 0u) << "the peer is not asked";
  EXPECT_EQ(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
  // Down to the file system's own end is allowed.
  ok(resize_now(*a, {.size = fs_bytes}));
  EXPECT_EQ(data_size(), fs_bytes);
  EXPECT_EQ(b->status().size_bytes, fs_bytes);
}

TEST_F(ResizeTest, ShrinkRefusalsBeforeAnythingIsAsked) {
  bring_up_with_data();
  net.reset_stats();
  const uint64_t asked = old_size - (4u << 20);
  CommandResult r = resize_now(*b, {.size = asked});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "resize refused: the peer is Primary: shrink on the Primary")) << r.error();
  r = resize_now(*a, {.size = asked, .assume_clean = true});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "--assume-clean is for the blocks a growth adds")) << r.error();
  r = resize_now(*a, {.size = 0});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "at least one 4096-byte block")) << r.error();
  r = resize_now(*a, {.size = asked + 512});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "is not a multiple of 4096 bytes")) << r.error();
  EXPECT_EQ(net.sent(0, wire::FrameType::kResizeWithOptions).frames, 0u);
  EXPECT_EQ(net.sent(1, wire::FrameType::kResizeWithOptions).frames, 0u);
  EXPECT_EQ(data_size(), old_size);
  // Two Secondaries: either may ask; the one asked shrinks first.
  ok(a->secondary());
  settle();
  ok(resize_now(*b, {.size = asked}));
  EXPECT_EQ(data_size(), asked);
  EXPECT_EQ(b->status().size_bytes, asked);
}

TEST_F(ResizeTest, ShrinkNeedsAPeerOfProtocolSix) {
  bring_up_grown_with_peer_version(5);
  CommandResult r = resize_now(*a, {.size = old_size - (4u << 20)});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "does not know shrinking (it speaks replication protocol 5; 6 is needed)"))
      << r.error();
  EXPECT_EQ(data_size(), old_size);
  EXPECT_EQ(b->status().size_bytes, old_size);
}

TEST_F(ResizeTest, WritesPastTheNewEndAreRefusedWhileThePeerShrinks) {
  bring_up_with_data();
  const uint64_t asked = old_size - (4u << 20);
  std::optional<CommandResult> result;
  a->resize([&result](CommandResult c) { result = std::move(c); }, {.size = asked});
  // Asked, not answered yet: the peer cuts off whatever comes after the request.
  auto past = submit(*a, asked, pattern(asked, 4096, 6));
  auto below = submit(*a, asked - 4096, pattern(asked - 4096, 4096, 6));
  ASSERT_TRUE(past->has_value()) << "refused at once";
  EXPECT_EQ(past->value().errno_value(), EINVAL);
  settle();
  ASSERT_TRUE(result.has_value());
  ok(*result);
  ASSERT_TRUE(below->has_value());
  EXPECT_TRUE(below->value().ok());
  EXPECT_EQ(read_back(disk_b, asked - 4096, 4096), pattern(asked - 4096, 4096, 6));
  EXPECT_TRUE(disks_equal());
}

// Found by the pair simulation (seed 8367, protocols A and C, a heap
// overflow): the Primary recorded blocks out of sync on both sides of the
// end a shrink then asked for, and a demotion started before the peer's
// answer. It queued the retry of every record (Demotion), also the run
// past the new end, which then waited behind the activity log while both
// nodes shrank; once started it was widened to whole sectors within the
// new, smaller size and copied past its buffer. The demotion now retries
// only what lies below the end being asked for.
TEST_F(ResizeTest, ADemotionDuringAShrinkRetriesOnlyTheRecordsBelowTheNewEnd) {
  bring_up_with_data();
  const uint64_t asked = old_size - (4u << 20);
  // One failed write on each side of the new end, recorded here.
  const uint64_t below = asked - 8192, past = asked + 8192;
  std::vector<uint8_t> served_below(4096);
  for (uint64_t at : {below, past}) {
    disk_a.fail_writes(at, 4096);
    EXPECT_EQ(write_now(*a, at, pattern(at, 4096, 7)).errno_value(), EIO);
    disk_a.clear_faults();
  }
  advance(seconds(1));
  ASSERT_EQ(a->status().out_of_sync_bytes, 8192u);
  ASSERT_TRUE(read_now(*a, below, served_below).ok());
  ASSERT_NE(read_back(disk_b, below, 4096), served_below) << "the peer wrote the failed write";
  std::optional<CommandResult> resized, demoted;
  a->resize([&resized](CommandResult c) { resized = std::move(c); }, {.size = asked});
  a->secondary_when_confirmed([&demoted](CommandResult c) { demoted = std::move(c); });
  settle();
  ASSERT_TRUE(resized.has_value());
  ok(*resized);
  ASSERT_TRUE(demoted.has_value());
  ok(*demoted);
  EXPECT_EQ(data_size(), asked);
  EXPECT_EQ(a->status().role, Role::kSecondary);
  EXPECT_EQ(a->status().out_of_sync_bytes, 0u) << "the record below the end retried, the one past it cut off";
  EXPECT_EQ(a->status().last_error.find("past the volume's end"), std::string::npos) << a->status().last_error;
  EXPECT_EQ(read_back(disk_b, below, 4096), served_below) << "the peer holds what this node served";
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResizeTest, ALinkLostAfterTheSecondaryShrankGrowsItBackAtTheNextHandshake) {
  bring_up_with_data();
  const uint64_t asked = old_size - (4u << 20);
  // b shrinks and answers; the answer is lost with the link.
  lose_the_link_at_the_reply_from(1);
  std::optional<CommandResult> result;
  a->resize([&result](CommandResult c) { result = std::move(c); }, {.size = asked});
  settle();
  ASSERT_TRUE(reply_lost);
  EXPECT_EQ(b->status().size_bytes, asked);
  EXPECT_EQ(data_size(), old_size);
  net.drop_if = nullptr;
  net.cut();
  advance(seconds(1));
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
  EXPECT_TRUE(contains(result->error(), "if the peer shrank, the next handshake grows it back")) << result->error();
  // The Primary writes at its (unchanged) end while b is away.
  const uint64_t end = old_size - 8192;
  ASSERT_TRUE(write_now(*a, end, pattern(end, 8192, 7)).ok()) << "the write limit ended with the link";
  advance(seconds(3));
  EXPECT_EQ(b->status().size_bytes, old_size) << "grown back";
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(read_back(disk_b, end, 8192), pattern(end, 8192, 7));
  EXPECT_TRUE(disks_equal());
  // And the operator shrinks again.
  ok(resize_now(*a, {.size = asked}));
  EXPECT_EQ(b->status().size_bytes, asked);
}

TEST_F(ResizeTest, APrimaryThatCannotWriteItsSuperblockLeavesThePeerToGrowBack) {
  bring_up_with_data();
  auto md_a = read_metadata(disk_a, MetadataLayout::kInternal);
  ASSERT_TRUE(md_a.ok()) << md_a.error();
  const uint64_t asked = old_size - (4u << 20);
  disk_a.fail_writes(md_a->superblock_offset, 2 * kSuperblockSlotSize);
  CommandResult r = resize_now(*a, {.size = asked});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "the peer shrank to " + std::to_string(asked) + " bytes but this node could not"))
      << r.error();
  EXPECT_EQ(data_size(), old_size) << "the size in force is unchanged";
  disk_a.clear_faults();
  advance(seconds(3));
  EXPECT_EQ(b->status().size_bytes, old_size);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
