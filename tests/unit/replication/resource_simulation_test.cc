// A randomized simulation of a replicated pair. Each seed runs a few hundred
// random steps against two Resources on the fake clock, network and disks
// (deterministic: a failing seed fails the same way every time):
// application writes and flushes on the Primary, time passing, link cuts,
// outages, stalls and latency, clean switchovers (the demotion waits for
// the peer, and the link is sometimes cut meanwhile), kill -9 of either daemon,
// power loss, failover to the Secondary after the Primary died, a
// failed flush of either disk that loses what it covered, discards, and
// disks that fail writes for a while (a third of the seeds under
// on-io-error detach: the Primary then serves through its peer, which
// may restart meanwhile, and the operator attaches the disk again, or a
// new one), online grow (both
// disks grown underneath, resize on either node, with --size or
// --assume-clean; under detach, now and then the Primary's disk dying as
// its growth goes out) and shrink of the volume, and, on half the protocol A
// seeds, a Primary that pulls ahead when the link congests. It
// checks what a user of the volume relies on, against a model of every
// 4 KiB block's versions:
//  * read-your-writes: the Primary reads back the last acknowledged
//    version of every block;
//  * a switchover loses nothing: the new Primary holds every acknowledged
//    write;
//  * a failover after the Primary died loses no acknowledged write under
//    protocol C (acknowledged means on the peer's disk); under A and B the
//    survivor holds, per block, some version that was written there;
//  * kill -9 loses nothing the page cache holds; after a power loss each
//    block holds a version no older than what the last completed flush
//    covered;
//  * once the faults end, the pair converges: Established, UpToDate on both
//    sides, the same size, nothing out of sync, identical disks, equal to
//    the model (where a grow added blocks not written since, any content,
//    the same on both).
// On a failure the test prints the seed's last steps. To look closer:
// VRRPD_SIM_VERBOSE=1 (every step, between the engines' log lines),
// VRRPD_SIM_WATCH=BLOCK (one block's history), VRRPD_SIM_SEEDS=N (search
// N seeds per protocol instead of 30; a failing seed's name is its number;
// VRRPD_SIM_FIRST_SEED=K starts at seed K).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "replication/resource.h"
#include "replication/bitmap.h"
#include "replication/grow.h"
#include "replication/metadata.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kBlock = 4096;

// Version `version` of block `index`: the version and the index in the
// first 8 bytes, a pattern of both after. Version 0 is the zeros a new disk
// holds (and the initial sync copies).
void fill_block(uint32_t version, uint64_t index, uint8_t* out) {
  if (version == 0) {
    std::memset(out, 0, kBlock);
    return;
  }
  const uint32_t idx = static_cast<uint32_t>(index);
  std::memcpy(out, &version, 4);
  std::memcpy(out + 4, &idx, 4);
  for (uint64_t k = 8; k < kBlock; ++k) out[k] = static_cast<uint8_t>(version * 131u + idx * 7u + k);
}

// Which version of block `index` these bytes are; nullopt: none (torn,
// misplaced or corrupt).
std::optional<uint32_t> decode_block(const uint8_t* in, uint64_t index) {
  uint32_t version = 0;
  std::memcpy(&version, in, 4);
  std::vector<uint8_t> expected(kBlock);
  fill_block(version, index, expected.data());
  if (std::memcmp(in, expected.data(), kBlock) != 0) return std::nullopt;
  return version;
}

struct SimParams {
  wire::ReplicationProtocol protocol;
  uint32_t seed;
};

std::ostream& operator<<(std::ostream& os, const SimParams& p) {
  return os << "protocol " << static_cast<char>(p.protocol) << " seed " << p.seed;
}

class PairSimulation : public ResourcePairTest, public ::testing::WithParamInterface<SimParams> {
 protected:
  // What the model knows of one block.
  struct Block {
    uint32_t acked = 0;          // the last version acknowledged to the writer: what reads return
    std::vector<uint32_t> maybe;  // versions whose write failed or died unanswered: may be there instead
    bool busy = false;           // a write or discard submitted and not answered
    uint32_t in_flight = 0;      // the version it writes (0 for a discard: zeros)
    // Every version ever submitted, in order; history[durable_from..] can
    // be found after a power loss of the Primary.
    std::vector<uint32_t> history{0};
    size_t durable_from = 0;
  };
  // The "version" of a block that a grow of the volume added: whatever the
  // Primary's disk held there (resynced to the peer), so any content, as
  // long as both disks agree in the end. It enters the history like a
  // write (durable: nothing needs flushing), so a power loss may bring it
  // back only while no flushed write has replaced it.
  static constexpr uint32_t kAnyContent = UINT32_MAX;
  struct PendingWrite {
    int node;
    uint64_t first_block, blocks;
    uint32_t version;  // what the blocks hold once written (0: a discard)
    std::shared_ptr<std::optional<IoStatus>> result;
  };
  struct PendingFlush {
    int node;
    std::vector<size_t> acked_index;  // per block: history index of `acked` at submission
    std::shared_ptr<std::optional<IoStatus>> result;
  };

  std::unique_ptr<Resource>& node(int n) { return n == 0 ? a : b; }
  FakeStorage& disk(int n) { return n == 0 ? disk_a : disk_b; }
  ResourceOptions options(int n) {
    ResourceOptions o = options_for(static_cast<uint32_t>(n));
    o.protocol = GetParam().protocol;
    o.resync_rate = uint64_t{256} << 20;
    o.on_io_error = detach_policy_ ? IoErrorPolicy::kDetach : IoErrorPolicy::kPassthrough;
    if (pull_ahead_) {
      // A small fill, so that a stalled link (which holds every byte sent)
      // congests within a write or two.
      o.on_congestion = CongestionPolicy::kPullAhead;
      o.congestion_fill = 64 * 1024;
      o.congestion_extents = congestion_extents_;
    }
    return o;
  }

  void log(const std::string& line) {
    std::ostringstream s;
    s << "t=" << std::chrono::duration_cast<milliseconds>(clock.now().time_since_epoch()).count() << "ms step "
      << step_ << ": " << line;
    if (verbose_) std::fprintf(stderr, "SIM %s\n", s.str().c_str());
    trace_.push_back(s.str());
    if (trace_.size() > 60) trace_.pop_front();
  }
  std::string trace() const {
    std::string out = "\nlast steps:\n";
    for (const std::string& l : trace_) out += "  " + l + "\n";
    for (int n = 0; n < 2; ++n) {
      out += std::string("  node ") + (n == 0 ? "a" : "b") + ": ";
      if (!alive_[n]) {
        out += "dead\n";
        continue;
      }
      const ResourceStatus s = node_status(n);
      out += std::string(to_string(s.role)) + " " + to_string(s.disk) + " " + to_string(s.connection) + " " +
             to_string(s.replication) + " peer " + to_string(s.peer_disk) + " oos " +
             std::to_string(s.out_of_sync_bytes) + " sent " + std::to_string(s.sent_bytes) + " received " +
             std::to_string(s.received_bytes) + " written " + std::to_string(s.written_bytes) +
             " last_error: " + s.last_error + "\n";
    }
    return out;
  }
  ResourceStatus node_status(int n) const { return (n == 0 ? a : b)->status(); }
  bool is_primary(int n) const { return alive_[n] && node_status(n).role == Role::kPrimary; }
  bool established(int n) const {
    if (!alive_[n]) return false;
    const ResourceStatus s = node_status(n);
    return s.replication == ReplicationState::kEstablished && s.disk == DiskState::kUpToDate &&
           s.peer_disk == DiskState::kUpToDate;
  }
  int random(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return random(1, 100) <= percent; }

  // ---- the model ----

  // A write of a new version, or a discard (the blocks read as zeros,
  // version 0, after it).
  void submit_write(int n, bool discard = false, int min_blocks = 1) {
    const uint64_t blocks = chance(15) || min_blocks > 8 ? static_cast<uint64_t>(random(std::max(9, min_blocks), 300))
                                                         : static_cast<uint64_t>(random(min_blocks, 8));
    const uint64_t first = static_cast<uint64_t>(random(0, static_cast<int>(usable_blocks() - blocks)));
    for (uint64_t i = first; i < first + blocks; ++i)
      if (model_[i].busy) return;  // a file system does not overlap its own writes in flight
    const uint32_t version = discard ? 0 : next_version_++;
    for (uint64_t i = first; i < first + blocks; ++i) {
      model_[i].busy = true;
      model_[i].in_flight = version;
      model_[i].history.push_back(version);
    }
    auto result = std::make_shared<std::optional<IoStatus>>();
    writes_.push_back(PendingWrite{n, first, blocks, version, result});
    if (discard) {
      log("discard blocks " + std::to_string(first) + "+" + std::to_string(blocks) + " on " + name(n));
      node(n)->submit_discard(first * kBlock, blocks * kBlock, [result](IoStatus s) { *result = s; });
      return;
    }
    std::vector<uint8_t> data(blocks * kBlock);
    for (uint64_t i = 0; i < blocks; ++i) fill_block(version, first + i, data.data() + i * kBlock);
    const uint32_t flags = chance(5) ? kWriteFua : 0;
    log("write v" + std::to_string(version) + " blocks " + std::to_string(first) + "+" + std::to_string(blocks) +
        (flags ? " FUA" : "") + " on " + name(n));
    if (flags == 0 && version % 2 == 0) {
      // As the FUSE export writes: a buffer shared with the engine, which
      // alone holds it from here on (no draw from the random stream, so a
      // seed runs as before). A use of it after the answer is a
      // use-after-free (caught under ASan).
      auto shared = std::make_shared<std::vector<uint8_t>>(std::move(data));
      const std::span<const uint8_t> view(*shared);
      node(n)->start_write_shared(first * kBlock, view, std::move(shared), [result](IoStatus s) { *result = s; });
      return;
    }
    node(n)->submit_write(first * kBlock, data, flags, [result](IoStatus s) { *result = s; });
  }

  void submit_flush(int n) {
    PendingFlush f{n, {}, std::make_shared<std::optional<IoStatus>>()};
    f.acked_index.reserve(blocks_);
    for (const Block& blk : model_) f.acked_index.push_back(index_of(blk, blk.acked));
    auto result = f.result;
    node(n)->submit_flush([result](IoStatus s) { *result = s; });
    flushes_.push_back(std::move(f));
    log("flush on " + name(n));
  }

  static std::string version_name(uint32_t v) {
    return v == kAnyContent ? std::string("any content (added by a grow)") : "v" + std::to_string(v);
  }
  // For adopt_disk() after a double fault: any version ever written to the
  // block (a write lost with a failed disk leaves an older one).
  static bool ever_written(const Block& blk, uint32_t v) {
    return std::find(blk.history.begin(), blk.history.end(), v) != blk.history.end();
  }
  static size_t index_of(const Block& blk, uint32_t version) {
    for (size_t i = blk.history.size(); i-- > 0;)
      if (blk.history[i] == version) return i;
    return 0;
  }

  // Takes in the answers that arrived.
  void reap() {
    for (auto it = writes_.begin(); it != writes_.end();) {
      if (!it->result->has_value()) {
        ++it;
        continue;
      }
      const bool ok = it->result->value().ok();
      for (uint64_t i = it->first_block; i < it->first_block + it->blocks; ++i) {
        Block& blk = model_[i];
        blk.busy = false;
        blk.in_flight = 0;
        if (ok) {
          blk.acked = it->version;
          blk.maybe.clear();
        } else {
          blk.maybe.push_back(it->version);
        }
      }
      if (!ok)
        log((it->version == 0 ? std::string("discard") : "write v" + std::to_string(it->version)) +
            " of blocks " + std::to_string(it->first_block) + "+" + std::to_string(it->blocks) +
            " failed: " + it->result->value().message());
      it = writes_.erase(it);
    }
    while (!flushes_.empty() && flushes_.front().result->has_value()) {
      PendingFlush& f = flushes_.front();
      if (f.result->value().ok()) {
        for (size_t i = 0; i < f.acked_index.size(); ++i)
          model_[i].durable_from = std::max(model_[i].durable_from, f.acked_index[i]);
      } else {
        log("flush failed: " + f.result->value().message());
      }
      flushes_.pop_front();
    }
  }

  void run(Duration d) {
    advance(d);
    reap();
  }

  // The versions block `i` may hold on the Primary now.
  bool readable(const Block& blk, uint32_t v) const {
    return v == blk.acked || (blk.busy && v == blk.in_flight) ||
           std::find(blk.maybe.begin(), blk.maybe.end(), v) != blk.maybe.end();
  }

  // ---- checks ----

  // " at block N: a vX, b vY" for the first block the two disks differ in.
  std::string first_difference() {
    for (uint64_t i = 0; i < blocks_; ++i) {
      if (std::memcmp(disk_a.bytes().data() + i * kBlock, disk_b.bytes().data() + i * kBlock, kBlock) != 0) {
        const std::optional<uint32_t> va = decode_block(disk_a.bytes().data() + i * kBlock, i);
        const std::optional<uint32_t> vb = decode_block(disk_b.bytes().data() + i * kBlock, i);
        return " at block " + std::to_string(i) + ": a v" + (va ? std::to_string(*va) : "?") + ", b v" +
               (vb ? std::to_string(*vb) : "?");
      }
    }
    return "";
  }

  void fail(const std::string& what) {
    failed_ = true;
    ADD_FAILURE() << GetParam() << ": " << what << trace();
  }

  // Read-your-writes: a read on the Primary returns what the model allows.
  void check_read(int n) {
    const uint64_t blocks = static_cast<uint64_t>(random(1, 32));
    const uint64_t first = static_cast<uint64_t>(random(0, static_cast<int>(usable_blocks() - blocks)));
    auto buffer = std::make_shared<std::vector<uint8_t>>(blocks * kBlock);
    auto result = std::make_shared<std::optional<IoStatus>>();
    // The disk state when the read was answered: the settle below may run a
    // handshake that makes a disk UpToDate after an Inconsistent Primary with
    // no peer refused the read (the pair simulation, seed 51136).
    auto disk_when_answered = std::make_shared<DiskState>(DiskState::kDiskless);
    // (An answer that comes later, after this returned, may come from the
    // node's destructor: a kill fails what it left unanswered.)
    node(n)->submit_read(first * kBlock, *buffer, [this, n, result, buffer, disk_when_answered](IoStatus s) {
      *result = s;
      if (node(n)) *disk_when_answered = node(n)->status().disk;
    });
    settle();
    if (!result->has_value()) return;  // waits for the peer; not what this checks
    if (!result->value().ok()) {
      // A Primary that lost its only good copy may refuse; with an UpToDate
      // disk it must not.
      if (*disk_when_answered == DiskState::kUpToDate)
        fail("read of blocks " + std::to_string(first) + "+" + std::to_string(blocks) + " on " + name(n) +
             " failed: " + result->value().message());
      return;
    }
    for (uint64_t i = 0; i < blocks; ++i) {
      const std::optional<uint32_t> v = decode_block(buffer->data() + i * kBlock, first + i);
      const Block& blk = model_[first + i];
      // (A Diskless Primary after a link fault may have lost writes with
      // its disk: any version written is possible until it is adopted.)
      const bool lost_possible = diskless_after_link_fault_ && n == diskless_primary_ && v &&
                                 std::find(blk.history.begin(), blk.history.end(), *v) != blk.history.end();
      if (readable(blk, kAnyContent)) continue;
      if (!v || (!readable(blk, *v) && !lost_possible))
        return fail("read of block " + std::to_string(first + i) + " on " + name(n) + " returned " +
                    (v ? "v" + std::to_string(*v) : std::string("garbage")) + ", acknowledged v" +
                    std::to_string(blk.acked));
    }
  }

  // Both sides say they are in sync and no write is in flight: the disks
  // are equal (a difference here is one no resync will ever repair).
  void check_in_sync(bool stalled) {
    if (stalled || !established(0) || !established(1) || !writes_.empty()) return;
    // Under A and B an acknowledged write may still be on its way to the
    // peer's disk: give it the time to land (latency is 3 ms at most).
    if (GetParam().protocol != wire::ReplicationProtocol::kC) run(milliseconds(50));
    if (!established(0) || !established(1) || !writes_.empty()) return;
    if (node_status(0).out_of_sync_bytes != 0 || node_status(1).out_of_sync_bytes != 0) return;
    if (node_status(0).size_bytes != node_status(1).size_bytes) return;  // a resize on its way
    for (uint64_t i = 0; i < node_status(0).size_bytes / kBlock; ++i) {
      if (std::memcmp(disk_a.bytes().data() + i * kBlock, disk_b.bytes().data() + i * kBlock, kBlock) == 0) continue;
      const std::optional<uint32_t> va = decode_block(disk_a.bytes().data() + i * kBlock, i);
      const std::optional<uint32_t> vb = decode_block(disk_b.bytes().data() + i * kBlock, i);
      return fail("Established, UpToDate on both sides and nothing out of sync, but block " + std::to_string(i) +
                  " differs: a v" + (va ? std::to_string(*va) : "?") + ", b v" + (vb ? std::to_string(*vb) : "?"));
    }
  }

  // Every block of node n's disk holds a version `allowed` accepts; the
  // model then takes that content as the acknowledged one.
  template <typename Allowed>
  void adopt_disk(int n, const std::string& why, Allowed allowed) {
    if (n == primary_) track_size();
    const std::vector<uint8_t>& bytes = disk(n).bytes();
    for (uint64_t i = 0; i < std::min<uint64_t>(blocks_, bytes.size() / kBlock); ++i) {
      Block& blk = model_[i];
      const std::optional<uint32_t> v = decode_block(bytes.data() + i * kBlock, i);
      uint32_t taken = kAnyContent;
      if (v && allowed(blk, *v)) taken = *v;
      else if (!allowed(blk, kAnyContent))
        return fail(why + ": block " + std::to_string(i) + " on " + name(n) + " holds " +
                    (v ? "v" + std::to_string(*v) : std::string("garbage")) + ", acknowledged " +
                    version_name(blk.acked));
      blk.acked = taken;
      blk.maybe.clear();
      blk.durable_from = std::min(blk.durable_from, index_of(blk, taken));
    }
  }

  // ---- faults and operations ----

  static std::string name(int n) { return n == 0 ? "a" : "b"; }
  // The replicated bytes of both disks are identical (also with both nodes down).
  bool data_equal() {
    return std::memcmp(disk_a.bytes().data(), disk_b.bytes().data(), blocks_ * kBlock) == 0;
  }

  // ---- the volume's size ----

  // Follows the Primary's size: blocks a grow added read as anything until
  // written (kAnyContent); blocks a shrink cut off are out of reach (and
  // any content again if a later grow brings them back).
  void track_size() {
    if (primary_ < 0 || !alive_[primary_]) return;
    const uint64_t size = node_status(primary_).size_bytes / kBlock;
    if (size == blocks_) return;
    if (size > model_.size()) model_.resize(size);
    for (uint64_t i = blocks_; i < size; ++i) {
      Block& blk = model_[i];
      blk.acked = kAnyContent;
      blk.maybe.clear();
      blk.history.push_back(kAnyContent);
      if (!blk.busy) blk.durable_from = blk.history.size() - 1;
    }
    log("the Primary " + name(primary_) + " has " + std::to_string(size) + " blocks (was " +
        std::to_string(blocks_) + ")");
    blocks_ = size;
  }
  // The blocks writes and reads may use: a shrink on its way refuses
  // writes past its new end.
  uint64_t usable_blocks() const { return std::min(blocks_, shrink_limit_); }

  // The operator grows both backing disks by the same amount and resizes
  // (drbdadm resize), on either node. The first growth of a run may claim
  // --assume-clean unless a shrink or a larger new disk came first (the
  // cut-off end, or the room past the volume, holds old data): both disks
  // hold zeros there (grown with zeros; the old internal
  // metadata is zeroed by the move), so the claim is true.
  // Later ones fill each disk's new space differently, so that a missed
  // resync of the added blocks shows.
  void grow_volume() {
    if (primary_ < 0 || !established(0) || !established(1)) return;
    if (std::max(disk_a.size(), disk_b.size()) + (4u << 20) > kMaxDiskBytes) return;
    const uint64_t by = static_cast<uint64_t>(random(1, 4)) << 20;
    ResizeOptions o;
    o.assume_clean = grows_ == 0 && shrink_node_ < 0 && larger_new_disks_ == 0 && chance(40);
    disk_a.grow(disk_a.size() + by, o.assume_clean ? 0 : 0xA1);
    disk_b.grow(disk_b.size() + by, o.assume_clean ? 0 : 0xB2);
    ++grows_;
    if (chance(25)) o.size = (blocks_ + static_cast<uint64_t>(random(1, 256))) * kBlock;
    const int n = random(0, 1);
    log("both disks grow by " + std::to_string(by >> 20) + " MiB; resize on " + name(n) +
        (o.size ? " --size " + std::to_string(*o.size / kBlock) + " blocks" : "") +
        (o.assume_clean ? " --assume-clean" : ""));
    node(n)->resize([this, n](CommandResult r) {
      log("resize on " + name(n) + (r.ok() ? ": done" : ": " + r.error()));
    }, o);
    // Now and then (under on-io-error detach) the Primary's disk dies as
    // its growth goes out, before the answer: the peer grows as the target
    // of blocks only that disk held, and the Diskless Primary withdraws the
    // growth. (Drawn from a generator of its own, so that the seeds found
    // before this fault existed still take the paths they were found on.)
    if (detach_policy_ && n == primary_ && !o.assume_clean && write_fault_steps_[0] == 0 &&
        write_fault_steps_[1] == 0 && std::uniform_int_distribution<int>(1, 100)(resize_fault_rng_) <= 50) {
      disk(n).fail_writes(0, disk(n).size());
      write_fault_steps_[n] = random(1, 30);
      log(name(n) + "'s disk fails every write for " + std::to_string(write_fault_steps_[n]) +
          " steps, as its resize goes out");
      submit_write(n);
    }
  }

  // The operator cuts the end off the volume (resize --size, on the
  // Primary; the Secondary shrinks first).
  void shrink_volume() {
    if (primary_ < 0 || !established(0) || !established(1) || shrink_limit_ != UINT64_MAX) return;
    const uint64_t cut = static_cast<uint64_t>(random(1, 512));
    if (blocks_ < initial_blocks_ / 2 + cut) return;
    const uint64_t new_blocks = blocks_ - cut;
    const int p = primary_;
    shrink_limit_ = new_blocks;
    shrink_node_ = p;
    log("resize on the Primary " + name(p) + " --size " + std::to_string(new_blocks) + " blocks (shrink)");
    node(p)->resize([this, p](CommandResult r) {
      shrink_limit_ = UINT64_MAX;
      log("resize (shrink) on " + name(p) + (r.ok() ? ": done" : ": " + r.error()));
    }, ResizeOptions{new_blocks * kBlock, false});
  }

  // attach(), and when the disk grew under metadata that did not move
  // (a resize that a crash or a link loss interrupted), what the operator
  // then does first: vrrpctl replication resize on the down resource,
  // which moves the metadata to the disk's new end.
  CommandResult attach_node(int n) {
    CommandResult r = node(n)->attach();
    if (r.ok() || read_metadata(disk(n), MetadataLayout::kInternal).ok()) return r;
    Result<Superblock> found = find_internal_metadata_below_end(disk(n));
    if (!found.ok()) return r;
    Result<Superblock> moved = move_internal_metadata_to_end(disk(n), found.value());
    if (!moved.ok()) return CommandResult::failure("moving the metadata: " + moved.error());
    log("the operator moves " + name(n) + "'s metadata to the end of its grown disk");
    return node(n)->attach();
  }

  void start_node(int n) {
    node(n) = std::make_unique<Resource>(loop, options(n), disk(n));
    alive_[n] = true;
    CommandResult r = attach_node(n);
    if (!r.ok()) return fail("attach of " + name(n) + " failed: " + r.error());
    r = node(n)->connect(net.connector(n));
    if (!r.ok()) return fail("connect of " + name(n) + " failed: " + r.error());
    log("started " + name(n) + ": " + to_string(node_status(n).disk));
  }

  // kill -9 (the page cache survives) or power loss (it does not).
  void kill(int n, bool power_loss) {
    const bool was_primary = primary_ == n;
    // Whether n's disk holds the only copy of acknowledged writes: the
    // last Primary's, unless that one went Diskless and wrote through n.
    const bool holds_the_data = (n == last_primary_ && diskless_primary_ != n) ||
                                (diskless_primary_ >= 0 && n == 1 - diskless_primary_);
    note_link_fault();
    node(n).reset();  // unanswered requests fail with EIO: taken in by reap()
    alive_[n] = false;
    disk(n).clear_faults();  // a fault not yet hit is not for the restart
    write_fault_steps_[n] = 0;
    paused_[n] = false;  // the pause lives in the daemon
    if (power_loss) {
      // A prefix of the unflushed writes, in submission order, survives.
      FakeStorage::CrashOptions c;
      c.complete_writes = disk(n).pending_writes() == 0 ? 0 : static_cast<size_t>(random(0, static_cast<int>(disk(n).pending_writes())));
      disk(n).crash(c);
    }
    if (was_primary) primary_ = -1;
    if (n == shrink_node_) shrink_limit_ = UINT64_MAX;  // its resize died with it
    log(std::string(power_loss ? "power loss of " : "kill -9 of ") + name(n) + (was_primary ? " (Primary)" : ""));
    reap();
    if (!power_loss || !holds_the_data) return;
    // A power loss of the disk that holds the data undoes what was not
    // flushed. The last Primary checks that when it takes its role back;
    // a Diskless Primary still running had only this copy: from now on it
    // holds what this disk kept.
    authority_power_loss_ = true;
    if (primary_ >= 0 && primary_ == diskless_primary_) {
      // (After a link fault, writes only the failed disk held are gone
      // already: any version written is possible.)
      const bool lenient = diskless_after_link_fault_;
      adopt_disk(n, "power loss of the Diskless Primary's only copy lost a flushed write",
                 [lenient](const Block& blk, uint32_t v) {
                   if (v == blk.acked || std::find(blk.maybe.begin(), blk.maybe.end(), v) != blk.maybe.end())
                     return true;
                   const size_t i = index_of(blk, v);
                   if (lenient) return blk.history[i] == v;
                   return blk.history[i] == v && i >= blk.durable_from;
                 });
      authority_power_loss_ = false;
    }
  }

  // A range of one disk fails every write (and discard) for a few steps,
  // or the whole disk does ("the disk died"; it comes back, as a replaced
  // one would). One disk fault at a time, and only while the pair is
  // healthy: two (a disk failing while the other copy is away) is a
  // double fault the engine may stop at, Inconsistent or Diskless on both.
  void inject_write_fault() {
    if (!established(0) || !established(1)) return;
    if (write_fault_steps_[0] > 0 || write_fault_steps_[1] > 0) return;
    const int n = random(0, 1);
    uint64_t first = 0, count = blocks_;
    if (chance(80)) {
      count = static_cast<uint64_t>(random(1, 64));
      first = static_cast<uint64_t>(random(0, static_cast<int>(blocks_ - count)));
    }
    disk(n).fail_writes(first * kBlock, count * kBlock);
    write_fault_steps_[n] = random(1, 30);
    log(name(n) + "'s disk fails writes to blocks " + std::to_string(first) + "+" + std::to_string(count) +
        " for " + std::to_string(write_fault_steps_[n]) + " steps");
  }

  // The operator brings the disk of a Diskless node back (drbdadm attach):
  // the same disk, or, while the peer holds good data, a new one
  // (create-md first). A Secondary is then connected again.
  void reattach(int n) {
    // A new disk may be larger than the old one; its metadata then
    // describes more data than the volume has (as after a grow or a
    // shrink), and it takes the volume's size.
    // (Not under a Primary whose disk given up is the only copy of its
    // data: the peer's UpToDate is from before it moved on.)
    const bool fresh = alive_[1 - n] && node_status(1 - n).disk == DiskState::kUpToDate &&
                       !node(n)->gave_up_the_only_copy() && chance(50);
    if (fresh && chance(50) && disk(n).size() + (4u << 20) <= kMaxDiskBytes) {
      const uint64_t by = static_cast<uint64_t>(random(1, 4)) << 20;
      disk(n).grow(disk(n).size() + by, 0xC3);
      ++larger_new_disks_;
      log("the new disk of " + name(n) + " is " + std::to_string(by >> 20) + " MiB larger than the old one");
    }
    if (fresh) {
      CommandResult r = node(n)->create_md();
      // (A disk fault armed before a planned detach can hit it; the
      // operator tries again later.)
      if (!r.ok()) return log("create-md on the Diskless " + name(n) + " failed: " + r.error());
    }
    CommandResult r = attach_node(n);
    if (!r.ok()) return log("attach of " + name(n) + " refused: " + r.error());
    log(std::string("the operator attaches ") + (fresh ? "a new disk (create-md)" : "the disk") + " on " + name(n) +
        ": " + to_string(node_status(n).disk));
    if (node_status(n).connection == ConnectionState::kStandAlone) {
      r = node(n)->connect(net.connector(n));
      if (!r.ok()) return fail("connect of " + name(n) + " after attach failed: " + r.error());
    }
  }

  void note_link_fault() {
    link_fault_since_in_sync_ = true;
    link_fault_at_ = clock.now();
    // Protocol A: writes answered before the Primary's disk failed may
    // still be on their way to the peer, and their only other copy went
    // with that disk. A link fault now loses them: the same double fault.
    if (diskless_primary_ >= 0 && a_writes_in_flight_at_detach_ && !diskless_after_link_fault_) {
      diskless_after_link_fault_ = true;
      log("a link fault right after " + name(diskless_primary_) +
          "'s disk failed: protocol A writes still on their way may be lost");
    }
  }

  void set_stalled(bool stalled) {
    stalled_ = stalled;
    log(stalled ? "link stalls" : "link passes traffic again");
    net.set_stalled(stalled);
    note_link_fault();
    link_healthy_ = !link_down_ && !stalled_;
  }

  // On the pull-ahead seeds: the link stalls under a burst of large
  // writes, which fills its send queue past congestion_fill. (A stall
  // toggled at random rarely meets a healthy pair and enough writes.)
  void congest() {
    if (!pull_ahead_ || stalled_ || primary_ < 0 || !established(0) || !established(1)) return;
    set_stalled(true);
    for (int i = 0; i < 4; ++i) submit_write(primary_, /*discard=*/false, /*min_blocks=*/32);
    run(milliseconds(random(0, 20)));
  }

  // What an operator does on a healthy pair now and then: an online verify
  // (from either side; it only marks what differs), invalidate on the
  // Secondary (a full resync from the Primary), invalidate-remote on the
  // Primary, and pausing or resuming the resync on either node.
  void operator_command(int dice) {
    const int n = random(0, 1);
    CommandResult r = CommandResult::failure("not run");
    std::string what;
    if (dice <= 107) {
      if (!established(n)) return;
      what = "verify on " + name(n);
      r = node(n)->verify();
    } else if (dice == 108) {
      // Only when the Primary too shows its disk and the link healthy: the
      // Secondary's view may lag a detach on the Primary, and invalidating
      // the only good copy is the operator's double fault. So is doing it
      // while the Primary's disk is failing and nobody has noticed yet (a
      // fault armed on it: the pair simulation, seed 54308, where the
      // model then took the invalidated disk for the data).
      const int s = primary_ < 0 ? -1 : 1 - primary_;
      if (s < 0 || !established(s) || !established(primary_) ||
          node_status(primary_).disk != DiskState::kUpToDate || write_fault_steps_[primary_] > 0 ||
          disk(primary_).flush_fault_armed())
        return;
      what = "invalidate on the Secondary " + name(s);
      r = node(s)->invalidate();
    } else if (dice == 109) {
      if (primary_ < 0 || !established(primary_)) return;
      what = "invalidate-remote on the Primary " + name(primary_);
      r = node(primary_)->invalidate_remote();
    } else if (dice == 110) {
      // A disk swap without a failover (drbdadm detach on the Primary); the
      // operator attaches it (or a new one) again later, as after
      // on-io-error detach.
      if (primary_ < 0 || !established(primary_) || !established(1 - primary_) ||
          node_status(primary_).disk != DiskState::kUpToDate)
        return;
      // As the daemon does it: once the peer confirmed what only this disk
      // holds (protocol A and B).
      const int p = primary_;
      log("detach on the Primary " + name(p));
      node(p)->detach_when_confirmed([this, p](CommandResult done) {
        log("detach on " + name(p) + (done.ok() ? ": done" : ": refused: " + done.error()));
      });
      return;
    } else {
      if (!alive_[n]) return;
      paused_[n] = !paused_[n];
      what = std::string(paused_[n] ? "pause-sync" : "resume-sync") + " on " + name(n);
      r = paused_[n] ? node(n)->pause_sync() : node(n)->resume_sync();
      if (!r.ok()) paused_[n] = !paused_[n];
    }
    log(what + (r.ok() ? "" : ": refused: " + r.error()));
  }

  // After each step: which Primary serves through its peer, and the ends
  // of write faults.
  void observe() {
    track_size();
    // They met again without a split brain (the dead Primary's generation
    // of pulling ahead never reached its disk): nothing left to settle.
    if (ahead_primary_taken_over_ >= 0 && established(0) && established(1)) ahead_primary_taken_over_ = -1;
    // In sync again: the link has passed traffic for a second since its
    // last fault (the engines have seen any cut by then), both sides are
    // established with nothing recorded, and no write is in flight.
    if (link_fault_since_in_sync_ && link_healthy_ && clock.now() - link_fault_at_ >= seconds(1) &&
        established(0) && established(1) && writes_.empty() && node_status(0).out_of_sync_bytes == 0 &&
        node_status(1).out_of_sync_bytes == 0)
      link_fault_since_in_sync_ = false;
    if (primary_ >= 0 && node_status(primary_).disk == DiskState::kDiskless && diskless_primary_ != primary_ &&
        node(primary_)->gave_up_the_only_copy()) {
      // No peer took over its data (the link was down, or the peer had no
      // good disk): the disk given up keeps it, and requests fail until it
      // is back (or the Primary restarts on it). What a failed flush lost
      // from that disk the Primary keeps in memory and writes back when the
      // disk is attached again; only a Primary that dies meanwhile loses it
      // (the restart's attach drops the cache): the same double fault as a
      // Primary's disk failing after a link fault.
      if (sole_copy_logged_ != primary_) {
        sole_copy_lossy_ = disk(primary_).lost_bytes() > 0;
        log("the Primary " + name(primary_) + " is Diskless: its disk given up holds the only copy of its data" +
            (sole_copy_lossy_ ? " (what a failed flush lost on it is gone if the Primary dies)" : ""));
      }
      sole_copy_logged_ = primary_;
    } else if (primary_ >= 0 && node_status(primary_).disk == DiskState::kDiskless && diskless_primary_ != primary_) {
      sole_copy_logged_ = -1;
      diskless_primary_ = primary_;
      // A write acknowledged while the link was failing may have been on
      // the Primary's disk alone (answered from the local copy when the
      // link dropped, or sent under A into a link that was already cut):
      // with that disk gone it is lost. A double fault, as in DRBD.
      diskless_after_link_fault_ = link_fault_since_in_sync_;
      a_writes_in_flight_at_detach_ = GetParam().protocol == wire::ReplicationProtocol::kA;
      diskless_at_ = clock.now();
      log("the Primary " + name(primary_) + " is Diskless: the data is on " + name(1 - primary_) + "'s disk" +
          (diskless_after_link_fault_ ? " (after a link fault: writes only its disk held may be lost)" : ""));
    }
    // A second of a healthy link after the disk failed: what was on its
    // way then has arrived.
    if (a_writes_in_flight_at_detach_ && link_healthy_ && clock.now() - diskless_at_ >= seconds(1) &&
        clock.now() - link_fault_at_ >= seconds(1))
      a_writes_in_flight_at_detach_ = false;
    if (sole_copy_logged_ >= 0 && sole_copy_logged_ == primary_ &&
        node_status(sole_copy_logged_).disk == DiskState::kUpToDate) {
      log(name(sole_copy_logged_) + "'s disk given up is back");
      sole_copy_logged_ = -1;
    }
    if (diskless_primary_ >= 0 && alive_[diskless_primary_] &&
        node_status(diskless_primary_).disk == DiskState::kUpToDate) {
      log(name(diskless_primary_) + "'s disk is UpToDate again");
      if (diskless_after_link_fault_) {
        // Its disk now holds what the peer had: per block a version that
        // was written (the acknowledged one unless it was lost with the disk).
        adopt_disk(diskless_primary_, "a disk attached under the Primary holds data never written", ever_written);
      }
      diskless_primary_ = -1;
      diskless_after_link_fault_ = false;
      a_writes_in_flight_at_detach_ = false;
    }
    for (int n = 0; n < 2; ++n) {
      if (write_fault_steps_[n] > 0 && --write_fault_steps_[n] == 0) {
        disk(n).clear_faults();
        log(name(n) + "'s disk writes again");
      }
    }
  }

  // The Primary died; its peer `s` takes over if it may.
  void fail_over(int s, bool survivor_was_established) {
    CommandResult r = node(s)->primary();
    if (!r.ok()) {
      log("failover to " + name(s) + " refused: " + r.error());
      return;
    }
    primary_ = last_primary_ = s;
    role_changed_at_ = clock.now();
    authority_power_loss_ = false;
    sole_copy_logged_ = -1;  // (the old Primary's disk given up is not the data any more)
    log("failover to " + name(s));
    const bool strict = survivor_was_established && GetParam().protocol == wire::ReplicationProtocol::kC;
    adopt_disk(s, strict ? "failover under protocol C lost an acknowledged write" : "failover",
               [strict](const Block& blk, uint32_t v) {
                 if (v == blk.acked || (blk.busy && v == blk.in_flight) ||
                     std::find(blk.maybe.begin(), blk.maybe.end(), v) != blk.maybe.end())
                   return true;
                 return !strict && std::find(blk.history.begin(), blk.history.end(), v) != blk.history.end();
               });
  }

  // The dead Primary came back before anyone took over: it is the Primary
  // again, with what its disk kept.
  void resume_as_primary(int n) {
    CommandResult r = node(n)->primary();
    if (!r.ok()) return;  // not yet (Consistent until the handshake); tried again later
    primary_ = n;
    role_changed_at_ = clock.now();
    const bool power_loss = authority_power_loss_;
    authority_power_loss_ = false;
    // (Also a Primary that gave up the only copy of its data and died
    // before it came back: what its failed flushes lost may be gone.)
    const bool lost_disk = resume_after_lost_disk_ || (sole_copy_logged_ == n && sole_copy_lossy_);
    resume_after_lost_disk_ = false;
    if (sole_copy_logged_ == n) sole_copy_logged_ = -1;
    log("primary again on " + name(n));
    if (lost_disk) {
      adopt_disk(n, "a Primary whose disk failed in its demotion holds data never written", ever_written);
      return;
    }
    adopt_disk(n, power_loss ? "power loss lost a flushed write" : "kill -9 lost an acknowledged write",
               [power_loss](const Block& blk, uint32_t v) {
                 if (v == blk.acked || std::find(blk.maybe.begin(), blk.maybe.end(), v) != blk.maybe.end())
                   return true;
                 if (!power_loss) return false;
                 const size_t i = index_of(blk, v);
                 return blk.history[i] == v && i >= blk.durable_from;
               });
  }

  void switchover() {
    const int from = primary_, to = 1 - primary_;
    // The writes in flight are answered first, as a file system is
    // unmounted before a demotion: the check below compares every block.
    for (int i = 0; i < 50 && !writes_.empty(); ++i) run(milliseconds(10));
    if (!writes_.empty() || !established(from)) return;
    // As the daemon demotes: once the peer confirmed every write sent to
    // it, or the link is gone (then under a new generation). Blocks the
    // Primary still records after a local I/O error need no wait for oos 0
    // first (protocol A seed 519 before: records on both sides in one
    // generation, which no handshake can order).
    std::optional<CommandResult> demoted;
    node(from)->secondary_when_confirmed([&demoted](CommandResult done) { demoted = std::move(done); });
    if (!demoted && chance(25)) {
      // The link fails while the demotion waits: the node is still Primary
      // when it loses the peer, and demotes under a new generation.
      run(milliseconds(random(0, 2)));
      if (!demoted) {
        log("link cut while " + name(from) + "'s demotion waits for the peer");
        net.cut();
        note_link_fault();
      }
    }
    for (int i = 0; i < 1000 && !demoted; ++i) run(milliseconds(10));
    if (!demoted) return fail("the demotion of " + name(from) + " did not end within 10 s");
    CommandResult r = *demoted;
    if (!r.ok()) return log("secondary on " + name(from) + " refused: " + r.error());
    primary_ = -1;
    run(milliseconds(20));  // the role change reaches the peer
    // An operator (or vrrpd's replication check) promotes only a node that
    // is connected to its UpToDate peer; otherwise the old Primary goes on.
    if (established(to)) r = node(to)->primary();
    else r = CommandResult::failure("not connected to an UpToDate peer");
    if (!r.ok()) {
      log("switchover: primary on " + name(to) + " refused: " + r.error() + "; back to " + name(from));
      if (const std::string why = cannot_take_role_back(from); !why.empty()) {
        // No Primary until then; maybe_resume() promotes it once its disk
        // is UpToDate again.
        log("switchover: " + name(from) + " " + why);
        // As observe() rules for a Primary that goes Diskless (this one did
        // inside the switchover): a write answered while the link was
        // failing, or under A still on its way, was on its disk alone
        // (protocol A seed 9875).
        if (node_status(from).disk == DiskState::kDiskless)
          resume_after_lost_disk_ =
              link_fault_since_in_sync_ || GetParam().protocol == wire::ReplicationProtocol::kA;
        return;
      }
      r = node(from)->primary();
      if (!r.ok()) return fail("the old Primary " + name(from) + " cannot take its role back: " + r.error());
      primary_ = from;
      role_changed_at_ = clock.now();
      return;
    }
    primary_ = last_primary_ = to;
    role_changed_at_ = clock.now();
    if (node_status(to).replication != ReplicationState::kOff) {
      log("switchover " + name(from) + " -> " + name(to));
      // A failed write (its FUA's flush failed) may have reached both disks.
      adopt_disk(to, "a switchover lost an acknowledged write", [](const Block& blk, uint32_t v) {
        return v == blk.acked || std::find(blk.maybe.begin(), blk.maybe.end(), v) != blk.maybe.end();
      });
      return;
    }
    // The link had stopped passing traffic: the promotion's probe found the
    // old Primary silent and took it as gone (what VRRP's takeover of a
    // dead master needs). A failover then, not a switchover: under A and B
    // acknowledged writes may have stayed on the old Primary's side.
    log("switchover " + name(from) + " -> " + name(to) + " became a takeover (the link was silent)");
    const bool strict = GetParam().protocol == wire::ReplicationProtocol::kC;
    adopt_disk(to, strict ? "a takeover under protocol C lost an acknowledged write" : "takeover",
               [strict](const Block& blk, uint32_t v) {
                 if (v == blk.acked) return true;
                 return !strict && std::find(blk.history.begin(), blk.history.end(), v) != blk.history.end();
               });
  }

  // Why node n, demoted just now by a switchover that then failed, may not
  // take its role back; empty if it must be able to. Two faults during the
  // demotion, each with a link failure after it:
  //  * the Secondary's resize request reached it just after its demotion:
  //    as one of two Secondaries it grew as the target of the added blocks
  //    (nobody wrote them), and the link failed before they came; it holds
  //    nothing out of sync but those, and is Inconsistent until the next
  //    connect resyncs them;
  //  * its disk failed (on-io-error detach) while the demotion waited for
  //    the peer: Diskless, until the operator attaches it again.
  std::string cannot_take_role_back(int n) {
    const ResourceStatus st = node_status(n);
    const uint64_t model_bytes = blocks_ * kBlock;
    if (st.disk == DiskState::kInconsistent && st.size_bytes > model_bytes &&
        st.out_of_sync_bytes <= st.size_bytes - model_bytes)
      return "became the target of a resize's added blocks as it was demoted; no Primary until they are resynced";
    if (st.disk == DiskState::kDiskless && detach_policy_)
      return "lost its disk while its demotion waited; no Primary until the disk is attached again";
    return "";
  }

  // With no Primary, only the last one takes its role back (once its disk
  // is UpToDate again): promoting the other would be the operator's split
  // brain, or stale data.
  void maybe_resume() {
    const int n = last_primary_;
    if (primary_ >= 0 || n < 0 || !alive_[n] || node_status(n).disk != DiskState::kUpToDate) return;
    if (alive_[1 - n] && node_status(1 - n).role == Role::kPrimary) return;
    resume_as_primary(n);
  }

  // VRRPD_SIM_WATCH=BLOCK: after each step, when it changed, the version
  // of that block on both disks, its bit in each on-disk bitmap (what a
  // power loss leaves) and each node's out-of-sync count. How the first
  // failures were traced.
  void watch(uint64_t blk) {
    if (blk >= blocks_) return;
    std::string line = "watch block " + std::to_string(blk) + ":";
    for (int n = 0; n < 2; ++n) {
      const std::optional<uint32_t> v = decode_block(disk(n).bytes().data() + blk * kBlock, blk);
      line += " " + name(n) + " v" + (v ? std::to_string(*v) : "?");
      Result<Superblock> sb = read_metadata(disk(n), MetadataLayout::kInternal);
      if (sb.ok()) {
        Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(disk(n), sb->bitmap_offset, sb->data_size);
        if (bm.ok()) line += std::string(" bit on disk ") + (bm->test(blk) ? "1" : "0");
      }
      if (alive_[n]) line += " oos " + std::to_string(node_status(n).out_of_sync_bytes);
    }
    // The model: what reads must return, and the oldest version a power
    // loss may leave (flushed from there on).
    const Block& m = model_[blk];
    line += "; acked " + version_name(m.acked) + ", durable from " +
            (m.durable_from < m.history.size() ? version_name(m.history[m.durable_from]) : std::string("-"));
    if (line != last_watch_) log(line);
    last_watch_ = line;
  }

  // ---- the run ----

  void run_simulation() {
    rng_.seed(GetParam().seed);
    resize_fault_rng_.seed(GetParam().seed ^ 0x5eed2e51u);
    // A third of the seeds run on-io-error detach, the rest passthrough.
    detach_policy_ = (GetParam().seed / 3) % 3 == 0;
    // Half the protocol A seeds pull ahead when the link congests (DRBD's
    // on-congestion pull-ahead) instead of making the writer wait.
    pull_ahead_ = GetParam().protocol == wire::ReplicationProtocol::kA && GetParam().seed % 2 == 0;
    // A quarter of those also pull ahead as soon as one activity-log extent
    // waits for the peer's BarrierAck (congestion_extents 1: at nearly every
    // write); the rest when the whole (small) log does, the default.
    congestion_extents_ = (GetParam().seed / 2) % 4 == 1 ? 1 : kMaxAlExtents;
    ResourceOptions oa = options(0), ob = options(1);
    make(oa, ob);
    ok(a->create_md());
    ok(b->create_md());
    // A small activity log on most seeds (the volume has 4 extents), so
    // extents leave it and come back (create_md() makes 64).
    const uint32_t al_extents = kMinAlExtents + GetParam().seed % 3;
    for (FakeStorage* d : {&disk_a, &disk_b}) {
      Result<Superblock> sb = read_metadata(*d, MetadataLayout::kInternal);
      ASSERT_TRUE(sb.ok()) << sb.error();
      sb->al_max_extents = al_extents;
      ASSERT_TRUE(write_superblock(*d, sb.value()).ok());
    }
    ok(a->attach());
    ok(b->attach());
    alive_[0] = alive_[1] = true;
    // A real connector waits connect_interval (10 s by default) before it
    // offers the next connection; without any pause, a handshake that
    // fails at once (a resync write the disk refuses) would retry forever
    // without the fake clock moving.
    net.set_reconnect_delay(milliseconds(200));
    ok(a->connect(net.connector(0)));
    ok(b->connect(net.connector(1)));
    settle();
    ok(a->primary(/*force=*/true));
    primary_ = last_primary_ = 0;
    advance(seconds(1));
    ASSERT_TRUE(established(0)) << trace();
    blocks_ = initial_blocks_ = a->status().size_bytes / kBlock;
    model_.assign(blocks_, Block{});

    int dead_for_steps[2] = {0, 0};
    for (step_ = 0; step_ < kSteps && !failed_; ++step_) {
      // The dead come back after a while.
      for (int n = 0; n < 2; ++n)
        if (!alive_[n] && --dead_for_steps[n] <= 0) start_node(n);
      if (failed_) break;
      maybe_resume();
      if (failed_) break;
      // The operator brings a Diskless node's disk back, once it works; on
      // even seeds, a Diskless Primary's only once its peer, which holds
      // the only copy, is back (so that it connects to it Diskless).
      for (int n = 0; n < 2 && !failed_; ++n) {
        if (GetParam().seed % 2 == 0 && n == diskless_primary_ && !alive_[1 - n]) continue;
        if (alive_[n] && write_fault_steps_[n] == 0 && node_status(n).disk == DiskState::kDiskless && chance(25))
          reattach(n);
      }
      if (failed_) break;

      track_size();
      const int dice = random(1, 114);
      if (dice <= 40) {
        if (primary_ >= 0) submit_write(primary_);
      } else if (dice <= 48) {
        if (primary_ >= 0) submit_flush(primary_);
      } else if (dice <= 70) {
        run(chance(90) ? milliseconds(random(0, 300)) : milliseconds(random(1000, 8000)));
        check_in_sync(stalled_);
      } else if (dice <= 76) {
        if (primary_ >= 0) check_read(primary_);
      } else if (dice <= 80) {
        log("link cut");
        net.cut();
        note_link_fault();
      } else if (dice <= 84) {
        link_down_ = !link_down_;
        log(link_down_ ? "link down" : "link up");
        net.set_link_up(!link_down_);
        note_link_fault();
        link_healthy_ = !link_down_ && !stalled_;
      } else if (dice <= 86) {
        set_stalled(!stalled_);
      } else if (dice <= 88) {
        const int ms = random(0, 3);
        log("latency " + std::to_string(ms) + " ms");
        net.set_latency(milliseconds(ms));
      } else if (dice <= 89) {
        // The next flush of one disk fails and loses the writes it covered,
        // as failed writeback does on Linux (the pages are marked clean).
        // Under detach the disk is given up: as for write faults, only
        // while the pair is healthy.
        const int n = random(0, 1);
        if (!alive_[n] || (detach_policy_ && (!established(0) || !established(1)))) continue;
        log("the next flush of " + name(n) + "'s disk fails and loses what it covered");
        disk(n).fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
      } else if (dice <= 93) {
        if (primary_ >= 0 && alive_[1 - primary_] && established(primary_)) switchover();
      } else if (dice <= 97) {
        // The Primary dies; its peer takes over at once, or not at all. Not
        // in the instant of a promotion: the peer would still take the new
        // Primary for a Secondary (its role change is on the wire), and
        // promote itself beside it, a race that needs a node to die within
        // a link's latency of its promotion.
        if (primary_ < 0 || !alive_[1 - primary_] || clock.now() - role_changed_at_ < milliseconds(5)) continue;
        const int p = primary_, s = 1 - p;
        const bool survivor_was_established = established(s);
        // Ahead, and the peer not yet Behind: its PullAhead frame waits in
        // the congested queue (protocol A seed 10130).
        const bool ahead_unknown_to_peer = survivor_was_established &&
                                           node_status(p).replication == ReplicationState::kAhead;
        kill(p, chance(50));
        dead_for_steps[p] = random(1, 40);
        // Only a survivor that was connected to the Primary with UpToDate
        // data: promoting a disconnected one is the split brain that
        // fencing exists to prevent (and that the handshake then reports).
        if (survivor_was_established && chance(60)) {
          fail_over(s, survivor_was_established);
          if (ahead_unknown_to_peer && primary_ == s) {
            ahead_primary_taken_over_ = p;
            log("the dead Primary " + name(p) + " had pulled ahead unknown to " + name(s) +
                ": both change data since their common generation, a split brain when they meet again");
          }
        }
      } else if (dice <= 100) {
        // The Secondary dies.
        const int s = primary_ < 0 ? random(0, 1) : 1 - primary_;
        if (!alive_[s] || s == primary_) continue;
        // Serving a Diskless Primary, it holds the only copy: half the
        // time it is back within a few steps, as a restarted daemon is,
        // while that Primary is still Diskless and connects to it again.
        const bool only_copy = primary_ >= 0 && diskless_primary_ == primary_;
        kill(s, chance(50));
        dead_for_steps[s] = only_copy && chance(50) ? random(1, 3) : random(1, 40);
      } else if (dice <= 103) {
        if (primary_ >= 0) submit_write(primary_, /*discard=*/true);
      } else if (dice <= 105) {
        inject_write_fault();
      } else if (dice <= 111) {
        operator_command(dice);
      } else if (dice == 112) {
        grow_volume();
      } else if (dice == 113) {
        shrink_volume();
      } else {
        congest();
      }
      reap();
      observe();
      if (const char* w = std::getenv("VRRPD_SIM_WATCH")) watch(std::strtoull(w, nullptr, 10));
    }
    if (failed_) return;

    // The faults end: everyone up, the link healthy, one Primary.
    log("healing");
    net.set_stalled(false);
    net.set_latency(milliseconds(0));
    net.set_link_up(true);
    stalled_ = link_down_ = false;
    link_healthy_ = true;
    disk_a.clear_faults();
    disk_b.clear_faults();
    write_fault_steps_[0] = write_fault_steps_[1] = 0;
    for (int n = 0; n < 2; ++n) {
      if (!paused_[n] || !alive_[n]) continue;
      paused_[n] = false;
      log("resume-sync on " + name(n));
      ok(node(n)->resume_sync());
    }
    int reconnects = 0;
    for (int n = 0; n < 2; ++n)
      if (!alive_[n]) start_node(n);
    for (int i = 0; i < 100 && !failed_; ++i) {
      for (int n = 0; n < 2 && !failed_; ++n) {
        if (node_status(n).disk == DiskState::kDiskless) {
          reattach(n);
          continue;
        }
        // The one fault the engine leaves to the operator: a connection it
        // dropped for good (StandAlone), here after two promotions crossed
        // on the link (both Primary). Split brain is not one the simulation
        // may cause: it promotes only a survivor that was connected.
        const ResourceStatus st = node_status(n);
        if (st.split_brain && ahead_primary_taken_over_ >= 0 && st.connection == ConnectionState::kStandAlone) {
          // The one split brain the simulation causes: the operator keeps
          // the data of the node that took over (its writes since are
          // acknowledged; the dead Primary's while Ahead were lost under A).
          if (n == ahead_primary_taken_over_) {
            log(name(n) + ": split brain after a takeover of the Ahead Primary: the operator connects it "
                "with discard-my-data");
            node(n)->set_discard_my_data(true);
          } else {
            log(name(n) + ": split brain after a takeover of the Ahead Primary: the operator connects it");
          }
          ok(node(n)->connect(net.connector(n)));
          continue;
        }
        if (st.split_brain) return fail("split brain on " + name(n) + ": " + st.split_brain_text);
        if (st.connection == ConnectionState::kStandAlone) {
          log(name(n) + " is StandAlone (" + st.last_error + "): the operator connects it");
          ok(node(n)->connect(net.connector(n)));
        }
      }
      if (failed_) break;
      // Both disks Inconsistent: a double fault (the good copy failed, by
      // a failed flush, while the other was being resynced), which the
      // engine leaves to the operator, as DRBD does. The operator keeps
      // the last Primary's copy (primary --force); the model then allows
      // any version written there. A Primary still in its role (its disk
      // failed while it was the SyncSource, and was attached again) is
      // demoted first, as a DRBD user would (seed 3394).
      if (node_status(0).disk == DiskState::kInconsistent && node_status(1).disk == DiskState::kInconsistent &&
          node_status(0).replication == ReplicationState::kEstablished) {
        const int n = primary_ >= 0 ? primary_ : last_primary_ >= 0 ? last_primary_ : 0;
        if (primary_ >= 0) {
          log("both disks are Inconsistent (a double fault): the operator demotes the Primary " + name(n));
          ok(node(n)->secondary());
          primary_ = -1;
        }
        log("both disks are Inconsistent (a double fault): the operator forces " + name(n) + " Primary");
        ok(node(n)->primary(/*force=*/true));
        primary_ = last_primary_ = n;
        role_changed_at_ = clock.now();
        adopt_disk(n, "a forced Primary holds data never written", ever_written);
        if (failed_) break;
      }
      run(milliseconds(100));
      observe();
      maybe_resume();
      if (primary_ >= 0 && established(0) && established(1) && writes_.empty() && flushes_.empty()) {
        // Blocks recorded out of sync on a running link (a failed flush
        // on the Primary) wait for the next connect: the operator
        // reconnects, as a DRBD user would.
        const uint64_t recorded = node_status(0).out_of_sync_bytes + node_status(1).out_of_sync_bytes;
        if (recorded == 0 || reconnects >= 3) break;
        ++reconnects;
        log(std::to_string(recorded) + " bytes recorded out of sync while Established: the operator reconnects");
        net.cut();
      }
    }
    if (failed_) return;
    if (primary_ < 0) return fail("no node could become Primary after the faults ended");
    if (!established(0) || !established(1)) return fail("the pair did not converge within 10 s");
    if (!writes_.empty()) {
      std::string pending;
      for (const PendingWrite& w : writes_) pending += " v" + std::to_string(w.version) + " on " + name(w.node);
      return fail("writes still unanswered after the faults ended:" + pending);
    }
    run(seconds(1));  // the last epoch's barrier
    track_size();
    if (node_status(0).size_bytes != node_status(1).size_bytes)
      return fail("converged with different sizes: a " + std::to_string(node_status(0).size_bytes) + ", b " +
                  std::to_string(node_status(1).size_bytes) + " bytes");
    for (int n = 0; n < 2; ++n)
      if (node_status(n).out_of_sync_bytes != 0)
        return fail(name(n) + " still has " + std::to_string(node_status(n).out_of_sync_bytes) +
                    " bytes out of sync while Established");
    adopt_disk(primary_, "the converged Primary differs from the acknowledged writes",
               [](const Block& blk, uint32_t v) {
                 return v == blk.acked || std::find(blk.maybe.begin(), blk.maybe.end(), v) != blk.maybe.end();
               });
    if (failed_) return;
    if (!data_equal()) return fail("the disks differ silently" + first_difference());
    // A last power loss on both: what both flushed survives, and still
    // matches (nothing left in the page caches that a crash could undo
    // differently on the two sides).
    // The first flush may report an earlier failed flush that nobody's
    // flush reported yet (EIO, as fsync after failed writeback); a second
    // one must succeed.
    for (int attempt = 1;; ++attempt) {
      auto result = std::make_shared<std::optional<IoStatus>>();
      node(primary_)->submit_flush([result](IoStatus s) { *result = s; });
      run(milliseconds(100));
      if (result->has_value() && result->value().ok()) break;
      const std::string what = result->has_value() ? result->value().message() : "no answer";
      if (attempt == 2 || !result->has_value()) return fail("the final flush did not complete: " + what);
      log("the final flush reported an earlier failure (" + what + "): flushing again");
    }
    a.reset();
    b.reset();
    alive_[0] = alive_[1] = false;
    disk_a.crash();
    disk_b.crash();
    if (!data_equal()) fail("after a flush and a power loss of both, the disks differ" + first_difference());
    reached_end_ = true;
  }

  static constexpr int kSteps = 400;
  std::mt19937 rng_;
  std::mt19937 resize_fault_rng_;  // grow_volume()'s disk fault only
  uint64_t blocks_ = 0;
  std::vector<Block> model_;
  uint32_t next_version_ = 1;
  std::vector<PendingWrite> writes_;
  std::deque<PendingFlush> flushes_;
  int primary_ = -1;       // the node the simulation made Primary, -1 none
  int last_primary_ = -1;  // the node whose disk holds the data
  TimePoint role_changed_at_{};
  bool alive_[2] = {false, false};
  bool authority_power_loss_ = false;  // last_primary_'s disk lost power since it was adopted
  // last_primary_ lost its disk during a switchover's demotion after a link
  // fault (or under A): what only that disk held may be lost with it.
  bool resume_after_lost_disk_ = false;
  // A Primary that had pulled ahead died before its peer learned it
  // (Behind), and the peer took over: both sides then changed data since
  // their common generation, a split brain the operator settles with
  // discard-my-data on this node. -1: none.
  int ahead_primary_taken_over_ = -1;
  bool detach_policy_ = false;         // on-io-error detach (passthrough otherwise)
  bool pull_ahead_ = false;            // protocol A, on_congestion pull-ahead
  uint32_t congestion_extents_ = kMaxAlExtents;  // with pull_ahead_
  int write_fault_steps_[2] = {0, 0};  // steps left of a write fault on that disk
  bool paused_[2] = {false, false};    // the operator paused the resync there
  // A Primary that went Diskless (on-io-error detach) and wrote through its
  // peer, until its disk is UpToDate again: the peer's disk holds the data.
  int diskless_primary_ = -1;
  // A link fault or a dead node since both sides were last in sync with no
  // write in flight; and whether the Primary went Diskless after one.
  bool link_fault_since_in_sync_ = false;
  TimePoint link_fault_at_{};
  bool link_down_ = false;
  bool stalled_ = false;      // the link holds every byte sent
  bool link_healthy_ = true;  // not down, not stalled
  int grows_ = 0;             // growths of both disks so far
  // New disks larger than the old ones: their room past the volume holds
  // what the old disk had there (its metadata), not zeros.
  int larger_new_disks_ = 0;
  uint64_t initial_blocks_ = 0;
  uint64_t shrink_limit_ = UINT64_MAX;  // a shrink on its way: its new end (blocks)
  int shrink_node_ = -1;                // the node asked for the last shrink, -1 none yet
  static constexpr uint64_t kMaxDiskBytes = 2 * kTestDiskBytes;
  bool diskless_after_link_fault_ = false;
  int sole_copy_logged_ = -1;  // the Primary logged as Diskless with the only copy on its disk given up
  bool sole_copy_lossy_ = false;  // and a failed flush had lost writes on that disk then
  // Protocol A: the Primary went Diskless less than a second of healthy
  // link ago (answered writes may still be on their way).
  bool a_writes_in_flight_at_detach_ = false;
  TimePoint diskless_at_{};
  int step_ = 0;
  bool failed_ = false;
  std::deque<std::string> trace_;
  bool reached_end_ = false;  // every check ran
  // VRRPD_SIM_VERBOSE=1: the steps go to stderr as they happen, between
  // the engines' own log lines.
  const bool verbose_ = std::getenv("VRRPD_SIM_VERBOSE") != nullptr;
  std::string last_watch_;
};

TEST_P(PairSimulation, ConvergesWithoutLosingAcknowledgedWrites) {
  run_simulation();
  // A failure has reported itself; otherwise the run must have got through
  // every check (an ASSERT in the setup returns early).
  if (!failed_) {
    EXPECT_TRUE(reached_end_) << GetParam() << ": stopped before the final checks";
  }
}

// 30 seeds per protocol in the suite (about 10 s in all);
// VRRPD_SIM_SEEDS=N runs N to search further, from VRRPD_SIM_FIRST_SEED
// (1 unless set: a search can go on where the last one ended).
std::vector<SimParams> all_params() {
  uint32_t seeds = 30, first = 1;
  if (const char* env = std::getenv("VRRPD_SIM_SEEDS")) seeds = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  if (const char* env = std::getenv("VRRPD_SIM_FIRST_SEED"))
    first = std::max<uint32_t>(1, static_cast<uint32_t>(std::strtoul(env, nullptr, 10)));
  std::vector<SimParams> out;
  for (auto p : {wire::ReplicationProtocol::kC, wire::ReplicationProtocol::kB, wire::ReplicationProtocol::kA})
    for (uint32_t seed = first; seed < first + seeds; ++seed) out.push_back(SimParams{p, seed});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Seeds, PairSimulation, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<SimParams>& param) {
                           return std::string(1, static_cast<char>(param.param.protocol)) +
                                  "_seed" + std::to_string(param.param.seed);
                         });

// Seeds searches found engine defects with (each fixed; most also have a
// unit test of their own), run in the suite under every protocol so that
// the defect stays fixed: 14016 (protocol 12's NewGeneration), 16786 (a
// late flush answer after the disk was given up), 13835 (a metadata error
// does not give up the only copy), 25164 (a Diskless Primary served again
// no longer holds the only copy), 28406 (a Diskless Primary answers a
// protocol C write at the peer's BarrierAck), 5356 (the only copy given up
// comes back after the operator moved its metadata), 29814 (a flush queued
// behind one that failed does not vouch for what that one lost), 37799 (a
// rewrite the disk refused is retried without waiting for a flush), 43067
// (an Inconsistent Primary takes its peer's growth at the handshake), 47761
// (a Primary does not detach while its resize waits for the peer), 442 and
// 945 (a SyncTarget keeps a Diskless Primary's writes recorded); and one
// defect of this simulation: 51136 (a read refused by an Inconsistent
// Primary with no peer was judged by the disk state after the handshake
// that followed).
std::vector<SimParams> found_params() {
  std::vector<SimParams> out;
  for (auto p : {wire::ReplicationProtocol::kC, wire::ReplicationProtocol::kB, wire::ReplicationProtocol::kA})
    for (uint32_t seed : {14016u, 16786u, 13835u, 25164u, 28406u, 5356u, 29814u, 37799u, 43067u, 47761u, 51136u, 442u, 945u})
      out.push_back(SimParams{p, seed});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Found, PairSimulation, ::testing::ValuesIn(found_params()),
                         [](const ::testing::TestParamInfo<SimParams>& param) {
                           return std::string(1, static_cast<char>(param.param.protocol)) +
                                  "_seed" + std::to_string(param.param.seed);
                         });

}  // namespace
}  // namespace vrrpd::replication::testing
