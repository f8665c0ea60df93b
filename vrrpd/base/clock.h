// Time source for everything that schedules: the real monotonic clock in the
// daemon, a hand-advanced fake in tests (STYLE.md habit 4).
#pragma once

#include <chrono>

namespace vrrpd {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// Interface so that protocol logic and timers never read the clock directly.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic "now"; never goes backwards.
  virtual TimePoint now() const = 0;
};

// CLOCK_MONOTONIC via std::chrono::steady_clock.
class MonotonicClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

// Test clock: starts at an arbitrary fixed point and moves only when told.
class FakeClock final : public Clock {
 public:
  FakeClock() : now_(TimePoint(std::chrono::hours(1000))) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

// Wall-clock time in ms since the epoch, for display only (never for timing).
long long wall_clock_ms();

}  // namespace vrrpd
