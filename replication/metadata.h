// On-disk metadata of a replicated volume, format version 1: the superblock
// (identity, generations, flags, where the other areas are) kept in two
// checksummed slots, and the geometry of the activity-log and bitmap areas.
// The byte layout is documented in README.md ("Metadata format v1").
//
// Crash safety of superblock updates: each update goes to the slot NOT holding
// the newest valid copy, with the next sequence number, and is flushed before
// write_superblock() returns. A crash or torn write during an update damages
// only that slot; read_metadata() then picks the other one (the previous
// state). Set-up code: errors are Result messages for the operator.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "replication/generations.h"
#include "replication/result.h"
#include "replication/storage.h"

namespace vrrpd::replication {

inline constexpr uint32_t kMetadataFormatVersion = 1;
inline constexpr uint32_t kBlockSize = 4096;           // bytes per bitmap bit
inline constexpr uint32_t kSuperblockSlotSize = 4096;  // bytes per slot
inline constexpr uint32_t kAlTransactionSize = 4096;   // bytes per AL ring slot
inline constexpr uint32_t kDefaultAlSlots = 16;        // AL ring: 64 KiB
inline constexpr uint32_t kMaxAlExtents = 64;          // active extents per transaction
inline constexpr uint64_t kAlExtentSize = 4u << 20;    // 4 MiB of data per AL extent
// A write is at most one extent long (Resource::kMaxWriteBytes), so it spans
// at most two: a log of fewer could never hold both and the write would wait
// for ever.
inline constexpr uint32_t kMinAlExtents = 2;

// Internal: metadata at the end of the backing device (data size = device
// size minus metadata). External: a separate file or device holds only metadata.
enum class MetadataLayout : uint8_t { kInternal = 0, kExternal = 1 };

struct SuperblockFlags {
  bool consistent = false;     // the data is a consistent image (not mid-resync target)
  bool was_primary = false;    // set while primary; still set at attach => we crashed as primary
  bool outdated = false;       // our data is known to be older than the peer's
  bool peer_outdated = false;  // the peer's data is known to be outdated (safe to promote alone)
  // With Superblock::diskless_primary_generation: this node started a new
  // generation for that Primary's writes (taken back when it has a full
  // copy again).
  bool diskless_primary_new_generation = false;
  bool operator==(const SuperblockFlags&) const = default;
};

// The decoded superblock. Offsets are absolute byte offsets on the metadata
// storage (the backing device for internal, the metadata file for external).
struct Superblock {
  uint64_t sequence = 0;   // update counter; the slot is sequence % 2
  uint64_t data_size = 0;  // replicated (usable) size in bytes, multiple of kBlockSize
  uint32_t block_size = kBlockSize;
  uint32_t node_id = 0;
  std::array<uint8_t, 16> device_uuid{};  // random, identifies this volume's metadata
  Generations generations;
  SuperblockFlags flags;
  MetadataLayout layout = MetadataLayout::kInternal;
  uint64_t superblock_offset = 0;  // slot 0; slot 1 follows it
  uint64_t al_offset = 0;          // activity-log ring
  uint32_t al_slots = kDefaultAlSlots;
  uint32_t al_max_extents = kMaxAlExtents;
  uint64_t bitmap_offset = 0;  // out-of-sync bitmap
  uint64_t bitmap_length = 0;  // bytes, multiple of 4096
  // The Primary peer that went Diskless while this node (Secondary, the
  // one with the disk) served it: that Primary's data generation, primary
  // bit clear; 0 for none. On disk, not only in memory, so that it may
  // connect to this node again after a restart (it has no copy of its own).
  // Kept while that Primary resyncs a disk attached under it, and set
  // too when the peer, SyncTarget of this node, is promoted during its
  // resync: either may resume that resync from this node after a restart
  // (protocol 11). Cleared before this node's first write as Primary, and
  // when the peer has a good disk again or is no longer Primary.
  uint64_t diskless_primary_generation = 0;

  uint64_t al_length() const { return uint64_t{al_slots} * kAlTransactionSize; }
  uint64_t data_blocks() const { return data_size / kBlockSize; }
};

struct CreateMetadataParams {
  MetadataLayout layout = MetadataLayout::kInternal;
  // Only for kExternal: size in bytes of the data device the metadata
  // describes (rounded down to kBlockSize). Internal derives it.
  uint64_t external_data_size = 0;
  uint32_t node_id = 0;
  std::array<uint8_t, 16> device_uuid{};  // from random_device_uuid() in production
  uint32_t al_slots = kDefaultAlSlots;
};

// Bytes of bitmap needed for `data_size` bytes of data, rounded up to 4 KiB pages.
uint64_t bitmap_bytes_for(uint64_t data_size);

// Where the areas go for this layout, without writing anything. For internal,
// `storage_size` is the backing-device size and the result's data_size is what
// remains for data. Fails if the storage is too small.
Result<Superblock> plan_metadata(uint64_t storage_size, const CreateMetadataParams& params);

// Writes fresh metadata: zeroed bitmap and activity log, then both superblock
// slots (generations just created, all flags clear), each step flushed.
Result<Superblock> create_metadata(BlockStorage& storage, const CreateMetadataParams& params);

// Reads and validates the superblock of `layout`: the slot with the highest
// sequence number and a valid checksum. Errors name what is wrong, e.g.
// "no vrrpd metadata: bad magic", "checksum mismatch in both superblock
// slots", "format version 2 not supported; this build reads 1".
Result<Superblock> read_metadata(BlockStorage& storage, MetadataLayout layout);

// Stores `sb` with sequence + 1 into the older slot and flushes. On success
// sb.sequence is the new number; on failure it is unchanged so a retry goes
// to the same (already damaged) slot and never to the one with the last good copy.
IoStatus write_superblock(BlockStorage& storage, Superblock& sb);

// 16 random bytes from getrandom(2) for a new device UUID.
std::array<uint8_t, 16> random_device_uuid();

// The superblock slot encoding, exposed for tests (corrupting fields).
inline constexpr size_t kSuperblockEncodedSize = 256;  // bytes covered: [0,252) + CRC32C at 252
void encode_superblock(const Superblock& sb, std::span<uint8_t> slot);

}  // namespace vrrpd::replication
