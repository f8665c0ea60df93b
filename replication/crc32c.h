// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78): the
// checksum of the on-disk metadata (superblock slots, activity-log
// transactions). Table-driven, no external library; it runs only on a few
// hundred bytes per metadata update, so speed does not matter.
#pragma once

#include <cstdint>
#include <span>

namespace vrrpd::replication {

// CRC32C of `data` (initial value ~0, final xor ~0, as in iSCSI/ext4/btrfs).
// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::span<const uint8_t> data);

}  // namespace vrrpd::replication
