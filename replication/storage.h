// Backing storage of a replicated volume: the BlockStorage interface that the
// engine reads and writes through, FileStorage (a regular file or a block
// device), and StorageRegion (a bounds-checked window onto another storage,
// used to keep data I/O out of an internal metadata area). The fake with
// crash and error injection lives in tests/unit/replication/fake_storage.h.
//
// Data path: no exceptions, every call returns IoStatus. Offsets and lengths
// are in bytes. Not thread-safe by itself: the owner serialises calls or the
// implementation says otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "replication/result.h"

namespace vrrpd::replication {

// Byte-addressed storage with explicit durability: data written by write() is
// durable only once a later flush() has returned success.
class BlockStorage {
 public:
  virtual ~BlockStorage() = default;
  // Size in bytes. Fixed, except that refresh_size() may pick up a storage
  // that grew underneath (an extended file, a grown logical volume).
  virtual uint64_t size() const = 0;
  // Reads the size again (online resize) and returns it. Only on the thread
  // that does the I/O. The default: the size never changes.
  virtual Result<uint64_t> refresh_size() { return size(); }
  // Reads exactly out.size() bytes at `offset`. EINVAL if the range exceeds size().
  virtual IoStatus read(uint64_t offset, std::span<uint8_t> out) = 0;
  // Writes all of `data` at `offset`. EINVAL if the range exceeds size().
  virtual IoStatus write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Makes every completed write durable (fdatasync for files).
  virtual IoStatus flush() = 0;
  // Writes `data` at `offset` and makes these bytes durable before it
  // returns; other writes not yet flushed need not become durable. For small
  // metadata records (an activity-log transaction): flush() on a file whose
  // data sits in the page cache would first write all of it back, which
  // costs milliseconds per megabyte dirty. This default is write + flush().
  virtual IoStatus write_durable(uint64_t offset, std::span<const uint8_t> data) {
    if (IoStatus st = write(offset, data); !st.ok()) return st;
    return flush();
  }
  // Makes [offset, offset+length) read back as zeros and lets the storage
  // release the space where it can (a hole in a file, an unmap on a device
  // that zeroes): the file system's discard/TRIM, with a defined result, so
  // that two replicas that discard the same range stay identical. Durable
  // only after a later flush(). EINVAL beyond size(). This default writes
  // the zeros.
  virtual IoStatus discard(uint64_t offset, uint64_t length);
  // True if flush() may run on another thread while this one reads and
  // writes (the engine then flushes off its loop; see flusher.h).
  virtual bool flush_may_run_concurrently() const { return false; }
  // Forgets what a cache in front of the disk holds clean (already written
  // back), so that reads return what the disk holds; dirty data stays. After
  // a failed writeback the kernel keeps the lost pages cached as clean:
  // reads return the new data while the disk holds the old, and a run that
  // started after the error (which an earlier run's fsync reported) would
  // copy data that is on no disk. For files, posix_fadvise(DONTNEED). This
  // default has no cache.
  virtual void drop_cache() {}
};

// Writes `length` zero bytes at `offset`, at most 1 MiB per write; not
// flushed (the caller orders its flushes).
IoStatus write_zeros(BlockStorage& storage, uint64_t offset, uint64_t length);

// True if [offset, offset+length) lies within [0, size) without overflow.
inline bool range_fits(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

// A regular file or block device, accessed with pread/pwrite/fdatasync.
class FileStorage final : public BlockStorage {
 public:
  // Opens `path` read-write (O_CLOEXEC). The size is the file size, or the
  // device size (BLKGETSIZE64) for a block device.
  static Result<std::unique_ptr<FileStorage>> open(const std::string& path);
  // Creates (or truncates) a regular file of `size` bytes (sparse) and opens it.
  static Result<std::unique_ptr<FileStorage>> create(const std::string& path, uint64_t size);

  ~FileStorage() override;
  FileStorage(const FileStorage&) = delete;
  FileStorage& operator=(const FileStorage&) = delete;

  uint64_t size() const override { return size_; }
  // fstat / BLKGETSIZE64 again.
  Result<uint64_t> refresh_size() override;
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override;
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override;
  IoStatus flush() override;
  // pwritev2(RWF_DSYNC): the kernel writes back and syncs only this range
  // (and flushes the device cache), not every dirty page of the file.
  IoStatus write_durable(uint64_t offset, std::span<const uint8_t> data) override;
  // fallocate(2) PUNCH_HOLE (a file: a hole; a block device: zeroed with
  // unmap where the device guarantees zeros), else ZERO_RANGE, else written
  // zeros.
  IoStatus discard(uint64_t offset, uint64_t length) override;
  // fdatasync(2) and pread/pwrite(2) on one descriptor are safe together.
  bool flush_may_run_concurrently() const override { return true; }
  void drop_cache() override;
  const std::string& path() const { return path_; }

 private:
  FileStorage(int fd, uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

// The bytes [base, base+length) of `parent`, seen as a storage of its own
// starting at 0. Any access beyond `length` fails with EINVAL, so a data-area
// region can never overwrite the metadata that follows it on the same device.
class StorageRegion final : public BlockStorage {
 public:
  // `parent` must outlive the region; the range must fit in parent.size().
  StorageRegion(BlockStorage& parent, uint64_t base, uint64_t length);
  uint64_t size() const override { return length_; }
  // A grown window (online resize); must still fit in the parent.
  void set_length(uint64_t length) { length_ = length; }
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override;
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override;
  IoStatus flush() override { return parent_.flush(); }
  IoStatus write_durable(uint64_t offset, std::span<const uint8_t> data) override;
  IoStatus discard(uint64_t offset, uint64_t length) override;
  bool flush_may_run_concurrently() const override { return parent_.flush_may_run_concurrently(); }

 private:
  BlockStorage& parent_;
  uint64_t base_;
  uint64_t length_;
};

}  // namespace vrrpd::replication
