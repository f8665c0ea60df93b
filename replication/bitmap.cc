// OutOfSyncBitmap; see bitmap.h.
#include "replication/bitmap.h"

#include <algorithm>
#include <bit>
#include <cassert>

#include "replication/byte_order.h"

namespace vrrpd::replication {

OutOfSyncBitmap::OutOfSyncBitmap(uint64_t data_size)
    : data_size_(data_size),
      blocks_((data_size + kBlockBytes - 1) / kBlockBytes),
      words_((blocks_ + 63) / 64, 0),
      dirty_pages_(page_count(), false) {}

uint64_t OutOfSyncBitmap::change_blocks(uint64_t first, uint64_t end, bool value) {
  end = std::min(end, blocks_);
  if (first >= end) return 0;
  uint64_t changed = 0;
  for (uint64_t b = first; b < end;) {
    const uint64_t word = b / 64;
    const uint64_t lo = b % 64;
    const uint64_t n = std::min<uint64_t>(64 - lo, end - b);
    const uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << lo;
    const uint64_t before = words_[word];
    words_[word] = value ? (before | mask) : (before & ~mask);
    changed += static_cast<uint64_t>(std::popcount(before ^ words_[word]));
    b += n;
  }
  if (changed) mark_dirty_blocks(first, end);
  set_bits_ = value ? set_bits_ + changed : set_bits_ - changed;
  return changed;
}

void OutOfSyncBitmap::mark_dirty_blocks(uint64_t first, uint64_t end) {
  for (uint64_t p = first / kBitsPerPage; p <= (end - 1) / kBitsPerPage; ++p) dirty_pages_[p] = true;
}

uint64_t OutOfSyncBitmap::set_range(uint64_t offset, uint64_t length) {
  if (length == 0 || offset >= data_size_) return 0;
  const uint64_t end = std::min(offset + length, data_size_);
  return change_blocks(offset / kBlockBytes, (end + kBlockBytes - 1) / kBlockBytes, true);
}

uint64_t OutOfSyncBitmap::clear_range(uint64_t offset, uint64_t length) {
  if (length == 0 || offset >= data_size_) return 0;
  const uint64_t end = std::min(offset + length, data_size_);
  const uint64_t first = (offset + kBlockBytes - 1) / kBlockBytes;
  // Reaching the end of the data covers the (possibly partial) last block.
  const uint64_t last_end = end == data_size_ ? blocks_ : end / kBlockBytes;
  return change_blocks(first, last_end, false);
}

void OutOfSyncBitmap::set_all() { change_blocks(0, blocks_, true); }
void OutOfSyncBitmap::clear_all() { change_blocks(0, blocks_, false); }

uint64_t OutOfSyncBitmap::merge(const OutOfSyncBitmap& other) {
  if (other.blocks_ != blocks_) return 0;
  uint64_t newly = 0;
  for (size_t i = 0; i < words_.size(); ++i) {
    const uint64_t after = words_[i] | other.words_[i];
    if (after == words_[i]) continue;
    newly += static_cast<uint64_t>(std::popcount(after ^ words_[i]));
    words_[i] = after;
    dirty_pages_[i / kWordsPerPage] = true;
  }
  set_bits_ += newly;
  return newly;
}

uint64_t OutOfSyncBitmap::keep_only(const OutOfSyncBitmap& other) {
  if (other.blocks_ != blocks_) return 0;
  uint64_t cleared = 0;
  for (size_t i = 0; i < words_.size(); ++i) {
    const uint64_t after = words_[i] & other.words_[i];
    if (after == words_[i]) continue;
    cleared += static_cast<uint64_t>(std::popcount(after ^ words_[i]));
    words_[i] = after;
    dirty_pages_[i / kWordsPerPage] = true;
  }
  set_bits_ -= cleared;
  return cleared;
}

bool OutOfSyncBitmap::test(uint64_t block) const {
  return block < blocks_ && (words_[block / 64] >> (block % 64)) & 1;
}

uint64_t OutOfSyncBitmap::out_of_sync_bytes() const {
  uint64_t bytes = set_bits_ * kBlockBytes;
  const uint64_t tail = data_size_ % kBlockBytes;
  if (tail != 0 && test(blocks_ - 1)) bytes -= kBlockBytes - tail;
  return bytes;
}

std::optional<OutOfSyncBitmap::Run> OutOfSyncBitmap::find_next_dirty_run(uint64_t from_block,
                                                                         uint64_t max_blocks) const {
  if (max_blocks == 0) return std::nullopt;
  uint64_t b = from_block;
  // Skip clear bits a word at a time.
  while (b < blocks_) {
    const uint64_t w = words_[b / 64] >> (b % 64);
    if (w == 0) {
      b = (b / 64 + 1) * 64;
      continue;
    }
    b += static_cast<uint64_t>(std::countr_zero(w));
    break;
  }
  if (b >= blocks_) return std::nullopt;
  Run run{b, 0};
  while (b < blocks_ && run.block_count < max_blocks && test(b)) {
    ++run.block_count;
    ++b;
  }
  return run;
}

uint64_t OutOfSyncBitmap::dirty_page_count() const {
  return static_cast<uint64_t>(std::count(dirty_pages_.begin(), dirty_pages_.end(), true));
}

void OutOfSyncBitmap::mark_all_pages_dirty() { std::fill(dirty_pages_.begin(), dirty_pages_.end(), true); }

void OutOfSyncBitmap::encode_page(uint64_t page, std::vector<uint8_t>& out) const {
  out.assign(kPageBytes, 0);
  const uint64_t first_word = page * kWordsPerPage;
  const uint64_t words = std::min<uint64_t>(kWordsPerPage, words_.size() - first_word);
  for (uint64_t i = 0; i < words; ++i) le::put64(out, i * 8, words_[first_word + i]);
}

IoStatus OutOfSyncBitmap::flush_dirty_pages(BlockStorage& storage, uint64_t area_offset) {
  // Each run of dirty pages is one durable write: only these bytes are
  // synced, not every dirty data page of a backing file in the page cache
  // (which a whole-file flush would write back first).
  std::vector<uint8_t> run, page;
  for (uint64_t p = 0; p < dirty_pages_.size();) {
    if (!dirty_pages_[p]) {
      ++p;
      continue;
    }
    const uint64_t first = p;
    run.clear();
    for (; p < dirty_pages_.size() && dirty_pages_[p]; ++p) {
      encode_page(p, page);
      run.insert(run.end(), page.begin(), page.end());
    }
    if (IoStatus st = storage.write_durable(area_offset + first * kPageBytes, run); !st.ok()) return st;
    // Only now are these pages durable. (Bits cannot change between the
    // encoding and here: the caller serialises access.)
    std::fill(dirty_pages_.begin() + static_cast<std::ptrdiff_t>(first),
              dirty_pages_.begin() + static_cast<std::ptrdiff_t>(p), false);
  }
  return {};
}

Result<OutOfSyncBitmap> OutOfSyncBitmap::load(BlockStorage& storage, uint64_t area_offset,
                                              uint64_t data_size) {
  OutOfSyncBitmap bm(data_size);
  std::vector<uint8_t> page(kPageBytes);
  for (uint64_t p = 0; p < bm.page_count(); ++p) {
    if (IoStatus st = storage.read(area_offset + p * kPageBytes, page); !st.ok()) {
      return Result<OutOfSyncBitmap>::failure("read bitmap page " + std::to_string(p) + ": " + st.message());
    }
    const uint64_t first_word = p * kWordsPerPage;
    const uint64_t words = std::min<uint64_t>(kWordsPerPage, bm.words_.size() - first_word);
    for (uint64_t i = 0; i < words; ++i) bm.words_[first_word + i] = le::get64(page, i * 8);
  }
  // Bits past the last block are not ours (garbage or a larger old layout).
  if (const uint64_t tail = bm.blocks_ % 64; tail != 0) bm.words_.back() &= (uint64_t{1} << tail) - 1;
  bm.recount();
  return bm;
}

void OutOfSyncBitmap::recount() {
  set_bits_ = 0;
  for (uint64_t w : words_) set_bits_ += static_cast<uint64_t>(std::popcount(w));
}

}  // namespace vrrpd::replication
