// Event loop: timer order and cancellation on a fake clock, post() from
// another thread, fd readiness.
#include "vrrpd/base/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>

#include "vrrpd/base/ip_address.h"

namespace vrrpd {
namespace {

using std::chrono::milliseconds;

TEST(EventLoop, TimersFireInDeadlineOrderAtTheirTimes) {
  FakeClock clock;
  EventLoop loop(clock);
  const TimePoint t0 = clock.now();
  std::vector<std::pair<int, TimePoint>> fired;
  loop.add_timer(t0 + milliseconds(30), [&] { fired.push_back({3, clock.now()}); });
  loop.add_timer(t0 + milliseconds(10), [&] { fired.push_back({1, clock.now()}); });
  auto id = loop.add_timer(t0 + milliseconds(20), [&] { fired.push_back({2, clock.now()}); });
  loop.cancel_timer(id);
  loop.run_fake_until(clock, t0 + milliseconds(25));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], std::make_pair(1, t0 + milliseconds(10)));
  EXPECT_EQ(clock.now(), t0 + milliseconds(25));
  loop.run_fake_until(clock, t0 + milliseconds(100));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[1], std::make_pair(3, t0 + milliseconds(30)));
  EXPECT_EQ(loop.next_deadline(), TimePoint::max());
}

TEST(EventLoop, TimerRearmReplacesDeadline) {
  FakeClock clock;
  EventLoop loop(clock);
  int count = 0;
  Timer t(loop, [&] { ++count; });
  t.arm_in(milliseconds(10));
  t.arm_in(milliseconds(50));
  loop.run_fake_until(clock, clock.now() + milliseconds(40));
  EXPECT_EQ(count, 0);
  loop.run_fake_until(clock, clock.now() + milliseconds(20));
  EXPECT_EQ(count, 1);
  EXPECT_FALSE(t.armed());
}

TEST(EventLoop, PostFromAnotherThreadWakesTheLoop) {
  MonotonicClock clock;
  EventLoop loop(clock);
  bool ran = false;
  std::thread other([&] { loop.post([&] { ran = true; }); });
  other.join();
  const TimePoint before = clock.now();
  loop.run_once(std::chrono::seconds(5));
  EXPECT_TRUE(ran);
  EXPECT_LT(clock.now() - before, std::chrono::seconds(1));  // woke at once, did not wait 5 s
}

TEST(EventLoop, FdReadinessCallsTheWatcher) {
  MonotonicClock clock;
  EventLoop loop(clock);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::uint32_t seen = 0;
  loop.watch_fd(fds[0], EPOLLIN, [&](std::uint32_t ev) { seen = ev; });
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  loop.run_once(milliseconds(500));
  EXPECT_TRUE(seen & EPOLLIN);
  loop.unwatch_fd(fds[0]);
  close(fds[0]);
  close(fds[1]);
}

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->to_string(), "192.0.2.1");
  EXPECT_EQ(IpAddress::parse("2001:db8::1")->to_string(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("192.0.2.256"));
  EXPECT_TRUE(IpAddress::parse("fe80::1")->is_link_local());
  EXPECT_TRUE(IpAddress::parse("224.0.0.18")->is_multicast());
  EXPECT_EQ(IpPrefix::parse("192.0.2.1")->prefix_len, 32);
  EXPECT_EQ(IpPrefix::parse("2001:db8::/64")->prefix_len, 64);
  EXPECT_FALSE(IpPrefix::parse("192.0.2.1/33"));
  EXPECT_FALSE(IpPrefix::parse("192.0.2.1/"));
  EXPECT_LT(*IpAddress::parse("192.0.2.1"), *IpAddress::parse("192.0.2.2"));
}

}  // namespace
}  // namespace vrrpd
