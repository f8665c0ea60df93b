#include "checkers/exec_probe.h"

#include <csignal>
#include <cstring>

namespace vrrpd::checkers {
namespace {

notify::RunOptions with_timeout(notify::RunOptions o, const config::Check& c) {
  o.timeout = c.timeout;
  o.kill_grace = std::chrono::milliseconds(500);
  return o;
}

}  // namespace

ExecProbe::ExecProbe(EventLoop& loop, const config::Check& check, notify::RunOptions run_as)
    : argv_(check.program ? check.program->argv : std::vector<std::string>{}),
      name_(check.name),
      opts_(with_timeout(std::move(run_as), check)),
      runner_(loop, opts_) {}

std::string ExecProbe::target() const {
  std::string t;
  for (const auto& a : argv_) t += (t.empty() ? "" : " ") + a;
  return t;
}

int ExecProbe::extra_time_ms() const {
  // The runner sends SIGTERM at the timeout and SIGKILL after kill_grace;
  // leave room for it to report "timed out" itself.
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(opts_.kill_grace).count()) + 500;
}

void ExecProbe::start(Done done) {
  const std::uint64_t gen = ++generation_;
  runner_.run("check:" + name_, argv_, [this, gen, done = std::move(done)](const notify::ProgramOutcome& o) {
    if (gen != generation_) return;  // cancelled
    if (!o.spawned) return done({false, "could not start: " + o.spawn_error});
    const char* sig = o.term_signal ? sigabbrev_np(o.term_signal) : nullptr;
    const std::string signal_name = std::string("SIG") + (sig ? sig : "?");
    if (o.timed_out)
      return done({false, "timed out after " + std::to_string(opts_.timeout.count() / 1000000) + " ms" +
                              (o.term_signal ? ", killed by " + signal_name : "")});
    if (o.exited && o.exit_code == 0) return done({true, "exit status 0"});
    if (o.exited) return done({false, "exit status " + std::to_string(o.exit_code)});
    return done({false, "killed by " + signal_name});
  });
}

void ExecProbe::cancel() {
  // The runner still enforces the program's timeout; its result is ignored.
  ++generation_;
}

}  // namespace vrrpd::checkers
