// Flusher: disk flushes off the engine loop. Deferred mode (FakeStorage, on
// a FakeClock) and threaded mode (a real loop and a flush that blocks until
// released): the loop keeps running while a flush is in progress, results
// come back on the loop in order, and a destroyed Flusher delivers nothing.
#include "replication/flusher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/unit/replication/fake_storage.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

TEST(Flusher, DeferredFlushRunsAtTheNextLoopTurnInOrderAndMakesWritesDurable) {
  FakeClock clock;
  EventLoop loop{clock};
  FakeStorage disk(1 << 20);
  Flusher flusher(loop, /*threaded=*/false);
  const std::vector<uint8_t> data(4096, 0xab);
  ASSERT_TRUE(disk.write(8192, data).ok());
  std::vector<int> order;
  flusher.flush(disk, [&](IoStatus s) { order.push_back(s.ok() ? 1 : -1); });
  flusher.flush(disk, [&](IoStatus s) { order.push_back(s.ok() ? 2 : -2); });
  EXPECT_TRUE(order.empty()) << "never inside flush()";
  loop.run_fake_until(clock, clock.now());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  disk.crash();
  EXPECT_EQ(std::vector<uint8_t>(disk.bytes().begin() + 8192, disk.bytes().begin() + 8192 + 4096), data);
}

TEST(Flusher, DeferredErrorsReachTheCaller) {
  FakeClock clock;
  EventLoop loop{clock};
  FakeStorage disk(1 << 20);
  disk.fail_flush(EIO);
  Flusher flusher(loop, false);
  int err = 0;
  flusher.flush(disk, [&](IoStatus s) { err = s.errno_value(); });
  loop.run_fake_until(clock, clock.now());
  EXPECT_EQ(err, EIO);
}

TEST(Flusher, DestroyedFlusherDeliversNothing) {
  FakeClock clock;
  EventLoop loop{clock};
  FakeStorage disk(1 << 20);
  bool called = false;
  {
    Flusher flusher(loop, false);
    flusher.flush(disk, [&](IoStatus) { called = true; });
  }
  loop.run_fake_until(clock, clock.now());
  EXPECT_FALSE(called);
}

// A storage whose flush() blocks until release(), counting calls.
class SlowFlushStorage final : public BlockStorage {
 public:
  uint64_t size() const override { return 1 << 20; }
  IoStatus read(uint64_t, std::span<uint8_t>) override { return {}; }
  IoStatus write(uint64_t, std::span<const uint8_t>) override { return {}; }
  IoStatus flush() override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
    return {};
  }
  bool flush_may_run_concurrently() const override { return true; }
  void wait_started(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return started_ >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int started_ = 0;
  bool released_ = false;
};

TEST(Flusher, ThreadedFlushLeavesTheLoopRunningAndAnswersInOrder) {
  MonotonicClock clock;
  EventLoop loop{clock};
  SlowFlushStorage disk;
  std::vector<int> order;  // loop thread only
  std::atomic<bool> loop_ran_during_flush{false};
  {
    Flusher flusher(loop, /*threaded=*/true);
    std::thread t([&] {
      disk.wait_started(1);
      // The flush is blocked; the loop must still run what is posted to it.
      // (Were the flush on the loop thread, the check would run only after
      // the release below, and see the first result.)
      std::promise<void> checked;
      std::future<void> f = checked.get_future();
      loop.post([&] {
        loop_ran_during_flush = order.empty();
        checked.set_value();
      });
      f.wait_for(std::chrono::seconds(2));
      disk.release();
      f.wait();
    });
    loop.post([&] {
      flusher.flush(disk, [&](IoStatus s) { order.push_back(s.ok() ? 1 : -1); });
      flusher.flush(disk, [&](IoStatus s) {
        order.push_back(s.ok() ? 2 : -2);
        loop.stop();
      });
    });
    loop.run();
    t.join();
  }
  EXPECT_TRUE(loop_ran_during_flush);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

// A storage whose flush() fails at once, counting calls.
class FailingFlushStorage final : public BlockStorage {
 public:
  uint64_t size() const override { return 1 << 20; }
  IoStatus read(uint64_t, std::span<uint8_t>) override { return {}; }
  IoStatus write(uint64_t, std::span<const uint8_t>) override { return {}; }
  IoStatus flush() override {
    ++flushes;
    return IoStatus::error(EIO);
  }
  bool flush_may_run_concurrently() const override { return true; }
  std::atomic<int> flushes{0};
};

// Between the worker's failed flush and the loop's delivery of it, a flush
// made on the loop cannot vouch for what the failed one lost: the Flusher
// says so (Resource::flush_data_now() asks).
TEST(Flusher, AFailureIsUndeliveredFromTheWorkersFlushUntilTheLoopRunsItsCallback) {
  MonotonicClock clock;
  EventLoop loop{clock};
  FailingFlushStorage disk;
  Flusher flusher(loop, /*threaded=*/true);
  int err = 0;  // loop thread only
  EXPECT_FALSE(flusher.failure_undelivered());
  flusher.flush(disk, [&](IoStatus s) {
    err = s.errno_value();
    loop.stop();
  });
  // The loop is not running: the result waits in its queue.
  for (int i = 0; i < 2000 && !flusher.failure_undelivered(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(disk.flushes.load(), 1);
  EXPECT_TRUE(flusher.failure_undelivered());
  EXPECT_EQ(err, 0) << "not delivered yet";
  loop.run();
  EXPECT_EQ(err, EIO);
  EXPECT_FALSE(flusher.failure_undelivered());
}

}  // namespace
}  // namespace vrrpd::replication
