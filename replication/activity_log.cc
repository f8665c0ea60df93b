// ActivityLog and its crash recovery; see activity_log.h.
#include "replication/activity_log.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "replication/byte_order.h"
#include "replication/crc32c.h"

namespace vrrpd::replication {

namespace {

constexpr char kAlMagic[8] = {'V', 'R', 'R', 'P', 'D', 'A', 'L', '1'};
// Field offsets in a transaction slot (README.md lists the same table).
constexpr size_t kOffSequence = 8, kOffUuid = 16, kOffCount = 32, kOffExtents = 40;
constexpr size_t kCrcOffset = kOffExtents + 4 * kMaxAlExtents;  // 296
static_assert(kCrcOffset + 4 == kAlTransactionEncodedSize);

}  // namespace

void encode_al_transaction(uint64_t sequence, const std::array<uint8_t, 16>& device_uuid,
                           const std::vector<uint32_t>& extents, std::span<uint8_t> b) {
  assert(extents.size() <= kMaxAlExtents && b.size() >= kAlTransactionEncodedSize);
  std::fill(b.begin(), b.end(), 0);
  std::memcpy(b.data(), kAlMagic, sizeof(kAlMagic));
  le::put64(b, kOffSequence, sequence);
  std::copy(device_uuid.begin(), device_uuid.end(), b.begin() + kOffUuid);
  le::put32(b, kOffCount, static_cast<uint32_t>(extents.size()));
  for (size_t i = 0; i < extents.size(); ++i) le::put32(b, kOffExtents + 4 * i, extents[i]);
  le::put32(b, kCrcOffset, crc32c(std::span<const uint8_t>(b).first(kCrcOffset)));
}

bool decode_al_transaction(std::span<const uint8_t> b, const std::array<uint8_t, 16>& device_uuid,
                           uint64_t& sequence, std::vector<uint32_t>& extents) {
  if (b.size() < kAlTransactionEncodedSize || std::memcmp(b.data(), kAlMagic, sizeof(kAlMagic)) != 0)
    return false;
  if (crc32c(b.first(kCrcOffset)) != le::get32(b, kCrcOffset)) return false;
  // A transaction left over from metadata created earlier on the same disk.
  if (!std::equal(device_uuid.begin(), device_uuid.end(), b.begin() + kOffUuid)) return false;
  const uint32_t n = le::get32(b, kOffCount);
  if (n > kMaxAlExtents) return false;
  sequence = le::get64(b, kOffSequence);
  extents.clear();
  for (uint32_t i = 0; i < n; ++i) extents.push_back(le::get32(b, kOffExtents + 4 * i));
  return true;
}

ActivityLog::ActivityLog(BlockStorage& md, const Superblock& sb, uint64_t last_sequence)
    : md_(md),
      al_offset_(sb.al_offset),
      slots_(sb.al_slots),
      max_extents_(std::min(sb.al_max_extents, kMaxAlExtents)),
      device_uuid_(sb.device_uuid),
      sequence_(last_sequence) {
  assert(slots_ >= 2 && max_extents_ >= 1);
}

bool ActivityLog::is_active(uint32_t extent) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.extent == extent; });
}

std::vector<uint32_t> ActivityLog::active_extents() const {
  std::vector<uint32_t> out;
  for (const Entry& e : entries_) out.push_back(e.extent);
  return out;
}

uint32_t ActivityLog::pinned_extents() const {
  return static_cast<uint32_t>(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.pins > 0; }));
}

IoStatus ActivityLog::activate(uint32_t extent) { return activate(extent, {}, {}); }

IoStatus ActivityLog::activate(uint32_t extent, std::span<const uint32_t> ahead,
                               const std::function<bool(uint32_t victim)>& may_evict) {
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.extent == extent; });
  if (it != entries_.end()) {
    // Already on disk: just pin it and make it most recently used. No I/O.
    Entry e = *it;
    ++e.pins;
    entries_.erase(it);
    entries_.insert(entries_.begin(), e);
    return {};
  }
  std::vector<Entry> next = entries_;
  if (next.size() >= max_extents_) {
    const std::optional<uint32_t> victim = eviction_victim();
    if (!victim) return IoStatus::error(EBUSY);
    std::erase_if(next, [&](const Entry& e) { return e.extent == *victim; });
  }
  next.insert(next.begin(), Entry{extent, 1});
  // Behind the new extent in recency, ahead of everything older.
  size_t at = 1;
  for (const uint32_t a : ahead) {
    const auto has = [&](const Entry& e) { return e.extent == a; };
    if (std::any_of(next.begin(), next.end(), has)) continue;
    if (next.size() >= max_extents_) {
      // The least recently used unpinned extent older than those added.
      auto victim = std::find_if(next.rbegin(), next.rend() - static_cast<std::ptrdiff_t>(at),
                                 [](const Entry& e) { return e.pins == 0; });
      if (victim == next.rend() - static_cast<std::ptrdiff_t>(at) || !may_evict || !may_evict(victim->extent)) break;
      next.erase(std::next(victim).base());
    }
    next.insert(next.begin() + static_cast<std::ptrdiff_t>(at++), Entry{a, 0});
  }
  if (IoStatus st = write_transaction(next); !st.ok()) return st;
  entries_ = std::move(next);
  return {};
}

std::optional<uint32_t> ActivityLog::eviction_victim() const {
  // The least recently used extent without writes in flight: a pinned
  // extent must stay logged, or a crash now would not resync it.
  auto victim = std::find_if(entries_.rbegin(), entries_.rend(), [](const Entry& e) { return e.pins == 0; });
  if (victim == entries_.rend()) return std::nullopt;
  return victim->extent;
}

void ActivityLog::release(uint32_t extent) {
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.extent == extent; });
  assert(it != entries_.end() && it->pins > 0);
  if (it != entries_.end() && it->pins > 0) --it->pins;
}

IoStatus ActivityLog::write_transaction(const std::vector<Entry>& set) {
  const uint64_t seq = sequence_ + 1;
  std::vector<uint32_t> extents;
  for (const Entry& e : set) extents.push_back(e.extent);
  std::vector<uint8_t> slot(kAlTransactionSize);
  encode_al_transaction(seq, device_uuid_, extents, slot);
  // Consecutive transactions go to consecutive slots, so the newest never
  // overwrites the one before it.
  const uint64_t off = al_offset_ + (seq % slots_) * kAlTransactionSize;
  // Durable before any write to the new extent is made, here or on the
  // peer. Only this slot: a flush of the whole device would first write back
  // every dirty data page (the data file sits in the page cache), which is
  // the caller's flush to pay, not the log's.
  if (IoStatus st = md_.write_durable(off, slot); !st.ok()) return st;
  // Sequence advances only once durable; a retry rewrites the same slot.
  sequence_ = seq;
  ++transactions_written_;
  return {};
}

Result<AlRecovery> recover_activity_log(BlockStorage& md, const Superblock& sb) {
  AlRecovery best;
  std::vector<uint8_t> slot(kAlTransactionSize);
  std::vector<uint32_t> extents;
  for (uint32_t i = 0; i < sb.al_slots; ++i) {
    if (IoStatus st = md.read(sb.al_offset + uint64_t{i} * kAlTransactionSize, slot); !st.ok()) {
      return Result<AlRecovery>::failure("read activity-log slot " + std::to_string(i) + ": " + st.message());
    }
    uint64_t seq = 0;
    if (decode_al_transaction(slot, sb.device_uuid, seq, extents) && seq > best.last_sequence) {
      best.last_sequence = seq;
      best.extents = extents;
    }
  }
  return best;
}

uint64_t mark_extents_out_of_sync(const std::vector<uint32_t>& extents, OutOfSyncBitmap& bitmap) {
  uint64_t newly = 0;
  for (uint32_t e : extents) newly += bitmap.set_range(uint64_t{e} * kAlExtentSize, kAlExtentSize);
  return newly;
}

Result<AlRecovery> recover_after_attach(BlockStorage& md, const Superblock& sb, OutOfSyncBitmap& bitmap) {
  auto rec = recover_activity_log(md, sb);
  if (!rec || !sb.flags.was_primary) return rec;
  mark_extents_out_of_sync(rec->extents, bitmap);
  if (IoStatus st = bitmap.flush_dirty_pages(md, sb.bitmap_offset); !st.ok()) {
    return Result<AlRecovery>::failure("write bitmap after activity-log recovery: " + st.message());
  }
  return rec;
}

}  // namespace vrrpd::replication
