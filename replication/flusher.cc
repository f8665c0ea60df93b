// Flusher: disk flushes off the engine loop; see flusher.h.
#include "replication/flusher.h"

namespace vrrpd::replication {

Flusher::Flusher(EventLoop& loop, bool threaded)
    : loop_(loop),
      threaded_(threaded),
      deferred_timer_(loop, [this] { run_deferred(); }),
      alive_(std::make_shared<bool>(true)) {
  if (threaded_) thread_ = std::thread([this] { worker(); });
}

Flusher::~Flusher() {
  *alive_ = false;  // results posted but not yet run find this
  if (threaded_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
}

void Flusher::flush(BlockStorage& storage, Done done) {
  if (!threaded_) {
    deferred_.push_back(Job{&storage, std::move(done)});
    if (!deferred_timer_.armed()) deferred_timer_.arm_at(loop_.now());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(Job{&storage, std::move(done)});
  }
  cv_.notify_one();
}

void Flusher::run_deferred() {
  std::deque<Job> jobs;
  jobs.swap(deferred_);
  std::shared_ptr<bool> alive = alive_;
  for (Job& j : jobs) {
    if (!*alive) return;  // a callback destroyed us
    j.done(j.storage->flush());
  }
}

void Flusher::worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      if (stop_) return;           // stopping: the results would be dropped anyway
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const IoStatus status = job.storage->flush();
    if (!status.ok()) ++undelivered_failures_;
    loop_.post([this, alive = alive_, done = std::move(job.done), status] {
      if (!*alive) return;
      if (!status.ok()) --undelivered_failures_;
      done(status);
    });
  }
}

}  // namespace vrrpd::replication
