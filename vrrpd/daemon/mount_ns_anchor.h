// The mount-namespace anchor: a child process that keeps the daemon's mount
// namespace alive until the daemon has exited completely, and aborts the
// daemon's FUSE connections when that exit hangs.
//
// Why: the daemon serves its replicated volumes through FUSE in-process, and
// ext4 is mounted on a loop device on that FUSE file. If the daemon is the
// last process of its mount namespace (`ip netns exec`, a unit with
// PrivateMounts) and is SIGKILLed, the kernel tears the namespace down
// (unmount, so an ext4 flush through loop and FUSE) in do_exit before the
// dying process's /dev/fuse files are released (deferred fput, run later in
// the same do_exit): the flush waits for a FUSE server that is the exiting
// process itself, forever, and sync(2) on the whole machine with it.
//
// With the anchor in the namespace, the daemon's exit only drops a
// reference: its /dev/fuse files are released (the FUSE connections abort),
// and only when the whole thread group is gone (a pidfd of the daemon
// becomes readable) does the anchor exit and tear the namespace down, whose
// flush then fails at once on the aborted connection.
//
// That release needs every thread to exit. A thread asleep in I/O through
// the daemon's own export (the ops thread inside umount(2), its writes
// waiting for the FUSE workers that the SIGKILL ended) never wakes, so the
// files are never released. The daemon therefore tells the anchor the
// fusectl number of every connection it serves, and the anchor, told by its
// parent-death signal that the daemon's main thread has exited, aborts those
// connections when the process is still there a second later: the sleeping
// I/O fails, the thread exits, the files go.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace vrrpd {

class MountNamespaceAnchor {
 public:
  // Forks the anchor. Call from the main thread (the anchor's parent-death
  // signal follows the thread that forks) while the process is still
  // single-threaded and before any file the anchor must not hold is opened
  // (it closes every fd it inherits but stderr). Returns nullptr with *error set
  // (the daemon runs without it).
  static std::unique_ptr<MountNamespaceAnchor> start(std::string* error);

  // For a normal exit: kills and reaps the anchor (the daemon has unmounted
  // or aborted its exports by then).
  ~MountNamespaceAnchor();
  MountNamespaceAnchor(const MountNamespaceAnchor&) = delete;
  MountNamespaceAnchor& operator=(const MountNamespaceAnchor&) = delete;

  // This process serves FUSE connection `connection` (the N of
  // /sys/fs/fuse/connections/N), or no longer does. Any thread; one
  // non-blocking send of 8 bytes.
  void note_fuse_connection(unsigned connection, bool serving);

  pid_t pid() const { return pid_; }

 private:
  MountNamespaceAnchor(pid_t pid, int notes_fd) : pid_(pid), notes_fd_(notes_fd) {}
  pid_t pid_;
  int notes_fd_;  // our end of a SOCK_SEQPACKET pair; the anchor reads the other
};

}  // namespace vrrpd
