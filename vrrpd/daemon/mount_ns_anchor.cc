#include "vrrpd/daemon/mount_ns_anchor.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

#include "replication/fuse_export.h"

namespace vrrpd {

namespace {

// One note from the daemon: a connection it serves (serving 1) or no
// longer serves (0). SOCK_SEQPACKET keeps each note one message.
struct Note {
  uint32_t connection;
  uint32_t serving;
};

// How long the daemon may take to be gone after its main thread exited
// before its FUSE connections are aborted. A SIGKILLed daemon is normally
// reaped in about 0.1 s; waiting longer only delays the exit of one that is
// stuck (the abort makes the I/O it waits for fail).
constexpr int64_t kGraceMs = 1000;

// At most this many connections are remembered (one per replicated
// resource; more are not aborted, which is the behaviour before the anchor
// aborted any).
constexpr size_t kMaxConnections = 1024;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Closes every fd but those in `keep` (each >= 0; at most 8; a repeat is harmless).
void close_all_but(std::initializer_list<int> keep) {
  int sorted[8];
  size_t n = 0;
  // Insertion sort by hand: std::sort on this small array draws a false
  // -Warray-bounds from GCC 12 under the sanitizers (it sees the sort's
  // 16-element threshold, not n).
  for (int fd : keep) {
    if (n == std::size(sorted)) break;  // the contract is at most 8; a 9th would be closed
    size_t i = n++;
    for (; i > 0 && sorted[i - 1] > fd; --i) sorted[i] = sorted[i - 1];
    sorted[i] = fd;
  }
  unsigned next = 0;  // lowest fd not yet handled
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned>(sorted[i]) > next) syscall(SYS_close_range, next, static_cast<unsigned>(sorted[i] - 1), 0u);
    next = static_cast<unsigned>(sorted[i]) + 1;
  }
  syscall(SYS_close_range, next, UINT_MAX, 0u);
}

// Says what the anchor did where the daemon's own messages go: its stderr
// (a log file, the journal's stream, a terminal) and syslog.
void report(const std::string& text) {
  const std::string line = "vrrpd-anchor: " + text + "\n";
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, line.data(), line.size());
  openlog("vrrpd-anchor", LOG_PID, LOG_DAEMON);
  syslog(LOG_ERR, "%s", text.c_str());
  closelog();
}

// Runs in the forked child. The daemon is one thread when it forks, so the
// child may allocate and use the C++ library.
[[noreturn]] void anchor_main(int daemon_pidfd, pid_t daemon_pid, int notes_fd) {
  prctl(PR_SET_NAME, "vrrpd-anchor", 0, 0, 0);
  // The signals the daemon handles itself (a terminal's SIGINT, SIGHUP and a
  // process-group SIGTERM reach it too) must not end the anchor first.
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) sigaction(sig, &ign, nullptr);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);  // the parent-death signal, taken through a signalfd
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  [[maybe_unused]] int rc = chdir("/");  // pin no directory (a mount point stays unmountable)
  // Close everything inherited but our fds and stderr (for report()): the
  // pid file (its flock would outlive the daemon), anything else.
  if (daemon_pidfd < 0) {
    // No pidfd (a kernel before 5.3): the parent-death signal, sent when the
    // daemon's main thread exits. That can be before its last other thread
    // has released the FUSE files, so it is the weaker fallback.
    syscall(SYS_close_range, 0u, UINT_MAX, 0u);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != daemon_pid) _exit(0);
    for (;;) pause();
  }
  close_all_but({STDERR_FILENO, daemon_pidfd, notes_fd});
  // Sent when the thread that forked us (the daemon's main thread) exits,
  // which it does only at the end of the process: a normal exit kills us
  // before, so this means the daemon is dying.
  int deathfd = signalfd(-1, &mask, SFD_CLOEXEC);
  prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);

  unsigned connections[kMaxConnections];
  size_t count = 0;
  int64_t dying_since = getppid() == daemon_pid ? -1 : now_ms();  // it died before the prctl
  bool aborted = false;
  pollfd fds[3] = {{daemon_pidfd, POLLIN, 0}, {deathfd, POLLIN, 0}, {notes_fd, POLLIN, 0}};
  for (;;) {
    int timeout = -1;
    if (dying_since >= 0 && !aborted) timeout = static_cast<int>(std::max<int64_t>(0, dying_since + kGraceMs - now_ms()));
    if (poll(fds, 3, timeout) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    // A pidfd polls readable only when the whole thread group has exited,
    // i.e. after every thread's exit_files and deferred fputs.
    if (fds[0].revents != 0) _exit(0);
    if (fds[2].revents != 0) {
      Note note;
      ssize_t n;
      while ((n = recv(notes_fd, &note, sizeof note, MSG_DONTWAIT)) == ssize_t(sizeof note)) {
        unsigned* end = connections + count;
        unsigned* found = std::find(connections, end, note.connection);
        if (note.serving != 0 && found == end && count < kMaxConnections) connections[count++] = note.connection;
        if (note.serving == 0 && found != end) *found = connections[--count];
      }
      // End of file: the daemon's files are released (its connections with
      // them); nothing more to learn.
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) fds[2].fd = -1;
    }
    if (fds[1].revents != 0) {
      signalfd_siginfo info;
      [[maybe_unused]] ssize_t n = read(deathfd, &info, sizeof info);
      if (dying_since < 0) dying_since = now_ms();
    }
    if (dying_since >= 0 && !aborted && now_ms() >= dying_since + kGraceMs) {
      aborted = true;
      if (count == 0) continue;
      std::string list;
      for (size_t i = 0; i < count; ++i) {
        const int error = replication::abort_fuse_connection(connections[i]);
        list += (i > 0 ? ", " : "") + std::to_string(connections[i]);
        if (error != 0) list += std::string(" (") + std::strerror(error) + ")";
      }
      report("vrrpd (pid " + std::to_string(daemon_pid) + ") still not gone " + std::to_string(kGraceMs) +
             " ms after its main thread exited (a thread asleep in I/O through its own FUSE export?); aborted "
             "FUSE connection(s) " + list + ": pending I/O on its volumes fails");
    }
  }
}

}  // namespace

std::unique_ptr<MountNamespaceAnchor> MountNamespaceAnchor::start(std::string* error) {
  pid_t self = getpid();
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, self, 0));
  int notes[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, notes) != 0) {
    *error = std::string("cannot create the mount-namespace anchor's socket: ") + std::strerror(errno);
    if (pidfd >= 0) close(pidfd);
    return nullptr;
  }
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("cannot fork the mount-namespace anchor: ") + std::strerror(errno);
    if (pidfd >= 0) close(pidfd);
    close(notes[0]);
    close(notes[1]);
    return nullptr;
  }
  if (pid == 0) anchor_main(pidfd, self, notes[1]);
  if (pidfd >= 0) close(pidfd);
  close(notes[1]);
  return std::unique_ptr<MountNamespaceAnchor>(new MountNamespaceAnchor(pid, notes[0]));
}

MountNamespaceAnchor::~MountNamespaceAnchor() {
  close(notes_fd_);
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void MountNamespaceAnchor::note_fuse_connection(unsigned connection, bool serving) {
  Note note{connection, serving ? 1u : 0u};
  // Never blocks: the anchor reads at once, and a full buffer (it is gone)
  // only costs the abort of a connection at a hung exit.
  [[maybe_unused]] ssize_t n = send(notes_fd_, &note, sizeof note, MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace vrrpd
