// Online grow of the metadata; see grow.h for the order of the writes.
#include "replication/grow.h"

#include <algorithm>
#include <cerrno>

#include "replication/activity_log.h"

namespace vrrpd::replication {

namespace {

constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v / a * a; }

CreateMetadataParams params_of(const Superblock& sb, uint64_t data_device_size) {
  CreateMetadataParams p;
  p.layout = sb.layout;
  p.external_data_size = data_device_size;
  p.node_id = sb.node_id;
  p.device_uuid = sb.device_uuid;
  p.al_slots = sb.al_slots;
  return p;
}

uint64_t metadata_end(const Superblock& sb) { return sb.superblock_offset + 2ull * kSuperblockSlotSize; }

}  // namespace

uint64_t old_metadata_begin(const Superblock& sb) {
  return std::min({sb.bitmap_offset, sb.al_offset, sb.superblock_offset});
}

namespace {

}  // namespace

uint64_t max_data_size(const Superblock& sb, uint64_t md_storage_size, uint64_t data_device_size) {
  uint64_t max = 0;
  if (sb.layout == MetadataLayout::kInternal) {
    Result<Superblock> p = plan_metadata(md_storage_size, params_of(sb, data_device_size));
    if (p.ok()) max = p->data_size;
  } else {
    const uint64_t room = md_storage_size > sb.bitmap_offset ? align_down(md_storage_size - sb.bitmap_offset, 4096) : 0;
    max = std::min(align_down(data_device_size, kBlockSize), room * 8 * kBlockSize);
  }
  return std::max(max, sb.data_size);
}

namespace {

// Internal metadata of `sb` moved to the end of a device of `device_size`
// bytes, for `data_size` bytes of data.
Result<Superblock> plan_internal_move(const Superblock& sb, uint64_t device_size, uint64_t data_size) {
  using R = Result<Superblock>;
  Result<Superblock> p = plan_metadata(device_size, params_of(sb, 0));
  if (!p.ok()) return R::failure(p.error());
  if (p->data_size < data_size)
    return R::failure("the backing device of " + std::to_string(device_size) + " bytes has room for " +
                      std::to_string(p->data_size) + " bytes of data besides its metadata, not " +
                      std::to_string(data_size));
  // The new metadata must not overlap the old, which stays the valid copy
  // until the new superblock is written. (Already at the end, after a move
  // while the resource was down: it stays; its bitmap area, sized for the
  // whole device, covers the larger data size.)
  if (p->superblock_offset != sb.superblock_offset && p->bitmap_offset < metadata_end(sb)) {
    const uint64_t md_len = metadata_end(p.value()) - p->bitmap_offset;
    return R::failure("the device grew by " + std::to_string(device_size - metadata_end(sb)) +
                      " bytes; moving the internal metadata (" + std::to_string(md_len) +
                      " bytes) needs the new copy to lie past the old one: grow the device by at least " +
                      std::to_string(md_len) + " bytes");
  }
  Superblock moved = sb;
  moved.bitmap_offset = p->bitmap_offset;
  moved.bitmap_length = p->bitmap_length;
  moved.al_offset = p->al_offset;
  moved.superblock_offset = p->superblock_offset;
  moved.data_size = data_size;
  return moved;
}

}  // namespace

Result<Superblock> plan_grown_metadata(const Superblock& sb, uint64_t md_storage_size, uint64_t data_device_size,
                                       uint64_t new_data_size) {
  using R = Result<Superblock>;
  if (new_data_size <= sb.data_size || new_data_size % kBlockSize != 0)
    return R::failure("the new size " + std::to_string(new_data_size) + " must be a multiple of 4096 above " +
                      std::to_string(sb.data_size) + " bytes (only growing is supported)");
  Superblock grown = sb;
  if (sb.layout == MetadataLayout::kInternal) {
    Result<Superblock> moved = plan_internal_move(sb, md_storage_size, new_data_size);
    if (!moved.ok()) return moved;
    grown = moved.value();
  } else {
    if (align_down(data_device_size, kBlockSize) < new_data_size)
      return R::failure("the data device of " + std::to_string(data_device_size) + " bytes is smaller than " +
                        std::to_string(new_data_size));
    const uint64_t bm_len = bitmap_bytes_for(new_data_size);
    if (md_storage_size < sb.bitmap_offset + bm_len)
      return R::failure("the external metadata storage of " + std::to_string(md_storage_size) +
                        " bytes is too small for the bitmap of " + std::to_string(new_data_size) +
                        " bytes of data: it needs " + std::to_string(sb.bitmap_offset + bm_len) +
                        " bytes (grow it too)");
    grown.bitmap_length = std::max(sb.bitmap_length, bm_len);
  }
  grown.data_size = new_data_size;
  return grown;
}

Result<Superblock> find_internal_metadata_below_end(BlockStorage& storage) {
  using R = Result<Superblock>;
  static constexpr char kMagic[8] = {'V', 'R', 'R', 'P', 'D', 'M', 'D', '1'};
  constexpr uint64_t kChunk = 1u << 20;
  std::vector<uint8_t> buf(kChunk);
  uint64_t end = align_down(storage.size(), kBlockSize);
  while (end > 0) {
    const uint64_t start = end > kChunk ? end - kChunk : 0;
    const std::span<uint8_t> chunk(buf.data(), end - start);
    if (IoStatus st = chunk.empty() ? IoStatus{} : storage.read(start, chunk); !st.ok())
      return R::failure("reading at offset " + std::to_string(start) + ": " + st.message());
    for (uint64_t off = end; off > start;) {  // start and end are multiples of 4096
      off -= kBlockSize;
      if (!std::equal(kMagic, kMagic + 8, chunk.begin() + static_cast<long>(off - start))) continue;
      // Slot 0 or slot 1 of a copy whose device ended right after slot 1.
      for (uint64_t device_end : {off + 2 * uint64_t{kSuperblockSlotSize}, off + uint64_t{kSuperblockSlotSize}}) {
        if (device_end > storage.size()) continue;
        StorageRegion old_device(storage, 0, device_end);
        Result<Superblock> sb = read_metadata(old_device, MetadataLayout::kInternal);
        if (sb.ok()) return sb;
      }
    }
    end = start;
  }
  return R::failure("no vrrpd metadata anywhere on the device");
}

Result<Superblock> move_internal_metadata_to_end(BlockStorage& storage, const Superblock& found) {
  using R = Result<Superblock>;
  Result<Superblock> plan = plan_internal_move(found, storage.size(), found.data_size);
  if (!plan.ok()) return plan;
  Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(storage, found.bitmap_offset, found.data_size);
  if (!bm.ok()) return R::failure("reading the bitmap: " + bm.error());
  Result<AlRecovery> al = recover_activity_log(storage, found);
  if (!al.ok()) return R::failure("reading the activity log: " + al.error());
  Superblock moved = plan.value();
  // The newest transaction again (its sequence, its extents) in the new
  // ring; an empty log stays empty there.
  GrowResult w = write_grown_metadata(storage, found, moved, bm.value(), al->extents, al->last_sequence);
  if (!w.committed) return R::failure("writing the metadata at the new end failed: " + w.status.message());
  return moved;
}

GrowResult write_grown_metadata(BlockStorage& md, const Superblock& old_sb, Superblock& new_sb,
                                OutOfSyncBitmap& bitmap, const std::vector<uint32_t>& al_extents,
                                uint64_t al_sequence) {
  GrowResult r;
  // A failed flush or durable write (the bitmap pages and superblocks are
  // written durably) may report the writeback errors of other writes to
  // the same file: the caller's data, with internal metadata.
  auto durable = [&r](IoStatus s) {
    if (!s.ok()) r.durable_write_failed = true;
    return s;
  };
  const bool moves = new_sb.superblock_offset != old_sb.superblock_offset;
  if (moves) {
    // 1. No stale superblock at the new place can win over ours.
    r.status = write_zeros(md, new_sb.superblock_offset, 2ull * kSuperblockSlotSize);
    if (r.status.ok()) r.status = durable(md.flush());
    if (!r.status.ok()) return r;
  }
  // 2. The grown bitmap in full, and (internal) the activity log's ring.
  bitmap.mark_all_pages_dirty();
  r.status = durable(bitmap.flush_dirty_pages(md, new_sb.bitmap_offset));
  if (!r.status.ok()) return r;
  if (moves) {
    r.status = write_zeros(md, new_sb.al_offset, new_sb.al_length());
    if (!r.status.ok()) return r;
    std::vector<uint8_t> slot(kAlTransactionSize, 0);
    encode_al_transaction(al_sequence, new_sb.device_uuid, al_extents, slot);
    r.status = md.write(new_sb.al_offset + (al_sequence % new_sb.al_slots) * kAlTransactionSize, slot);
    if (r.status.ok()) r.status = durable(md.flush());
    if (!r.status.ok()) return r;
  }
  // 3. The commit point: the first superblock write. The second fills the
  //    other slot, so that a torn later update falls back to the new
  //    geometry, never to the old one.
  new_sb.sequence = old_sb.sequence;
  r.status = durable(write_superblock(md, new_sb));
  if (!r.status.ok()) return r;
  r.committed = true;
  r.status = durable(write_superblock(md, new_sb));
  if (!r.status.ok()) return r;
  // 4. The old metadata is in the data area now, or in the unused space
  //    between the data and the new metadata (resize --size), which a later
  //    resize may add: zeroed, so that no superblock is left to be found and
  //    the space reads as zeros on every node (what resize --assume-clean
  //    claims). A discard: punched, not written, where the storage can.
  if (moves) {
    const uint64_t begin = old_metadata_begin(old_sb);
    r.status = md.discard(begin, metadata_end(old_sb) - begin);
    if (r.status.ok()) r.status = durable(md.flush());
  }
  return r;
}

OutOfSyncBitmap resized_bitmap(const OutOfSyncBitmap& bitmap, uint64_t new_data_size, bool mark_added) {
  OutOfSyncBitmap grown(new_data_size);
  uint64_t from = 0;
  while (auto run = bitmap.find_next_dirty_run(from)) {
    grown.set_range(run->first_block * kBlockSize, run->block_count * kBlockSize);  // clipped at the end
    from = run->first_block + run->block_count;
  }
  if (mark_added && new_data_size > bitmap.data_size())
    grown.set_range(bitmap.data_size(), new_data_size - bitmap.data_size());
  return grown;
}

}  // namespace vrrpd::replication
