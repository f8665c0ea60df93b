// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78): the
// checksum of the on-disk metadata (superblock slots, activity-log
// transactions) and of every wire frame (protocol.cc), including 1 MiB Data
// and ResyncReply payloads on both sides, so its speed bounds replication
// throughput. crc32c() uses the SSE4.2 CRC32 instruction when the CPU has
// it (checked once at run time; three interleaved streams, ~25 GB/s on the
// test machine) and a table-driven loop otherwise; both are exported so
// tests can hold each against known vectors.
#pragma once

#include <cstdint>
#include <span>

namespace vrrpd::replication {

// CRC32C of `data` (initial value ~0, final xor ~0, as in iSCSI/ext4/btrfs).
// crc32c("123456789") == 0xE3069283. With `previous`, the CRC of what came
// before `data`: crc32c(b, crc32c(a)) == crc32c(a followed by b), so a
// frame's checksum can cover bytes that are not in one buffer.
uint32_t crc32c(std::span<const uint8_t> data, uint32_t previous = 0);

// The portable implementation (slicing-by-8 tables), any CPU.
uint32_t crc32c_portable(std::span<const uint8_t> data, uint32_t previous = 0);

// True when this CPU has the SSE4.2 CRC32 instruction (x86-64 only).
bool crc32c_hardware_available();
// The SSE4.2 implementation; only when crc32c_hardware_available().
uint32_t crc32c_hardware(std::span<const uint8_t> data, uint32_t previous = 0);

}  // namespace vrrpd::replication
