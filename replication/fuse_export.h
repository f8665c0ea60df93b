// The replicated volume as one file, served through FUSE by threads of this
// process: a FUSE file system at a directory (e.g. /run/vrrpd/r0/fuse) that
// holds exactly one regular file, `dev`, of volume.size() bytes. Reads,
// writes, fsync and flush of that file go to the Volume. A loop device
// (loop_device.h) attached to the file turns it into a block device.
//
// FUSE options: direct_io on every open (no page cache in the FUSE layer;
// the loop device and the file system above have their own), max_write and
// max_read of 1 MiB, no allow_other (root only).
//
// Who serves the requests: when the Volume has a request loop (the engine's
// Resource has its EventLoop), that loop's thread reads them from /dev/fuse
// (non-blocking, in its epoll set) and answers them from the completions,
// so a request reaches the engine with no hand-off between threads. Without
// one (a plain StorageVolume, the tests' faulty disk), worker threads read
// them, up to max_threads, and call the thread-safe Volume.
//
// Deadlocks: loop I/O enters FUSE and waits for the thread that serves it,
// so that thread never waits on the loop device or the file system above
// it; it is marked PR_SET_IO_FLUSHER so its memory allocations do not wait
// for writeback of that same file system.
//
// Threads: start(), stop() and the destructor are called from one thread (the
// daemon's replication operations thread); the serving threads only read
// the counters and open_handles atomics and call the Volume.
//
// Stop order: unmount the file system, detach the loop device, then stop().
// stop() refuses (and says why) while `dev` is still open, which is what an
// attached loop device looks like from here.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "replication/result.h"
#include "replication/volume.h"

struct fuse_session;
struct fuse_buf;

namespace vrrpd::replication {

struct FuseExportOptions {
  // Directory to mount on; created (with parents) if missing. Typically
  // /run/vrrpd/NAME/fuse.
  std::string mount_point;
  // Resource name; the mount shows as source "vrrpd:NAME", type fuse.vrrpd.
  std::string name;
  // Upper bound of FUSE worker threads (libfuse starts them on demand).
  unsigned max_threads = 8;
  // Largest single read or write request the kernel sends, bytes (≤ 1 MiB,
  // libfuse's buffer limit).
  uint32_t max_request_bytes = 1u << 20;
  // Told the fusectl number of the connection (/sys/fs/fuse/connections/N)
  // once it is mounted (serving = true), on the thread calling start(), and
  // once it has ended (false), on the thread that stops or destroys the
  // export. The daemon passes these to its mount-namespace anchor, which
  // aborts the connections of a daemon whose exit hangs.
  std::function<void(unsigned connection, bool serving)> on_connection;
  // Serve on the volume's request_loop() when it has one: that loop's
  // thread reads the requests from /dev/fuse (non-blocking) and answers
  // them from the completions, so a request costs no hand-off between
  // threads. The loop must keep running until stop() has returned. Without
  // a request loop (or false): worker threads, up to max_threads.
  bool serve_on_request_loop = true;
};

// Aborts FUSE connection N through fusectl (mounted at
// /sys/fs/fuse/connections first if it is not): its pending and later
// requests fail. Returns 0, or the errno (ENOENT: no such connection).
int abort_fuse_connection(unsigned connection);

// Request counters, for status output. Monotonic since start().
struct FuseExportCounters {
  uint64_t reads = 0;
  uint64_t read_bytes = 0;
  uint64_t writes = 0;
  uint64_t write_bytes = 0;
  uint64_t flushes = 0;  // fsync and close-time flushes, and O_DSYNC writes' flushes, that reached the Volume
  uint64_t errors = 0;   // requests answered with an errno from the Volume
  uint64_t discards = 0;  // fallocate punch-hole / zero-range requests done (the loop device's discards)
  uint64_t discard_bytes = 0;
};

class FuseExport {
 public:
  // Name of the one file in the export.
  static constexpr const char* kFileName = "dev";

  // Mounts the export and starts the session loop thread. `volume` must
  // outlive the export. Errors read like
  // "cannot export r0 at /run/vrrpd/r0/fuse: /dev/fuse: No such file or directory".
  static Result<std::unique_ptr<FuseExport>> start(Volume& volume, FuseExportOptions options);

  // stop() if still running. If stop() fails (the file is still open, i.e. the
  // stop order was not kept) the connection is aborted: pending and later I/O
  // on the file fails with ENOTCONN, and the file system above sees I/O errors.
  ~FuseExport();
  FuseExport(const FuseExport&) = delete;
  FuseExport& operator=(const FuseExport&) = delete;

  // Unmounts the export and joins its threads. Refuses while `dev` is open,
  // naming the loop device attached to it ("detach /dev/loop3 first"); the
  // export keeps serving in that case. Success if already stopped, and for a
  // connection aborted through fusectl even with handles open (no RELEASE
  // comes any more).
  Result<std::monostate> stop();

  bool running() const { return session_ != nullptr; }
  const std::string& mount_point() const { return options_.mount_point; }
  // mount_point + "/dev": what the loop device is attached to.
  std::string file_path() const;
  // Open handles on `dev` right now (an attached loop device holds one).
  unsigned open_handles() const { return open_handles_.load(); }
  FuseExportCounters counters() const;
  // The volume's size() grew (online resize): drops the kernel's cached
  // attributes of `dev`, so the next stat of it (and a loop device's
  // LOOP_SET_CAPACITY after that stat) sees the new size instead of the
  // old one for up to the attribute timeout. Any thread but the one that
  // serves the export's requests (the stat waits for it).
  void size_changed();

 private:
  friend struct FuseExportOps;
  FuseExport(Volume& volume, FuseExportOptions options);
  void abort_connection();
  // Joins the session loop (which must be ending), waits for requests still
  // to be answered from a completion, and frees the session.
  void finish_session();
  // Workers: writes up to this size, and flushes, are answered from the
  // Volume's completion (Volume::write_async); larger writes block a worker,
  // which lends its buffer instead of copying it. Request loop: writes up to
  // this size are copied, larger ones keep libfuse's receive buffer.
  static constexpr size_t kAnswerLaterBytes = 128u << 10;
  void begin_answer_later();
  void end_answer_later();
  // Request-loop mode: reads and processes the requests that are waiting
  // (a bounded batch), on loop_'s thread; notices the end of the session.
  void serve_requests();
  static constexpr int kRequestsPerTurn = 16;

  Volume& volume_;
  FuseExportOptions options_;
  fuse_session* session_ = nullptr;
  std::thread loop_thread_;  // runs fuse_session_loop_mt, which owns the workers
  EventLoop* loop_ = nullptr;  // request-loop mode: the volume's loop serves the session
  fuse_buf* request_buf_ = nullptr;  // request-loop mode: the receive buffer (loop thread)
  std::atomic<bool> loop_ended_{false};  // set as the session loop returns (or, request-loop mode, ends)
  unsigned connection_id_ = 0;  // minor of the mount's st_dev: /sys/fs/fuse/connections/N
  std::atomic<unsigned> open_handles_{0};
  std::atomic<uint64_t> reads_{0}, read_bytes_{0}, writes_{0}, write_bytes_{0}, flushes_{0}, errors_{0};
  std::atomic<uint64_t> discards_{0}, discard_bytes_{0};
  std::mutex answers_mutex_;  // guards answers_pending_
  std::condition_variable answers_cv_;
  unsigned answers_pending_ = 0;  // requests not yet answered from a completion
};

}  // namespace vrrpd::replication
