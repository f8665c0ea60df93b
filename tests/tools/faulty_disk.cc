// faulty_disk: a disk that fails on command, for the on-io-error system
// tests. Serves BACKING_FILE as MOUNT_DIR/dev through FUSE (the frontend the
// daemon itself uses, replication/fuse_export.h) and reads commands from
// stdin, one per line:
//   fail-writes [OFFSET LENGTH]   writes in the range (default: all) get EIO
//   fail-reads [OFFSET LENGTH]    reads in the range get EIO
//   heal                          no more errors (nor volatile)
//   slow-flushes MS               each flush first waits MS milliseconds (a
//                                 slow disk; 0: no wait), holding no lock of
//                                 ours; but the kernel's FUSE holds the file's
//                                 lock across an fsync, so the writes of the
//                                 process that flushes through it wait too.
//   volatile                      keep what each write replaces until the
//                                 next flush that succeeds (a volatile write
//                                 cache; see evict)
//   fail-flushes                  flushes get EIO (what they should have made
//                                 durable stays undoable)
//   evict                         the disk loses every write since its last
//                                 flush that succeeded (under volatile): as
//                                 after Linux's failed writeback, whose pages
//                                 it marks clean, once the page cache drops
//                                 them. Reads return the older bytes.
// Prints "ready" once the file is served and "ok" after each command; exits
// (unexporting) at end of input or SIGTERM.
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "replication/fuse_export.h"
#include "replication/storage.h"
#include "replication/volume.h"

namespace {

using namespace vrrpd::replication;

struct Range {
  uint64_t offset = 0;
  uint64_t length = 0;  // 0: nothing fails
  bool hits(uint64_t off, uint64_t len) const { return length > 0 && off < offset + length && offset < off + len; }
};

class FaultyVolume final : public Volume {
 public:
  explicit FaultyVolume(BlockStorage& s) : storage_(s) {}
  uint64_t size() const override { return storage_.size(); }
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard lock(mutex_);
    if (fail_reads_.hits(offset, out.size())) return IoStatus::error(EIO);
    return storage_.read(offset, out);
  }
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    if (fail_writes_.hits(offset, data.size())) return IoStatus::error(EIO);
    if (volatile_) {
      std::vector<uint8_t> replaced(data.size());
      if (IoStatus s = storage_.read(offset, replaced); !s.ok()) return s;
      undo_.emplace_back(offset, std::move(replaced));
    }
    return storage_.write(offset, data);
  }
  IoStatus flush() override {
    // Outside the lock: only the flush is slow, not the writes beside it.
    std::this_thread::sleep_for(std::chrono::milliseconds(flush_delay_ms_.load()));
    std::lock_guard lock(mutex_);
    if (fail_flushes_) return IoStatus::error(EIO);
    IoStatus s = storage_.flush();
    if (s.ok()) undo_.clear();  // durable now
    return s;
  }
  void set_flush_delay(uint64_t ms) { flush_delay_ms_ = ms; }
  bool writable() const override { return true; }
  void set(bool writes, Range r) {
    std::lock_guard lock(mutex_);
    (writes ? fail_writes_ : fail_reads_) = r;
  }
  void set_volatile() {
    std::lock_guard lock(mutex_);
    volatile_ = true;
  }
  void fail_flushes() {
    std::lock_guard lock(mutex_);
    fail_flushes_ = true;
  }
  // The writes since the last good flush are lost: their bytes replaced by
  // what they overwrote, newest first. Returns the bytes restored.
  uint64_t evict() {
    std::lock_guard lock(mutex_);
    uint64_t bytes = 0;
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      (void)storage_.write(it->first, it->second);
      bytes += it->second.size();
    }
    undo_.clear();
    return bytes;
  }
  void heal() {
    std::lock_guard lock(mutex_);
    fail_writes_ = fail_reads_ = Range{};
    fail_flushes_ = volatile_ = false;
    undo_.clear();
  }

 private:
  BlockStorage& storage_;
  std::mutex mutex_;  // guards storage_ calls, the ranges and the undo log
  Range fail_writes_, fail_reads_;
  bool fail_flushes_ = false;
  bool volatile_ = false;
  // Under volatile: (offset, the bytes a write replaced), oldest first.
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> undo_;
  std::atomic<uint64_t> flush_delay_ms_{0};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: faulty_disk BACKING_FILE MOUNT_DIR\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  auto storage = FileStorage::open(argv[1]);
  if (!storage.ok()) {
    std::cerr << "faulty_disk: " << storage.error() << "\n";
    return 1;
  }
  FaultyVolume volume(*storage.value());
  auto exported = FuseExport::start(volume, {.mount_point = argv[2], .name = "faulty"});
  if (!exported.ok()) {
    std::cerr << "faulty_disk: " << exported.error() << "\n";
    return 1;
  }
  std::cout << "ready" << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string cmd;
    Range r{0, std::numeric_limits<uint64_t>::max() / 2};
    in >> cmd;
    if (cmd == "slow-flushes") {
      uint64_t ms = 0;
      in >> ms;
      volume.set_flush_delay(ms);
      std::cout << "ok" << std::endl;
      continue;
    }
    if (cmd == "evict") {
      const uint64_t bytes = volume.evict();
      std::cerr << "faulty_disk: evicted " << bytes << " bytes written since the last flush" << std::endl;
      std::cout << "ok" << std::endl;
      continue;
    }
    if (in >> r.offset) in >> r.length;
    if (cmd == "fail-writes") volume.set(true, r);
    else if (cmd == "fail-reads") volume.set(false, r);
    else if (cmd == "fail-flushes") volume.fail_flushes();
    else if (cmd == "volatile") volume.set_volatile();
    else if (cmd == "heal") volume.heal();
    else {
      std::cout << "unknown command: " << cmd << std::endl;
      continue;
    }
    std::cout << "ok" << std::endl;
  }
  auto stopped = exported.value()->stop();
  if (!stopped.ok()) std::cerr << "faulty_disk: " << stopped.error() << "\n";
  return 0;
}
