#include "vrrpd/daemon/mount_ns_anchor.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace vrrpd {

namespace {

// Only async-signal-safe calls: this runs in the forked child.
[[noreturn]] void anchor_main(int daemon_pidfd, pid_t daemon_pid) {
  prctl(PR_SET_NAME, "vrrpd-anchor", 0, 0, 0);
  // The signals the daemon handles itself (a terminal's SIGINT, SIGHUP and a
  // process-group SIGTERM reach it too) must not end the anchor first.
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) sigaction(sig, &ign, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  [[maybe_unused]] int rc = chdir("/");  // pin no directory (a mount point stays unmountable)
  // Close everything inherited but the pidfd: the pid file (its flock would
  // outlive the daemon), the terminal, anything else.
  int keep = daemon_pidfd;
  if (keep > 0) syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(keep + 1), UINT_MAX, 0u);
  if (daemon_pidfd < 0) {
    // No pidfd (a kernel before 5.3): the parent-death signal, sent when the
    // daemon's main thread exits. That can be before its last other thread
    // has released the FUSE files, so it is the weaker fallback.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != daemon_pid) _exit(0);
    for (;;) pause();
  }
  // A pidfd polls readable only when the whole thread group has exited,
  // i.e. after every thread's exit_files and deferred fputs.
  pollfd p = {daemon_pidfd, POLLIN, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  _exit(0);
}

}  // namespace

pid_t start_mount_namespace_anchor(std::string* error) {
  pid_t self = getpid();
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, self, 0));
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("cannot fork the mount-namespace anchor: ") + std::strerror(errno);
    if (pidfd >= 0) close(pidfd);
    return -1;
  }
  if (pid == 0) anchor_main(pidfd, self);
  if (pidfd >= 0) close(pidfd);
  return pid;
}

void stop_mount_namespace_anchor(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace vrrpd
