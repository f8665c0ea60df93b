// Runs external programs (keepalived-style notify programs) from the event
// loop without ever blocking it: posix_spawn without a shell, completion seen
// through a pidfd watched by the loop (no SIGCHLD handler, no blocking wait),
// a timeout that sends SIGTERM and then SIGKILL to the program's process
// group, and a queue per serial key so that the programs of one VRRP instance
// run one after another in the order of its transitions (keepalived runs them
// fire-and-forget, which is why its scripts race).
//
// Everything here runs on the loop thread; nothing is thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::notify {

// How ProgramRunner runs every program.
struct RunOptions {
  // Run programs as this user (name or numeric uid); empty: as the daemon's
  // own user. Needs the daemon to be root; done by the --notify-run-as helper
  // (run_as.h) because posix_spawn cannot change credentials.
  std::string user;
  // Group (name or numeric gid) for `user`; empty: the user's primary group.
  // Ignored when `user` is empty.
  std::string group;
  // After this the program's process group gets SIGTERM; <= 0: no timeout.
  Duration timeout = std::chrono::seconds(10);
  // After SIGTERM, this long before SIGKILL.
  Duration kill_grace = std::chrono::seconds(2);
  // Our own binary, re-executed in --notify-run-as mode when `user` is set.
  // /proc/self/exe still works after the binary was replaced on disk.
  std::string self_exe = "/proc/self/exe";
  // What the logs call the programs ("notify program", "service program").
  std::string label = "notify program";
};

// What became of one program. Exactly one of these is delivered per run().
struct ProgramOutcome {
  pid_t pid = -1;            // -1 when not spawned
  bool spawned = false;      // false: never started, see spawn_error
  std::string spawn_error;   // why it was not started ("No such file or directory")
  bool exited = false;       // true: exited normally with exit_code
  int exit_code = -1;        // valid when exited
  int term_signal = 0;       // signal that ended it (0 when it exited)
  bool timed_out = false;    // we sent SIGTERM because of RunOptions::timeout
  Duration run_time{0};      // spawn to reap, on the loop's clock
};

using ProgramDone = std::function<void(const ProgramOutcome&)>;

// The one operation that users of notify programs need (StateNotifier);
// ProgramRunner is the real one, tests use a recording fake.
class ProgramQueue {
 public:
  virtual ~ProgramQueue() = default;
  // Queues argv (argv[0] an absolute path) to start after every program queued
  // earlier under the same serial_key has finished. `done`, if set, runs on
  // the loop thread, never from inside run() itself.
  virtual void run(const std::string& serial_key, std::vector<std::string> argv,
                   ProgramDone done = {}) = 0;
};

class ProgramRunner final : public ProgramQueue {
 public:
  // `loop` must outlive the runner.
  ProgramRunner(EventLoop& loop, RunOptions opts);
  // Kills (SIGKILL) whatever still runs and reaps it, waiting at most about a
  // second per program; `done` callbacks are not called. Call shutdown()
  // first for an orderly stop.
  ~ProgramRunner() override;
  ProgramRunner(const ProgramRunner&) = delete;
  ProgramRunner& operator=(const ProgramRunner&) = delete;

  // Queues argv to start after every program queued earlier under the same
  // serial_key has finished (so an instance's MASTER program and BACKUP
  // program never overlap or reorder). Different keys run concurrently.
  // Starts at once when the key is idle. Failures (spawn error, non-zero
  // exit, timeout) are logged and reported to `done`, never thrown.
  void run(const std::string& serial_key, std::vector<std::string> argv,
           ProgramDone done = {}) override;
  // The same with this program's own timeout instead of RunOptions::timeout.
  void run(const std::string& serial_key, std::vector<std::string> argv, Duration timeout, ProgramDone done);

  // Programs started and not yet reaped.
  std::size_t running() const;
  // Programs waiting for an earlier program of their key.
  std::size_t queued() const;

  // Drops the queue (their `done` gets spawned=false), sends SIGTERM to every
  // running program's process group, drives the loop until they are reaped or
  // `grace` has passed on the loop's clock, then SIGKILLs the rest and reaps
  // them. Later run() calls are refused (done gets spawned=false). Needs a
  // clock that moves (MonotonicClock); do not call it from a `done` callback.
  void shutdown(Duration grace);

 private:
  struct Job {
    std::vector<std::string> argv;
    ProgramDone done;
    std::optional<Duration> timeout;  // nullopt: RunOptions::timeout
  };
  struct Child;
  // The programs of one serial key: at most one active, the rest waiting.
  struct Lane {
    std::deque<Job> waiting;
    std::unique_ptr<Child> active;
    // The previous program's `done` is running: a run() from inside it must
    // queue behind the programs already waiting, not start at once.
    bool delivering = false;
  };

  void start_next(const std::string& key);
  void spawn(const std::string& key, Lane& lane, Job job);
  void fail_later(const std::string& key, Lane& lane, Job job, std::string error);
  void on_pidfd_readable(Child& child);
  void on_timeout(Child& child);
  void on_kill_grace_over(Child& child);
  void complete(std::string key, ProgramOutcome outcome);
  void signal_group(const Child& child, int sig) const;
  void wait_for_exits(Duration limit);

  EventLoop& loop_;
  RunOptions opts_;
  bool shut_down_ = false;
  std::map<std::string, Lane> lanes_;  // only keys with an active or waiting program
};

}  // namespace vrrpd::notify
