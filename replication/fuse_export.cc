// FUSE low-level file system with one file, `dev`, backed by a Volume; the
// session loop runs on our threads (see fuse_export.h).
#define FUSE_USE_VERSION 312  // fuse_loop_cfg_* (libfuse >= 3.12)
#include "replication/fuse_export.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <fuse_lowlevel.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <new>
#include <vector>

#include "replication/loop_device.h"
#include "replication/mounter.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/base/log.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57  // Linux 5.6
#endif

namespace vrrpd::replication {
namespace {

constexpr fuse_ino_t kFileIno = 2;  // FUSE_ROOT_ID (1) is the directory
// The file's size and the directory never change while exported, so the
// kernel may cache names and attributes; seconds.
constexpr double kAttrTimeout = 1.0;
// fi->fh bit: the handle was opened for writing (flush goes to the Volume).
constexpr uint64_t kWritableHandle = 1;
// How long stop() waits for the kernel's asynchronous RELEASE of the last
// handle before it calls the file busy.
constexpr std::chrono::milliseconds kReleaseGrace{2000};

// libfuse reports through fuse_log(); keep the last message so that a failed
// fuse_session_new()/mount can say why, and send everything to our log.
std::mutex last_fuse_message_mutex;
std::string last_fuse_message;  // guarded by last_fuse_message_mutex

void route_fuse_log(enum fuse_log_level level, const char* fmt, va_list ap) {
  char text[512];
  std::vsnprintf(text, sizeof text, fmt, ap);
  std::string message(text);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (message.starts_with("fuse: ")) message.erase(0, 6);  // most libfuse messages carry it already
  {
    std::lock_guard lock(last_fuse_message_mutex);
    last_fuse_message = message;
  }
  if (level <= FUSE_LOG_ERR) {
    log::error("fuse: " + message);
  } else {
    log::debug("fuse: " + message);
  }
}

std::string take_last_fuse_message() {
  std::lock_guard lock(last_fuse_message_mutex);
  return std::exchange(last_fuse_message, std::string());
}

// Marks the calling worker as part of the I/O path (PR_SET_IO_FLUSHER): its
// allocations do not recurse into writeback of the file system on the loop
// device, which would need this very thread. Once per thread; best effort.
void mark_io_flusher() {
  thread_local bool marked = false;
  if (marked) return;
  marked = true;
  if (::prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0) return;
  const int e = errno;
  static std::once_flag warned;  // once per process, not per worker
  std::call_once(warned, [e] {
    log::warning(std::string("FUSE workers not marked PR_SET_IO_FLUSHER (") + std::strerror(e) +
                 "; needs CAP_SYS_RESOURCE): under heavy memory pressure the loop device can stall");
  });
}

// Polls `done` every 10 ms for up to `limit`; returns its last answer.
template <typename Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// One reusable read buffer per worker thread: no allocation per request.
std::vector<uint8_t>& read_buffer(size_t size) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer;
}

}  // namespace

// The low-level operations; userdata is the FuseExport.
struct FuseExportOps {
  static FuseExport& self(fuse_req_t req) { return *static_cast<FuseExport*>(fuse_req_userdata(req)); }

  static struct stat attributes(FuseExport& e, fuse_ino_t ino) {
    struct stat st {};
    st.st_ino = ino;
    st.st_uid = 0;
    st.st_gid = 0;
    if (ino == FUSE_ROOT_ID) {
      st.st_mode = S_IFDIR | 0755;
      st.st_nlink = 2;
    } else {
      st.st_mode = S_IFREG | 0600;
      st.st_nlink = 1;
      st.st_size = static_cast<off_t>(e.volume_.size());
      st.st_blocks = st.st_size / 512;
      st.st_blksize = 4096;
    }
    return st;
  }

  static void init(void* userdata, fuse_conn_info* conn) {
    auto& e = *static_cast<FuseExport*>(userdata);
    conn->max_write = e.options_.max_request_bytes;
    conn->max_read = e.options_.max_request_bytes;  // must equal the max_read mount option
    // Let the kernel split one large direct I/O into parallel requests.
    if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  }

  static void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    mark_io_flusher();
    if (parent != FUSE_ROOT_ID || std::strcmp(name, FuseExport::kFileName) != 0) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param entry{};
    entry.ino = kFileIno;
    entry.attr = attributes(self(req), kFileIno);
    entry.attr_timeout = kAttrTimeout;
    entry.entry_timeout = kAttrTimeout;
    fuse_reply_entry(req, &entry);
  }

  static void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    mark_io_flusher();
    struct stat st = attributes(self(req), ino);
    fuse_reply_attr(req, &st, kAttrTimeout);
  }

  // Only a no-op truncate to the current size (open with O_TRUNC) and time or
  // mode changes (ignored) are accepted; the size is the volume's.
  static void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
    mark_io_flusher();
    FuseExport& e = self(req);
    if ((to_set & FUSE_SET_ATTR_SIZE) && static_cast<uint64_t>(attr->st_size) != e.volume_.size()) {
      fuse_reply_err(req, EPERM);
      return;
    }
    struct stat st = attributes(e, ino);
    fuse_reply_attr(req, &st, kAttrTimeout);
  }

  static void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
    mark_io_flusher();
    if (ino != FUSE_ROOT_ID) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    struct Entry {
      const char* name;
      fuse_ino_t ino;
      mode_t mode;
    };
    const Entry entries[] = {{".", FUSE_ROOT_ID, S_IFDIR}, {"..", FUSE_ROOT_ID, S_IFDIR},
                             {FuseExport::kFileName, kFileIno, S_IFREG}};
    std::vector<char> buf(size);
    size_t used = 0;
    for (off_t i = offset; i < static_cast<off_t>(std::size(entries)); ++i) {
      struct stat st {};
      st.st_ino = entries[i].ino;
      st.st_mode = entries[i].mode;
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, entries[i].name, &st, i + 1);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  }

  static void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    mark_io_flusher();
    FuseExport& e = self(req);
    if (ino != kFileIno) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    const bool wants_write = (fi->flags & O_ACCMODE) != O_RDONLY;
    if (wants_write && !e.volume_.writable()) {
      fuse_reply_err(req, EROFS);
      return;
    }
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->fh = wants_write ? kWritableHandle : 0;
    e.open_handles_.fetch_add(1);
    // -ENOENT: the open was interrupted and no release will follow.
    if (fuse_reply_open(req, fi) == -ENOENT) e.open_handles_.fetch_sub(1);
  }

  static void release(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    if (ino == kFileIno) self(req).open_handles_.fetch_sub(1);
    fuse_reply_err(req, 0);
  }

  static void read(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info*) {
    mark_io_flusher();
    FuseExport& e = self(req);
    const uint64_t volume_size = e.volume_.size();
    if (offset < 0 || static_cast<uint64_t>(offset) >= volume_size) {
      fuse_reply_buf(req, nullptr, 0);  // end of file
      return;
    }
    size = static_cast<size_t>(std::min<uint64_t>(size, volume_size - static_cast<uint64_t>(offset)));
    if (e.loop_ != nullptr) {
      // On the volume's loop: the buffer (not zeroed: the read fills it)
      // lives until the completion.
      std::shared_ptr<uint8_t[]> buf(new (std::nothrow) uint8_t[size]);
      if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
      }
      const std::span<uint8_t> out(buf.get(), size);
      e.begin_answer_later();
      e.volume_.start_read(static_cast<uint64_t>(offset), out, [req, &e, buf, out](IoStatus status) {
        reply_read(req, e, out, status);
        e.end_answer_later();
      });
      return;
    }
    std::vector<uint8_t>& buf = read_buffer(size);
    reply_read(req, e, std::span<const uint8_t>(buf.data(), size),
               e.volume_.read(static_cast<uint64_t>(offset), std::span<uint8_t>(buf.data(), size)));
  }

  static void reply_read(fuse_req_t req, FuseExport& e, std::span<const uint8_t> data, IoStatus status) {
    if (!status.ok()) {
      e.errors_.fetch_add(1);
      fuse_reply_err(req, status.errno_value());
      return;
    }
    e.reads_.fetch_add(1);
    e.read_bytes_.fetch_add(data.size());
    fuse_reply_buf(req, reinterpret_cast<const char*>(data.data()), data.size());
  }

  static void write(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t offset, fuse_file_info* fi) {
    mark_io_flusher();
    FuseExport& e = self(req);
    const uint64_t volume_size = e.volume_.size();
    if (offset < 0 || static_cast<uint64_t>(offset) >= volume_size) {
      fuse_reply_err(req, ENOSPC);  // as a block device does past its end
      return;
    }
    size = static_cast<size_t>(std::min<uint64_t>(size, volume_size - static_cast<uint64_t>(offset)));
    // O_DSYNC or O_SYNC (the file opened so, or pwritev2's RWF_DSYNC): the
    // kernel's FUSE passes it in the write's flags and sends no fsync of its
    // own, so the write is answered once a flush after it is done, as a
    // file on a disk with a volatile cache answers it. (The loop device
    // never asks for it: it has no FUA and sends flushes.)
    const bool dsync = fi != nullptr && (fi->flags & O_DSYNC) != 0;
    const auto* bytes = reinterpret_cast<const uint8_t*>(data);
    if (e.loop_ != nullptr) {
      // On the volume's loop. The bytes are shared with the volume, which
      // may send them to the peer from there after answering (protocol A):
      // a copy of a small write, or for a large one the receive buffer
      // itself (libfuse allocates the next when it finds none), so 1 MiB
      // is not copied.
      void* owned = nullptr;
      if (size <= FuseExport::kAnswerLaterBytes) {
        owned = std::malloc(size);
        if (owned == nullptr) {
          fuse_reply_err(req, ENOMEM);
          return;
        }
        std::memcpy(owned, bytes, size);
        bytes = static_cast<const uint8_t*>(owned);
      } else {
        owned = std::exchange(e.request_buf_->mem, nullptr);
      }
      std::shared_ptr<const void> keep(owned, std::free);
      e.begin_answer_later();
      e.volume_.start_write_shared(
          static_cast<uint64_t>(offset), std::span<const uint8_t>(bytes, size), std::move(keep),
          [req, &e, size, dsync](IoStatus status) {
            if (status.ok() && dsync) {
              // Started from the loop, not from inside the write's completion.
              e.loop_->post([req, &e, size] {
                e.volume_.start_flush([req, &e, size](IoStatus durable) {
                  reply_write(req, e, size, durable, /*flushed=*/true);
                  e.end_answer_later();
                });
              });
              return;
            }
            reply_write(req, e, size, status, /*flushed=*/false);
            e.end_answer_later();
          });
      return;
    }
    if (size <= FuseExport::kAnswerLaterBytes && !dsync) {
      // The buffer is the worker's and is reused once we return: a copy,
      // cheap at this size, and the answer comes from the completion.
      e.begin_answer_later();
      e.volume_.write_async(static_cast<uint64_t>(offset), std::vector<uint8_t>(bytes, bytes + size),
                            [req, &e, size](IoStatus status) {
                              reply_write(req, e, size, status, /*flushed=*/false);
                              e.end_answer_later();
                            });
      return;
    }
    // Large, or to be flushed: the worker waits, so the engine may use its
    // buffer as it is.
    IoStatus status = e.volume_.write(static_cast<uint64_t>(offset), std::span<const uint8_t>(bytes, size));
    if (status.ok() && dsync) status = e.volume_.flush();
    reply_write(req, e, size, status, dsync && status.ok());
  }

  static void reply_write(fuse_req_t req, FuseExport& e, size_t size, IoStatus status, bool flushed) {
    if (!status.ok()) {
      e.errors_.fetch_add(1);
      fuse_reply_err(req, status.errno_value());
      return;
    }
    e.writes_.fetch_add(1);
    e.write_bytes_.fetch_add(size);
    if (flushed) e.flushes_.fetch_add(1);
    fuse_reply_write(req, size);
  }

  static void reply_flush(fuse_req_t req) {
    FuseExport& e = self(req);
    e.begin_answer_later();
    auto done = [req, &e](IoStatus status) {
      if (status.ok()) {
        e.flushes_.fetch_add(1);
      } else {
        e.errors_.fetch_add(1);
      }
      fuse_reply_err(req, status.errno_value());
      e.end_answer_later();
    };
    if (e.loop_ != nullptr) {
      e.volume_.start_flush(std::move(done));
    } else {
      e.volume_.flush_async(std::move(done));
    }
  }

  // close(2) of a descriptor: make writes through it durable, as close of a
  // block device does.
  static void flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    mark_io_flusher();
    if (!(fi->fh & kWritableHandle)) {
      fuse_reply_err(req, 0);
      return;
    }
    reply_flush(req);
  }

  static void fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
    mark_io_flusher();
    reply_flush(req);
  }

  // The loop device turns a discard into fallocate(PUNCH_HOLE|KEEP_SIZE)
  // and a write-zeroes into PUNCH_HOLE or ZERO_RANGE (with KEEP_SIZE): both
  // become the volume's discard, whose result reads as zeros. It offers
  // discard at all because the file has a fallocate operation, with the
  // granularity statfs gives (4096, below). Allocating within the size is
  // a no-op (every byte exists); other modes change the size or layout of
  // a file whose size is the volume's: EOPNOTSUPP.
  static void fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length, fuse_file_info* fi) {
    mark_io_flusher();
    FuseExport& e = self(req);
    if (!(fi->fh & kWritableHandle)) {
      fuse_reply_err(req, EBADF);
      return;
    }
    const uint64_t volume_size = e.volume_.size();
    if (offset < 0 || length <= 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    const uint64_t begin = static_cast<uint64_t>(offset);
    const uint64_t end = begin + std::min<uint64_t>(static_cast<uint64_t>(length), UINT64_MAX - begin);
    const bool zeroes = mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) ||
                        mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE) ||
                        (mode == FALLOC_FL_ZERO_RANGE && end <= volume_size);
    if (!zeroes) {
      const bool allocated = mode == FALLOC_FL_KEEP_SIZE || (mode == 0 && end <= volume_size);
      fuse_reply_err(req, allocated ? 0 : EOPNOTSUPP);
      return;
    }
    if (begin >= volume_size) {  // KEEP_SIZE past the end: nothing there
      fuse_reply_err(req, 0);
      return;
    }
    const uint64_t n = std::min(end, volume_size) - begin;
    auto done = [req, &e, n](IoStatus status) {
      if (status.ok()) {
        e.discards_.fetch_add(1);
        e.discard_bytes_.fetch_add(n);
      } else {
        e.errors_.fetch_add(1);
      }
      fuse_reply_err(req, status.errno_value());
    };
    if (e.loop_ != nullptr) {
      e.begin_answer_later();
      e.volume_.start_discard(begin, n, [done, &e](IoStatus status) {
        done(status);
        e.end_answer_later();
      });
      return;
    }
    done(e.volume_.discard(begin, n));
  }

  // The loop device takes its discard granularity from f_bsize: the
  // replication's block size, not libfuse's default of 512.
  static void statfs(fuse_req_t req, fuse_ino_t) {
    mark_io_flusher();
    struct statvfs st {};
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_blocks = self(req).volume_.size() / 4096;
    st.f_files = 1;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  }

  static fuse_lowlevel_ops table() {
    fuse_lowlevel_ops ops{};
    ops.init = init;
    ops.lookup = lookup;
    ops.getattr = getattr;
    ops.setattr = setattr;
    ops.readdir = readdir;
    ops.open = open;
    ops.release = release;
    ops.read = read;
    ops.write = write;
    ops.flush = flush;
    ops.fsync = fsync;
    ops.fallocate = fallocate;
    ops.statfs = statfs;
    return ops;
  }
};

FuseExport::FuseExport(Volume& volume, FuseExportOptions options) : volume_(volume), options_(std::move(options)) {}

std::string FuseExport::file_path() const { return options_.mount_point + "/" + kFileName; }

FuseExportCounters FuseExport::counters() const {
  return {reads_.load(),   read_bytes_.load(), writes_.load(),   write_bytes_.load(),
          flushes_.load(), errors_.load(),     discards_.load(), discard_bytes_.load()};
}

Result<std::unique_ptr<FuseExport>> FuseExport::start(Volume& volume, FuseExportOptions options) {
  using R = Result<std::unique_ptr<FuseExport>>;
  static std::once_flag log_routed;
  std::call_once(log_routed, [] { fuse_set_log_func(route_fuse_log); });
  while (options.mount_point.size() > 1 && options.mount_point.back() == '/') options.mount_point.pop_back();
  const std::string what = "cannot export " + options.name + " at " + options.mount_point + ": ";
  if (options.max_request_bytes == 0 || options.max_request_bytes > (1u << 20)) {
    return R::failure(what + "max_request_bytes " + std::to_string(options.max_request_bytes) +
                      " out of range (1 .. 1048576)");
  }
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return R::failure(what + "/dev/fuse: " + std::strerror(errno));
  if (auto stale = find_mount(options.mount_point)) {
    if (stale->fstype != "fuse.vrrpd") {
      return R::failure(what + "a " + stale->fstype + " file system is mounted there");
    }
    // A live export answers stat(); a dead one (left by a vrrpd that did
    // not stop cleanly) fails with ENOTCONN and can only be detached.
    struct stat st;
    if (::stat(options.mount_point.c_str(), &st) == 0) {
      return R::failure(what + "already exported there (another vrrpd running?)");
    }
    log::warning("removing stale FUSE export at " + options.mount_point);
    ::umount2(options.mount_point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  }

  std::error_code ec;
  std::filesystem::create_directories(options.mount_point, ec);
  if (ec) return R::failure(what + "cannot create the directory: " + ec.message());
  std::unique_ptr<FuseExport> e(new FuseExport(volume, std::move(options)));
  const std::string mount_options = "fsname=vrrpd:" + e->options_.name + ",subtype=vrrpd,default_permissions," +
                                    "max_read=" + std::to_string(e->options_.max_request_bytes);
  std::vector<std::string> arg_strings = {"vrrpd", "-o", mount_options};
  std::vector<char*> argv;
  for (std::string& s : arg_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_lowlevel_ops ops = FuseExportOps::table();
  take_last_fuse_message();
  e->session_ = fuse_session_new(&args, &ops, sizeof ops, e.get());
  fuse_opt_free_args(&args);
  if (e->session_ == nullptr) return R::failure(what + "fuse_session_new: " + take_last_fuse_message());
  if (fuse_session_mount(e->session_, e->options_.mount_point.c_str()) != 0) {
    std::string why = take_last_fuse_message();
    fuse_session_destroy(e->session_);
    e->session_ = nullptr;
    return R::failure(what + "mount: " + (why.empty() ? "failed" : why));
  }
  // From the mount table, not stat(): any access to the mount blocks until
  // the session loop (not started yet) has answered the kernel's INIT.
  if (auto mounted = find_mount(e->options_.mount_point)) e->connection_id_ = mounted->dev_minor;
  if (e->connection_id_ != 0 && e->options_.on_connection) e->options_.on_connection(e->connection_id_, true);

  if (e->options_.serve_on_request_loop) e->loop_ = volume.request_loop();
  if (e->loop_ != nullptr) {
    const int fd = fuse_session_fd(e->session_);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    e->request_buf_ = new fuse_buf{};
    FuseExport* served = e.get();  // finish_session() waits until the loop has let go of it
    e->loop_->post([served, fd] { served->loop_->watch_fd(fd, EPOLLIN, [served](uint32_t) { served->serve_requests(); }); });
    return e;
  }

  fuse_session* session = e->session_;
  const unsigned max_threads = std::max(1u, e->options_.max_threads);
  e->loop_thread_ = std::thread([session, max_threads, &loop_ended = e->loop_ended_] {
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_threads);
    fuse_loop_cfg_set_clone_fd(config, 1);  // one /dev/fuse fd per worker: less contention
    int rc = fuse_session_loop_mt(session, config);
    fuse_loop_cfg_destroy(config);
    if (rc != 0) log::debug("fuse: session loop ended with " + std::to_string(rc));
    loop_ended.store(true);
  });
  return e;
}

Result<std::monostate> FuseExport::stop() {
  using R = Result<std::monostate>;
  if (!running()) return std::monostate{};
  const std::string what = "cannot stop the FUSE export at " + options_.mount_point + ": ";
  std::string loops;
  for (const std::string& d : loop_devices_backed_by(file_path())) loops += (loops.empty() ? "" : ", ") + d;
  if (!loops.empty()) {
    return R::failure(what + "loop device " + loops + " is attached to " + file_path() +
                      "; unmount its file system and detach it first");
  }
  // The kernel sends RELEASE asynchronously after the last close (also after
  // a loop device let go of the file), so give in-flight releases a moment.
  // An aborted connection (through fusectl) has ended the session loop and
  // sends no RELEASE any more: nothing can use the file, whatever the count.
  wait_until([this] { return open_handles_.load() == 0 || loop_ended_.load(); }, kReleaseGrace);
  const bool aborted = loop_ended_.load();
  if (unsigned handles = open_handles_.load(); handles > 0 && !aborted) {
    std::string holders = describe_holders(SystemMounter().processes_holding(options_.mount_point));
    return R::failure(what + file_path() + " is still open (" + std::to_string(handles) + " handle(s)" +
                      (holders.empty() ? "" : ", by " + holders) + "); close it first");
  }
  // A plain (not lazy) unmount: EBUSY if anything still uses the export, and
  // on success the kernel aborts the connection, so the workers' reads of
  // /dev/fuse fail with ENODEV and the session loop returns.
  if (::umount2(options_.mount_point.c_str(), UMOUNT_NOFOLLOW | (aborted ? MNT_DETACH : 0)) != 0) {
    int e = errno;
    if (e == EBUSY) {
      std::string holders = describe_holders(SystemMounter().processes_holding(options_.mount_point));
      return R::failure(what + "busy" + (holders.empty() ? "" : " (used by " + holders + ")"));
    }
    if (find_mount(options_.mount_point)) return R::failure(what + std::strerror(e));
    // Unmounted behind our back: the loop has ended the same way.
  }
  fuse_session_exit(session_);
  // A copy of the mount in a private mount namespace created meanwhile (a
  // service with PrivateTmp=, say) keeps the connection alive after our
  // unmount; nothing may use it there, so abort it rather than wait forever.
  if (!wait_until([this] { return loop_ended_.load(); }, kReleaseGrace)) {
    log::warning("FUSE export at " + options_.mount_point + " still connected after unmount (mounted in another "
                 "mount namespace?); aborting the connection");
    abort_connection();
  }
  finish_session();
  return std::monostate{};
}

void FuseExport::begin_answer_later() {
  std::lock_guard lock(answers_mutex_);
  ++answers_pending_;
}

void FuseExport::end_answer_later() {
  std::lock_guard lock(answers_mutex_);
  if (--answers_pending_ == 0) answers_cv_.notify_all();
}

void FuseExport::serve_requests() {
  for (int i = 0; i < kRequestsPerTurn; ++i) {
    const int r = fuse_session_receive_buf(session_, request_buf_);
    if (r == -EAGAIN || r == -EINTR) return;
    if (r > 0) {
      fuse_session_process_buf(session_, request_buf_);
      continue;
    }
    // 0: the session ended (unmounted, or aborted through fusectl).
    if (r < 0) log::error("fuse: reading the requests of " + options_.mount_point + ": " + std::strerror(-r));
    loop_->unwatch_fd(fuse_session_fd(session_));
    loop_ended_.store(true);
    return;
  }
}

void FuseExport::finish_session() {
  if (loop_ != nullptr) {
    // The caller has unmounted or aborted the connection, which the loop
    // sees at its next read; it then no longer touches the session.
    while (!loop_ended_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } else {
    loop_thread_.join();
  }
  // Requests answered from a completion hold the session until answered
  // (replies to an aborted connection fail harmlessly).
  {
    std::unique_lock lock(answers_mutex_);
    answers_cv_.wait(lock, [this] { return answers_pending_ == 0; });
  }
  fuse_session_unmount(session_);  // sees the connection gone; no second umount
  fuse_session_destroy(session_);
  session_ = nullptr;
  if (request_buf_ != nullptr) {
    std::free(request_buf_->mem);
    delete request_buf_;
    request_buf_ = nullptr;
  }
  if (connection_id_ != 0 && options_.on_connection) options_.on_connection(connection_id_, false);
}

int abort_fuse_connection(unsigned connection) {
  const std::string connections = "/sys/fs/fuse/connections";
  const std::string abort_file = connections + "/" + std::to_string(connection) + "/abort";
  if (::access(abort_file.c_str(), W_OK) != 0) {
    // fusectl is usually mounted by systemd; mount it where it belongs if not.
    ::mount("fusectl", connections.c_str(), "fusectl", 0, nullptr);
  }
  int fd = ::open(abort_file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::write(fd, "1", 1) == 1 ? 0 : errno;
  ::close(fd);
  return rc;
}

// Last resort when stop() was refused: detach the mount lazily and abort the
// connection through fusectl, which fails all pending and later requests and
// ends the workers' reads.
void FuseExport::abort_connection() {
  fuse_session_exit(session_);
  ::umount2(options_.mount_point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  int rc = abort_fuse_connection(connection_id_);
  if (rc != 0 && rc != ENOENT) {  // ENOENT: the connection ended meanwhile (last handle released)
    log::error("cannot abort FUSE connection " + std::to_string(connection_id_) + " of " + options_.mount_point +
               ": " + std::strerror(rc) + "; waiting for its last user to close " + file_path());
  }
}

FuseExport::~FuseExport() {
  if (!running()) return;
  auto stopped = stop();
  if (stopped) return;
  log::error(stopped.error() + "; aborting the connection (I/O on " + file_path() + " now fails)");
  abort_connection();
  finish_session();
}

void FuseExport::size_changed() {
  if (session_ == nullptr) return;
  // Negative offset: the attributes only, no page cache (there is none:
  // direct_io). ENOENT if the kernel has not looked the file up yet, and
  // then it has nothing cached either.
  (void)fuse_lowlevel_notify_inval_inode(session_, kFileIno, -1, 0);
  struct stat st {};
  (void)::stat(file_path().c_str(), &st);
}

}  // namespace vrrpd::replication
