// Single-threaded event loop: fd readiness (epoll), timers with nanosecond
// deadlines on an injected Clock, and post() for other threads to hand work
// to the loop. The VRRP thread is one of these; nothing on it may block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vrrpd/base/clock.h"

namespace vrrpd {

class EventLoop {
 public:
  using TimerId = std::uint64_t;
  using FdCallback = std::function<void(std::uint32_t epoll_events)>;

  explicit EventLoop(const Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  const Clock& clock() const { return clock_; }
  TimePoint now() const { return clock_.now(); }

  // Calls cb once at or after `deadline`. Returns an id for cancel_timer().
  TimerId add_timer(TimePoint deadline, std::function<void()> cb);
  // Safe to call with an id that already fired or was cancelled.
  void cancel_timer(TimerId id);
  // Earliest pending deadline, or TimePoint::max() when there is none.
  TimePoint next_deadline() const;

  // Watches fd for `events` (EPOLLIN, EPOLLOUT...). One watcher per fd.
  void watch_fd(int fd, std::uint32_t events, FdCallback cb);
  void modify_fd(int fd, std::uint32_t events);
  void unwatch_fd(int fd);

  // Thread-safe: queues fn to run on the loop thread and wakes the loop.
  void post(std::function<void()> fn);

  // Runs until stop(). Must be called on the owning thread.
  void run();
  // Thread-safe request to leave run().
  void stop();
  // One iteration: wait at most max_wait (or until the next timer), dispatch.
  void run_once(Duration max_wait);
  // Test helper for fake clocks: fires, in deadline order, every timer due
  // up to `until`, advancing the FakeClock to each deadline, then to `until`.
  void run_fake_until(class FakeClock& fake, TimePoint until);

 private:
  void fire_due_timers();
  void drain_posted();

  const Clock& clock_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd written by post()/stop()
  // CLOCK_MONOTONIC timerfd armed at the next deadline. An epoll timeout
  // may fire up to 0.1% late for a normal process (3.6 ms on a 3.6 s
  // master-down timer); a timerfd gets only the 50 us timer slack.
  int timer_fd_ = -1;
  bool real_clock_ = false;  // the clock is MonotonicClock: the timerfd may be used
  bool stopping_ = false;
  TimerId next_timer_id_ = 1;
  std::set<std::pair<TimePoint, TimerId>> timer_queue_;
  std::unordered_map<TimerId, std::pair<TimePoint, std::function<void()>>> timers_;
  std::unordered_map<int, FdCallback> fd_callbacks_;
  std::mutex posted_mutex_;  // guards posted_
  std::vector<std::function<void()>> posted_;
};

// RAII one-shot timer bound to a loop; re-arming replaces the deadline.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> cb) : loop_(loop), cb_(std::move(cb)) {}
  ~Timer() { disarm(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm_at(TimePoint deadline);
  void arm_in(Duration d) { arm_at(loop_.now() + d); }
  void disarm();
  bool armed() const { return id_ != 0; }
  TimePoint deadline() const { return deadline_; }

 private:
  EventLoop& loop_;
  std::function<void()> cb_;
  EventLoop::TimerId id_ = 0;
  TimePoint deadline_{};
};

}  // namespace vrrpd
