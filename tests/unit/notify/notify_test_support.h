// Helpers shared by the notify tests: a temporary directory that removes
// itself, file reading, driving a real EventLoop until a condition holds, and
// checks that no child or leftover process survives a test.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::notify::test_support {

// mkdtemp under /tmp, removed recursively on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/vrrpd-notify-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Runs the loop in 50 ms slices until cond() holds or `limit` has passed on
// the loop's clock. Returns cond().
inline bool run_loop_until(EventLoop& loop, const std::function<bool()>& cond,
                           Duration limit = std::chrono::seconds(10)) {
  const TimePoint deadline = loop.now() + limit;
  while (!cond() && loop.now() < deadline) loop.run_once(std::chrono::milliseconds(50));
  return cond();
}

// True while `pid` exists and is not a zombie.
inline bool process_alive(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  auto close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size() &&
         stat[close_paren + 2] != 'Z';
}

// One line of /proc/PID/stat, the fields the tests need.
struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
};

inline std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_file(entry.path().string() + "/stat");
    const auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    ProcStat p;
    p.pid = static_cast<pid_t>(std::stol(name));
    std::istringstream fields(stat.substr(close_paren + 2));
    fields >> p.state >> p.ppid >> p.pgrp >> p.session;
    out.push_back(p);
  }
  return out;
}

// True when no live (non-zombie) process is left in process group `pgid`.
inline bool process_group_gone(pid_t pgid) {
  for (const ProcStat& p : all_processes())
    if (p.pgrp == pgid && p.state != 'Z') return false;
  return true;
}

// Fixture base: a real loop on the monotonic clock, a temp dir, and the check
// that every test leaves no process behind.
//
// The test process is a child subreaper, so what a killed program forked is
// reparented to us rather than to PID 1 (which, in some VMs and containers,
// never reaps). TearDown tells the two kinds apart: programs the runner
// spawned lead their own session (pid == sid) and must already have been
// reaped by the runner; adopted grandchildren must be dead, and are reaped here.
class RealLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

  void TearDown() override {
    const TimePoint deadline = loop_.now() + std::chrono::seconds(2);
    for (;;) {
      bool adopted_alive = false;
      for (const ProcStat& p : all_processes()) {
        if (p.ppid != getpid()) continue;
        if (p.pid == p.session) {
          ADD_FAILURE() << "program " << p.pid << " was not reaped by the runner (state "
                        << p.state << ")";
          kill(p.pid, SIGKILL);
          waitpid(p.pid, nullptr, 0);
        } else if (p.state == 'Z') {
          waitpid(p.pid, nullptr, 0);
        } else {
          adopted_alive = true;
        }
      }
      if (!adopted_alive) break;
      if (loop_.now() >= deadline) {
        ADD_FAILURE() << "a program's child process survived the test";
        break;
      }
      loop_.run_once(std::chrono::milliseconds(10));
    }
    errno = 0;
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "a child process was left behind";
    EXPECT_EQ(errno, ECHILD);
  }

  MonotonicClock clock_;
  EventLoop loop_{clock_};
  TempDir dir_;
};

}  // namespace vrrpd::notify::test_support
