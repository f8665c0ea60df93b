// Resource as a Volume: the blocking adapter that frontend threads (FUSE
// workers) call. The one test in this suite with threads: the engine loop
// runs on its own thread (still on a FakeClock), the test thread blocks in
// read/write/flush until the loop has completed them, under protocol C
// including the peer's acknowledgement.
#include <gtest/gtest.h>

#include <cerrno>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

TEST_F(ResourcePairTest, VolumeAdapterBlocksUntilTheLoopCompletedTheRequest) {
  bring_up_synced();
  Volume& volume = *a;
  Volume& secondary = *b;
  EXPECT_EQ(volume.size(), data_size());
  EXPECT_TRUE(volume.writable());
  EXPECT_FALSE(secondary.writable());

  std::thread engine([this] { loop.run(); });
  const std::vector<uint8_t> data = pattern(65536, 16384, 3);
  const IoStatus w = volume.write(65536, data);
  const IoStatus f = volume.flush();
  std::vector<uint8_t> back(data.size());
  const IoStatus r = volume.read(65536, back);
  const IoStatus refused = secondary.write(0, data);
  std::vector<uint8_t> beyond(4096);
  const IoStatus out_of_range = volume.read(data_size(), beyond);
  loop.stop();
  engine.join();

  EXPECT_TRUE(w.ok()) << w.message();
  EXPECT_TRUE(f.ok()) << f.message();
  EXPECT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(back, data);
  EXPECT_EQ(refused.errno_value(), EROFS);
  EXPECT_EQ(out_of_range.errno_value(), EINVAL);
  // Protocol C: the write had reached the peer's disk when write() returned.
  EXPECT_EQ(read_back(disk_b, 65536, data.size()), data);
}

// The non-blocking forms (what the FUSE export uses for small writes and
// flushes): the call returns at once, the completion comes on the loop
// thread once the peer has the write (protocol C) or has flushed, and a
// refused write is answered through the completion too.
TEST_F(ResourcePairTest, AsyncWriteAndFlushCompleteOnTheLoopAfterThePeerHasThem) {
  bring_up_synced();
  Volume& volume = *a;
  const std::vector<uint8_t> data = pattern(8192, 12288, 6);
  std::optional<IoStatus> wrote, flushed, refused;
  bool peer_had_it_at_completion = false;
  volume.write_async(8192, data, [&](IoStatus s) {
    peer_had_it_at_completion = read_back(disk_b, 8192, data.size()) == data;
    wrote = s;
  });
  EXPECT_FALSE(wrote.has_value()) << "answered before the loop ran";
  volume.flush_async([&](IoStatus s) { flushed = s; });
  Volume& secondary = *b;
  secondary.write_async(0, data, [&](IoStatus s) { refused = s; });
  settle();
  ASSERT_TRUE(wrote.has_value() && flushed.has_value() && refused.has_value());
  EXPECT_TRUE(wrote->ok()) << wrote->message();
  EXPECT_TRUE(peer_had_it_at_completion);
  EXPECT_TRUE(flushed->ok()) << flushed->message();
  EXPECT_EQ(refused->errno_value(), EROFS);
  // The flush made the peer's copy durable.
  disk_b.crash();
  EXPECT_EQ(read_back(disk_b, 8192, data.size()), data);
}

// The adapter hands the caller's buffer to the write path without copying
// it: an unaligned write (widened to sectors from the local disk) and one
// spanning three Data frames must still land whole on both disks, and the
// buffer may be reused as soon as write() has returned.
TEST_F(ResourcePairTest, VolumeAdapterWritesFromTheCallersBufferUnalignedAndMultiFrame) {
  bring_up_synced();
  Volume& volume = *a;
  std::thread engine([this] { loop.run(); });
  std::vector<uint8_t> buffer = pattern(1000, 100, 4);
  const IoStatus small = volume.write(1000, buffer);
  std::vector<uint8_t> large = pattern(3u << 20, (5u << 19) + 512, 5);  // 2.5 MiB + one sector
  const IoStatus big = volume.write(3u << 20, large);
  const std::vector<uint8_t> expected_small = buffer, expected_large = large;
  std::fill(buffer.begin(), buffer.end(), 0xee);  // reused by the caller at once
  std::fill(large.begin(), large.end(), 0xee);
  const IoStatus f = volume.flush();
  loop.stop();
  engine.join();
  ASSERT_TRUE(small.ok()) << small.message();
  ASSERT_TRUE(big.ok()) << big.message();
  ASSERT_TRUE(f.ok()) << f.message();
  for (FakeStorage* d : {&disk_a, &disk_b}) {
    EXPECT_EQ(read_back(*d, 1000, expected_small.size()), expected_small);
    EXPECT_EQ(read_back(*d, 3u << 20, expected_large.size()), expected_large);
  }
  EXPECT_TRUE(disks_equal());
}

// A buffer shared by the caller (the FUSE export's receive buffer): the Data
// frames borrow it instead of copying it, and the engine lets go of it once
// the caller is answered. An unaligned write is widened into a copy of its
// own and sent from there.
TEST_F(ResourcePairTest, ASharedBufferIsSentFromWhereItLiesAndLetGoAfterTheAnswer) {
  bring_up_synced();
  Volume& volume = *a;
  auto buffer = std::make_shared<std::vector<uint8_t>>(pattern(1u << 20, 1u << 20, 8));
  const std::weak_ptr<std::vector<uint8_t>> held = buffer;
  const std::vector<uint8_t> expected = *buffer;
  std::optional<IoStatus> wrote;
  volume.start_write_shared(1u << 20, *buffer, buffer, [&](IoStatus s) { wrote = s; });
  buffer.reset();
  settle();
  ASSERT_TRUE(wrote.has_value());
  EXPECT_TRUE(wrote->ok()) << wrote->message();
  EXPECT_EQ(net.borrowed_bytes(0), expected.size());  // every payload byte went out borrowed
  EXPECT_TRUE(held.expired());                       // answered and sent: nobody holds it
  EXPECT_EQ(read_back(disk_b, 1u << 20, expected.size()), expected);

  auto small = std::make_shared<std::vector<uint8_t>>(pattern(1000, 100, 9));
  const std::vector<uint8_t> expected_small = *small;
  wrote.reset();
  volume.start_write_shared(1000, *small, small, [&](IoStatus s) { wrote = s; });
  settle();
  ASSERT_TRUE(wrote.has_value());
  EXPECT_TRUE(wrote->ok()) << wrote->message();
  EXPECT_EQ(net.borrowed_bytes(0), expected.size());  // widened to a sector: its own copy went
  EXPECT_EQ(small.use_count(), 1);                    // let go when it was widened
  for (FakeStorage* d : {&disk_a, &disk_b}) EXPECT_EQ(read_back(*d, 1000, expected_small.size()), expected_small);
}

// FakeStorage behind a mutex (so the Flusher's thread may flush it while the
// loop writes) whose flush() waits at a gate the test opens.
class GatedFlushStorage final : public BlockStorage {
 public:
  explicit GatedFlushStorage(FakeStorage& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard lock(mutex_);
    return inner_.read(offset, out);
  }
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    return inner_.write(offset, data);
  }
  IoStatus write_durable(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    return inner_.write_durable(offset, data);
  }
  IoStatus flush() override {
    {
      std::unique_lock lock(gate_mutex_);
      ++waiting_;
      gate_cv_.notify_all();
      gate_cv_.wait(lock, [this] { return open_; });
      --waiting_;
    }
    std::lock_guard lock(mutex_);
    return inner_.flush();
  }
  bool flush_may_run_concurrently() const override { return true; }

  void set_open(bool open) {
    std::lock_guard lock(gate_mutex_);
    open_ = open;
    gate_cv_.notify_all();
  }
  // True once a flush() waits at the closed gate (within 5 s).
  bool flush_is_waiting() {
    std::unique_lock lock(gate_mutex_);
    return gate_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return waiting_ > 0; });
  }

 private:
  FakeStorage& inner_;
  std::mutex mutex_;  // around inner_
  std::mutex gate_mutex_;
  std::condition_variable gate_cv_;
  bool open_ = true;
  int waiting_ = 0;
};

// The Primary's own disk flush runs off the engine loop: while it hangs (a
// disk busy with writeback can take seconds), the loop still replicates and
// answers writes, and pings. Before, the loop sat in fdatasync.
TEST_F(ResourcePairTest, ASlowLocalFlushDoesNotHoldTheEngineLoop) {
  GatedFlushStorage gated(disk_a);
  a = std::make_unique<Resource>(loop, options_for(0), gated);
  b = std::make_unique<Resource>(loop, options_for(1), disk_b);
  bring_up_synced();
  Volume& volume = *a;
  std::thread engine([this] { loop.run(); });
  std::promise<IoStatus> flushed, wrote;
  gated.set_open(false);
  volume.flush_async([&](IoStatus s) { flushed.set_value(s); });
  const bool flush_waits = gated.flush_is_waiting();
  const std::vector<uint8_t> data = pattern(20480, 4096, 8);
  volume.write_async(20480, data, [&](IoStatus s) { wrote.set_value(s); });
  std::future<IoStatus> w = wrote.get_future(), f = flushed.get_future();
  const bool write_answered = w.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  const bool flush_answered_early = f.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready;
  gated.set_open(true);
  const bool flush_answered = f.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  loop.stop();
  engine.join();
  EXPECT_TRUE(flush_waits);
  ASSERT_TRUE(write_answered) << "the loop was held by the flush";
  EXPECT_TRUE(w.get().ok());
  EXPECT_FALSE(flush_answered_early) << "answered before our disk flushed";
  ASSERT_TRUE(flush_answered);
  EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(read_back(disk_b, 20480, data.size()), data);
}

TEST_F(ResourcePairTest, AFailedLocalFlushIsTheCallersErrorAndKeepsTheLink) {
  bring_up_synced();
  disk_a.fail_flush(EIO);
  std::optional<IoStatus> flushed;
  a->submit_flush([&](IoStatus s) { flushed = s; });
  settle();
  ASSERT_TRUE(flushed.has_value());
  EXPECT_EQ(flushed->errno_value(), EIO);
  EXPECT_EQ(a->status().io_errors, 1u);
  EXPECT_NE(a->status().last_error.find("local flush failed"), std::string::npos) << a->status().last_error;
  EXPECT_EQ(a->status().connection, ConnectionState::kConnected);
  // The next flush works again (passthrough: the error was the caller's).
  flushed.reset();
  a->submit_flush([&](IoStatus s) { flushed = s; });
  settle();
  ASSERT_TRUE(flushed.has_value());
  EXPECT_TRUE(flushed->ok()) << flushed->message();
}

}  // namespace
}  // namespace vrrpd::replication::testing
