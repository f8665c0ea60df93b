// Failover with data: the takeover/release sequencer of one VRRP instance.
// See orchestrator.h for the rules; README "Failover with data" for the
// operator's view and the stable log messages.
#include "vrrpd/daemon/orchestrator.h"

#include <algorithm>
#include <cstdio>

#include "vrrpd/base/log.h"

namespace vrrpd {
namespace {

// The engine's refusals (replication/resource.cc, Resource::primary) that
// pass by themselves during a failover, so the takeover asks again until its
// step timeout instead of failing at once. Each with what we tell the operator.
struct PassingRefusal {
  const char* match;
  const char* why;
};
constexpr PassingRefusal kPassingRefusals[] = {
    // The old master is still releasing (a busy unmount, a slow service stop),
    // or it is gone and the engine's probe (ResourceOptions::probe_timeout)
    // has not yet dropped the silent link.
    {"the peer is Primary", "the peer is still Primary; asking again until it demotes or stops answering on the "
                            "replication link (the engine never allows two primaries)"},
    // Restarted and not yet connected: DRBD's rule, the data may be stale
    // until the handshake with the peer says otherwise.
    {"disk is Consistent", "the disk is Consistent, not UpToDate, until the handshake with the peer; asking again "
                           "until the peer connects (promote by hand with: vrrpctl replication primary --force)"},
    {"resync in progress as SyncTarget", "a resync as SyncTarget is running; asking again until it is done"},
    // Quorum: the other node holds the witness's lease (it is alive, or its
    // lease has not run out yet), or neither the witness nor the peer answers.
    {"the witness gives", "the other node holds the witness's lease; asking again until it gives it back or its "
                          "lease runs out"},
    {"no majority", "no majority: neither the witness nor the replication peer answers; asking again"},
};

const PassingRefusal* passing_refusal(const std::string& text) {
  for (const auto& r : kPassingRefusals)
    if (text.find(r.match) != std::string::npos) return &r;
  return nullptr;
}

// The orchestrator's limit for a service step: the service side's own
// timeout plus the grace it gives a program between SIGTERM and SIGKILL, so
// that its clearer reason arrives first.
constexpr Duration kServiceStepMargin = std::chrono::seconds(5);

long long to_ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

std::string seconds_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(to_ms(d)) / 1000.0);
  return buf;
}

bool is_takeover_op(const std::string& op) {
  return op == "primary" || op == "mount" || op == "start" || op == "claim";
}

// The word an operator reads in the summaries: "promote r0 120 ms".
const char* verb(const std::string& op) {
  if (op == "primary") return "promote";
  if (op == "secondary") return "demote";
  if (op == "umount") return "unmount";
  if (op == "start") return "start";
  if (op == "stop") return "stop";
  if (op == "claim") return "claim";
  if (op == "release") return "release";
  return "mount";
}

std::string undo_op(const std::string& op) {
  if (op == "primary") return "secondary";
  if (op == "start") return "stop";
  if (op == "claim") return "release";
  return "umount";
}

}  // namespace

const char* Orchestrator::phase_name(Phase p) {
  switch (p) {
    case Phase::kReleased: return "released";
    case Phase::kTakingOver: return "takeover";
    case Phase::kActive: return "active";
    case Phase::kReleasing: return "release";
    case Phase::kRollingBack: return "rollback";
    case Phase::kFaultHold: return "fault-hold";
  }
  return "?";
}

Orchestrator::Orchestrator(EventLoop& loop, ResourceCommands& commands, OrchestratorSettings settings,
                           OrchestratorHooks hooks, ServiceCommands* services, QuorumCommands* quorum)
    : loop_(loop),
      commands_(commands),
      services_(services),
      quorum_(quorum),
      settings_(std::move(settings)),
      hooks_(std::move(hooks)),
      step_timer_(loop, [this] { on_step_timeout(); }),
      retry_timer_(loop,
                   [this] {
                     if (!in_flight_ || !in_flight_->awaiting_retry) return;
                     in_flight_->awaiting_retry = false;
                     issue(*in_flight_);
                   }),
      hold_timer_(loop, [this] {
        transition(Phase::kReleased, "fault hold over");
        if (hooks_.record) hooks_.record("fault-hold-over", "fault hold over; the instance may be elected again", {});
        if (hooks_.fault_hold_over) hooks_.fault_hold_over();
        advance();
      }) {
  phase_started_ = loop_.now();
}

Orchestrator::~Orchestrator() = default;

std::string Orchestrator::prefix() const {
  return (settings_.group ? "VRRP_Group(" : "VRRP_Instance(") + settings_.instance + ") ";
}

void Orchestrator::configure(OrchestratorSettings settings) { settings_ = std::move(settings); }

void Orchestrator::master_wanted() {
  want_master_ = true;
  advance();
}

void Orchestrator::master_left() {
  want_master_ = false;
  // A `primary` waiting to be asked again is not running on the replication
  // side: drop it rather than wait for its timeout.
  if (in_flight_ && in_flight_->awaiting_retry) {
    retry_timer_.disarm();
    step_timer_.disarm();
    if (hooks_.record)
      hooks_.record("step", in_flight_->step.op + " " + in_flight_->step.target +
                                " abandoned: left MASTER while waiting (" + in_flight_->last_refusal + ")",
                    {{in_flight_->step.kind(), in_flight_->step.target}, {"op", in_flight_->step.op}, {"ok", false},
                     {"duration_ms", to_ms(loop_.now() - in_flight_->started)}, {"phase", phase_name(phase_)}});
    in_flight_.reset();
  }
  advance();
}

bool Orchestrator::busy() const {
  return in_flight_.has_value() || phase_ == Phase::kTakingOver || phase_ == Phase::kReleasing ||
         phase_ == Phase::kRollingBack || (phase_ == Phase::kActive && !want_master_);
}

Duration Orchestrator::release_budget() const {
  // umount and secondary per resource, each at most the release timeout,
  // a stop per service, plus a takeover step that may still be in flight.
  const auto steps = static_cast<long>(2 * settings_.resources.size());
  Duration budget = settings_.release_timeout * steps + settings_.takeover_timeout + std::chrono::seconds(1);
  Duration longest_start{0};
  for (const auto& s : settings_.services) {
    budget += s.stop_timeout + kServiceStepMargin;
    longest_start = std::max(longest_start, s.start_timeout + kServiceStepMargin);
  }
  return budget + longest_start;
}

void Orchestrator::transition(Phase to, const std::string& reason) {
  if (to == phase_) return;
  // Stable message: see README.md "Log messages".
  log::info(prefix() + "failover " + phase_name(phase_) + " -> " + phase_name(to) + " (" + reason + ")");
  phase_ = to;
  phase_started_ = loop_.now();
  ++transitions_;
}

void Orchestrator::advance() {
  // Hooks may call back into master_wanted()/master_left() while we decide;
  // those re-runs are folded into this loop instead of nesting.
  if (advancing_) {
    advance_again_ = true;
    return;
  }
  advancing_ = true;
  do {
    advance_again_ = false;
    advance_once();
  } while (advance_again_);
  advancing_ = false;
}

void Orchestrator::advance_once() {
  if (in_flight_) return;  // one step at a time; its completion calls advance()
  switch (phase_) {
    case Phase::kReleased:
      if (want_master_) begin_takeover();
      return;
    case Phase::kTakingOver:
      if (!want_master_) return start_release(Phase::kReleasing, "left MASTER during the takeover: undoing it");
      if (next_step_ < plan_.size()) return start_step(plan_[next_step_]);
      {
        const std::string summary = "takeover done in " + std::to_string(to_ms(loop_.now() - phase_started_)) +
                                    " ms (" + durations_text() + ")";
        // Stable message: see README.md "Log messages".
        log::notice(prefix() + summary);
        if (hooks_.record)
          hooks_.record("takeover-done", summary, {{"duration_ms", to_ms(loop_.now() - phase_started_)}});
        last_error_.clear();
        local_failures_ = 0;
        transition(Phase::kActive, "every resource promoted and mounted, every service started");
        if (hooks_.takeover_done) hooks_.takeover_done();
      }
      return;
    case Phase::kActive:
      if (!want_master_) start_release(Phase::kReleasing, "left MASTER");
      return;
    case Phase::kReleasing:
    case Phase::kRollingBack:
      // Skip what belongs to a resource whose release already failed: its
      // next step would be refused too (secondary while still mounted).
      while (!acquired_.empty() && given_up_.count(acquired_.back().key()) != 0) acquired_.pop_back();
      if (acquired_.empty()) return finish_release();
      return start_step(undo_step(acquired_.back()));
    case Phase::kFaultHold: return;
  }
}

void Orchestrator::begin_takeover() {
  plan_.clear();
  if (settings_.witness) {
    Step claim{lock(), "claim", false, settings_.takeover_timeout};
    claim.quorum = true;
    plan_.push_back(claim);
  }
  for (const auto& r : settings_.resources) {
    plan_.push_back({r.name, "primary", false, settings_.takeover_timeout});
    if (r.mount) plan_.push_back({r.name, "mount", false, settings_.takeover_timeout});
  }
  for (const auto& s : settings_.services) plan_.push_back({s.name, "start", true, s.start_timeout + kServiceStepMargin});
  next_step_ = 0;
  step_ms_.clear();
  transition(Phase::kTakingOver, "became MASTER: " + std::to_string(plan_.size()) + " step(s) before the VIPs");
  if (hooks_.record)
    hooks_.record("takeover-start",
                  "takeover started: VIPs held until every resource is promoted and mounted and every service started",
                  {{"steps", plan_.size()}});
  advance_again_ = true;
}

void Orchestrator::start_release(Phase phase, const std::string& reason) {
  given_up_.clear();
  step_ms_.clear();
  transition(phase, reason);
  if (hooks_.record)
    hooks_.record(phase == Phase::kRollingBack ? "rollback-start" : "release-start",
                  std::string(phase == Phase::kRollingBack ? "rollback" : "release") + " started: " + reason, {});
  advance_again_ = true;
}

void Orchestrator::finish_release() {
  const long long took = to_ms(loop_.now() - phase_started_);
  const bool rollback = phase_ == Phase::kRollingBack;
  const std::string what = rollback ? "rollback" : "release";
  if (given_up_.empty()) {
    const std::string summary = what + " done in " + std::to_string(took) + " ms (" +
                                (step_ms_.empty() ? std::string("nothing held") : durations_text()) + ")";
    // Stable message: see README.md "Log messages".
    log::notice(prefix() + summary);
    if (hooks_.record) hooks_.record(what + "-done", summary, {{"duration_ms", took}});
  } else {
    log::error(prefix() + what + " ended in " + std::to_string(took) + " ms with resources still held: " + last_error_);
  }
  if (rollback) {
    transition(Phase::kFaultHold, "rollback ended; FAULT held until the fault hold is over");
    hold_timer_.arm_at(std::max(loop_.now(), fault_hold_until_));
    return;
  }
  transition(Phase::kReleased, what + " ended");
  if (want_master_) advance_again_ = true;  // MASTER again meanwhile: take over anew
}

Orchestrator::Step Orchestrator::undo_step(const Step& done) const {
  Step undo{done.target, undo_op(done.op), done.service, settings_.release_timeout};
  undo.quorum = done.quorum;
  if (done.service) {
    undo.timeout = settings_.release_timeout;
    for (const auto& s : settings_.services)
      if (s.name == done.target) undo.timeout = s.stop_timeout + kServiceStepMargin;
  }
  return undo;
}

void Orchestrator::start_step(Step step) {
  in_flight_ = InFlight{std::move(step), 0, loop_.now()};
  step_timer_.arm_in(in_flight_->step.timeout);
  log::info(prefix() + phase_name(phase_) + ": " + in_flight_->step.op + " " + in_flight_->step.target);
  issue(*in_flight_);
}

void Orchestrator::issue(InFlight& f) {
  f.id = next_id_++;
  std::weak_ptr<bool> alive = alive_;
  auto done = [this, alive, id = f.id](bool ok, std::string text) {
    if (alive.expired()) return;  // the orchestrator was destroyed meanwhile
    on_step_done(id, ok, std::move(text));
  };
  if (f.step.quorum) {
    if (quorum_ != nullptr) return quorum_->run(f.step.target, f.step.op, std::move(done));
    return loop_.post([done] { done(false, "no majority: no quorum side configured"); });
  }
  if (!f.step.service) return commands_.run(f.step.target, f.step.op, std::move(done));
  if (services_ != nullptr) return services_->run(f.step.target, f.step.op, std::move(done));
  // Not reachable from the daemon (it passes services whenever an instance
  // owns one); answered later like every completion.
  loop_.post([done] { done(false, "no service manager"); });
}

void Orchestrator::on_step_done(std::uint64_t id, bool ok, std::string text) {
  if (!in_flight_ || in_flight_->id != id) return;  // a request we already gave up
  InFlight& f = *in_flight_;
  const Duration took = loop_.now() - f.started;
  const PassingRefusal* refusal =
      !ok && (f.step.op == "primary" || f.step.op == "claim") && !f.timed_out && want_master_ &&
              phase_ == Phase::kTakingOver
          ? passing_refusal(text)
          : nullptr;
  if (refusal != nullptr) {
    // Said once per reason, not at every retry.
    if (f.last_refusal.empty() || passing_refusal(f.last_refusal) != refusal) {
      const std::string msg = f.step.op + " " + f.step.target + " refused: " + refusal->why + " (every " +
                              std::to_string(to_ms(settings_.refusal_retry)) + " ms, at most " +
                              std::to_string(to_ms(f.step.timeout)) + " ms)";
      log::notice(prefix() + msg);
      if (hooks_.record)
        hooks_.record("step-retry", msg, {{f.step.kind(), f.step.target}, {"op", f.step.op}, {"refusal", text}});
    }
    f.awaiting_retry = true;
    f.last_refusal = text;
    retry_timer_.arm_in(settings_.refusal_retry);
    return;
  }
  const Step step = f.step;
  const bool late = f.timed_out;
  step_timer_.disarm();
  in_flight_.reset();
  step_ms_.emplace_back(std::string(verb(step.op)) + " " + step.target, to_ms(took));
  const std::string summary = step.op + " " + step.target + (ok ? " done in " : " failed after ") +
                              std::to_string(to_ms(took)) + " ms" + (late ? " (after its timeout)" : "") + ": " + text;
  if (late) log::warning(prefix() + summary);
  else log::info(prefix() + summary);
  if (hooks_.record)
    hooks_.record("step", summary,
                  {{step.kind(), step.target}, {"op", step.op}, {"ok", ok},
                   {"duration_ms", to_ms(took)}, {"phase", phase_name(phase_)}, {"late", late}, {"result", text}});
  if (is_takeover_op(step.op)) {
    // A failed start may have left processes behind (a daemon that never
    // got ready still holds the file system): it is stopped on the way back.
    if (!ok && step.op == "start") acquired_.push_back(step);
    if (ok) {
      acquired_.push_back(step);  // held now, whatever happens next: undone on release
      if (!late && phase_ == Phase::kTakingOver) ++next_step_;
    } else if (!late && phase_ == Phase::kTakingOver) {
      fail_takeover(step, text);
    }
  } else if (ok) {
    acquired_.pop_back();  // the step this one undid (always the last acquired)
  } else {
    if (!late) release_step_failed(step, text);
    // A service that failed to stop is given up and the release goes on
    // (see release_step_failed); a resource's steps are skipped by given_up_.
    if (step.service || step.quorum) acquired_.pop_back();
  }
  advance();
}

void Orchestrator::on_step_timeout() {
  if (!in_flight_) return;
  InFlight& f = *in_flight_;
  const Duration limit = f.step.timeout;
  std::string why = "timed out after " + std::to_string(to_ms(limit)) + " ms";
  if (f.awaiting_retry) {
    // Nothing runs on the replication side: the step simply failed.
    retry_timer_.disarm();
    const Step step = f.step;
    why += " (last answer: " + f.last_refusal + ")";
    in_flight_.reset();
    if (hooks_.record)
      hooks_.record("step", step.op + " " + step.target + " failed: " + why,
                    {{step.kind(), step.target}, {"op", step.op}, {"ok", false}, {"duration_ms", to_ms(limit)},
                     {"phase", phase_name(phase_)}, {"late", false}, {"result", why}});
    fail_takeover(step, why);
    return advance();
  }
  // The request still runs; its result is awaited before the next step so
  // that two operations on one resource never overlap.
  f.timed_out = true;
  if (is_takeover_op(f.step.op)) {
    if (phase_ == Phase::kTakingOver) fail_takeover(f.step, why);
  } else {
    release_step_failed(f.step, why);
  }
  advance();
}

void Orchestrator::fail_takeover(const Step& step, const std::string& why) {
  const std::string reason = "takeover failed: " + step.op + " " + step.target + ": " + why;
  last_error_ = reason;
  // A failure of this node's own (a mount, a service, its disk) doubles the
  // hold each time in a row, so that a broken node that preempts does not
  // take the service away from a working peer every fault_hold. Waiting for
  // the other node (a refusal that passes by itself) is not its fault.
  std::string held_why;
  Duration hold = settings_.fault_hold;
  if (passing_refusal(why) == nullptr) {
    ++local_failures_;
    const int doublings = std::min(local_failures_ - 1, kMaxHoldDoublings);
    hold = settings_.fault_hold * (1 << doublings);
    if (local_failures_ > 1)
      held_why = " (" + std::to_string(local_failures_) + " failed takeovers in a row here: the hold doubles each "
                 "time, up to " + std::to_string(1 << kMaxHoldDoublings) + " x fault_hold_ms)";
  }
  // Stable message: see README.md "Log messages".
  log::error(prefix() + reason + "; undoing the steps done and going FAULT for " + std::to_string(to_ms(hold)) +
             " ms" + held_why);
  if (hooks_.record)
    hooks_.record("takeover-failed", reason,
                  {{step.kind(), step.target}, {"op", step.op}, {"reason", why},
                   {"duration_ms", to_ms(loop_.now() - phase_started_)}, {"hold_ms", to_ms(hold)},
                   {"failures_in_a_row", local_failures_}});
  fault_hold_until_ = loop_.now() + hold;
  start_release(Phase::kRollingBack, reason);
  // The instance goes FAULT (priority-0 advert: the peer takes over); it
  // tells us master_left(), folded into advance().
  if (hooks_.takeover_failed) hooks_.takeover_failed(reason);
}

void Orchestrator::step_down(const std::string& reason) {
  if (phase_ != Phase::kActive || !want_master_) return;
  last_error_ = reason;
  // Stable message: see README.md "Log messages".
  log::error(prefix() + reason + "; releasing and going FAULT for " + std::to_string(to_ms(settings_.fault_hold)) +
             " ms");
  if (hooks_.record) hooks_.record("step-down", reason, {});
  fault_hold_until_ = loop_.now() + settings_.fault_hold;
  start_release(Phase::kRollingBack, reason);
  if (hooks_.takeover_failed) hooks_.takeover_failed(reason);
  advance();
}

void Orchestrator::release_step_failed(const Step& step, const std::string& why) {
  const std::string reason = "release failed: " + step.op + " " + step.target + ": " + why;
  last_error_ = reason;
  if (step.service || step.quorum) {
    // Going on is the safe choice: if the service still holds the file
    // system, the unmount fails and the resource stays Primary here (the
    // peer cannot promote); if it does not, the data moves on.
    log::error(prefix() + reason + "; going on with the release (a process still using the file system makes the "
                                   "unmount fail, and the resource then stays Primary here)");
    if (hooks_.record)
      hooks_.record("release-failed", reason, {{"service", step.target}, {"op", step.op}, {"reason", why}});
    return;
  }
  given_up_.insert(step.key());
  // Stable message: see README.md "Log messages". Loud on purpose: the data
  // stays here and the peer cannot promote it.
  log::error(prefix() + reason + "; " + step.target +
             " stays Primary on this node, so the peer's promotion is refused (the engine's split-brain "
             "protection); fix the cause, then: vrrpctl replication secondary " + step.target);
  if (hooks_.record)
    hooks_.record("release-failed", reason, {{"resource", step.target}, {"op", step.op}, {"reason", why}});
}

std::string Orchestrator::durations_text() const {
  std::string out;
  for (const auto& [what, ms] : step_ms_) out += (out.empty() ? "" : ", ") + what + " " + std::to_string(ms) + " ms";
  return out;
}

nlohmann::json Orchestrator::to_json() const {
  const TimePoint now = loop_.now();
  std::string display = phase_name(phase_);
  std::string step;
  long long step_elapsed_ms = 0;
  if (in_flight_) {
    step = in_flight_->step.op + " " + in_flight_->step.target;
    step_elapsed_ms = to_ms(now - in_flight_->started);
    display += ": " + step + " (" + seconds_text(now - in_flight_->started) +
               (in_flight_->timed_out ? ", timed out, awaiting its result" : "") +
               (in_flight_->awaiting_retry ? ", refused: " + in_flight_->last_refusal : "") + ")";
  } else if (phase_ == Phase::kFaultHold) {
    display += " (" + seconds_text(std::max(Duration::zero(), fault_hold_until_ - now)) + " left)";
  }
  nlohmann::json held = nlohmann::json::array(), running = nlohmann::json::array();
  bool quorum_held = false;
  for (const auto& s : acquired_) {
    if (s.quorum) {
      quorum_held = true;
      continue;
    }
    nlohmann::json& list = s.service ? running : held;
    if (std::find(list.begin(), list.end(), s.target) == list.end()) list.push_back(s.target);
  }
  nlohmann::json owned = nlohmann::json::array(), services = nlohmann::json::array();
  for (const auto& r : settings_.resources) owned.push_back(r.name);
  for (const auto& s : settings_.services) services.push_back(s.name);
  return {{"phase", phase_name(phase_)},
          {"step", step},
          {"step_elapsed_ms", step_elapsed_ms},
          {"display", display},
          {"resources", owned},
          {"held", held},
          {"services", services},
          {"services_running", running},
          {"witness", settings_.witness},
          {"quorum_held", quorum_held},
          {"last_error", last_error_},
          {"transitions", transitions_}};
}

}  // namespace vrrpd
