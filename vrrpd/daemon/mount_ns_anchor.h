// The mount-namespace anchor: a child process that keeps the daemon's mount
// namespace alive until the daemon has exited completely.
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
#pragma once

#include <sys/types.h>

#include <string>

namespace vrrpd {

// Forks the anchor. Call from the main thread while the process is still
// single-threaded and before any file the anchor must not hold is opened (it
// closes every fd it inherits anyway). Returns its pid, or -1 with *error
// set (the daemon runs without it).
pid_t start_mount_namespace_anchor(std::string* error);

// For a normal exit: kills and reaps the anchor (the daemon has unmounted or
// aborted its exports by then). No-op for pid <= 0.
void stop_mount_namespace_anchor(pid_t pid);

}  // namespace vrrpd
