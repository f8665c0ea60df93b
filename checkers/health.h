// Rise/fall counting for one check (pure): a check that is down needs `rise`
// consecutive successes to be up, one that is up needs `fall` consecutive
// failures to be down (keepalived's vrrp_script semantics).
#pragma once

namespace vrrpd::checkers {

class HealthTracker {
 public:
  HealthTracker(int rise, int fall, bool initially_up)
      : rise_(rise), fall_(fall), up_(initially_up) {}

  // Records one attempt's outcome; returns true when up() changed.
  bool record(bool success) {
    if (success) {
      ++successes_;
      failures_ = 0;
      if (!up_ && successes_ >= rise_) return up_ = true;
    } else {
      ++failures_;
      successes_ = 0;
      if (up_ && failures_ >= fall_) {
        up_ = false;
        return true;
      }
    }
    return false;
  }

  bool up() const { return up_; }
  int consecutive_successes() const { return successes_; }
  int consecutive_failures() const { return failures_; }

 private:
  int rise_;
  int fall_;
  bool up_;
  int successes_ = 0;
  int failures_ = 0;
};

}  // namespace vrrpd::checkers
