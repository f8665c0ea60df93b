// Flusher: runs BlockStorage::flush() (fdatasync: milliseconds on a real
// disk) without stalling the engine loop, and hands each result back on the
// loop in submission order. The Secondary uses it for the flush a Barrier
// asks for: while its disk flushes, the loop goes on receiving and writing
// the next epoch's Data, instead of leaving it queued behind the flush.
//
// Two modes. Threaded: one worker thread runs the flushes (for storage whose
// flush() may run while the loop thread reads and writes it: FileStorage,
// where fdatasync and pwrite on one fd are safe together). Deferred: each
// flush runs on the loop itself at its next turn (for storage that is not
// thread-safe, such as the tests' FakeStorage): still asynchronous to the
// caller, and deterministic.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "replication/storage.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::replication {

class Flusher {
 public:
  using Done = std::function<void(IoStatus)>;

  Flusher(EventLoop& loop, bool threaded);
  // Waits for a flush in progress; results not yet delivered are dropped.
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // Flushes `storage` (which must outlive this Flusher) and calls done(status)
  // on the loop thread, never before this returns. Loop thread only.
  void flush(BlockStorage& storage, Done done);
  // True while a flush that failed has not had its result delivered on the
  // loop (threaded mode: the worker saw the error, the loop has not run the
  // callback yet; never in deferred mode, which delivers at once). A flush
  // of the same file made meanwhile elsewhere may succeed without what the
  // failed one lost (Linux marks such pages clean and reports the error
  // once), so it cannot vouch for them.
  bool failure_undelivered() const { return undelivered_failures_.load() > 0; }

 private:
  struct Job {
    BlockStorage* storage;
    Done done;
  };
  void run_deferred();
  void worker();

  EventLoop& loop_;
  const bool threaded_;
  std::deque<Job> deferred_;  // deferred mode: jobs for the next loop turn
  Timer deferred_timer_;
  // Threaded mode.
  std::mutex mutex_;             // guards queue_ and stop_
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::atomic<int> undelivered_failures_{0};
  std::shared_ptr<bool> alive_;  // false once destroyed: late results are dropped (loop thread only)
  std::thread thread_;
};

}  // namespace vrrpd::replication
