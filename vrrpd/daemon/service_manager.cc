// Services started and stopped by the daemon; see service_manager.h.
#include "vrrpd/daemon/service_manager.h"

#include <algorithm>
#include <cstdio>

#include "vrrpd/base/log.h"

namespace vrrpd {
namespace {

long long to_ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// "exited with status 3", "killed by signal 15 (timed out)", "not started: ..."
std::string outcome_text(const notify::ProgramOutcome& o) {
  if (!o.spawned) return "not started: " + o.spawn_error;
  std::string text = o.exited ? "exited with status " + std::to_string(o.exit_code)
                              : "killed by signal " + std::to_string(o.term_signal);
  if (o.timed_out) text += " (timed out)";
  return text;
}

bool succeeded(const notify::ProgramOutcome& o) { return o.spawned && o.exited && o.exit_code == 0; }

}  // namespace

struct ServiceManager::Op {
  Op(ServiceSpec s, bool start_op, Done d)
      : spec(std::move(s)), start(start_op), done(std::move(d)) {}
  ServiceSpec spec;
  bool start;  // start (with readiness), else stop
  Done done;
  TimePoint began{};
  int polls = 0;  // status runs so far
  std::string last_status;
  std::unique_ptr<Timer> poll_timer;  // the next status poll
};

ServiceManager::ServiceManager(EventLoop& loop, notify::RunOptions opts)
    : loop_(loop), runner_(loop, [&opts] {
        opts.label = "service program";
        return opts;
      }()) {}

ServiceManager::~ServiceManager() = default;

void ServiceManager::configure(std::vector<ServiceSpec> specs) {
  specs_.clear();
  for (auto& s : specs) {
    states_.try_emplace(s.name);
    std::string name = s.name;
    specs_.emplace(std::move(name), std::move(s));
  }
  for (auto it = states_.begin(); it != states_.end();)
    it = specs_.count(it->first) == 0 ? states_.erase(it) : std::next(it);
}

void ServiceManager::run(const std::string& service, const std::string& op_name, Done done) {
  auto spec = specs_.find(service);
  if (spec == specs_.end() || (op_name != "start" && op_name != "stop")) {
    const std::string text = spec == specs_.end() ? "unknown service " + service : "unknown service op " + op_name;
    loop_.post([done, text] { done(false, text); });
    return;
  }
  auto op = std::make_shared<Op>(spec->second, op_name == "start", std::move(done));
  op->began = loop_.now();
  states_[service].state = op->start ? "starting" : "stopping";
  in_flight_.push_back(op);
  if (!op->spec.systemd_unit.empty()) {
    if (!units_) units_ = std::make_unique<SystemdUnits>(loop_);
    log::info("service " + service + ": " + op_name + " systemd unit " + op->spec.systemd_unit);
    units_->run(op->spec.systemd_unit, op_name, op->start ? op->spec.start_timeout : op->spec.stop_timeout,
                [this, op](bool ok, std::string text) { finish(op, ok, std::move(text)); });
    return;
  }
  begin_stage(op);
}

void ServiceManager::begin_stage(const std::shared_ptr<Op>& op) {
  const ServiceSpec& s = op->spec;
  const std::vector<std::string>& argv = op->start ? s.start : s.stop;
  const Duration limit = op->start ? s.start_timeout : s.stop_timeout;
  log::info("service " + s.name + ": " + (op->start ? "start" : "stop") + ": " + argv.front());
  runner_.run("service:" + s.name, argv, limit, [this, op](const notify::ProgramOutcome& o) {
    const char* what = op->start ? "start" : "stop";
    if (!succeeded(o)) {
      return finish(op, false, std::string(what) + " program " + outcome_text(o) + " after " +
                                   std::to_string(to_ms(o.run_time)) + " ms");
    }
    if (op->start && !op->spec.status.empty()) {
      states_[op->spec.name].state = "waiting-ready";
      return run_status(op);
    }
    finish(op, true, std::string(op->start ? "started" : "stopped") + " in " +
                         std::to_string(to_ms(loop_.now() - op->began)) + " ms");
  });
}

void ServiceManager::run_status(const std::shared_ptr<Op>& op) {
  const Duration left = op->began + op->spec.start_timeout - loop_.now();
  if (left <= Duration::zero()) {
    return finish(op, false, "not ready within " + std::to_string(to_ms(op->spec.start_timeout)) + " ms (" +
                                 std::to_string(op->polls) + " status run(s), last: " + op->last_status + ")");
  }
  ++op->polls;
  runner_.run("service:" + op->spec.name, op->spec.status, left, [this, op](const notify::ProgramOutcome& o) {
    if (succeeded(o)) {
      return finish(op, true, "started and ready in " + std::to_string(to_ms(loop_.now() - op->began)) + " ms (" +
                                  std::to_string(op->polls) + " status run(s))");
    }
    // Each run may take what is left of the start timeout, so a run still
    // going at the deadline is killed by it. That says little about the
    // service: keep the answer of the last run that finished.
    // (A run cut short is always the last one: it ends at the deadline.)
    if (o.timed_out && !op->last_status.empty())
      op->last_status += "; then one cut short at the start timeout";
    else
      op->last_status = "status " + outcome_text(o);
    if (!o.spawned) return finish(op, false, op->last_status);  // it will never say ready
    // The Op is kept by in_flight_; a weak reference avoids a cycle.
    op->poll_timer = std::make_unique<Timer>(loop_, [this, weak = std::weak_ptr<Op>(op)] {
      if (auto live = weak.lock()) run_status(live);
    });
    op->poll_timer->arm_in(op->spec.status_interval);
  });
}

void ServiceManager::finish(const std::shared_ptr<Op>& op, bool ok, std::string text) {
  auto it = states_.find(op->spec.name);
  if (it != states_.end()) {
    it->second.state = ok ? (op->start ? "running" : "stopped") : "failed";
    it->second.last_result = text;
  }
  if (ok) log::info("service " + op->spec.name + ": " + text);
  else log::error("service " + op->spec.name + ": " + text);
  in_flight_.erase(std::remove(in_flight_.begin(), in_flight_.end(), op), in_flight_.end());
  Done done = std::move(op->done);
  // Later, like every completion: the caller may still be inside run().
  loop_.post([done = std::move(done), ok, text = std::move(text)] { done(ok, text); });
}

void ServiceManager::shutdown(Duration grace) {
  for (auto& op : in_flight_) op->poll_timer.reset();
  in_flight_.clear();
  runner_.shutdown(grace);
}

nlohmann::json ServiceManager::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, st] : states_)
    out.push_back({{"name", name}, {"state", st.state}, {"last_result", st.last_result}});
  return out;
}

}  // namespace vrrpd
