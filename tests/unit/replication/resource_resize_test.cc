// Resource: online grow (drbdadm resize). Both backing disks grow, one node
// is asked; both end with the same larger size, the added blocks resynced
// from the Primary to the Secondary (and only those), the generations kept.
// Refusals name the reason; a link lost between the peer's growth and ours
// is finished by the next handshake, in the right direction.
#include <gtest/gtest.h>

#include <memory>

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
  void grow_disks(bool grow_a = true, bool grow_b = true) {
    if (grow_a) disk_a.grow(kGrownDiskBytes, 0xA1);
    if (grow_b) disk_b.grow(kGrownDiskBytes, 0xB2);
  }
  // Runs r.resize() and the loop until it answered.
  CommandResult resize_now(Resource& r) {
    std::optional<CommandResult> result;
    r.resize([&result](CommandResult c) { result = std::move(c); });
    settle();
    EXPECT_TRUE(result.has_value()) << "resize did not answer";
    return result.value_or(CommandResult::failure("no answer"));
  }

  uint64_t old_size = 0;
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
  ResourceOptions oa = options_for(0), ob = options_for(1);
  ob.max_protocol_version = 2;
  make(oa, ob);
  bring_up_with_data();
  grow_disks();
  CommandResult r = resize_now(*a);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "does not know online resize")) << r.error();
  EXPECT_EQ(data_size(), old_size);
}

TEST_F(ResizeTest, ALinkLostAfterThePeerGrewIsFinishedByTheNextHandshake) {
  bring_up_with_data();
  grow_disks();
  // b grows and answers; the answer is lost with the link.
  bool cut = false;
  net.drop_if = [&cut](int from, const wire::Frame& f) {
    if (from == 1 && std::holds_alternative<wire::ResizeReply>(f.message)) cut = true;
    return cut;
  };
  std::optional<CommandResult> result;
  a->resize([&result](CommandResult c) { result = std::move(c); });
  settle();
  ASSERT_TRUE(cut);
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

TEST_F(ResizeTest, ASecondaryThatMissedTheResizeGrowsAsTargetAtConnect) {
  bring_up_with_data();
  grow_disks();
  // b (Secondary) asks; a grows and answers, b never hears it.
  bool cut = false;
  net.drop_if = [&cut](int from, const wire::Frame& f) {
    if (from == 0 && std::holds_alternative<wire::ResizeReply>(f.message)) cut = true;
    return cut;
  };
  b->resize([](CommandResult) {});
  settle();
  ASSERT_TRUE(cut);
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

}  // namespace
}  // namespace vrrpd::replication::testing
