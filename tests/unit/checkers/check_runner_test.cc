// Rise/fall counting and the runner's schedule and timeout on a fake clock,
// with a scripted fake probe.
#include "checkers/check_runner.h"

#include <gtest/gtest.h>

#include <deque>

#include "checkers/health.h"

namespace vrrpd::checkers {
namespace {

using std::chrono::milliseconds;

TEST(HealthTracker, RiseAndFallNeedConsecutiveResults) {
  HealthTracker h(/*rise=*/3, /*fall=*/2, /*initially_up=*/false);
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.record(false));  // breaks the run
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.record(true));
  EXPECT_TRUE(h.record(true));  // third in a row
  EXPECT_TRUE(h.up());
  EXPECT_FALSE(h.record(false));
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.record(false));
  EXPECT_TRUE(h.record(false));
  EXPECT_FALSE(h.up());
  EXPECT_EQ(h.consecutive_failures(), 2);
}

TEST(HealthTracker, InitialStateHoldsUntilEnoughResults) {
  HealthTracker up(1, 3, true);
  EXPECT_FALSE(up.record(false));
  EXPECT_TRUE(up.up());
  HealthTracker down(2, 1, false);
  EXPECT_FALSE(down.record(true));
  EXPECT_FALSE(down.up());
}

// Answers each attempt from a script: a result after a delay, or never.
class ScriptedProbe : public Probe {
 public:
  struct Step {
    bool healthy;
    milliseconds delay;  // negative: never answers
  };
  ScriptedProbe(EventLoop& loop, std::deque<Step> steps) : loop_(loop), steps_(std::move(steps)) {}
  void start(Done done) override {
    ++starts;
    Step s = steps_.empty() ? Step{true, milliseconds(1)} : steps_.front();
    if (!steps_.empty()) steps_.pop_front();
    if (s.delay.count() < 0) return;
    timer_ = loop_.add_timer(loop_.now() + s.delay, [s, done] { done({s.healthy, s.healthy ? "fine" : "broken"}); });
  }
  void cancel() override {
    ++cancels;
    loop_.cancel_timer(timer_);
  }
  std::string target() const override { return "scripted"; }
  int starts = 0;
  int cancels = 0;

 private:
  EventLoop& loop_;
  std::deque<Step> steps_;
  EventLoop::TimerId timer_ = 0;
};

config::Check check_cfg(int rise, int fall) {
  config::Check c;
  c.name = "c1";
  c.kind = "fake";
  c.interval = milliseconds(1000);
  c.timeout = milliseconds(300);
  c.rise = rise;
  c.fall = fall;
  return c;
}

TEST(CheckRunner, AttemptsEveryIntervalAndReportsChanges) {
  FakeClock clock;
  EventLoop loop(clock);
  auto probe = std::make_unique<ScriptedProbe>(
      loop, std::deque<ScriptedProbe::Step>{{true, milliseconds(10)}, {false, milliseconds(10)},
                                            {false, milliseconds(20)}, {true, milliseconds(10)}});
  auto* p = probe.get();
  std::vector<std::pair<bool, bool>> reports;  // (up, changed)
  std::vector<double> latencies;
  CheckRunner r(loop, check_cfg(1, 2), std::move(probe), [&](const CheckStatus& s, bool changed) {
    reports.push_back({s.up, changed});
    latencies.push_back(s.last_latency_ms);
  });
  r.start();
  loop.run_fake_until(clock, clock.now() + milliseconds(3500));
  EXPECT_EQ(p->starts, 4);  // at 0, 1000, 2000, 3000 ms
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[0], std::make_pair(true, false));
  EXPECT_EQ(reports[1], std::make_pair(true, false));  // one failure of fall 2
  EXPECT_EQ(reports[2], std::make_pair(false, true));  // second failure: down
  EXPECT_EQ(reports[3], std::make_pair(true, true));   // rise 1: up again
  EXPECT_DOUBLE_EQ(latencies[2], 20.0);
  EXPECT_EQ(r.status().attempts, 4u);
  EXPECT_EQ(r.status().failed_attempts, 2u);
}

TEST(CheckRunner, HungAttemptTimesOutAndIsCancelled) {
  FakeClock clock;
  EventLoop loop(clock);
  auto probe = std::make_unique<ScriptedProbe>(loop, std::deque<ScriptedProbe::Step>{{true, milliseconds(-1)}});
  auto* p = probe.get();
  std::vector<CheckStatus> reports;
  CheckRunner r(loop, check_cfg(1, 1), std::move(probe),
                [&](const CheckStatus& s, bool) { reports.push_back(s); });
  r.start();
  loop.run_fake_until(clock, clock.now() + milliseconds(500));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].up);
  EXPECT_EQ(reports[0].last.reason, "timed out after 300 ms");
  EXPECT_DOUBLE_EQ(reports[0].last_latency_ms, 300.0);
  EXPECT_EQ(p->cancels, 1);
}

TEST(CheckRunner, StopCancelsAndSilences) {
  FakeClock clock;
  EventLoop loop(clock);
  auto probe = std::make_unique<ScriptedProbe>(loop, std::deque<ScriptedProbe::Step>{{true, milliseconds(100)}});
  auto* p = probe.get();
  int reports = 0;
  CheckRunner r(loop, check_cfg(1, 1), std::move(probe), [&](const CheckStatus&, bool) { ++reports; });
  r.start();
  r.stop();
  loop.run_fake_until(clock, clock.now() + milliseconds(5000));
  EXPECT_EQ(reports, 0);
  EXPECT_EQ(p->starts, 1);
  EXPECT_EQ(p->cancels, 1);
}

}  // namespace
}  // namespace vrrpd::checkers
