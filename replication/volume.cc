#include "replication/volume.h"

#include <cerrno>

namespace vrrpd::replication {

StorageVolume::StorageVolume(BlockStorage& storage, bool writable) : storage_(storage), writable_(writable) {}

uint64_t StorageVolume::size() const { return storage_.size(); }

IoStatus StorageVolume::read(uint64_t offset, std::span<uint8_t> out) {
  std::lock_guard lock(mutex_);
  return storage_.read(offset, out);
}

IoStatus StorageVolume::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (!writable_) return IoStatus::error(EROFS);
  return storage_.write(offset, data);
}

IoStatus StorageVolume::flush() {
  std::lock_guard lock(mutex_);
  return storage_.flush();
}

IoStatus StorageVolume::discard(uint64_t offset, uint64_t length) {
  std::lock_guard lock(mutex_);
  if (!writable_) return IoStatus::error(EROFS);
  return storage_.discard(offset, length);
}

bool StorageVolume::writable() const {
  std::lock_guard lock(mutex_);
  return writable_;
}

void StorageVolume::set_writable(bool w) {
  std::lock_guard lock(mutex_);
  writable_ = w;
}

}  // namespace vrrpd::replication
