// FakeStorage: an in-memory BlockStorage for tests, with the durability model
// of a real disk made explicit. Writes are visible to reads at once but are
// durable only after flush(); crash() throws away what was not flushed, or,
// with a torn crash, keeps some pending writes and only a prefix of the next
// one. Read, write and flush errors can be injected on byte ranges. Counts
// and records every write so tests can prove what was (not) written.
// A failed flush can also lose the writes it covered, as Linux does when
// writeback fails (the pages are marked clean: a later flush succeeds
// without them, and a power loss brings back the old bytes unless they
// were written again and flushed).
#pragma once

#include <cerrno>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "replication/storage.h"

namespace vrrpd::replication::testing {

class FakeStorage final : public BlockStorage {
 public:
  struct WriteRecord {
    uint64_t offset;
    uint64_t length;
  };
  // How much of the unflushed writes survives crash(): the first
  // `complete_writes` pending writes fully, then `torn_bytes` bytes of the
  // next one (a torn write), and nothing after that.
  struct CrashOptions {
    size_t complete_writes = 0;
    size_t torn_bytes = 0;
  };

  explicit FakeStorage(uint64_t size) : current_(size, 0) {}

  uint64_t size() const override { return current_.size(); }

  IoStatus read(uint64_t offset, std::span<uint8_t> out) override {
    if (!range_fits(offset, out.size(), size())) return IoStatus::error(EINVAL);
    if (int err = injected(read_errors_, offset, out.size())) return IoStatus::error(err);
    std::memcpy(out.data(), current_.data() + offset, out.size());
    return {};
  }

  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override {
    if (!range_fits(offset, data.size(), size())) return IoStatus::error(EINVAL);
    if (int err = injected(write_errors_, offset, data.size())) return IoStatus::error(err);
    pending_.push_back(Pending{offset, std::vector<uint8_t>(current_.begin() + offset,
                                                            current_.begin() + offset + data.size())});
    std::memcpy(current_.data() + offset, data.data(), data.size());
    writes_.push_back(WriteRecord{offset, data.size()});
    return {};
  }

  // Zeros, like a write of zeros (durable after flush(), undone by crash()),
  // recorded in discards() instead of writes(); write faults apply.
  IoStatus discard(uint64_t offset, uint64_t length) override {
    if (!range_fits(offset, length, size())) return IoStatus::error(EINVAL);
    if (int err = injected(write_errors_, offset, length)) return IoStatus::error(err);
    pending_.push_back(Pending{offset, std::vector<uint8_t>(current_.begin() + offset,
                                                            current_.begin() + offset + length)});
    std::fill_n(current_.begin() + offset, length, 0);
    discards_.push_back(WriteRecord{offset, length});
    return {};
  }

  IoStatus flush() override {
    ++flush_calls_;
    if (flush_error_ != 0) return failed_flush();
    for (const Pending& p : pending_) mark_durable(p.offset, p.old_data.size());
    pending_.clear();  // everything written so far is now durable
    return {};
  }

  // Only these bytes become durable: earlier unflushed writes elsewhere
  // stay at risk (the undo log keeps their parts outside this range). A
  // failing flush (fail_flush) fails it too, leaving the write pending.
  IoStatus write_durable(uint64_t offset, std::span<const uint8_t> data) override {
    if (IoStatus st = write(offset, data); !st.ok()) return st;
    ++flush_calls_;
    ++durable_writes_;
    if (flush_error_ != 0) return failed_flush();
    mark_durable(offset, data.size());
    const uint64_t end = offset + data.size();
    std::vector<Pending> kept;
    for (Pending& p : pending_) {
      const uint64_t p_end = p.offset + p.old_data.size();
      if (p_end <= offset || end <= p.offset) {
        kept.push_back(std::move(p));
        continue;
      }
      // Undoing the part inside the range would bring back bytes that are
      // now durable: keep only the parts before and after it.
      if (p.offset < offset) {
        kept.push_back(Pending{p.offset, std::vector<uint8_t>(p.old_data.begin(),
                                                              p.old_data.begin() + (offset - p.offset))});
      }
      if (end < p_end) {
        kept.push_back(Pending{end, std::vector<uint8_t>(p.old_data.begin() + (end - p.offset), p.old_data.end())});
      }
    }
    pending_ = std::move(kept);
    return {};
  }

  // The page cache forgets its clean pages: bytes a failed flush lost read
  // back as what the disk holds, unless a write since (still pending: a
  // dirty page) covers them.
  void drop_cache() override {
    ++drop_cache_calls_;
    if (lost_bytes_ == 0) return;
    std::vector<bool> dirty(current_.size(), false);
    for (const Pending& p : pending_) std::fill_n(dirty.begin() + p.offset, p.old_data.size(), true);
    for (uint64_t i = 0; lost_bytes_ > 0 && i < lost_.size(); ++i) {
      if (!lost_[i] || dirty[i]) continue;
      current_[i] = lost_old_[i];
      lost_[i] = false;
      --lost_bytes_;
    }
  }
  int drop_cache_calls() const { return drop_cache_calls_; }

  // Power loss: the contents become what was durable plus what `opts` lets
  // survive of the pending writes, in submission order.
  void crash() { crash(CrashOptions{}); }
  void crash(CrashOptions opts) {
    // Undo the lost writes newest first, so each restores what it overwrote.
    for (size_t i = pending_.size(); i-- > 0;) {
      const Pending& p = pending_[i];
      size_t kept = 0;
      if (i < opts.complete_writes) kept = p.old_data.size();
      else if (i == opts.complete_writes) kept = std::min(opts.torn_bytes, p.old_data.size());
      mark_durable(p.offset, kept);  // what survives of a write is on the disk
      std::memcpy(current_.data() + p.offset + kept, p.old_data.data() + kept, p.old_data.size() - kept);
    }
    pending_.clear();
    // Then the bytes a failed flush lost: back to what the disk held.
    for (uint64_t i = 0; lost_bytes_ > 0 && i < lost_.size(); ++i) {
      if (!lost_[i]) continue;
      current_[i] = lost_old_[i];
      lost_[i] = false;
      --lost_bytes_;
    }
  }

  // Error injection: any access overlapping [offset, offset+length) fails with `err`.
  void fail_reads(uint64_t offset, uint64_t length, int err = EIO) { read_errors_.push_back({offset, length, err}); }
  void fail_writes(uint64_t offset, uint64_t length, int err = EIO) { write_errors_.push_back({offset, length, err}); }
  // The next flush (once) or every flush fails with `err`; nothing becomes
  // durable. With `loses_unflushed`, the writes it covered are lost (see
  // the top): crash() undoes them even after later successful flushes.
  void fail_flush(int err = EIO, bool once = true, bool loses_unflushed = false) {
    flush_error_ = err;
    flush_error_once_ = once;
    flush_error_loses_ = loses_unflushed;
  }
  // A flush failure is armed and has not struck yet.
  bool flush_fault_armed() const { return flush_error_ != 0; }
  // Bytes that a failed flush lost and no later flush made durable again.
  uint64_t lost_bytes() const { return lost_bytes_; }
  void clear_faults() {
    read_errors_.clear();
    write_errors_.clear();
    flush_error_ = 0;
  }

  // The disk grew underneath (an extended file, a grown volume): `fill` in
  // the new bytes, durable (what the disk held there before).
  void grow(uint64_t new_size, uint8_t fill = 0) { current_.resize(new_size, fill); }

  // Direct access to the current contents, for corrupting bytes in tests.
  std::vector<uint8_t>& bytes() { return current_; }
  const std::vector<WriteRecord>& writes() const { return writes_; }
  void clear_write_log() {
    writes_.clear();
    discards_.clear();
  }
  const std::vector<WriteRecord>& discards() const { return discards_; }
  size_t pending_writes() const { return pending_.size(); }
  size_t flush_calls() const { return flush_calls_; }  // write_durable() counts too
  size_t durable_writes() const { return durable_writes_; }

 private:
  // An unflushed write and the bytes it replaced (the undo log of crash()).
  struct Pending {
    uint64_t offset;
    std::vector<uint8_t> old_data;
  };
  struct Fault {
    uint64_t offset, length;
    int err;
  };
  IoStatus failed_flush() {
    const int err = flush_error_;
    if (flush_error_once_) flush_error_ = 0;
    if (flush_error_loses_) {
      // The earliest pending write of a byte replaced what the disk holds.
      lost_.resize(current_.size(), false);  // allocated at the first loss; the disk may have grown
      lost_old_.resize(current_.size(), 0);
      for (const Pending& p : pending_) {
        for (uint64_t i = 0; i < p.old_data.size(); ++i) {
          if (lost_[p.offset + i]) continue;
          lost_[p.offset + i] = true;
          lost_old_[p.offset + i] = p.old_data[i];
          ++lost_bytes_;
        }
      }
      pending_.clear();
    }
    return IoStatus::error(err);
  }
  // These bytes, as they are now, reached the disk: a loss before no longer applies.
  void mark_durable(uint64_t offset, uint64_t length) {
    for (uint64_t i = offset; lost_bytes_ > 0 && i < offset + length && i < lost_.size(); ++i) {
      if (!lost_[i]) continue;
      lost_[i] = false;
      --lost_bytes_;
    }
  }
  static int injected(const std::vector<Fault>& faults, uint64_t off, uint64_t len) {
    for (const Fault& f : faults) {
      if (off < f.offset + f.length && f.offset < off + len) return f.err;
    }
    return 0;
  }

  std::vector<uint8_t> current_;  // what reads return; minus pending_ = what survives crash()
  std::vector<Pending> pending_;  // written since the last successful flush
  std::vector<WriteRecord> writes_;
  std::vector<WriteRecord> discards_;
  std::vector<Fault> read_errors_, write_errors_;
  int flush_error_ = 0;
  bool flush_error_once_ = true;
  bool flush_error_loses_ = false;
  std::vector<bool> lost_;          // per byte: lost by a failed flush (allocated at the first loss)
  std::vector<uint8_t> lost_old_;   // per lost byte: what the disk holds
  uint64_t lost_bytes_ = 0;
  size_t flush_calls_ = 0;
  int drop_cache_calls_ = 0;
  size_t durable_writes_ = 0;
};

}  // namespace vrrpd::replication::testing
