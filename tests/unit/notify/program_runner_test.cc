// ProgramRunner with real processes on a real EventLoop. /bin/sh is only the
// program under test here; the runner itself never uses a shell.
#include "notify/program_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/notify/notify_test_support.h"

namespace vrrpd::notify {
namespace {

using namespace std::chrono_literals;
using test_support::process_alive;
using test_support::process_group_gone;
using test_support::read_file;
using test_support::read_lines;
using test_support::run_loop_until;

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

class ProgramRunnerTest : public test_support::RealLoopTest {
 protected:
  RunOptions quick_options() {
    RunOptions o;
    o.timeout = 5s;
    o.kill_grace = 1s;
    return o;
  }
  // Queues argv and returns where its outcome will appear.
  std::optional<ProgramOutcome>* run(ProgramRunner& r, const std::string& key,
                                     std::vector<std::string> argv) {
    outcomes_.push_back(std::make_unique<std::optional<ProgramOutcome>>());
    auto* slot = outcomes_.back().get();
    r.run(key, std::move(argv), [slot](const ProgramOutcome& o) { *slot = o; });
    return slot;
  }
  // SIGKILL is delivered at once but a process takes a moment to die after
  // its group leader has been reaped.
  bool group_gone_soon(pid_t pgid) {
    return run_loop_until(loop_, [&] { return process_group_gone(pgid); }, 2s);
  }
  bool all_done() {
    for (auto& o : outcomes_)
      if (!o->has_value()) return false;
    return true;
  }

  std::vector<std::unique_ptr<std::optional<ProgramOutcome>>> outcomes_;
};

TEST_F(ProgramRunnerTest, ReportsExitCodeOfProgram) {
  ProgramRunner runner(loop_, quick_options());
  auto* out = run(runner, "k", sh("exit 3"));
  EXPECT_EQ(runner.running(), 1u);
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  const ProgramOutcome& o = **out;
  EXPECT_TRUE(o.spawned);
  EXPECT_GT(o.pid, 0);
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.term_signal, 0);
  EXPECT_FALSE(o.timed_out);
  EXPECT_GE(o.run_time, Duration::zero());
  EXPECT_EQ(runner.running(), 0u);
}

TEST_F(ProgramRunnerTest, ReportsSuccessWithoutDone) {
  ProgramRunner runner(loop_, quick_options());
  runner.run("k", {"/bin/true"});  // no callback: must still be reaped
  auto* out = run(runner, "k", {"/bin/true"});
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_TRUE((*out)->exited);
  EXPECT_EQ((*out)->exit_code, 0);
}

TEST_F(ProgramRunnerTest, MissingProgramIsNotSpawnedAndSaysWhy) {
  ProgramRunner runner(loop_, quick_options());
  auto* out = run(runner, "k", {"/nonexistent/notify-program", "arg"});
  EXPECT_FALSE(out->has_value()) << "done must not run from inside run()";
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_FALSE((*out)->spawned);
  EXPECT_EQ((*out)->pid, -1);
  EXPECT_NE((*out)->spawn_error.find("No such file or directory"), std::string::npos)
      << (*out)->spawn_error;
}

TEST_F(ProgramRunnerTest, RelativeProgramPathIsRefused) {
  ProgramRunner runner(loop_, quick_options());
  auto* rel = run(runner, "k", {"sh", "-c", "true"});
  auto* empty = run(runner, "k", {});
  ASSERT_TRUE(run_loop_until(loop_, [&] { return all_done(); }));
  EXPECT_FALSE((*rel)->spawned);
  EXPECT_EQ((*rel)->spawn_error, "program path is not absolute");
  EXPECT_FALSE((*empty)->spawned);
}

TEST_F(ProgramRunnerTest, FailedSpawnDoesNotStopTheQueue) {
  ProgramRunner runner(loop_, quick_options());
  auto* bad = run(runner, "k", {"/nonexistent/notify-program"});
  auto* good = run(runner, "k", sh("exit 0"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return all_done(); }));
  EXPECT_FALSE((*bad)->spawned);
  EXPECT_TRUE((*good)->exited);
}

TEST_F(ProgramRunnerTest, SameKeyRunsStrictlyInOrder) {
  ProgramRunner runner(loop_, quick_options());
  const std::string f = dir_.file("order");
  run(runner, "instance:VI_1", sh("echo start1 >> " + f + "; sleep 0.3; echo end1 >> " + f));
  run(runner, "instance:VI_1", sh("echo start2 >> " + f + "; echo end2 >> " + f));
  EXPECT_EQ(runner.running(), 1u);
  EXPECT_EQ(runner.queued(), 1u);
  ASSERT_TRUE(run_loop_until(loop_, [&] { return all_done(); }));
  EXPECT_EQ(read_lines(f), (std::vector<std::string>{"start1", "end1", "start2", "end2"}));
  EXPECT_EQ(runner.queued(), 0u);
}

TEST_F(ProgramRunnerTest, RunFromDoneQueuesBehindProgramsAlreadyWaiting) {
  ProgramRunner runner(loop_, quick_options());
  const std::string f = dir_.file("order");
  bool third_done = false;
  runner.run("k", sh("echo 1 >> " + f), [&](const ProgramOutcome&) {
    runner.run("k", sh("echo 3 >> " + f), [&](const ProgramOutcome&) { third_done = true; });
  });
  runner.run("k", sh("echo 2 >> " + f));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return third_done; }));
  EXPECT_EQ(read_lines(f), (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(ProgramRunnerTest, DifferentKeysRunConcurrently) {
  ProgramRunner runner(loop_, quick_options());
  const std::string f = dir_.file("events");
  // Each program waits (up to ~3 s) for the other's start marker, so they can
  // only both finish normally if they ran at the same time.
  auto waiting_for = [&](const std::string& me, const std::string& other) {
    return sh("echo start" + me + " >> " + f + "; i=0; while ! grep -q start" + other + " " + f +
              "; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.01; done; echo end" + me +
              " >> " + f);
  };
  auto* a = run(runner, "instance:A", waiting_for("A", "B"));
  auto* b = run(runner, "instance:B", waiting_for("B", "A"));
  EXPECT_EQ(runner.running(), 2u);
  ASSERT_TRUE(run_loop_until(loop_, [&] { return all_done(); }));
  EXPECT_EQ((*a)->exit_code, 0);
  EXPECT_EQ((*b)->exit_code, 0);
  auto lines = read_lines(f);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].substr(0, 5), "start");
  EXPECT_EQ(lines[1].substr(0, 5), "start");
}

TEST_F(ProgramRunnerTest, ProgramIgnoringSigtermIsKilledAfterTimeoutAndGrace) {
  RunOptions o;
  o.timeout = 300ms;
  o.kill_grace = 200ms;
  ProgramRunner runner(loop_, o);
  auto* out = run(runner, "k", sh("trap '' TERM; sleep 30"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  const ProgramOutcome& r = **out;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_GE(r.run_time, 500ms);
  EXPECT_LT(r.run_time, 5s);
  EXPECT_TRUE(group_gone_soon(r.pid)) << "the program's sleep survived";
}

TEST_F(ProgramRunnerTest, ProgramEndingOnSigtermAtTimeoutReportsSigterm) {
  RunOptions o;
  o.timeout = 300ms;
  o.kill_grace = 5s;
  ProgramRunner runner(loop_, o);
  auto* out = run(runner, "k", {"/bin/sleep", "30"});
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_TRUE((*out)->timed_out);
  EXPECT_EQ((*out)->term_signal, SIGTERM);
  EXPECT_GE((*out)->run_time, 300ms);
  EXPECT_LT((*out)->run_time, 5s) << "should not have waited for the kill grace";
}

TEST_F(ProgramRunnerTest, TimedOutProgramsLeftoverChildrenAreKilledWhenItExits) {
  RunOptions o;
  o.timeout = 1s;
  o.kill_grace = 5s;
  ProgramRunner runner(loop_, o);
  const std::string f = dir_.file("bgpid");
  // The shell dies on SIGTERM, its background sleep ignores it.
  auto* out = run(runner, "k",
                  sh("(trap '' TERM; exec /bin/sleep 30) & echo $! > " + f + "; wait"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_EQ((*out)->term_signal, SIGTERM);
  EXPECT_LT((*out)->run_time, 5s);
  const pid_t bg = static_cast<pid_t>(std::stol(read_file(f)));
  EXPECT_TRUE(run_loop_until(loop_, [&] { return !process_alive(bg); }, 2s))
      << "background child " << bg << " survived";
  EXPECT_TRUE(group_gone_soon((*out)->pid));
}

TEST_F(ProgramRunnerTest, ShutdownKillsRunningProgramsAndDropsTheQueue) {
  ProgramRunner runner(loop_, quick_options());
  auto* a1 = run(runner, "instance:A", {"/bin/sleep", "30"});
  auto* a2 = run(runner, "instance:A", {"/bin/true"});
  const std::string ready = dir_.file("ready");
  auto* b = run(runner, "instance:B", sh("trap '' TERM; echo > " + ready + "; sleep 30"));
  EXPECT_EQ(runner.running(), 2u);
  ASSERT_TRUE(run_loop_until(loop_, [&] { return !read_file(ready).empty(); }));
  EXPECT_EQ(runner.queued(), 1u);
  const TimePoint t0 = loop_.now();
  runner.shutdown(200ms);
  EXPECT_LT(loop_.now() - t0, 3s);
  EXPECT_EQ(runner.running(), 0u);
  EXPECT_EQ(runner.queued(), 0u);
  ASSERT_TRUE(all_done());
  EXPECT_EQ((*a1)->term_signal, SIGTERM);
  EXPECT_FALSE((*a2)->spawned);
  EXPECT_NE((*a2)->spawn_error.find("shut down"), std::string::npos);
  EXPECT_EQ((*b)->term_signal, SIGKILL);
  EXPECT_TRUE(group_gone_soon((*b)->pid));

  auto* late = run(runner, "instance:A", {"/bin/true"});
  ASSERT_TRUE(run_loop_until(loop_, [&] { return late->has_value(); }));
  EXPECT_FALSE((*late)->spawned) << "run() after shutdown must be refused";
}

TEST_F(ProgramRunnerTest, ShutdownAlsoKillsWhatTheProgramForked) {
  ProgramRunner runner(loop_, quick_options());
  const std::string f = dir_.file("bgpid");
  // The shell dies on SIGTERM at once; its background sleep ignores SIGTERM.
  auto* out = run(runner, "k", sh("(trap '' TERM; exec /bin/sleep 30) & echo $! > " + f + "; wait"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return !read_file(f).empty(); }));
  const pid_t bg = static_cast<pid_t>(std::stol(read_file(f)));
  runner.shutdown(5s);
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ((*out)->term_signal, SIGTERM);
  EXPECT_TRUE(run_loop_until(loop_, [&] { return !process_alive(bg); }, 2s))
      << "background child " << bg << " survived shutdown";
}

TEST_F(ProgramRunnerTest, DestructorKillsAndReapsRunningPrograms) {
  const std::string f = dir_.file("pid");
  pid_t pid = -1;
  {
    ProgramRunner runner(loop_, quick_options());
    runner.run("k", sh("trap '' TERM; echo $$ > " + f + "; sleep 30"));
    ASSERT_TRUE(run_loop_until(loop_, [&] { return !read_file(f).empty(); }));
    pid = static_cast<pid_t>(std::stol(read_file(f)));
    EXPECT_EQ(runner.running(), 1u);
  }
  EXPECT_TRUE(group_gone_soon(pid));
  // TearDown checks that the program was reaped.
}

TEST_F(ProgramRunnerTest, ChildStdinIsDevNull) {
  ProgramRunner runner(loop_, quick_options());
  auto* out = run(runner, "k", sh(R"sh([ "$(readlink /proc/self/fd/0)" = /dev/null ])sh"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_EQ((*out)->exit_code, 0);
}

TEST_F(ProgramRunnerTest, ChildHasEmptySignalMaskAndDefaultDispositions) {
  // The daemon may block or ignore signals; programs must not inherit that.
  sigset_t block;
  sigset_t old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGUSR1, &ignore, &old_action), 0);

  ProgramRunner runner(loop_, quick_options());
  const std::string f = dir_.file("status");
  auto* out = run(runner, "k", sh("grep -E '^Sig(Blk|Ign):' /proc/self/status > " + f));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  sigaction(SIGUSR1, &old_action, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ASSERT_EQ((*out)->exit_code, 0);

  std::map<std::string, unsigned long long> masks;
  for (const std::string& line : read_lines(f)) {
    auto colon = line.find(':');
    masks[line.substr(0, colon)] = std::stoull(line.substr(colon + 1), nullptr, 16);
  }
  ASSERT_EQ(masks.size(), 2u);
  EXPECT_EQ(masks["SigBlk"], 0u);
  // glibc's own signals 32 and 33 (SIGCANCEL, SIGSETXID) stay ignored:
  // sigaddset refuses them, so posix_spawn cannot reset them, and no program
  // can use them anyway. Everything else must be at its default.
  constexpr unsigned long long kGlibcInternal = (1ull << (32 - 1)) | (1ull << (33 - 1));
  EXPECT_EQ(masks["SigIgn"] & ~kGlibcInternal, 0u) << std::hex << masks["SigIgn"];
}

TEST_F(ProgramRunnerTest, ChildDoesNotInheritDescriptorsWithoutCloexec) {
  const int fd = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(fd, 0);
  const int high = dup2(fd, 57);
  ASSERT_EQ(high, 57);
  ProgramRunner runner(loop_, quick_options());
  auto* out = run(runner, "k", sh("[ ! -e /proc/self/fd/57 ]"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  close(high);
  close(fd);
  EXPECT_EQ((*out)->exit_code, 0) << "fd 57 leaked into the program";
}

TEST_F(ProgramRunnerTest, ChildLeadsItsOwnProcessGroupAndSession) {
  ProgramRunner runner(loop_, quick_options());
  // /proc/PID/stat fields after "(comm)": state ppid pgrp session ...
  auto* out = run(runner, "k", sh(R"sh(set -- $(sed 's/.*) //' /proc/$$/stat); )sh"
                                  R"sh([ "$3" = "$$" ] && [ "$4" = "$$" ])sh"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_EQ((*out)->exit_code, 0);
}

TEST_F(ProgramRunnerTest, RunsProgramAsConfiguredUser) {
  // The test binary doubles as the --notify-run-as helper (see run_as_test.cc).
  const passwd* pw = getpwnam("nobody");
  ASSERT_NE(pw, nullptr);
  RunOptions o = quick_options();
  o.user = "nobody";
  ProgramRunner runner(loop_, o);
  const std::string uid = std::to_string(pw->pw_uid);
  const std::string gid = std::to_string(pw->pw_gid);
  auto* out = run(runner, "k",
                  sh("[ \"$(id -u)\" = " + uid + " ] || exit 10; [ \"$(id -G)\" = " + gid +
                     " ] || exit 11"));
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_TRUE((*out)->spawned);
  EXPECT_EQ((*out)->exit_code, 0) << "10: wrong uid, 11: wrong groups";
}

TEST_F(ProgramRunnerTest, UnknownRunAsUserExits126) {
  RunOptions o = quick_options();
  o.user = "no-such-user-vrrpd";
  ProgramRunner runner(loop_, o);
  auto* out = run(runner, "k", {"/bin/true"});
  ASSERT_TRUE(run_loop_until(loop_, [&] { return out->has_value(); }));
  EXPECT_EQ((*out)->exit_code, 126);
}

}  // namespace
}  // namespace vrrpd::notify
