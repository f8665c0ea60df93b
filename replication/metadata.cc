// Metadata format v1: superblock encoding, the two-slot update protocol and
// the area geometry; see metadata.h and README.md ("Metadata format v1").
#include "replication/metadata.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "replication/byte_order.h"
#include "replication/crc32c.h"

namespace vrrpd::replication {

namespace {

constexpr char kMagic[8] = {'V', 'R', 'R', 'P', 'D', 'M', 'D', '1'};
constexpr size_t kCrcOffset = kSuperblockEncodedSize - 4;  // 252
constexpr uint32_t kMaxAlSlots = 1024;

// Field offsets inside a superblock slot (README.md lists the same table).
enum Off : size_t {
  kOffMagic = 0,
  kOffVersion = 8,
  kOffBlockSize = 12,
  kOffSequence = 16,
  kOffDataSize = 24,
  kOffNodeId = 32,
  kOffFlags = 36,
  kOffUuid = 40,
  kOffGenCurrent = 56,
  kOffGenBitmap = 64,
  kOffGenHistory0 = 72,
  kOffGenHistory1 = 80,
  kOffLayout = 88,
  kOffSbOffset = 96,
  kOffAlOffset = 104,
  kOffAlSlots = 112,
  kOffAlMaxExtents = 116,
  kOffBitmapOffset = 120,
  kOffBitmapLength = 128,
  kOffDisklessPrimaryGeneration = 136,
};

constexpr uint32_t kConsistent = 1, kWasPrimary = 2, kOutdated = 4, kPeerOutdated = 8,
                   kDisklessPrimaryNewGeneration = 16;  // flag bits

constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v / a * a; }

uint64_t superblock_offset_for(uint64_t storage_size, MetadataLayout layout) {
  // Internal: the last two 4 KiB blocks of the device, a place that can be
  // found from the device size alone (as DRBD's internal metadata).
  return layout == MetadataLayout::kInternal ? align_down(storage_size, kBlockSize) - 2 * kSuperblockSlotSize
                                             : 0;
}

// One decoded slot and what was wrong with it.
struct SlotRead {
  enum Kind { kValid, kNoMagic, kBadVersion, kBadCrc, kWrongSlot, kIoError } kind = kNoMagic;
  uint32_t version = 0;
  Superblock sb;
  std::string detail;
};

SlotRead decode_slot(std::span<const uint8_t> b, int slot_index) {
  SlotRead r;
  if (std::memcmp(b.data(), kMagic, sizeof(kMagic)) != 0) return r;
  r.version = le::get32(b, kOffVersion);
  if (r.version != kMetadataFormatVersion) {
    r.kind = SlotRead::kBadVersion;
    return r;
  }
  if (crc32c(b.first(kCrcOffset)) != le::get32(b, kCrcOffset)) {
    r.kind = SlotRead::kBadCrc;
    return r;
  }
  Superblock& sb = r.sb;
  sb.block_size = le::get32(b, kOffBlockSize);
  sb.sequence = le::get64(b, kOffSequence);
  sb.data_size = le::get64(b, kOffDataSize);
  sb.node_id = le::get32(b, kOffNodeId);
  const uint32_t flags = le::get32(b, kOffFlags);
  sb.flags.consistent = flags & kConsistent;
  sb.flags.was_primary = flags & kWasPrimary;
  sb.flags.outdated = flags & kOutdated;
  sb.flags.peer_outdated = flags & kPeerOutdated;
  sb.flags.diskless_primary_new_generation = flags & kDisklessPrimaryNewGeneration;
  std::copy_n(b.begin() + kOffUuid, 16, sb.device_uuid.begin());
  sb.generations.current = le::get64(b, kOffGenCurrent);
  sb.generations.bitmap = le::get64(b, kOffGenBitmap);
  sb.generations.history[0] = le::get64(b, kOffGenHistory0);
  sb.generations.history[1] = le::get64(b, kOffGenHistory1);
  sb.layout = static_cast<MetadataLayout>(b[kOffLayout]);
  sb.superblock_offset = le::get64(b, kOffSbOffset);
  sb.al_offset = le::get64(b, kOffAlOffset);
  sb.al_slots = le::get32(b, kOffAlSlots);
  sb.al_max_extents = le::get32(b, kOffAlMaxExtents);
  sb.bitmap_offset = le::get64(b, kOffBitmapOffset);
  sb.bitmap_length = le::get64(b, kOffBitmapLength);
  // Zero in a slot written by a build before this field (it was reserved).
  sb.diskless_primary_generation = le::get64(b, kOffDisklessPrimaryGeneration);
  // The slot index is part of the update protocol (next write goes to the
  // other slot); a copy in the wrong slot would make us overwrite the newest.
  if (sb.sequence % 2 != static_cast<uint64_t>(slot_index)) {
    r.kind = SlotRead::kWrongSlot;
    return r;
  }
  r.kind = SlotRead::kValid;
  return r;
}

const char* describe(const SlotRead& r) {
  switch (r.kind) {
    case SlotRead::kValid:
      return "valid";
    case SlotRead::kNoMagic:
      return "bad magic";
    case SlotRead::kBadVersion:
      return "unsupported format version";
    case SlotRead::kBadCrc:
      return "checksum mismatch";
    case SlotRead::kWrongSlot:
      return "sequence number does not match the slot";
    case SlotRead::kIoError:
      return "read error";
  }
  return "?";
}

std::string range_text(uint64_t off, uint64_t len) {
  return "[" + std::to_string(off) + ", " + std::to_string(off + len) + ")";
}

// Field checks after the checksum passed: the geometry must make sense
// before anything is read or written through it.
std::string validate(const Superblock& sb, uint64_t storage_size, MetadataLayout layout) {
  if (sb.block_size != kBlockSize)
    return "block size " + std::to_string(sb.block_size) + " not supported; this build uses 4096";
  if (sb.layout != layout)
    return std::string("metadata layout is ") +
           (sb.layout == MetadataLayout::kInternal ? "internal" : "external") + ", expected the other";
  if (sb.data_size == 0 || sb.data_size % kBlockSize != 0)
    return "data size " + std::to_string(sb.data_size) + " is not a positive multiple of 4096";
  if (sb.al_slots < 2 || sb.al_slots > kMaxAlSlots)
    return "activity-log slots " + std::to_string(sb.al_slots) + " outside 2..1024";
  if (sb.al_max_extents < kMinAlExtents || sb.al_max_extents > kMaxAlExtents)
    return "activity-log extents " + std::to_string(sb.al_max_extents) + " outside " +
           std::to_string(kMinAlExtents) + ".." + std::to_string(kMaxAlExtents);
  if (sb.bitmap_length < bitmap_bytes_for(sb.data_size))
    return "bitmap area of " + std::to_string(sb.bitmap_length) + " bytes is too small for " +
           std::to_string(sb.data_size) + " bytes of data";
  struct Area {
    const char* name;
    uint64_t off, len;
  };
  const Area areas[] = {{"superblock", sb.superblock_offset, 2ull * kSuperblockSlotSize},
                        {"activity log", sb.al_offset, sb.al_length()},
                        {"bitmap", sb.bitmap_offset, sb.bitmap_length},
                        {"data", 0, layout == MetadataLayout::kInternal ? sb.data_size : 0}};
  for (const Area& a : areas) {
    if (!range_fits(a.off, a.len, storage_size))
      return std::string(a.name) + " area " + range_text(a.off, a.len) + " exceeds the storage size " +
             std::to_string(storage_size);
  }
  for (const Area& a : areas) {
    for (const Area& o : areas) {
      if (&a < &o && a.len && o.len && a.off < o.off + o.len && o.off < a.off + a.len)
        return std::string(a.name) + " and " + o.name + " areas overlap";
    }
  }
  return "";
}

}  // namespace

uint64_t bitmap_bytes_for(uint64_t data_size) {
  const uint64_t bits = (data_size + kBlockSize - 1) / kBlockSize;
  const uint64_t bytes = (bits + 7) / 8;
  return (bytes + 4095) / 4096 * 4096;
}

Result<Superblock> plan_metadata(uint64_t storage_size, const CreateMetadataParams& p) {
  using R = Result<Superblock>;
  if (p.al_slots < 2 || p.al_slots > kMaxAlSlots) {
    return R::failure("al_slots " + std::to_string(p.al_slots) +
                      " outside 2..1024 (a torn write must leave an older transaction)");
  }
  Superblock sb;
  sb.node_id = p.node_id;
  sb.device_uuid = p.device_uuid;
  sb.layout = p.layout;
  sb.al_slots = p.al_slots;
  const uint64_t al_len = sb.al_length();
  if (p.layout == MetadataLayout::kInternal) {
    // Layout: data | bitmap | activity log | superblock slot 0 | slot 1.
    // The bitmap is sized for the whole device, slightly more than the data
    // needs, which avoids solving "data = device - metadata(data)".
    const uint64_t device = align_down(storage_size, kBlockSize);
    const uint64_t bm_len = bitmap_bytes_for(device);
    const uint64_t md_len = 2ull * kSuperblockSlotSize + al_len + bm_len;
    if (device < md_len + kBlockSize) {
      return R::failure("device too small for internal metadata: " + std::to_string(storage_size) +
                        " bytes; metadata alone needs " + std::to_string(md_len));
    }
    sb.data_size = device - md_len;
    sb.bitmap_offset = sb.data_size;
    sb.bitmap_length = bm_len;
    sb.al_offset = sb.bitmap_offset + bm_len;
    sb.superblock_offset = sb.al_offset + al_len;
  } else {
    // Layout of the metadata file: superblock slot 0 | slot 1 | activity log | bitmap.
    sb.data_size = align_down(p.external_data_size, kBlockSize);
    if (sb.data_size == 0)
      return R::failure("external_data_size " + std::to_string(p.external_data_size) +
                        " is smaller than one 4096-byte block");
    sb.superblock_offset = 0;
    sb.al_offset = 2ull * kSuperblockSlotSize;
    sb.bitmap_offset = sb.al_offset + al_len;
    sb.bitmap_length = bitmap_bytes_for(sb.data_size);
    const uint64_t need = sb.bitmap_offset + sb.bitmap_length;
    if (storage_size < need) {
      return R::failure("external metadata storage too small: " + std::to_string(storage_size) + " bytes; " +
                        std::to_string(sb.data_size) + " bytes of data need " + std::to_string(need));
    }
  }
  return sb;
}

Result<Superblock> create_metadata(BlockStorage& storage, const CreateMetadataParams& params) {
  using R = Result<Superblock>;
  auto plan = plan_metadata(storage.size(), params);
  if (!plan) return plan;
  Superblock sb = plan.value();
  auto io_fail = [](const char* step, IoStatus st) {
    return R::failure(std::string("create metadata: ") + step + ": " + st.message());
  };
  // 1. Invalidate old superblocks first, so a crash part-way never pairs an
  //    old superblock with the zeroed bitmap below.
  if (IoStatus st = write_zeros(storage, sb.superblock_offset, 2ull * kSuperblockSlotSize); !st.ok())
    return io_fail("clear superblocks", st);
  if (IoStatus st = storage.flush(); !st.ok()) return io_fail("flush", st);
  // 2. Empty activity log (no valid transaction) and clean bitmap.
  if (IoStatus st = write_zeros(storage, sb.al_offset, sb.al_length()); !st.ok())
    return io_fail("clear activity log", st);
  if (IoStatus st = write_zeros(storage, sb.bitmap_offset, sb.bitmap_length); !st.ok())
    return io_fail("clear bitmap", st);
  if (IoStatus st = storage.flush(); !st.ok()) return io_fail("flush", st);
  // 3. Both slots (sequence 1 in slot 1, then 2 in slot 0), so that each
  //    slot holds a valid copy from the start.
  sb.sequence = 0;
  for (int i = 0; i < 2; ++i) {
    if (IoStatus st = write_superblock(storage, sb); !st.ok()) return io_fail("write superblock", st);
  }
  return sb;
}

void encode_superblock(const Superblock& sb, std::span<uint8_t> b) {
  std::fill(b.begin(), b.end(), 0);
  std::memcpy(b.data() + kOffMagic, kMagic, sizeof(kMagic));
  le::put32(b, kOffVersion, kMetadataFormatVersion);
  le::put32(b, kOffBlockSize, sb.block_size);
  le::put64(b, kOffSequence, sb.sequence);
  le::put64(b, kOffDataSize, sb.data_size);
  le::put32(b, kOffNodeId, sb.node_id);
  const uint32_t flags = (sb.flags.consistent ? kConsistent : 0) | (sb.flags.was_primary ? kWasPrimary : 0) |
                         (sb.flags.outdated ? kOutdated : 0) | (sb.flags.peer_outdated ? kPeerOutdated : 0) |
                         (sb.flags.diskless_primary_new_generation ? kDisklessPrimaryNewGeneration : 0);
  le::put32(b, kOffFlags, flags);
  std::copy(sb.device_uuid.begin(), sb.device_uuid.end(), b.begin() + kOffUuid);
  le::put64(b, kOffGenCurrent, sb.generations.current);
  le::put64(b, kOffGenBitmap, sb.generations.bitmap);
  le::put64(b, kOffGenHistory0, sb.generations.history[0]);
  le::put64(b, kOffGenHistory1, sb.generations.history[1]);
  b[kOffLayout] = static_cast<uint8_t>(sb.layout);
  le::put64(b, kOffSbOffset, sb.superblock_offset);
  le::put64(b, kOffAlOffset, sb.al_offset);
  le::put32(b, kOffAlSlots, sb.al_slots);
  le::put32(b, kOffAlMaxExtents, sb.al_max_extents);
  le::put64(b, kOffBitmapOffset, sb.bitmap_offset);
  le::put64(b, kOffBitmapLength, sb.bitmap_length);
  le::put64(b, kOffDisklessPrimaryGeneration, sb.diskless_primary_generation);
  le::put32(b, kCrcOffset, crc32c(std::span<const uint8_t>(b).first(kCrcOffset)));
}

IoStatus write_superblock(BlockStorage& storage, Superblock& sb) {
  const uint64_t next = sb.sequence + 1;
  Superblock copy = sb;
  copy.sequence = next;
  std::vector<uint8_t> slot(kSuperblockSlotSize);
  encode_superblock(copy, slot);
  const uint64_t off = sb.superblock_offset + (next % 2) * kSuperblockSlotSize;
  if (IoStatus st = storage.write(off, slot); !st.ok()) return st;
  // Durable before anyone acts on the new state (e.g. writes data as primary).
  if (IoStatus st = storage.flush(); !st.ok()) return st;
  sb.sequence = next;
  return {};
}

Result<Superblock> read_metadata(BlockStorage& storage, MetadataLayout layout) {
  using R = Result<Superblock>;
  const uint64_t size = storage.size();
  if (size < 2ull * kSuperblockSlotSize) {
    return R::failure("no vrrpd metadata: storage of " + std::to_string(size) +
                      " bytes is smaller than the two superblock slots");
  }
  const uint64_t sb_off = superblock_offset_for(size, layout);
  SlotRead slots[2];
  std::vector<uint8_t> buf(kSuperblockSlotSize);
  for (int i = 0; i < 2; ++i) {
    if (IoStatus st = storage.read(sb_off + uint64_t(i) * kSuperblockSlotSize, buf); !st.ok()) {
      slots[i].kind = SlotRead::kIoError;
      slots[i].detail = st.message();
      continue;
    }
    slots[i] = decode_slot(buf, i);
  }
  for (const SlotRead& s : slots) {
    // A newer build wrote here; reading its older slot would roll its changes back.
    if (s.kind == SlotRead::kBadVersion) {
      return R::failure("format version " + std::to_string(s.version) + " not supported; this build reads 1");
    }
  }
  const SlotRead* best = nullptr;
  for (const SlotRead& s : slots) {
    if (s.kind == SlotRead::kValid && (!best || s.sb.sequence > best->sb.sequence)) best = &s;
  }
  if (!best) {
    if (slots[0].kind == SlotRead::kNoMagic && slots[1].kind == SlotRead::kNoMagic)
      return R::failure("no vrrpd metadata: bad magic");
    if (slots[0].kind == SlotRead::kBadCrc && slots[1].kind == SlotRead::kBadCrc)
      return R::failure("checksum mismatch in both superblock slots");
    return R::failure(std::string("no valid superblock: slot 0: ") + describe(slots[0]) + " " +
                      slots[0].detail + "; slot 1: " + describe(slots[1]) + " " + slots[1].detail);
  }
  const Superblock& sb = best->sb;
  if (sb.superblock_offset != sb_off) {
    return R::failure("superblock records offset " + std::to_string(sb.superblock_offset) +
                      " but was found at " + std::to_string(sb_off) + " (device resized?)");
  }
  if (std::string err = validate(sb, size, layout); !err.empty())
    return R::failure("invalid superblock: " + err);
  return sb;
}

std::array<uint8_t, 16> random_device_uuid() {
  std::array<uint8_t, 16> u{};
  size_t done = 0;
  while (done < u.size()) {
    const ssize_t n = ::getrandom(u.data() + done, u.size() - done, 0);
    if (n > 0)
      done += static_cast<size_t>(n);
    else if (errno != EINTR)
      break;  // cannot happen for 16 bytes after boot
  }
  return u;
}

}  // namespace vrrpd::replication
