// FileStorage and StorageRegion; see storage.h.
#include "replication/storage.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cassert>
#include <algorithm>
#include <cerrno>
#include <vector>

namespace vrrpd::replication {

namespace {

std::string errno_text(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

Result<uint64_t> storage_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Result<uint64_t>::failure(errno_text("fstat", path, errno));
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
      return Result<uint64_t>::failure(errno_text("BLKGETSIZE64", path, errno));
    }
    return bytes;
  }
  if (!S_ISREG(st.st_mode)) {
    return Result<uint64_t>::failure(path + " is neither a regular file nor a block device");
  }
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

IoStatus write_zeros(BlockStorage& storage, uint64_t offset, uint64_t length) {
  std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1u << 20), 0);
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, zeros.size()));
    if (IoStatus st = storage.write(offset, std::span<const uint8_t>(zeros).first(n)); !st.ok()) return st;
    offset += n;
    length -= n;
  }
  return {};
}

IoStatus BlockStorage::discard(uint64_t offset, uint64_t length) {
  if (!range_fits(offset, length, size())) return IoStatus::error(EINVAL);
  return write_zeros(*this, offset, length);
}

Result<std::unique_ptr<FileStorage>> FileStorage::open(const std::string& path) {
  using R = Result<std::unique_ptr<FileStorage>>;
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return R::failure(errno_text("cannot open", path, errno));
  auto size = storage_size(fd, path);
  if (!size) {
    ::close(fd);
    return R::failure(size.error());
  }
  return std::unique_ptr<FileStorage>(new FileStorage(fd, size.value(), path));
}

Result<std::unique_ptr<FileStorage>> FileStorage::create(const std::string& path, uint64_t size) {
  using R = Result<std::unique_ptr<FileStorage>>;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return R::failure(errno_text("cannot create", path, errno));
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ::close(fd);
    return R::failure(errno_text("cannot size", path, err));
  }
  return std::unique_ptr<FileStorage>(new FileStorage(fd, size, path));
}

FileStorage::~FileStorage() { ::close(fd_); }

Result<uint64_t> FileStorage::refresh_size() {
  auto size = storage_size(fd_, path_);
  if (size) size_ = size.value();
  return size;
}

IoStatus FileStorage::read(uint64_t offset, std::span<uint8_t> out) {
  if (!range_fits(offset, out.size(), size_)) return IoStatus::error(EINVAL);
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoStatus::error(errno);
    }
    if (n == 0) return IoStatus::error(EIO);  // file shrank under us
    done += static_cast<size_t>(n);
  }
  return {};
}

IoStatus FileStorage::write(uint64_t offset, std::span<const uint8_t> data) {
  if (!range_fits(offset, data.size(), size_)) return IoStatus::error(EINVAL);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoStatus::error(errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

IoStatus FileStorage::flush() {
  // fdatasync: the data and the metadata needed to read it back (file size);
  // timestamps need not be durable.
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return IoStatus::error(errno);
  }
  return {};
}

void FileStorage::drop_cache() {
  // Advice: on failure (none is expected for a file or block device) the
  // cache simply stays.
  (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
}

IoStatus FileStorage::write_durable(uint64_t offset, std::span<const uint8_t> data) {
  if (!range_fits(offset, data.size(), size_)) return IoStatus::error(EINVAL);
  size_t done = 0;
  while (done < data.size()) {
    iovec iov{const_cast<uint8_t*>(data.data() + done), data.size() - done};
    const ssize_t n = ::pwritev2(fd_, &iov, 1, static_cast<off_t>(offset + done), RWF_DSYNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A kernel or file system without per-write flags: the whole-file way.
      if (errno == EOPNOTSUPP || errno == ENOSYS) return BlockStorage::write_durable(offset + done, data.subspan(done));
      return IoStatus::error(errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

IoStatus FileStorage::discard(uint64_t offset, uint64_t length) {
  if (!range_fits(offset, length, size_)) return IoStatus::error(EINVAL);
  if (length == 0) return {};
  // PUNCH_HOLE: a file system that has holes deallocates (reads give
  // zeros); a block device zeroes with unmap only where the result is
  // guaranteed to read as zeros, else EOPNOTSUPP. ZERO_RANGE: zeros,
  // written by the kernel where it must. Both keep the size.
  for (int mode : {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE}) {
    int rc;
    do {
      rc = ::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length));
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) return {};
    if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) return IoStatus::error(errno);
  }
  return write_zeros(*this, offset, length);
}

StorageRegion::StorageRegion(BlockStorage& parent, uint64_t base, uint64_t length)
    : parent_(parent), base_(base), length_(length) {
  assert(range_fits(base, length, parent.size()));
}

IoStatus StorageRegion::read(uint64_t offset, std::span<uint8_t> out) {
  if (!range_fits(offset, out.size(), length_)) return IoStatus::error(EINVAL);
  return parent_.read(base_ + offset, out);
}

IoStatus StorageRegion::write(uint64_t offset, std::span<const uint8_t> data) {
  if (!range_fits(offset, data.size(), length_)) return IoStatus::error(EINVAL);
  return parent_.write(base_ + offset, data);
}

IoStatus StorageRegion::write_durable(uint64_t offset, std::span<const uint8_t> data) {
  if (!range_fits(offset, data.size(), length_)) return IoStatus::error(EINVAL);
  return parent_.write_durable(base_ + offset, data);
}

IoStatus StorageRegion::discard(uint64_t offset, uint64_t length) {
  if (!range_fits(offset, length, length_)) return IoStatus::error(EINVAL);
  return parent_.discard(base_ + offset, length);
}

}  // namespace vrrpd::replication
