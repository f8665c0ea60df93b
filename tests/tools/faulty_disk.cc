// faulty_disk: a disk that fails on command, for the on-io-error system
// tests. Serves BACKING_FILE as MOUNT_DIR/dev through FUSE (the frontend the
// daemon itself uses, replication/fuse_export.h) and reads commands from
// stdin, one per line:
//   fail-writes [OFFSET LENGTH]   writes in the range (default: all) get EIO
//   fail-reads [OFFSET LENGTH]    reads in the range get EIO
//   heal                          no more errors
//   slow-flushes MS               each flush first waits MS milliseconds (a
//                                 slow disk; 0: no wait), holding no lock of
//                                 ours; but the kernel's FUSE holds the file's
//                                 lock across an fsync, so the writes of the
//                                 process that flushes through it wait too.
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
    return storage_.write(offset, data);
  }
  IoStatus flush() override {
    // Outside the lock: only the flush is slow, not the writes beside it.
    std::this_thread::sleep_for(std::chrono::milliseconds(flush_delay_ms_.load()));
    std::lock_guard lock(mutex_);
    return storage_.flush();
  }
  void set_flush_delay(uint64_t ms) { flush_delay_ms_ = ms; }
  bool writable() const override { return true; }
  void set(bool writes, Range r) {
    std::lock_guard lock(mutex_);
    (writes ? fail_writes_ : fail_reads_) = r;
  }

 private:
  BlockStorage& storage_;
  std::mutex mutex_;  // guards storage_ calls and the ranges
  Range fail_writes_, fail_reads_;
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
    if (in >> r.offset) in >> r.length;
    if (cmd == "fail-writes") volume.set(true, r);
    else if (cmd == "fail-reads") volume.set(false, r);
    else if (cmd == "heal") {
      volume.set(true, {});
      volume.set(false, {});
    } else {
      std::cout << "unknown command: " << cmd << std::endl;
      continue;
    }
    std::cout << "ok" << std::endl;
  }
  auto stopped = exported.value()->stop();
  if (!stopped.ok()) std::cerr << "faulty_disk: " << stopped.error() << "\n";
  return 0;
}
