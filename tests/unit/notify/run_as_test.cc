// The --notify-run-as helper, for real: the tests run as root, so a forked
// child really drops to "nobody" before exec'ing /usr/bin/id.
//
// This file also makes the test binary itself a --notify-run-as helper, so
// ProgramRunner tests can spawn /proc/self/exe the way the daemon does: the
// hook below runs from .init_array, before GoogleTest's main. glibc passes
// (argc, argv, envp) to .init_array functions of the main program.
#include "notify/run_as.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/unit/notify/notify_test_support.h"

namespace {

void run_as_hook(int argc, char** argv, char** /*envp*/) {
  if (vrrpd::notify::is_run_as_invocation(argc, argv)) _exit(vrrpd::notify::run_as_main(argc, argv));
}

__attribute__((section(".init_array"), used)) void (*run_as_hook_entry)(int, char**, char**) =
    &run_as_hook;

}  // namespace

namespace vrrpd::notify {
namespace {

struct HelperResult {
  int exit_status = -1;  // -1: did not exit normally
  std::string out;
  std::string err;
};

std::string drain(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
  return s;
}

// Forks; the child calls run_as_main(args) with stdout/stderr on pipes.
HelperResult run_helper(std::vector<std::string> args) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
    ADD_FAILURE() << "pipe failed";
    return {};
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[0]);
    close(err_pipe[1]);
    _exit(run_as_main(static_cast<int>(args.size()), argv.data()));
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  HelperResult r;
  // Outputs are tiny, far below a pipe's capacity: reading one after the
  // other cannot dead-lock.
  r.out = drain(out_pipe[0]);
  r.err = drain(err_pipe[0]);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_status = WEXITSTATUS(status);
  return r;
}

std::vector<std::string> helper_args(const std::string& user, const std::string& group,
                                     std::vector<std::string> program) {
  return run_as_argv("/proc/self/exe", user, group, program);
}

class RunAsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const passwd* pw = getpwnam("nobody");
    ASSERT_NE(pw, nullptr) << "the tests need a \"nobody\" user";
    nobody_uid_ = std::to_string(pw->pw_uid);
    nobody_gid_ = std::to_string(pw->pw_gid);
    ASSERT_EQ(geteuid(), 0u) << "run-as tests need root";
  }
  void TearDown() override {
    errno = 0;
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  }
  std::string nobody_uid_;
  std::string nobody_gid_;
};

TEST(RunAsArgvTest, BuildsHelperCommandLine) {
  EXPECT_EQ(run_as_argv("/usr/sbin/vrrpd", "nobody", "", {"/bin/x", "a"}),
            (std::vector<std::string>{"/usr/sbin/vrrpd", "--notify-run-as", "nobody", "-", "--",
                                      "/bin/x", "a"}));
  EXPECT_EQ(run_as_argv("/self", "u", "g", {"/bin/x"})[3], "g");
}

TEST_F(RunAsTest, DropsToUserAndItsPrimaryGroup) {
  HelperResult uid = run_helper(helper_args("nobody", "-", {"/usr/bin/id", "-u"}));
  EXPECT_EQ(uid.exit_status, 0) << uid.err;
  EXPECT_EQ(uid.out, nobody_uid_ + "\n");
  // initgroups replaced root's supplementary groups with nobody's.
  HelperResult groups = run_helper(helper_args("nobody", "-", {"/usr/bin/id", "-G"}));
  EXPECT_EQ(groups.exit_status, 0) << groups.err;
  EXPECT_EQ(groups.out, nobody_gid_ + "\n");
}

TEST_F(RunAsTest, UsesExplicitGroup) {
  const group* gr = getgrnam("daemon");
  ASSERT_NE(gr, nullptr);
  const std::string gid = std::to_string(gr->gr_gid);
  HelperResult r = run_helper(helper_args("nobody", "daemon", {"/usr/bin/id", "-g"}));
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, gid + "\n");
}

TEST_F(RunAsTest, AcceptsNumericUserAndGroup) {
  HelperResult r = run_helper(helper_args(nobody_uid_, nobody_gid_, {"/usr/bin/id", "-u"}));
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, nobody_uid_ + "\n");
}

TEST_F(RunAsTest, UnknownUserExits126WithMessage) {
  HelperResult r = run_helper(helper_args("no-such-user-vrrpd", "-", {"/usr/bin/id"}));
  EXPECT_EQ(r.exit_status, kRunAsCannotSwitchUser);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("unknown user \"no-such-user-vrrpd\""), std::string::npos) << r.err;
}

TEST_F(RunAsTest, UnknownGroupExits126WithMessage) {
  HelperResult r = run_helper(helper_args("nobody", "no-such-group-vrrpd", {"/usr/bin/id"}));
  EXPECT_EQ(r.exit_status, kRunAsCannotSwitchUser);
  EXPECT_NE(r.err.find("unknown group \"no-such-group-vrrpd\""), std::string::npos) << r.err;
}

TEST_F(RunAsTest, MissingProgramExits127WithMessage) {
  HelperResult r = run_helper(helper_args("nobody", "-", {"/nonexistent/prog"}));
  EXPECT_EQ(r.exit_status, kRunAsCannotExec);
  EXPECT_NE(r.err.find("cannot execute \"/nonexistent/prog\""), std::string::npos) << r.err;
}

TEST_F(RunAsTest, BadUsageExits126) {
  HelperResult missing_separator =
      run_helper({"/proc/self/exe", "--notify-run-as", "nobody", "-", "/usr/bin/id"});
  EXPECT_EQ(missing_separator.exit_status, kRunAsCannotSwitchUser);
  EXPECT_NE(missing_separator.err.find("usage:"), std::string::npos);
  HelperResult no_program = run_helper({"/proc/self/exe", "--notify-run-as", "nobody", "-", "--"});
  EXPECT_EQ(no_program.exit_status, kRunAsCannotSwitchUser);
}

}  // namespace
}  // namespace vrrpd::notify
