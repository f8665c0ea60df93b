// The replicated volume as the kernel-facing frontend sees it: a fixed-size
// byte range with read, write and flush, called from frontend threads (FUSE
// workers). The engine's Resource implements it; the FUSE/loop frontend
// (fuse_export.*) serves any Volume, so it can be tested on a plain file.
//
// Calls may block the calling thread until the I/O is complete in the sense
// of the replication protocol (protocol C: on both disks), so they must never
// be made from the VRRP loop or from the engine's own loop thread.
// Implementations are thread-safe: several frontend threads call at once.
#pragma once

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "replication/result.h"
#include "replication/storage.h"

namespace vrrpd {
class EventLoop;
}

namespace vrrpd::replication {

class Volume {
 public:
  virtual ~Volume() = default;
  // Size in bytes seen by the file system. Fixed while the volume is
  // exported, except that an online resize grows it (the frontend is told:
  // FuseExport::size_changed(), LoopDevice::refresh_capacity()).
  virtual uint64_t size() const = 0;
  // EINVAL for a range beyond size(); EIO (or the backing errno) for a failed
  // read that the io-error policy passes through.
  virtual IoStatus read(uint64_t offset, std::span<uint8_t> out) = 0;
  // EROFS when this node may not write (not Primary); otherwise as read().
  virtual IoStatus write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Every write completed before the call is durable wherever the
  // replication protocol says it must be (both disks under protocol C).
  virtual IoStatus flush() = 0;
  // True when the frontend may open the volume for writing (the node is
  // Primary). The frontend refuses a writable open otherwise.
  virtual bool writable() const = 0;
  // The file system's discard/TRIM: [offset, offset+length) reads as zeros
  // afterwards, wherever the replication protocol says a write would be,
  // and the storage may release the space. EROFS and EINVAL as write();
  // EOPNOTSUPP if this volume cannot (the default).
  virtual IoStatus discard(uint64_t, uint64_t) { return IoStatus::error(EOPNOTSUPP); }

  // Non-blocking forms for a frontend that can answer its caller later (the
  // FUSE export answers small writes and flushes from the completion, so no
  // worker thread sleeps through the round trip to the peer and back).
  // `done` runs exactly once, on any thread (the engine's loop for the
  // replicated volume), possibly before the call returns. The default runs
  // the blocking call and then `done` on the calling thread.
  using Completion = std::function<void(IoStatus)>;
  virtual void write_async(uint64_t offset, std::vector<uint8_t> data, Completion done) {
    done(write(offset, data));
  }
  virtual void flush_async(Completion done) { done(flush()); }

  // The event loop whose thread runs this volume's requests, or nullptr. A
  // frontend that has one may read and answer its requests on that thread
  // itself, with the start_* forms below: no hand-off to another thread per
  // request (the FUSE export does). Only on that loop's thread; `done` runs
  // there, possibly before the call returns; `out` and `data` must stay
  // valid until it has run (no copy is made).
  virtual EventLoop* request_loop() { return nullptr; }
  virtual void start_read(uint64_t offset, std::span<uint8_t> out, Completion done) { done(read(offset, out)); }
  virtual void start_write(uint64_t offset, std::span<const uint8_t> data, Completion done) {
    done(write(offset, data));
  }
  // start_write() of a buffer the caller shares rather than lends: `data`
  // stays valid and unchanged while `keep` is held, also after `done`. The
  // replicated volume then sends it to the peer from where it lies instead
  // of copying it into each frame. The default holds `keep` until `done`.
  virtual void start_write_shared(uint64_t offset, std::span<const uint8_t> data, std::shared_ptr<const void> keep,
                                  Completion done) {
    start_write(offset, data, [keep = std::move(keep), done = std::move(done)](IoStatus s) { done(s); });
  }
  virtual void start_flush(Completion done) { done(flush()); }
  virtual void start_discard(uint64_t offset, uint64_t length, Completion done) { done(discard(offset, length)); }
};

// A Volume over a BlockStorage with a mutex around every call: what the
// frontend's tests serve, and a Secondary-less stand-alone volume.
class StorageVolume final : public Volume {
 public:
  StorageVolume(BlockStorage& storage, bool writable);
  uint64_t size() const override;
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override;
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override;
  IoStatus flush() override;
  bool writable() const override;
  IoStatus discard(uint64_t offset, uint64_t length) override;
  void set_writable(bool w);

 private:
  BlockStorage& storage_;
  mutable std::mutex mutex_;  // guards storage_ calls and writable_
  bool writable_;
};

}  // namespace vrrpd::replication
