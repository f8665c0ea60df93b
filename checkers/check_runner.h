// Runs one check on the checker loop: an attempt every interval, a timeout
// per attempt, rise/fall counting, and a status snapshot after each attempt.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "checkers/health.h"
#include "checkers/probe.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

// What vrrpctl checks shows; copied to the VRRP loop after every attempt.
struct CheckStatus {
  std::string name;
  std::string kind;
  std::string target;
  bool up = true;
  int consecutive_successes = 0;
  int consecutive_failures = 0;
  bool has_result = false;      // at least one attempt finished
  ProbeResult last;             // the last attempt's outcome
  double last_latency_ms = 0;   // how long the last attempt took
  long long last_run_ms = 0;    // wall clock of the last attempt's end (display only)
  long long last_change_ms = 0; // wall clock of the last up/down change (0: never)
  std::uint64_t attempts = 0;
  std::uint64_t failed_attempts = 0;
  nlohmann::json to_json() const;
};

class CheckRunner {
 public:
  // Called after every attempt, on the checker loop; `changed` when up/down flipped.
  using Sink = std::function<void(const CheckStatus& status, bool changed)>;

  CheckRunner(EventLoop& loop, const config::Check& cfg, std::unique_ptr<Probe> probe, Sink sink);
  ~CheckRunner();
  CheckRunner(const CheckRunner&) = delete;
  CheckRunner& operator=(const CheckRunner&) = delete;

  // First attempt at once, then one per interval (from attempt start to start).
  void start();
  void stop();
  const CheckStatus& status() const { return status_; }
  const config::Check& config() const { return cfg_; }

 private:
  void attempt();
  void finish(ProbeResult result);

  EventLoop& loop_;
  config::Check cfg_;
  std::unique_ptr<Probe> probe_;
  Sink sink_;
  HealthTracker health_;
  CheckStatus status_;
  Timer interval_timer_;
  Timer timeout_timer_;
  bool in_flight_ = false;
  TimePoint attempt_started_{};
  std::uint64_t generation_ = 0;  // ignores a late result from a cancelled attempt
};

}  // namespace vrrpd::checkers
