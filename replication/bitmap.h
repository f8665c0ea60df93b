// OutOfSyncBitmap: one bit per 4 KiB block of the replicated data, set when
// the block may differ from the peer's copy (written while disconnected, a
// failed peer write, an activity-log extent after a primary crash) and
// cleared when resync or a mirrored write has made both copies equal.
//
// On disk (the bitmap area of the metadata, see README.md): bit n is bit
// (n % 8) of byte (n / 8), least significant bit first; written in 4 KiB
// pages, and only pages changed since the last flush are rewritten.
//
// Not thread-safe: owned by one replication I/O thread, or guarded by the
// owner's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "replication/result.h"
#include "replication/storage.h"

namespace vrrpd::replication {

class OutOfSyncBitmap {
 public:
  static constexpr uint64_t kBlockBytes = 4096;             // data bytes per bit
  static constexpr uint64_t kPageBytes = 4096;              // on-disk page
  static constexpr uint64_t kBitsPerPage = kPageBytes * 8;  // 128 MiB of data per page

  // A run of consecutive out-of-sync blocks.
  struct Run {
    uint64_t first_block = 0;
    uint64_t block_count = 0;
    bool operator==(const Run&) const = default;
  };

  // All clear, for `data_size` bytes of data (a partial last block gets a bit).
  explicit OutOfSyncBitmap(uint64_t data_size);

  uint64_t data_size() const { return data_size_; }
  uint64_t block_count() const { return blocks_; }

  // Marks [offset, offset+length) bytes out of sync, rounding OUTWARD to whole
  // blocks: a block touched by even one byte may now differ from the peer.
  // Returns the number of bits that were newly set. Clamped to data_size().
  uint64_t set_range(uint64_t offset, uint64_t length);
  // Marks [offset, offset+length) in sync, rounding INWARD: only blocks the
  // range covers completely are known equal; a partly covered block may still
  // differ in its other bytes, so it stays set. A range ending at data_size()
  // covers a partial last block. Returns the number of bits cleared.
  uint64_t clear_range(uint64_t offset, uint64_t length);
  // Every block out of sync (full sync), or none.
  void set_all();
  void clear_all();
  // Word-wise set operations with a bitmap of the same size (else nothing
  // changes and 0 is returned). merge(): every block set in `other` is set
  // here too; returns how many bits were newly set. keep_only(): a block
  // stays set only if it is set in `other` as well; returns how many bits
  // were cleared. Changed pages are marked dirty.
  uint64_t merge(const OutOfSyncBitmap& other);
  uint64_t keep_only(const OutOfSyncBitmap& other);

  bool test(uint64_t block) const;
  // Out-of-sync blocks (DRBD's "oos" count, in 4 KiB units).
  uint64_t count() const { return set_bits_; }
  // Out-of-sync bytes, i.e. the resync volume (the partial last block counts
  // only its real bytes).
  uint64_t out_of_sync_bytes() const;
  uint64_t out_of_sync_kib() const { return (out_of_sync_bytes() + 1023) / 1024; }

  // First run of set bits starting at or after `from_block`, at most
  // `max_blocks` long (resync requests are bounded); nullopt if none.
  std::optional<Run> find_next_dirty_run(uint64_t from_block, uint64_t max_blocks = UINT64_MAX) const;

  // Persistence. `area_offset` is the bitmap area on the metadata storage; its
  // length must be at least page_count() pages.
  uint64_t page_count() const { return (blocks_ + kBitsPerPage - 1) / kBitsPerPage; }
  uint64_t dirty_page_count() const;
  // Marks every page as changed (e.g. after a full-sync decision, or to write
  // a freshly created bitmap in full).
  void mark_all_pages_dirty();
  // Writes each page changed since the last successful flush durably (runs
  // of dirty pages as one BlockStorage::write_durable each). Pages whose
  // write failed stay dirty, so a retry rewrites them.
  IoStatus flush_dirty_pages(BlockStorage& storage, uint64_t area_offset);
  // Reads page_count() pages. Bits beyond the last block are ignored.
  static Result<OutOfSyncBitmap> load(BlockStorage& storage, uint64_t area_offset, uint64_t data_size);

 private:
  static constexpr uint64_t kWordsPerPage = kPageBytes / 8;
  // Sets/clears blocks [first, end); returns how many bits changed.
  uint64_t change_blocks(uint64_t first, uint64_t end, bool value);
  void mark_dirty_blocks(uint64_t first, uint64_t end);
  void encode_page(uint64_t page, std::vector<uint8_t>& out) const;
  void recount();

  uint64_t data_size_;
  uint64_t blocks_;
  uint64_t set_bits_ = 0;
  std::vector<uint64_t> words_;  // bit n = words_[n / 64] bit (n % 64)
  std::vector<bool> dirty_pages_;
};

}  // namespace vrrpd::replication
