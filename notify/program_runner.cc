// ProgramRunner: posix_spawn + pidfd + per-child timers on the EventLoop.
//
// Child set-up (in posix_spawn, no shell):
// - stdin is /dev/null: a program must never read the daemon's input.
// - stdout/stderr are inherited: under systemd they are the journal, so what a
//   failing script prints lands next to our "notify program failed" line;
//   discarding it would bring back the "scripts fail silently" problem.
// - every descriptor above 2 is closed (closefrom), not just the close-on-exec
//   ones, so a socket opened without SOCK_CLOEXEC (raw VRRP socket, control
//   socket) cannot leak into a script.
// - empty signal mask and default dispositions for every signal.
// - a new session (POSIX_SPAWN_SETSID): the program leads its own process
//   group, so a timeout kill reaches whatever it forked too.
#include "notify/program_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "notify/run_as.h"
#include "vrrpd/base/log.h"

extern char** environ;

namespace vrrpd::notify {
namespace {

// After SIGKILL a process dies at once unless it sits in an uninterruptible
// sleep (hung NFS); do not wait longer than this for it.
constexpr Duration kReapAfterKill = std::chrono::seconds(1);
// Loop slice while shutdown() waits, so it notices exits promptly.
constexpr Duration kShutdownSlice = std::chrono::milliseconds(50);

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so C++ cannot
// link its pidfd_open; the syscall is the same thing. Returns -1 and errno.
int open_pidfd(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

std::string seconds_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// "/path (pid 123)"
std::string who(const std::string& program, pid_t pid) {
  return program + " (pid " + std::to_string(pid) + ")";
}

// posix_spawn attributes and file actions, destroyed with the scope.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Returns 0 or an errno value.
  int prepare() {
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    if (int err = posix_spawnattr_setsigmask(&attr_, &none)) return err;
    if (int err = posix_spawnattr_setsigdefault(&attr_, &all)) return err;
    const short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID;
    if (int err = posix_spawnattr_setflags(&attr_, flags)) return err;
    if (int err = posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0))
      return err;
    return posix_spawn_file_actions_addclosefrom_np(&actions_, STDERR_FILENO + 1);
  }
  const posix_spawnattr_t* attr() const { return &attr_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

void call_done(const ProgramDone& done, const ProgramOutcome& outcome, const std::string& program) {
  if (!done) return;
  try {
    done(outcome);
  } catch (const std::exception& e) {  // no exception may cross the loop (STYLE.md habit 6)
    log::error("notify program completion handler threw for " + program + ": " + e.what());
  }
}

}  // namespace

// One started (or failed-to-start) program; owned by its Lane.
struct ProgramRunner::Child {
  Child(ProgramRunner& runner, std::string key_in, Job job_in)
      : key(std::move(key_in)),
        job(std::move(job_in)),
        runner_timeout(runner.opts_.timeout),
        timeout_timer(runner.loop_, [&runner, this] { runner.on_timeout(*this); }),
        kill_timer(runner.loop_, [&runner, this] { runner.on_kill_grace_over(*this); }) {}

  const std::string& program() const { return job.argv.front(); }
  Duration timeout() const { return job.timeout ? *job.timeout : runner_timeout; }

  std::string key;
  Job job;
  Duration runner_timeout;  // RunOptions::timeout, unless the job has its own
  pid_t pid = -1;    // -1: not started; `failure` waits for delivery
  int pidfd = -1;
  TimePoint started{};
  bool timed_out = false;
  // We sent it SIGTERM (timeout or shutdown): when it exits, SIGKILL what is
  // left of its process group before reaping.
  bool signalled = false;
  Timer timeout_timer;  // RunOptions::timeout after spawn
  Timer kill_timer;     // RunOptions::kill_grace after SIGTERM
  EventLoop::TimerId delivery = 0;  // zero-delay timer that reports a spawn failure
  ProgramOutcome failure;
};

ProgramRunner::ProgramRunner(EventLoop& loop, RunOptions opts) : loop_(loop), opts_(std::move(opts)) {
  if (opts_.user.empty() && !opts_.group.empty())
    log::warning("notify group \"" + opts_.group + "\" ignored: no notify user is set");
}

ProgramRunner::~ProgramRunner() {
  for (auto& [key, lane] : lanes_) {
    Child* c = lane.active.get();
    if (c == nullptr) continue;
    if (c->delivery != 0) loop_.cancel_timer(c->delivery);
    if (c->pid <= 0) continue;
    loop_.unwatch_fd(c->pidfd);
    signal_group(*c, SIGKILL);
    pollfd p{c->pidfd, POLLIN, 0};
    poll(&p, 1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(kReapAfterKill).count()));
    if (waitpid(c->pid, nullptr, WNOHANG) != c->pid)
      log::error(opts_.label + " not reaped at exit: " + who(c->program(), c->pid));
    close(c->pidfd);
  }
}

void ProgramRunner::run(const std::string& serial_key, std::vector<std::string> argv, ProgramDone done) {
  Lane& lane = lanes_[serial_key];
  lane.waiting.push_back(Job{std::move(argv), std::move(done), std::nullopt});
  start_next(serial_key);
}

void ProgramRunner::run(const std::string& serial_key, std::vector<std::string> argv, Duration timeout,
                        ProgramDone done) {
  Lane& lane = lanes_[serial_key];
  lane.waiting.push_back(Job{std::move(argv), std::move(done), timeout});
  start_next(serial_key);
}

std::size_t ProgramRunner::running() const {
  std::size_t n = 0;
  for (const auto& [key, lane] : lanes_)
    if (lane.active && lane.active->pid > 0) ++n;
  return n;
}

std::size_t ProgramRunner::queued() const {
  std::size_t n = 0;
  for (const auto& [key, lane] : lanes_) n += lane.waiting.size();
  return n;
}

void ProgramRunner::start_next(const std::string& key) {
  auto it = lanes_.find(key);
  if (it == lanes_.end() || it->second.active || it->second.delivering) return;
  Lane& lane = it->second;
  if (lane.waiting.empty()) {
    lanes_.erase(it);
    return;
  }
  Job job = std::move(lane.waiting.front());
  lane.waiting.pop_front();
  if (shut_down_)
    fail_later(key, lane, std::move(job), "not started: notify runner shut down");
  else if (job.argv.empty() || job.argv.front().empty() || job.argv.front()[0] != '/')
    fail_later(key, lane, std::move(job), "program path is not absolute");
  else
    spawn(key, lane, std::move(job));
}

void ProgramRunner::spawn(const std::string& key, Lane& lane, Job job) {
  std::vector<std::string> exec_argv =
      opts_.user.empty() ? job.argv : run_as_argv(opts_.self_exe, opts_.user, opts_.group, job.argv);
  std::vector<char*> cargv;
  cargv.reserve(exec_argv.size() + 1);
  for (auto& a : exec_argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  SpawnSetup setup;
  pid_t pid = -1;
  int err = setup.prepare();
  // glibc's posix_spawn waits for the exec (CLONE_VFORK), so a missing or
  // non-executable program is reported here rather than as exit 127.
  if (err == 0) err = posix_spawn(&pid, cargv[0], setup.actions(), setup.attr(), cargv.data(), environ);
  if (err != 0) {
    fail_later(key, lane, std::move(job), std::strerror(err));
    return;
  }

  // A zombie still has its pid, so pidfd_open works even if it already exited.
  const int pidfd = open_pidfd(pid);  // close-on-exec by definition
  const int open_errno = errno;
  auto child = std::make_unique<Child>(*this, key, std::move(job));
  Child* c = child.get();
  c->pid = pid;
  c->pidfd = pidfd;
  c->started = loop_.now();
  std::string watch_error;
  if (pidfd < 0) {
    watch_error = std::string("pidfd_open: ") + std::strerror(open_errno);
  } else {
    try {
      loop_.watch_fd(pidfd, EPOLLIN, [this, c](std::uint32_t) { on_pidfd_readable(*c); });
    } catch (const std::exception& e) {
      watch_error = e.what();
    }
  }
  if (watch_error.empty()) {
    if (c->timeout() > Duration::zero()) c->timeout_timer.arm_in(c->timeout());
    lane.active = std::move(child);
    log::debug(opts_.label + " started: " + who(c->program(), pid));
    return;
  }
  // Cannot supervise it: do not leave it running unsupervised.
  signal_group(*c, SIGKILL);
  waitpid(pid, nullptr, 0);  // SIGKILLed, returns promptly
  if (pidfd >= 0) close(pidfd);
  fail_later(key, lane, std::move(c->job), "cannot supervise pid " + std::to_string(pid) + ": " + watch_error);
}

void ProgramRunner::fail_later(const std::string& key, Lane& lane, Job job, std::string error) {
  auto child = std::make_unique<Child>(*this, key, std::move(job));
  if (child->job.argv.empty()) child->job.argv.push_back("(empty argv)");
  child->failure.spawn_error = std::move(error);
  const std::string text = child->program() + ": " + child->failure.spawn_error;
  if (shut_down_)
    log::warning(opts_.label + " not started after shutdown: " + text);
  else
    log::error(opts_.label + " could not be started: " + text);
  // Delivered from the loop, never from inside run(), so a caller's `done`
  // is not re-entered while it is still queueing.
  child->delivery = loop_.add_timer(loop_.now(), [this, key] {
    auto it = lanes_.find(key);
    if (it == lanes_.end() || !it->second.active) return;
    it->second.active->delivery = 0;
    complete(key, it->second.active->failure);
  });
  lane.active = std::move(child);
}

void ProgramRunner::on_pidfd_readable(Child& c) {
  int status = 0;
  // Before reaping, while the pid is still held by the zombie, make sure
  // nothing of a program we told to stop survives it.
  if (c.signalled) signal_group(c, SIGKILL);
  pid_t r = waitpid(c.pid, &status, WNOHANG);
  if (r == 0) return;  // not reapable yet; level-triggered, we get called again
  ProgramOutcome out;
  out.pid = c.pid;
  out.spawned = true;
  out.timed_out = c.timed_out;
  out.run_time = loop_.now() - c.started;
  if (r < 0) {
    // ECHILD: someone reaped it (SIGCHLD set to SIG_IGN?); the status is lost.
    log::error(opts_.label + " status lost: " + who(c.program(), c.pid) + ": " + std::strerror(errno));
  } else if (WIFEXITED(status)) {
    out.exited = true;
    out.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.term_signal = WTERMSIG(status);
  }
  loop_.unwatch_fd(c.pidfd);
  close(c.pidfd);
  c.pidfd = -1;
  complete(c.key, std::move(out));  // copies the key, then destroys c
}

void ProgramRunner::on_timeout(Child& c) {
  c.timed_out = true;
  c.signalled = true;
  log::warning(opts_.label + " timed out: " + who(c.program(), c.pid) + " still running after " +
               seconds_text(c.timeout()) + ", sending SIGTERM");
  signal_group(c, SIGTERM);
  c.kill_timer.arm_in(opts_.kill_grace);
}

void ProgramRunner::on_kill_grace_over(Child& c) {
  log::warning(opts_.label + " ignored SIGTERM: " + who(c.program(), c.pid) + " still running " +
               seconds_text(opts_.kill_grace) + " later, sending SIGKILL");
  signal_group(c, SIGKILL);
}

void ProgramRunner::complete(std::string key, ProgramOutcome outcome) {
  auto it = lanes_.find(key);
  if (it == lanes_.end() || !it->second.active) return;
  std::unique_ptr<Child> child = std::move(it->second.active);
  const std::string program = child->program();
  if (outcome.spawned) {
    std::string text = who(program, outcome.pid);
    if (outcome.exited)
      text += " exited with status " + std::to_string(outcome.exit_code);
    else if (outcome.term_signal != 0)
      text += " killed by " + signal_text(outcome.term_signal);
    else
      text += " ended with unknown status";
    text += " after " + seconds_text(outcome.run_time);
    if (outcome.timed_out) text += " (timed out)";
    if (outcome.exited && outcome.exit_code == 0)
      log::debug(opts_.label + " finished: " + text);
    else
      log::warning(opts_.label + " failed: " + text);
  }
  ProgramDone done = std::move(child->job.done);
  child.reset();
  it->second.delivering = true;
  call_done(done, outcome, program);
  it = lanes_.find(key);  // std::map: `it` stays valid, but be explicit
  if (it != lanes_.end()) it->second.delivering = false;
  start_next(key);
}

void ProgramRunner::signal_group(const Child& c, int sig) const {
  // The program leads its own process group (POSIX_SPAWN_SETSID). Only
  // called before the leader is reaped, so the group id cannot be reused.
  if (c.pid > 0 && kill(-c.pid, sig) != 0 && errno != ESRCH)
    log::error("cannot send " + signal_text(sig) + " to " + opts_.label + " " + who(c.program(), c.pid) +
               ": " + std::strerror(errno));
}

void ProgramRunner::shutdown(Duration grace) {
  shut_down_ = true;
  // Drop the queue and report pending spawn failures now; collect first,
  // call `done` afterwards, so callbacks never see a half-updated map.
  std::vector<std::pair<Job, ProgramOutcome>> dropped;
  for (auto& [key, lane] : lanes_) {
    for (Job& job : lane.waiting) {
      ProgramOutcome out;
      out.spawn_error = "not started: notify runner shut down";
      dropped.emplace_back(std::move(job), std::move(out));
    }
    lane.waiting.clear();
    Child* c = lane.active.get();
    if (c != nullptr && c->pid <= 0) {
      if (c->delivery != 0) loop_.cancel_timer(c->delivery);
      dropped.emplace_back(std::move(c->job), c->failure);
      lane.active.reset();
    }
  }
  std::erase_if(lanes_, [](const auto& kv) { return !kv.second.active && !kv.second.delivering; });
  for (auto& [job, out] : dropped) {
    const std::string program = job.argv.empty() ? std::string("(empty argv)") : job.argv.front();
    if (!out.spawn_error.empty() && out.spawn_error.starts_with("not started"))
      log::info(opts_.label + " dropped at shutdown: " + program);
    call_done(job.done, out, program);
  }

  for (auto& [key, lane] : lanes_) {
    if (!lane.active) continue;
    lane.active->timeout_timer.disarm();
    lane.active->kill_timer.disarm();
    lane.active->signalled = true;
    signal_group(*lane.active, SIGTERM);
  }
  wait_for_exits(grace);
  if (running() == 0) return;
  for (auto& [key, lane] : lanes_) {
    if (!lane.active || lane.active->pid <= 0) continue;
    log::warning(opts_.label + " ignored SIGTERM at shutdown: " +
                 who(lane.active->program(), lane.active->pid) + ", sending SIGKILL");
    signal_group(*lane.active, SIGKILL);
  }
  wait_for_exits(kReapAfterKill);
  // Whatever is left (uninterruptible sleep) is SIGKILLed again and reaped by
  // the destructor, which waits once more.
}

void ProgramRunner::wait_for_exits(Duration limit) {
  const TimePoint deadline = loop_.now() + limit;
  while (running() > 0) {
    const TimePoint now = loop_.now();
    if (now >= deadline) break;
    loop_.run_once(std::min(deadline - now, kShutdownSlice));
  }
}

}  // namespace vrrpd::notify
