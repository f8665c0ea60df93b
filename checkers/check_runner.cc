#include "checkers/check_runner.h"

#include <cstdio>

#include "vrrpd/base/log.h"

namespace vrrpd::checkers {

nlohmann::json CheckStatus::to_json() const {
  return {{"name", name},
          {"kind", kind},
          {"target", target},
          {"state", up ? "UP" : "DOWN"},
          {"consecutive_successes", consecutive_successes},
          {"consecutive_failures", consecutive_failures},
          {"has_result", has_result},
          {"last_result", has_result ? (last.healthy ? "ok" : "failed") : "none"},
          {"last_reason", last.reason},
          {"last_latency_ms", last_latency_ms},
          {"last_run_ms", last_run_ms},
          {"last_change_ms", last_change_ms},
          {"attempts", attempts},
          {"failed_attempts", failed_attempts}};
}

CheckRunner::CheckRunner(EventLoop& loop, const config::Check& cfg, std::unique_ptr<Probe> probe, Sink sink)
    : loop_(loop),
      cfg_(cfg),
      probe_(std::move(probe)),
      sink_(std::move(sink)),
      health_(static_cast<int>(cfg.rise), static_cast<int>(cfg.fall), cfg.initially_up),
      interval_timer_(loop, [this] { attempt(); }),
      timeout_timer_(loop, [this] {
        if (!in_flight_) return;
        probe_->cancel();
        finish({false, "timed out after " + std::to_string(cfg_.timeout.count()) + " ms"});
      }) {
  status_.name = cfg.name;
  status_.kind = cfg.kind;
  status_.target = probe_->target();
  status_.up = cfg.initially_up;
}

CheckRunner::~CheckRunner() { stop(); }

void CheckRunner::start() { attempt(); }

void CheckRunner::stop() {
  interval_timer_.disarm();
  timeout_timer_.disarm();
  if (in_flight_) probe_->cancel();
  in_flight_ = false;
  ++generation_;
}

void CheckRunner::attempt() {
  interval_timer_.arm_in(cfg_.interval);
  if (in_flight_) return;  // cannot happen while timeout <= interval; be safe anyway
  in_flight_ = true;
  attempt_started_ = loop_.now();
  timeout_timer_.arm_in(cfg_.timeout + std::chrono::milliseconds(probe_->extra_time_ms()));
  const std::uint64_t gen = ++generation_;
  probe_->start([this, gen](ProbeResult r) {
    if (gen != generation_ || !in_flight_) return;
    finish(std::move(r));
  });
}

void CheckRunner::finish(ProbeResult result) {
  in_flight_ = false;
  ++generation_;
  timeout_timer_.disarm();
  const double latency_ms =
      std::chrono::duration<double, std::milli>(loop_.now() - attempt_started_).count();
  const bool changed = health_.record(result.healthy);
  status_.up = health_.up();
  status_.consecutive_successes = health_.consecutive_successes();
  status_.consecutive_failures = health_.consecutive_failures();
  status_.has_result = true;
  status_.last = std::move(result);
  status_.last_latency_ms = latency_ms;
  status_.last_run_ms = wall_clock_ms();
  ++status_.attempts;
  if (!status_.last.healthy) ++status_.failed_attempts;
  if (changed) {
    status_.last_change_ms = status_.last_run_ms;
    // Stable message: see README.md "Log messages".
    log::notice("Check(" + cfg_.name + ") " + (status_.up ? "DOWN -> UP" : "UP -> DOWN") + " (" +
                status_.last.reason + ")");
  }
  if (sink_) sink_(status_, changed);
}

}  // namespace vrrpd::checkers
