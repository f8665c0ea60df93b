// Resource: DRBD's before-resync-target handler. When a connect makes a
// node that holds a good image the SyncTarget, the handler (an LVM
// snapshot, say) runs before that node sends its bitmap: the handshake
// waits, the disk is untouched, the Primary's writes are held; then the
// resync runs. A failing handler drops the link without touching the data,
// and the next connect asks again. Not called when nothing good would be
// overwritten (an Inconsistent disk, nothing to resync).
#include <gtest/gtest.h>

#include <memory>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class BeforeResyncTargetTest : public ResourcePairTest {
 protected:
  // A synced pair with the handler on b; `answer` decides what it does
  // (nullopt: keeps the callback in `pending` for the test to answer).
  void bring_up_with_handler() {
    ResourceOptions ob = options_for(1);
    ob.before_resync_target = [this](ResourceOptions::HandlerDone done) {
      ++calls;
      if (answer) done(*answer, *answer ? "snapshot taken" : "exit 1");
      else pending = std::move(done);
    };
    make(options_for(0), ob);
    bring_up_synced();
  }
  // The link down, 1 MiB written on the Primary a, b's bytes remembered,
  // the link up again.
  void diverge() {
    net.set_link_up(false);
    advance(milliseconds(100));
    ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 7)).ok());
    b_before = data_of(disk_b);
    net.set_link_up(true);
  }

  int calls = 0;
  std::optional<bool> answer;
  ResourceOptions::HandlerDone pending;
  std::vector<uint8_t> b_before;
};

TEST_F(BeforeResyncTargetTest, TheHandshakeWaitsForTheHandlerThenResyncs) {
  bring_up_with_handler();
  EXPECT_EQ(calls, 0) << "the initial sync overwrote nothing good: b was Inconsistent";
  diverge();
  advance(seconds(3));  // reconnected: b is to be the target
  ASSERT_EQ(calls, 1);
  ASSERT_TRUE(pending);
  EXPECT_NE(b->status().replication, ReplicationState::kSyncTarget);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << "nothing marked Inconsistent yet";
  EXPECT_EQ(data_of(disk_b), b_before) << "b's data untouched while the handler runs";
  // The Primary's writes wait for the handshake, as during any.
  auto held = submit(*a, 8192, pattern(8192, 4096, 9));
  advance(milliseconds(500));
  EXPECT_FALSE(held->has_value());
  EXPECT_EQ(data_of(disk_b), b_before);
  pending(true, "snapshot taken");
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  ASSERT_TRUE(held->has_value());
  EXPECT_TRUE(held->value().ok());
  EXPECT_TRUE(disks_equal());
  EXPECT_EQ(calls, 1);
}

TEST_F(BeforeResyncTargetTest, AFailingHandlerDropsTheLinkAndTheNextConnectAsksAgain) {
  answer = false;
  bring_up_with_handler();
  net.set_reconnect_delay(milliseconds(500));  // a real connector's connect_interval
  diverge();
  advance(seconds(3));
  ASSERT_GE(calls, 1);
  EXPECT_TRUE(contains(b->status().last_error, "before-resync-target handler failed (exit 1)"))
      << b->status().last_error;
  EXPECT_NE(a->status().replication, ReplicationState::kSyncSource);
  EXPECT_EQ(data_of(disk_b), b_before) << "no resync without the handler";
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  // Fixed (the snapshot volume had room again): the next connect resyncs.
  const int failed_calls = calls;
  answer = true;
  advance(seconds(5));
  EXPECT_GT(calls, failed_calls);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(BeforeResyncTargetTest, AHandlerSlowerThanTheHandshakeTimeoutEndsThatHandshake) {
  bring_up_with_handler();
  diverge();
  advance(seconds(3));
  ASSERT_EQ(calls, 1);
  ResourceOptions::HandlerDone late = std::move(pending);
  advance(seconds(7));  // timeout (6 s): the handshake is given up, a new one asks again
  EXPECT_TRUE(contains(a->status().last_error + b->status().last_error, "handshake did not complete"))
      << a->status().last_error << " / " << b->status().last_error;
  EXPECT_GE(calls, 2);
  EXPECT_EQ(data_of(disk_b), b_before);
  late(true, "too late");  // an answer for a connection that is gone changes nothing
  settle();
  EXPECT_EQ(data_of(disk_b), b_before);
  ASSERT_TRUE(pending);
  pending(true, "snapshot taken");
  advance(seconds(1));
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

TEST_F(BeforeResyncTargetTest, AnAnswerAfterTheResourceWasDestroyedIsDropped) {
  bring_up_with_handler();
  diverge();
  advance(seconds(3));
  ASSERT_EQ(calls, 1);
  ASSERT_TRUE(pending);
  b.reset();  // vrrpctl replication down while the handler runs
  settle();
  pending(true, "snapshot taken");  // must not touch the destroyed Resource (ASan would report it)
  advance(seconds(1));
  EXPECT_NE(a->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(data_of(disk_b), b_before);
}

TEST_F(BeforeResyncTargetTest, NotCalledWhenThereIsNothingToResync) {
  answer = true;
  bring_up_with_handler();
  // The Primary takes a new generation when it loses b, so b is the target
  // of the reconnect; but nothing was written: nothing to save.
  net.set_link_up(false);
  advance(milliseconds(100));
  net.set_link_up(true);
  advance(seconds(3));
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_EQ(calls, 0);
}

TEST_F(BeforeResyncTargetTest, ADiscardMyDataVictimRunsItBeforeItsChangesAreReplaced) {
  answer = true;
  bring_up_with_handler();
  // Both change their data while apart: a split brain.
  net.set_link_up(false);
  advance(milliseconds(100));
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());
  ok(a->secondary());
  ok(b->primary(/*force=*/true));
  ASSERT_TRUE(write_now(*b, 65536, pattern(65536, 4096, 2)).ok());
  ok(b->secondary());
  b->set_discard_my_data(true);
  const auto b_before_split = data_of(disk_b);
  net.set_link_up(true);
  advance(seconds(3));
  EXPECT_EQ(calls, 1) << "b is the victim: its data is replaced";
  EXPECT_NE(data_of(disk_b), b_before_split);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished) << b->status().last_error;
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
