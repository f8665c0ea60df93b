// Event loop implementation: epoll_pwait2 for nanosecond timeouts (10 ms
// adverts need better than epoll_wait's millisecond rounding), an eventfd for
// cross-thread wake-ups.
#include "vrrpd/base/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vrrpd {

long long wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

EventLoop::EventLoop(const Clock& clock) : clock_(clock) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0)
    throw std::runtime_error(std::string("event loop: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  real_clock_ = dynamic_cast<const MonotonicClock*>(&clock_) != nullptr;
  if (real_clock_) {
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) throw std::runtime_error(std::string("timerfd: ") + std::strerror(errno));
    ev.data.fd = timer_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev);
  }
}

EventLoop::~EventLoop() {
  if (timer_fd_ >= 0) close(timer_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

EventLoop::TimerId EventLoop::add_timer(TimePoint deadline, std::function<void()> cb) {
  TimerId id = next_timer_id_++;
  timer_queue_.emplace(deadline, id);
  timers_.emplace(id, std::make_pair(deadline, std::move(cb)));
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  timer_queue_.erase({it->second.first, id});
  timers_.erase(it);
}

TimePoint EventLoop::next_deadline() const {
  return timer_queue_.empty() ? TimePoint::max() : timer_queue_.begin()->first;
}

void EventLoop::watch_fd(int fd, std::uint32_t events, FdCallback cb) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0)
    throw std::runtime_error(std::string("epoll_ctl add: ") + std::strerror(errno));
  fd_callbacks_[fd] = std::move(cb);
}

void EventLoop::modify_fd(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::unwatch_fd(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  fd_callbacks_.erase(fd);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::stop() {
  post([this] { stopping_ = true; });
}

void EventLoop::run() {
  stopping_ = false;
  while (!stopping_) run_once(std::chrono::seconds(60));
}

void EventLoop::drain_posted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

void EventLoop::fire_due_timers() {
  // Fire only what is due now; timers added by callbacks wait for the next pass.
  const TimePoint now = clock_.now();
  while (!timer_queue_.empty() && timer_queue_.begin()->first <= now) {
    TimerId id = timer_queue_.begin()->second;
    timer_queue_.erase(timer_queue_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    auto cb = std::move(it->second.second);
    timers_.erase(it);
    cb();
  }
}

namespace {

timespec to_timespec(Duration d) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
  ts.tv_nsec = static_cast<long>((d - std::chrono::seconds(ts.tv_sec)).count());
  return ts;
}

}  // namespace

void EventLoop::run_once(Duration max_wait) {
  const TimePoint now = clock_.now();
  const TimePoint next = next_deadline();
  Duration wait = max_wait;
  bool by_timerfd = false;
  if (next != TimePoint::max() && next - now < wait) {
    wait = next - now;
    by_timerfd = real_clock_ && wait > Duration::zero();
  }
  if (wait < Duration::zero()) wait = Duration::zero();
  if (timer_fd_ >= 0) {
    // steady_clock is CLOCK_MONOTONIC, so deadlines are absolute timerfd times.
    itimerspec its{};
    if (by_timerfd) its.it_value = to_timespec(next.time_since_epoch());
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  }
  timespec ts = to_timespec(wait);
  epoll_event events[32];
  int n = epoll_pwait2(epoll_fd_, events, 32, by_timerfd ? nullptr : &ts, nullptr);
  if (n < 0 && errno != EINTR)
    throw std::runtime_error(std::string("epoll_pwait2: ") + std::strerror(errno));
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == timer_fd_) {
      std::uint64_t expirations;
      [[maybe_unused]] auto r = read(timer_fd_, &expirations, sizeof expirations);
      continue;  // fire_due_timers() below
    }
    if (fd == wake_fd_) {
      std::uint64_t count;
      [[maybe_unused]] auto r = read(wake_fd_, &count, sizeof count);
      drain_posted();
      continue;
    }
    auto it = fd_callbacks_.find(fd);
    if (it == fd_callbacks_.end()) continue;  // unwatched by an earlier callback
    auto cb = it->second;  // copy: the callback may unwatch itself
    cb(events[i].events);
  }
  fire_due_timers();
}

void EventLoop::run_fake_until(FakeClock& fake, TimePoint until) {
  drain_posted();
  while (!timer_queue_.empty() && timer_queue_.begin()->first <= until) {
    if (timer_queue_.begin()->first > fake.now()) fake.set(timer_queue_.begin()->first);
    fire_due_timers();
    drain_posted();
  }
  if (fake.now() < until) fake.set(until);
}

void Timer::arm_at(TimePoint deadline) {
  disarm();
  deadline_ = deadline;
  id_ = loop_.add_timer(deadline, [this] {
    id_ = 0;
    cb_();
  });
}

void Timer::disarm() {
  if (id_ != 0) loop_.cancel_timer(id_);
  id_ = 0;
}

}  // namespace vrrpd
