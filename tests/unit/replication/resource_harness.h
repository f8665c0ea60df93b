// ResourcePairTest: two Resources ("a" = node 0, "b" = node 1) on one
// EventLoop with a FakeClock, each on its own FakeStorage with internal
// metadata, linked by a FakeNetwork. Helpers bring the pair up, write with
// the non-blocking API, and compare the replicated bytes of both disks.
// Deterministic: time moves only in settle()/advance().
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replication/resource.h"
#include "tests/unit/replication/fake_storage.h"
#include "tests/unit/replication/fake_transport.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::replication::testing {

inline constexpr uint64_t kTestDiskBytes = 16u << 20;  // 4 activity-log extents of data

// Deterministic bytes for a write: differs by offset and seed.
inline std::vector<uint8_t> pattern(uint64_t offset, size_t length, uint8_t seed) {
  std::vector<uint8_t> v(length);
  for (size_t i = 0; i < length; ++i) v[i] = static_cast<uint8_t>((offset + i) * 131 + seed * 7 + 1);
  return v;
}

class ResourcePairTest : public ::testing::Test {
 protected:
  ResourceOptions options_for(uint32_t id) {
    ResourceOptions o;
    o.name = "r0";
    o.node_id = id;
    o.peer_node_id = 1 - id;
    o.node_name = id == 0 ? "alpha" : "beta";
    o.shared_secret = "s3cret";
    o.resync_rate = uint64_t{1} << 30;  // fast unless a test is about the rate
    return o;
  }

  void make(ResourceOptions oa, ResourceOptions ob) {
    a = std::make_unique<Resource>(loop, std::move(oa), disk_a);
    b = std::make_unique<Resource>(loop, std::move(ob), disk_b);
  }
  void make() { make(options_for(0), options_for(1)); }
  void make_with_resync_rate(uint64_t bytes_per_second) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.resync_rate = ob.resync_rate = bytes_per_second;
    make(oa, ob);
  }
  void make_with_protocol(wire::ReplicationProtocol p) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.protocol = ob.protocol = p;
    make(oa, ob);
  }

  // Runs everything due now (deliveries, zero-delay timers).
  void settle() { loop.run_fake_until(clock, clock.now()); }
  void advance(Duration d) { loop.run_fake_until(clock, clock.now() + d); }

  static void ok(const CommandResult& r) { ASSERT_TRUE(r.ok()) << r.error(); }

  void create_and_attach(Resource& r) {
    ok(r.create_md());
    ok(r.attach());
  }

  // Metadata on both disks, as create-md makes it but with an activity log
  // of `extents` extents (create-md always makes kMaxAlExtents): small logs
  // make extents leave it. Attach afterwards.
  static void create_md_with_al_extents(FakeStorage& disk, uint32_t extents) {
    Result<Superblock> sb = create_metadata(disk, CreateMetadataParams{});
    ASSERT_TRUE(sb.ok()) << sb.error();
    sb->al_max_extents = extents;
    ASSERT_TRUE(write_superblock(disk, sb.value()).ok());
  }
  void create_md_with_al_extents(uint32_t extents) {
    create_md_with_al_extents(disk_a, extents);
    create_md_with_al_extents(disk_b, extents);
  }

  // Both attached: connects them, forces a Primary and waits for the
  // initial sync to b.
  void connect_and_sync_from_a() {
    ok(a->connect(net.connector(0)));
    ok(b->connect(net.connector(1)));
    settle();
    ok(a->primary(/*force=*/true));
    advance(std::chrono::seconds(1));
    ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  }
  // As bring_up_synced(), on metadata whose activity logs hold `extents`
  // extents. make() first.
  void bring_up_synced_with_al_extents(uint32_t extents) {
    create_md_with_al_extents(extents);
    ok(a->attach());
    ok(b->attach());
    connect_and_sync_from_a();
  }

  // Both created, attached and connecting; run the loop to connect.
  void attach_and_connect_both() {
    create_and_attach(*a);
    create_and_attach(*b);
    ok(a->connect(net.connector(0)));
    ok(b->connect(net.connector(1)));
  }

  // Both created and connected, a forced Primary: the full sync starts.
  void start_initial_sync() {
    if (!a) make();
    create_and_attach(*a);
    create_and_attach(*b);
    ok(a->connect(net.connector(0)));
    ok(b->connect(net.connector(1)));
    settle();
    ok(a->primary(/*force=*/true));
    settle();
  }
  // ... and done.
  void bring_up_synced() {
    start_initial_sync();
    advance(std::chrono::seconds(1));
    ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
    ASSERT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  }

  // The link goes down, `a` (Primary) writes `bytes` from offset 0 in 1 MiB
  // writes (pattern `seed`), and the link comes back: the reconnect
  // resyncs them to b.
  void write_while_the_link_is_down(uint64_t bytes, uint8_t seed) {
    net.set_link_up(false);
    advance(std::chrono::seconds(1));
    for (uint64_t off = 0; off < bytes; off += 1u << 20)
      ASSERT_TRUE(write_now(*a, off, pattern(off, 1u << 20, seed)).ok());
    net.set_link_up(true);
  }

  // Submits a write on `r`; the result lands in the returned slot when done.
  std::shared_ptr<std::optional<IoStatus>> submit(Resource& r, uint64_t offset,
                                                  const std::vector<uint8_t>& data, uint32_t flags = 0) {
    auto slot = std::make_shared<std::optional<IoStatus>>();
    r.submit_write(offset, data, flags, [slot](IoStatus s) { *slot = s; });
    return slot;
  }
  // Writes and runs the loop until the write completed; returns its status.
  IoStatus write_now(Resource& r, uint64_t offset, const std::vector<uint8_t>& data) {
    auto slot = submit(r, offset, data);
    settle();
    EXPECT_TRUE(slot->has_value()) << "write did not complete";
    return slot->value_or(IoStatus::error(ETIMEDOUT));
  }

  // Reads on `r` and runs the loop until the read completed; returns its status.
  IoStatus read_now(Resource& r, uint64_t offset, std::span<uint8_t> out) {
    std::optional<IoStatus> result;
    r.submit_read(offset, out, [&result](IoStatus s) { result = s; });
    settle();
    EXPECT_TRUE(result.has_value()) << "read did not complete";
    return result.value_or(IoStatus::error(ETIMEDOUT));
  }

  uint64_t data_size() const { return a->status().size_bytes; }
  std::vector<uint8_t> data_of(FakeStorage& d) {
    return std::vector<uint8_t>(d.bytes().begin(), d.bytes().begin() + static_cast<long>(data_size()));
  }
  // The replicated bytes of both disks are identical.
  bool disks_equal() { return data_of(disk_a) == data_of(disk_b); }
  static std::vector<uint8_t> read_back(FakeStorage& d, uint64_t offset, size_t length) {
    return std::vector<uint8_t>(d.bytes().begin() + static_cast<long>(offset),
                                d.bytes().begin() + static_cast<long>(offset + length));
  }
  // Data bytes carried by ResyncReply frames from `side` (header and fields excluded).
  uint64_t resync_data_bytes(int side) const {
    FakeNetwork::TypeStats s = net.sent(side, wire::FrameType::kResyncReply);
    return s.bytes - s.frames * (wire::kHeaderSize + 12);
  }

  FakeClock clock;
  EventLoop loop{clock};
  FakeNetwork net{loop};
  FakeStorage disk_a{kTestDiskBytes};
  FakeStorage disk_b{kTestDiskBytes};
  std::unique_ptr<Resource> a, b;
};

}  // namespace vrrpd::replication::testing
