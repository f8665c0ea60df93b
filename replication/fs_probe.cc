// Superblock fields (little-endian for ext, big-endian for XFS), from the
// kernel's fs/ext4/ext4.h (struct ext4_super_block) and fs/xfs/libxfs/
// xfs_format.h (struct xfs_dsb).
#include "replication/fs_probe.h"

#include <vector>

#include "replication/byte_order.h"

namespace vrrpd::replication {

namespace {

constexpr uint64_t kExtSuperblock = 1024;        // byte offset on the device
constexpr uint64_t kExtBlocksCountLo = 0x04;     // le32
constexpr uint64_t kExtLogBlockSize = 0x18;      // le32: block size = 1024 << v
constexpr uint64_t kExtMagic = 0x38;             // le16, 0xEF53
constexpr uint64_t kExtFeatureIncompat = 0x60;   // le32
constexpr uint32_t kExtIncompat64Bit = 0x80;     // s_blocks_count_hi is valid
constexpr uint64_t kExtBlocksCountHi = 0x150;    // le32

uint32_t be32(std::span<const uint8_t> b, size_t off) {
  return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) | b[off + 3];
}
uint64_t be64(std::span<const uint8_t> b, size_t off) { return (uint64_t{be32(b, off)} << 32) | be32(b, off + 4); }

}  // namespace

std::optional<FileSystemExtent> probe_file_system(BlockStorage& volume) {
  if (volume.size() < 4096) return std::nullopt;
  std::vector<uint8_t> head(4096);
  if (!volume.read(0, head).ok()) return std::nullopt;
  const std::span<const uint8_t> b(head);

  const std::span<const uint8_t> ext = b.subspan(kExtSuperblock, 1024);
  if ((ext[kExtMagic] | (ext[kExtMagic + 1] << 8)) == 0xEF53) {
    const uint32_t log = le::get32(ext, kExtLogBlockSize);
    uint64_t blocks = le::get32(ext, kExtBlocksCountLo);
    if ((le::get32(ext, kExtFeatureIncompat) & kExtIncompat64Bit) != 0)
      blocks |= uint64_t{le::get32(ext, kExtBlocksCountHi)} << 32;
    if (log <= 6 && blocks != 0)  // 1 KiB .. 64 KiB blocks
      return FileSystemExtent{"ext2/3/4", blocks * (uint64_t{1024} << log)};
  }
  if (be32(b, 0) == 0x58465342) {  // "XFSB"
    const uint32_t block_size = be32(b, 4);
    const uint64_t blocks = be64(b, 8);  // sb_dblocks: the data section
    if (block_size >= 512 && block_size <= 65536 && (block_size & (block_size - 1)) == 0 && blocks != 0 &&
        blocks <= UINT64_MAX / block_size)
      return FileSystemExtent{"xfs", blocks * block_size};
  }
  return std::nullopt;
}

}  // namespace vrrpd::replication
