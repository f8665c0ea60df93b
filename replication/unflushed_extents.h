// UnflushedExtents: which 4 MiB activity-log extents of the data device hold
// writes that no completed flush has covered yet. Such a write sits in the
// page cache: a power loss can undo it, and a failed flush leaves unknown
// whether it reached the disk (Linux may even mark its pages clean, so a
// later flush succeeds without it).
//
// The engine numbers its local data writes 1, 2, 3, ... (Resource's
// data_writes_); a flush started after write n covers every write up to n.
// Two rules use this record:
//  * a Primary's activity log may forget an extent only when none of its
//    writes is unflushed (after a power loss only the log's extents are
//    compared with the peer);
//  * after a failed flush, every unflushed extent is marked out of sync, so
//    a resync settles what the disk may have lost instead of trusting it.
//
// Memory: one entry per extent written since the last completed flush.
// Not thread-safe: owned by the replication I/O thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "replication/metadata.h"

namespace vrrpd::replication {

class UnflushedExtents {
 public:
  // Write number `write` touched [offset, offset + length) of the data.
  void wrote(uint64_t offset, uint64_t length, uint64_t write) {
    if (length == 0) return;
    const uint64_t first = offset / kAlExtentSize, last = (offset + length - 1) / kAlExtentSize;
    for (uint64_t e = first; e <= last; ++e) {
      uint64_t& newest = last_write_[static_cast<uint32_t>(e)];
      newest = std::max(newest, write);
    }
  }
  // A flush covering every write numbered up to `covers` completed.
  void flushed(uint64_t covers) {
    std::erase_if(last_write_, [covers](const auto& entry) { return entry.second <= covers; });
  }
  // True if `extent` holds a write no completed flush covered.
  bool holds(uint32_t extent) const { return last_write_.contains(extent); }
  bool empty() const { return last_write_.empty(); }
  size_t size() const { return last_write_.size(); }
  // Every unflushed extent, in ascending order (the record is kept).
  std::vector<uint32_t> extents() const {
    std::vector<uint32_t> out;
    out.reserve(last_write_.size());
    for (const auto& [extent, write] : last_write_) out.push_back(extent);
    std::sort(out.begin(), out.end());
    return out;
  }
  // Every unflushed extent, in ascending order; the record is emptied (the
  // caller marks them out of sync after a failed flush).
  std::vector<uint32_t> take_all() {
    std::vector<uint32_t> out = extents();
    last_write_.clear();
    return out;
  }

 private:
  std::unordered_map<uint32_t, uint64_t> last_write_;  // extent -> newest write number in it
};

}  // namespace vrrpd::replication
