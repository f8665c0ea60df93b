// Little-endian field access for the on-disk formats (metadata superblock,
// activity-log transactions, bitmap pages). On-disk integers are always
// little-endian, whatever the host, so that a disk moved between hosts reads
// the same.
#pragma once

#include <cstdint>
#include <span>

namespace vrrpd::replication::le {

inline void put32(std::span<uint8_t> buf, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) buf[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put64(std::span<uint8_t> buf, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) buf[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t get32(std::span<const uint8_t> buf, size_t off) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(buf[off + i]) << (8 * i);
  return v;
}
inline uint64_t get64(std::span<const uint8_t> buf, size_t off) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(buf[off + i]) << (8 * i);
  return v;
}

}  // namespace vrrpd::replication::le
