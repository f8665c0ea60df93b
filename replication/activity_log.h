// ActivityLog: the set of "hot" 4 MiB extents a primary may be writing to,
// kept on disk so that after a crash of the primary exactly those extents are
// resynced (they may differ from the peer), instead of the whole device.
//
// Rule for the caller: before submitting a write, activate() every extent it
// touches and wait for success; release() each when the write completed on
// both sides. activate() of an extent not in the log writes one transaction
// (the full new set of active extents) synchronously; activating an extent
// already in the log costs no I/O. A full log evicts its least recently used
// extent that has no write in flight; if every extent is busy it returns
// EBUSY and the caller waits for a release().
//
// On disk: a ring of al_slots 4 KiB transaction slots in the activity-log
// area (format in README.md); each transaction is checksummed and carries a
// sequence number, and recovery takes the valid one with the highest
// sequence. A torn transaction write thus leaves the previous one, whose set
// is a superset of what can have been written (the new extent's first write
// waits for activate() to succeed).
//
// Not thread-safe: owned by the replication I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "replication/bitmap.h"
#include "replication/metadata.h"
#include "replication/result.h"
#include "replication/storage.h"

namespace vrrpd::replication {

// The extent holding data byte `offset`.
inline uint32_t al_extent_of(uint64_t offset) { return static_cast<uint32_t>(offset / kAlExtentSize); }

class ActivityLog {
 public:
  // `md` is the metadata storage; geometry and device UUID come from `sb`.
  // `last_sequence` is the newest sequence found by recover_activity_log(),
  // so new transactions are newer than anything left in the ring.
  ActivityLog(BlockStorage& md, const Superblock& sb, uint64_t last_sequence);

  // Makes `extent` active and pins it (one pin per call). Writes and flushes
  // a transaction if the extent was not active. EBUSY: the log is full of
  // pinned extents. On an I/O error the extent is NOT active and must not be
  // written.
  IoStatus activate(uint32_t extent);
  // The same, and if `extent` is not active (a transaction is written
  // anyway), the extents of `ahead` that are not active either join that
  // transaction, unpinned: a sequential writer's next extents, so that one
  // transaction covers several extents instead of one each. An extent of
  // `ahead` that needs room evicts the least recently used unpinned extent
  // only if `may_evict(victim)` says so (its writes are durable); the first
  // that cannot stops the rest. Their cost is a larger set to resync after a
  // crash (extents that may not have been written).
  IoStatus activate(uint32_t extent, std::span<const uint32_t> ahead,
                    const std::function<bool(uint32_t victim)>& may_evict);
  // Unpins one activate() of `extent` (the write finished). It stays in the
  // log until evicted.
  void release(uint32_t extent);

  bool is_active(uint32_t extent) const;
  // True if activate(extent) would have to evict another extent: the log
  // is full and `extent` is not in it.
  bool would_evict(uint32_t extent) const { return !is_active(extent) && full(); }
  // True if the log holds as many extents as it may: the next new extent
  // evicts one.
  bool full() const { return entries_.size() >= max_extents_; }
  // The extent the next eviction would drop (the least recently used one
  // without writes in flight), or nothing if every extent is pinned.
  std::optional<uint32_t> eviction_victim() const;
  // Active extents, most recently used first.
  std::vector<uint32_t> active_extents() const;
  // Active extents with at least one write in flight (DRBD's "used"
  // extents): the ones a new extent could not evict.
  uint32_t pinned_extents() const;
  // How many extents the log may hold (al_max_extents, at most kMaxAlExtents).
  uint32_t max_extents() const { return max_extents_; }
  uint64_t sequence() const { return sequence_; }
  // The ring moved (online grow of internal metadata, grow.h): transaction
  // `sequence`, with the active set, is already written at sb.al_offset.
  void moved_to(const Superblock& sb, uint64_t sequence) {
    al_offset_ = sb.al_offset;
    sequence_ = sequence;
  }
  uint64_t transactions_written() const { return transactions_written_; }

 private:
  struct Entry {
    uint32_t extent;
    uint32_t pins;
  };
  IoStatus write_transaction(const std::vector<Entry>& set);

  BlockStorage& md_;
  uint64_t al_offset_;
  uint32_t slots_;
  uint32_t max_extents_;
  std::array<uint8_t, 16> device_uuid_;
  uint64_t sequence_;
  uint64_t transactions_written_ = 0;
  std::vector<Entry> entries_;  // most recently used first; at most max_extents_
};

// What the activity log held at the last valid transaction.
struct AlRecovery {
  std::vector<uint32_t> extents;  // as recorded, most recently used first
  uint64_t last_sequence = 0;     // 0 if the ring holds no valid transaction
};

// Reads every ring slot and returns the valid transaction (magic, checksum,
// this device's UUID) with the highest sequence. Fails only on read errors.
Result<AlRecovery> recover_activity_log(BlockStorage& md, const Superblock& sb);

// Marks every block of `extents` out of sync (clamped to the data size);
// returns how many bits were newly set.
uint64_t mark_extents_out_of_sync(const std::vector<uint32_t>& extents, OutOfSyncBitmap& bitmap);

// Attach-time step: reads the activity log and, if sb.flags.was_primary says
// we crashed as primary, marks the recovered extents out of sync and flushes
// the bitmap before returning (so they survive a second crash). The caller
// builds the ActivityLog with the returned last_sequence and keeps
// was_primary set until the peer has resynced (handshake rule 40).
Result<AlRecovery> recover_after_attach(BlockStorage& md, const Superblock& sb, OutOfSyncBitmap& bitmap);

// Transaction encoding, exposed for tests. Returns false if the slot is not a
// valid transaction of `device_uuid`.
inline constexpr size_t kAlTransactionEncodedSize = 300;  // [0,296) + CRC32C at 296
void encode_al_transaction(uint64_t sequence, const std::array<uint8_t, 16>& device_uuid,
                           const std::vector<uint32_t>& extents, std::span<uint8_t> slot);
bool decode_al_transaction(std::span<const uint8_t> slot, const std::array<uint8_t, 16>& device_uuid,
                           uint64_t& sequence, std::vector<uint32_t>& extents);

}  // namespace vrrpd::replication
