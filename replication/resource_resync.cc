// Resource: the second half of the connect handshake and resync. Both sides
// send their out-of-sync bitmap (BitmapChunk); with the peer's bitmap and
// Hello in hand each side takes the same decision from its own point of view
// (generations.h decide(), then split_brain.h for diverged data, then the
// disk-state overrides), and the resync runs over the union of both bitmaps.
//
// Resync: the SyncTarget walks its bitmap and asks for runs of out-of-sync
// blocks (ResyncRequest, at most 1 MiB each, at most kResyncWindowBytes in
// flight, paced by a token bucket of resync_rate bytes/s on the loop clock).
// The SyncSource reads the block when it answers (ResyncReply), so
// application writes that go out on the same ordered stream stay correct in
// either order. The target clears bits as blocks land and saves the bitmap
// every kResyncSaveBytes; at the end it adopts the source's generations and
// becomes UpToDate; the source then drops its bitmap generation.
#include <algorithm>
#include <cerrno>
#include <cmath>

#include "replication/block_digest.h"
#include "replication/resource.h"
#include "vrrpd/base/log.h"

namespace vrrpd::replication {

namespace {

// Bits per BitmapChunk: 1 MiB of raw bitmap, within the frame payload limit.
constexpr uint64_t kBitmapChunkBits = uint64_t{8} << 20;
// Resync requests in flight, bytes: keeps the link and both disks busy (16
// requests of up to 1 MiB) without flooding the link; the rate limit still
// paces what is requested.
constexpr uint64_t kResyncWindowBytes = 16u << 20;
// A request spans clean gaps of up to this many blocks between out-of-sync
// runs (64 KiB): scattered 4 KiB changes (random writes, a database) become
// a few large requests instead of one round of disk and frame work per
// block. The clean blocks in between are equal on both sides (they are
// clean in the union of both bitmaps), so rewriting them changes nothing.
constexpr uint64_t kResyncMaxGapBlocks = 16;
// The target saves its bitmap after this much progress, bounding the repeat
// work after a crash of the target.
constexpr uint64_t kResyncSaveBytes = 64u << 20;

bool is_target(SyncDecision d) { return d == SyncDecision::kTargetBitmap || d == SyncDecision::kTargetFull; }
bool is_source(SyncDecision d) { return d == SyncDecision::kSourceBitmap || d == SyncDecision::kSourceFull; }
// A usable image: UpToDate, or Consistent (good, but not yet confirmed by a
// handshake). Outdated and Inconsistent are not.
bool holds_good_image(DiskState s) { return s == DiskState::kUpToDate || s == DiskState::kConsistent; }

}  // namespace

void Resource::send_bitmap() {
  // A Primary taking back the disk it had given up sends what that disk may
  // lack (its records), not the all-set bitmap it fetches by until the
  // peer's is in: the peer merges ours into its own as source.
  send_bitmap_of(reattach_records_ && role_ == Role::kPrimary ? *reattach_records_ : *bitmap_);
}

void Resource::send_bitmap_of(const OutOfSyncBitmap& bitmap) {
  const uint64_t blocks = bitmap.block_count();
  for (uint64_t first = 0; first < blocks; first += kBitmapChunkBits) {
    const uint64_t n = std::min(kBitmapChunkBits, blocks - first);
    std::vector<uint8_t> bits((n + 7) / 8, 0);
    uint64_t from = first;
    while (auto run = bitmap.find_next_dirty_run(from)) {
      if (run->first_block >= first + n) break;
      const uint64_t end = std::min(run->first_block + run->block_count, first + n);
      for (uint64_t b = run->first_block; b < end; ++b)
        bits[(b - first) / 8] |= uint8_t(1u << ((b - first) % 8));
      from = end;
    }
    send(wire::make_bitmap_chunk(first, bits, n));
  }
}

void Resource::on_bitmap_chunk(const wire::BitmapChunk& chunk) {
  if (phase_ == Phase::kRunning) return on_reattach_bitmap_chunk(chunk);
  if (phase_ != Phase::kBitmaps || chunk.offset_bits != peer_bitmap_bits_ ||
      chunk.bit_count > peer_bitmap_->block_count() - peer_bitmap_bits_) {
    fail_link("unexpected BitmapChunk at bit " + std::to_string(chunk.offset_bits),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  wire::for_each_set_run(chunk, [this](uint64_t first, uint64_t count) {
    peer_bitmap_->set_range(first * kBlockSize, count * kBlockSize);
  });
  peer_bitmap_bits_ += chunk.bit_count;
  if (peer_bitmap_bits_ != peer_bitmap_->block_count()) return;
  if (bitmap_held_) return release_held_bitmap();  // the before-resync-target handler may run first
  finish_handshake();
}

void Resource::enter_running(const std::string& why) {
  handshake_timer_.disarm();
  phase_ = Phase::kRunning;
  set_connection(ConnectionState::kConnected, why);
  last_answer_ = loop_.now();
  watchdog_timer_.arm_in(options_.timeout);
}

void Resource::finish_handshake() {
  const wire::Hello& ph = peer_hello_;
  SyncDecision d = handshake_.decision;
  std::string why = std::string(to_string(d)) + " (rule " + std::to_string(handshake_.rule) + ": " +
                    handshake_.reason + ")";
  // Disk-state overrides, before split brain: an Inconsistent disk holds
  // no image to keep, so its generations can make neither a source nor a
  // split brain (DRBD: "becoming sync target due to disk states").
  //  * Opposite a good image (UpToDate, or Consistent: good but not yet
  //    confirmed, as after a restart) it is always the target; of a full
  //    resync when the generations diverged (they do not say which blocks
  //    differ).
  //  * Two Inconsistent disks (a double fault: the good copy failed while
  //    the other was being resynced): no resync at all, since the target
  //    would end UpToDate on data that is not; the operator declares the
  //    copy to keep (primary --force there: a full resync to the peer
  //    follows), as in DRBD.
  const bool self_inconsistent = disk_ == DiskState::kInconsistent;
  const bool peer_inconsistent = ph.disk_state == DiskState::kInconsistent;
  const bool diverged = d == SyncDecision::kSplitBrain;
  if (self_inconsistent && peer_inconsistent && (is_source(d) || is_target(d) || diverged)) {
    report_error("both disks are Inconsistent: no resync (the generations said " + why +
                 "); primary --force on the node whose data is to be kept makes it the source of a full sync");
    why = "both disks are Inconsistent: no resync until the operator forces one Primary";
    d = SyncDecision::kNone;
  } else if (self_inconsistent && holds_good_image(ph.disk_state) && !is_target(d)) {
    d = diverged ? SyncDecision::kTargetFull : SyncDecision::kTargetBitmap;
    why = std::string("this node is Inconsistent and the peer ") + to_string(ph.disk_state) +
          (diverged ? ": full resync from it (the generations diverged: " + handshake_.reason + ")" : "");
  } else if (peer_inconsistent && holds_good_image(disk_) && !is_source(d)) {
    d = diverged ? SyncDecision::kSourceFull : SyncDecision::kSourceBitmap;
    why = std::string("the peer is Inconsistent and this node ") + to_string(disk_) +
          (diverged ? ": full resync to it (the generations diverged: " + handshake_.reason + ")" : "");
  }
  if (d == SyncDecision::kSplitBrain) {
    const bool self_discard = options_.discard_my_data;
    const bool peer_discard = (ph.flags & wire::kHelloDiscardMyData) != 0;
    SplitBrainWinner winner = SplitBrainWinner::kNone;
    std::string text;
    if (self_discard && peer_discard) {
      text = "both nodes have discard-my-data set; clear it on the node whose data must survive";
    } else if (self_discard || peer_discard) {
      winner = self_discard ? SplitBrainWinner::kPeer : SplitBrainWinner::kSelf;
      text = std::string("discard-my-data on ") + (self_discard ? "this node" : "the peer") +
             ": its changes are discarded";
    } else if (handshake_.auto_resolvable) {
      SplitBrainFacts f;
      f.self_primary = role_ == Role::kPrimary;
      f.peer_primary = ph.role == Role::kPrimary;
      f.self_changed_blocks = bitmap_->count();
      f.peer_changed_blocks = peer_bitmap_->count();
      f.self_primary_at_split = (sb_.generations.bitmap & kUuidPrimaryBit) != 0;
      f.peer_primary_at_split = (ph.generations.bitmap & kUuidPrimaryBit) != 0;
      f.self_resolves_conflicts = options_.node_id > options_.peer_node_id;
      SplitBrainResolution r = resolve_split_brain(options_.split_brain, f);
      winner = r.winner;
      text = r.reason;
    } else {
      text = "the data diverged before either bitmap generation (" + handshake_.reason +
             "); set discard-my-data on the victim (a full sync follows)";
    }
    split_brain_text_ = "split brain detected: " + text;
    if (winner == SplitBrainWinner::kNone) {
      split_brain_ = true;
      state_changed();
      log::error("replication " + options_.name + ": " + split_brain_text_);
      refuse(split_brain_text_, wire::DisconnectCode::kSplitBrain);
      return;
    }
    log(split_brain_text_);
    const bool full = !handshake_.auto_resolvable;
    d = winner == SplitBrainWinner::kSelf ? (full ? SyncDecision::kSourceFull : SyncDecision::kSourceBitmap)
                                          : (full ? SyncDecision::kTargetFull : SyncDecision::kTargetBitmap);
    why = std::string(to_string(d)) + " (" + split_brain_text_ + ")";
  }
  if (role_ == Role::kPrimary && ph.role == Role::kPrimary) {
    refuse("both nodes are Primary: dual-primary is not supported", wire::DisconnectCode::kIncompatible);
    return;
  }
  // Equal generations, yet one side recorded blocks the other may lack:
  // writes a node made as Primary, demoted while they were on their way
  // (protocol A answers a write once sent), then the link dropped before
  // the peer confirmed them. Demoted, the node started no new generation,
  // so the rules above see nothing to do (DRBD logs "No resync, but N bits
  // in bitmap!" and leaves them). The side with the bits is the source, as
  // for a crashed Primary's hot extents. Not when it is Secondary opposite
  // a Primary (that Primary has written since: its data is the newer), nor
  // when both sides have bits (neither can say whose are right); both
  // sides decide alike from the same two bitmaps (protocol 7). (A node
  // whose own disk failed the peer's writes is Inconsistent, and the
  // disk-state overrides above make it the target.)
  if (d == SyncDecision::kNone && wire_version() >= 7 && holds_good_image(disk_) &&
      holds_good_image(ph.disk_state)) {
    const uint64_t mine = bitmap_->count(), theirs = peer_bitmap_->count();
    const bool self_source = mine > 0 && theirs == 0 && ph.role != Role::kPrimary;
    const bool peer_source = theirs > 0 && mine == 0 && role_ != Role::kPrimary;
    if (self_source || peer_source) {
      d = self_source ? SyncDecision::kSourceBitmap : SyncDecision::kTargetBitmap;
      why = std::string(to_string(d)) + " (same generation, but " +
            std::to_string((self_source ? mine : theirs) * kBlockSize / 1024) + " KiB recorded out of sync on " +
            (self_source ? "this node" : "the peer") + " only: writes the other side never confirmed)";
    } else if (mine > 0 || theirs > 0) {
      log("same generation and no resync, but blocks are recorded out of sync (" + std::to_string(mine * kBlockSize) +
          " bytes here, " + std::to_string(theirs * kBlockSize) + " on the peer); verify to compare them");
    }
  }
  // A Primary may be SyncTarget only with an Inconsistent disk (attached
  // under it, resync not finished): the peer holds its data. A Primary with
  // a good image that the generations make a target has diverged.
  // (peer_disk_: a restarted peer that served us says UpToDate in a
  // StateChange before its bitmap, protocol 11.)
  if (role_ == Role::kPrimary && is_target(d) &&
      !(disk_ == DiskState::kInconsistent && peer_disk_ == DiskState::kUpToDate)) {
    const bool restarted_peer = disk_ == DiskState::kInconsistent && peer_disk_ == DiskState::kConsistent;
    refuse("this node is Primary but must become SyncTarget: " + why +
               (restarted_peer ? "; the peer restarted (Consistent) and did not take this node for the Primary it "
                                 "served (it was Primary since, or its build is older than replication protocol 11)"
                               : "") +
               "; demote it first",
           wire::DisconnectCode::kIncompatible);
    return;
  }
  enter_running(why);
  // discard-my-data is for one connect (as drbdadm connect --discard-my-data):
  // left set, it would silently throw away this node's data at the next split.
  if (options_.discard_my_data) {
    options_.discard_my_data = false;
    log("discard-my-data cleared: used by this connection");
  }
  peer_bitmap_bits_ = 0;
  // The peer is connected again: it resyncs from us (SyncTarget, not
  // promotable) or already has everything.
  if (io_suspended_ && !is_target(d)) resume_held_io("the link is back");
  if (is_source(d)) {
    start_sync_source(d == SyncDecision::kSourceFull, why);
  } else if (is_target(d)) {
    // The disk this Primary had given up, back: only what its records and
    // the peer's bitmap name is fetched (we sent the records as our bitmap).
    if (reattach_records_ && role_ == Role::kPrimary && d == SyncDecision::kTargetBitmap) {
      OutOfSyncBitmap needed = *reattach_records_;
      needed.merge(*peer_bitmap_);
      narrow_reattach_resync(needed, "the handshake");
    }
    if (!start_sync_target(d == SyncDecision::kTargetFull, why)) {
      // Resyncing without that record could lose blocks to a power loss
      // that nobody knows to fetch again; the next connect tries again.
      fail_link("not resyncing: the blocks to fetch could not be recorded on this disk (" + last_error_ + ")",
                wire::DisconnectCode::kOther);
      return;
    }
  } else {
    set_replication(ReplicationState::kEstablished, why);
    if (crashed_primary_) {
      crashed_primary_ = false;
      sb_.flags.was_primary = role_ == Role::kPrimary;
      (void)persist_superblock();
    }
    // Same generation as the peer and no resync either way: a Consistent
    // image is confirmed, and an Outdated one is current after all when the
    // peer holds a good image of the same generation.
    if (disk_ == DiskState::kConsistent) {
      set_disk(DiskState::kUpToDate, std::string("same data as the peer (") + to_string(ph.disk_state) + ")");
    } else if (disk_ == DiskState::kOutdated && holds_good_image(ph.disk_state)) {
      sb_.flags.outdated = false;
      (void)persist_superblock();
      set_disk(DiskState::kUpToDate, std::string("same data as the ") + to_string(ph.disk_state) + " peer");
    }
  }
  peer_bitmap_.reset();
  if (sb_.flags.peer_outdated) {
    // The peer's disk is known again; it was outdated while away.
    sb_.flags.peer_outdated = false;
    (void)persist_superblock();
  }
  send(wire::StateChange{role_, disk_});
  if (replication_ == ReplicationState::kSyncTarget) resync_timer_.arm_at(loop_.now());
  start_blocked_writes();
}

void Resource::mark_resync_blocks(bool full) {
  if (full) {
    bitmap_->set_all();
    return;
  }
  // The union: the peer's own changes since the split must be overwritten
  // too. (None on the running link: a resize's added blocks.)
  if (!peer_bitmap_) return;
  uint64_t from = 0;
  while (auto run = peer_bitmap_->find_next_dirty_run(from)) {
    bitmap_->set_range(run->first_block * kBlockSize, run->block_count * kBlockSize);
    from = run->first_block + run->block_count;
  }
}

void Resource::start_sync_source(bool full, const std::string& why) {
  kept_past_resync_.reset();
  mark_resync_blocks(full);
  (void)persist_bitmap();
  resync_total_bytes_ = bitmap_->out_of_sync_bytes();
  resync_started_at_ = loop_.now();
  resync_done_bytes_ = 0;
  // The handshake found our data the newest: a Consistent image is confirmed.
  if (disk_ == DiskState::kConsistent) set_disk(DiskState::kUpToDate, "SyncSource: " + why);
  set_replication(ReplicationState::kSyncSource,
                  why + ", " + std::to_string(resync_total_bytes_) + " bytes to resync");
}

bool Resource::start_sync_target(bool full, const std::string& why) {
  mark_resync_blocks(full);
  // Inconsistent on disk before the first block is overwritten: a crash
  // mid-resync must not leave a half-old image that claims to be usable.
  // And the blocks to fetch recorded on disk first: the source forgets a
  // block once we have written it, so after a power loss here only our
  // bitmap still knows that an unflushed one is missing.
  sb_.flags.consistent = false;
  IoStatus s = persist_bitmap();
  if (s.ok()) s = persist_superblock();
  set_disk(DiskState::kInconsistent, "SyncTarget");
  resync_total_bytes_ = bitmap_->out_of_sync_bytes();
  resync_started_at_ = loop_.now();
  resync_done_bytes_ = 0;
  resync_unflushed_bytes_ = 0;
  resync_cursor_ = 0;
  resync_in_flight_bytes_ = 0;
  resync_equal_bytes_ = 0;
  resync_tokens_ = 0;
  resync_tokens_at_ = loop_.now();
  set_replication(ReplicationState::kSyncTarget,
                  why + ", " + std::to_string(resync_total_bytes_) + " bytes to resync");
  return s.ok();
}

void Resource::refill_resync_tokens() {
  const TimePoint now = loop_.now();
  const double seconds = std::chrono::duration<double>(now - resync_tokens_at_).count();
  const double rate = static_cast<double>(options_.resync_rate);
  // Burst: 100 ms of bandwidth, at least one maximal request.
  const double capacity = std::max(rate / 10, static_cast<double>(wire::kMaxDataBytes));
  resync_tokens_ = std::min(capacity, resync_tokens_ + seconds * rate);
  resync_tokens_at_ = now;
}

bool Resource::take_resync_tokens(uint64_t length) {
  refill_resync_tokens();
  const double need = static_cast<double>(length);
  if (resync_tokens_ >= need) {
    resync_tokens_ -= need;
    return true;
  }
  const double wait_s = (need - resync_tokens_) / static_cast<double>(options_.resync_rate);
  resync_timer_.arm_in(std::chrono::nanoseconds(static_cast<int64_t>(std::ceil(wait_s * 1e9))));
  return false;
}

void Resource::request_resync_blocks() {
  if (phase_ != Phase::kRunning) return;
  if (replication_ == ReplicationState::kVerifyS) return request_verify_blocks();
  if (replication_ != ReplicationState::kSyncTarget) return;
  const uint64_t max_blocks = wire::kMaxDataBytes / kBlockSize;
  while (resync_in_flight_bytes_ < kResyncWindowBytes && !resync_paused()) {
    auto run = bitmap_->find_next_dirty_run(resync_cursor_, max_blocks);
    if (!run) break;
    const uint64_t first = run->first_block;
    const uint64_t end = coalesced_run_end(first, first + run->block_count, max_blocks);
    const uint64_t offset = first * kBlockSize;
    const uint64_t length = std::min((end - first) * kBlockSize, sb_.data_size - offset);
    if (!take_resync_tokens(length)) return;
    ReplyDue due;
    due.kind = options_.checksum_resync ? ReplyDue::Kind::kChecksum : ReplyDue::Kind::kResync;
    due.offset = offset;
    due.length = length;
    request_from_peer(due);
    resync_in_flight_bytes_ += length;
    resync_cursor_ = end;
  }
  if (resync_in_flight_bytes_ == 0 && !bitmap_->find_next_dirty_run(resync_cursor_))
    finish_resync_as_target();
}

uint64_t Resource::coalesced_run_end(uint64_t first, uint64_t end, uint64_t max_blocks) const {
  while (end - first < max_blocks) {
    auto next = bitmap_->find_next_dirty_run(end);
    if (!next || next->first_block - end > kResyncMaxGapBlocks || next->first_block >= first + max_blocks) break;
    end = std::min(next->first_block + next->block_count, first + max_blocks);
  }
  return end;
}

std::optional<std::vector<uint8_t>> Resource::read_for_peer(uint64_t offset, uint32_t length,
                                                            const char* purpose) {
  std::vector<uint8_t> block(length);
  IoStatus s = data_->read(offset, block);
  if (s.ok()) return block;
  ++io_errors_;
  report_error(std::string(purpose) + ": reading offset " + std::to_string(offset) +
               " failed: " + s.message());
  return std::nullopt;
}

void Resource::on_resync_request(const wire::ResyncRequest& r) {
  // Our disk was given up before our growth's answer: the peer asked for
  // the added blocks before it heard that we withdraw it, and forgets
  // these requests when it takes back its old size (take_back_growth()).
  if (!data_ && withdrawing_resize_) return;
  if (!range_fits(r.offset, r.length, sb_.data_size) || !data_) {
    fail_link(!data_ ? "peer asked for a block but this node has no disk"
                     : "peer asked for a resync block beyond the end of the device",
              wire::DisconnectCode::kIncompatible);
    return;
  }
  std::optional<std::vector<uint8_t>> block = read_for_peer(r.offset, r.length, "resync");
  if (!block) {
    // A ResyncReply cannot say "failed"; the target must find another source.
    fail_link("cannot serve the SyncTarget: " + last_error_, wire::DisconnectCode::kOther);
    return;
  }
  if (r.want_checksum) {
    send(wire::ChecksumReply{r.offset, r.length, block_digest(*block)});
    return;
  }
  send(wire::ResyncReply{r.offset, std::move(*block)});
  // The target keeps its bit until the block lands, so a reply lost with the
  // link is still resynced next time.
  if (replication_ == ReplicationState::kSyncSource) bitmap_->clear_range(r.offset, r.length);
}

bool Resource::take_reply_due(ReplyDue::Kind kind, uint64_t offset, uint64_t length, const char* what) {
  const bool fits = !replies_due_.empty() && replies_due_.front().offset == offset &&
                    replies_due_.front().length == length &&
                    (replies_due_.front().kind == kind ||
                     (kind == ReplyDue::Kind::kResync && replies_due_.front().kind == ReplyDue::Kind::kRead));
  if (!fits) {
    fail_link(std::string("unexpected ") + what + " at offset " + std::to_string(offset) + " (" +
                  std::to_string(length) + " bytes)",
              wire::DisconnectCode::kProtocolError);
    return false;
  }
  return true;
}

void Resource::on_checksum_reply(const wire::ChecksumReply& r) {
  if (!take_reply_due(ReplyDue::Kind::kChecksum, r.offset, r.length, "ChecksumReply")) return;
  const ReplyDue due = replies_due_.front();
  replies_due_.pop_front();
  if (!data_) return;  // the disk being resynced failed since (detach)
  if (replication_ != ReplicationState::kSyncTarget || !range_fits(r.offset, r.length, sb_.data_size)) {
    fail_link("unexpected ChecksumReply at offset " + std::to_string(r.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  std::vector<uint8_t> ours(r.length);
  IoStatus s = data_->read(r.offset, ours);
  if (due.overwritten || !s.ok() || block_digest(ours) != r.digest) {
    if (!s.ok()) ++io_errors_;
    // Different (or unreadable here, or written here since the digest was
    // taken): fetch the data; it stays in flight.
    ReplyDue again;
    again.kind = ReplyDue::Kind::kResync;
    again.offset = r.offset;
    again.length = r.length;
    request_from_peer(again);
    return;
  }
  resync_in_flight_bytes_ -= std::min<uint64_t>(resync_in_flight_bytes_, r.length);
  const uint64_t cleared = clear_landed(r.offset, r.length) * kBlockSize;
  resync_done_bytes_ += cleared;
  resync_equal_bytes_ += cleared;
  request_resync_blocks();
}

void Resource::on_resync_reply(const wire::ResyncReply& r) {
  if (!take_reply_due(ReplyDue::Kind::kResync, r.offset, r.data.size(), "ResyncReply")) return;
  if (replies_due_.front().kind == ReplyDue::Kind::kRead) return on_remote_read_reply(r);
  const ReplyDue due = replies_due_.front();
  replies_due_.pop_front();
  if (!data_) return;  // the disk being resynced failed since (detach)
  if (replication_ != ReplicationState::kSyncTarget || !range_fits(r.offset, r.data.size(), sb_.data_size)) {
    fail_link("unexpected ResyncReply at offset " + std::to_string(r.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  last_answer_ = loop_.now();
  if (due.overwritten) {
    // Written here (and sent to the peer) after the peer read this: stale.
    // Asked again, behind our Data; the blocks stay out of sync meanwhile.
    ReplyDue again = due;
    again.overwritten = false;
    request_from_peer(again);
    return;
  }
  resync_in_flight_bytes_ -= std::min<uint64_t>(resync_in_flight_bytes_, r.data.size());
  note_local_write(r.offset, r.data.size());
  IoStatus s = data_->write(r.offset, r.data);
  if (!s.ok()) {
    // The bit stays set; the resync ends Inconsistent and says why (or,
    // under on-io-error detach, the disk is given up).
    ++io_errors_;
    const std::string what = "resync write at offset " + std::to_string(r.offset) + " failed: " + s.message();
    if (detach_on_io_error(what)) return;
    report_error(what);
  } else {
    written_bytes_ += r.data.size();
    const uint64_t cleared = clear_landed(r.offset, r.data.size()) * kBlockSize;
    resync_done_bytes_ += cleared;
    resync_unflushed_bytes_ += cleared;
    if (resync_unflushed_bytes_ >= kResyncSaveBytes) {
      resync_unflushed_bytes_ = 0;
      (void)persist_bitmap();  // flushes the data first: the bitmap may only say what is durable
    }
  }
  request_resync_blocks();
}

void Resource::finish_resync_as_target() {
  reattach_records_.reset();  // (a resync in full, the peer being older: it is moot now)
  const bool blocks_left = bitmap_->count() > 0;
  IoStatus s = blocks_left ? IoStatus::error(EIO) : flush_data_now(data_writes_);
  if (!s.ok()) {
    // Blocks that could not be written (or made durable: a failed flush
    // marked its extents again) here: the disk stays Inconsistent, and the
    // next connection retries what is left.
    if (!blocks_left) ++io_errors_;
    fail_link("resync incomplete: " + std::to_string(bitmap_->out_of_sync_bytes()) +
                  " bytes still out of sync after local disk errors; the disk stays Inconsistent",
              wire::DisconnectCode::kOther);
    return;
  }
  if (resync_in_band_ && peer_announced_generations_) {
    // A disk attached under the Primary on the running link, resynced from
    // the peer that held our writes while we were Diskless under the
    // generations it announced (protocol 12): taken as any target takes its
    // source's, so that the pair shares one current generation from here
    // on, whether or not the peer hears that this resync ended.
    adopt_sync_source_generations(sb_.generations, *peer_announced_generations_);
    if (role_ == Role::kPrimary) set_primary_flag(sb_.generations, true);
    peer_announced_generations_.reset();
    resync_in_band_ = false;
  } else if (resync_in_band_) {
    // The same below protocol 12, or the blocks a resize added: the pair's
    // generations are ours already (attach_under_primary() kept them; a
    // peer below protocol 12 takes back the one it started for our
    // Diskless time). The peer's Hello is older than that and is not used.
    clear_bitmap_uuid(sb_.generations);
    resync_in_band_ = false;
  } else {
    adopt_sync_source_generations(sb_.generations, peer_hello_.generations);
    if (role_ == Role::kPrimary) set_primary_flag(sb_.generations, true);  // a Primary resyncing after a reconnect
  }
  sb_.flags.consistent = true;
  sb_.flags.outdated = false;
  crashed_primary_ = false;
  sb_.flags.was_primary = role_ == Role::kPrimary;
  (void)persist_bitmap();
  (void)persist_superblock();
  resync_done_bytes_ = resync_total_bytes_;
  resync_finished_at_ = loop_.now();
  ++resyncs_finished_as_target_;
  set_disk(DiskState::kUpToDate, "resync finished");
  set_replication(ReplicationState::kEstablished, "resync finished");
  send(wire::StateChange{role_, disk_});
}

CommandResult Resource::pause_sync() {
  if (!data_) return CommandResult::failure("pause-sync refused: no disk is attached");
  if (user_paused_sync_) return Ok{};
  if (phase_ == Phase::kRunning && wire_version() < 3 && replication_ == ReplicationState::kSyncSource)
    return CommandResult::failure("pause-sync refused: the peer's build cannot be told (replication protocol " +
                                  std::to_string(wire_version()) + "); pause it on the SyncTarget");
  const bool told = local_paused_sync();
  user_paused_sync_ = true;
  // In the handshake before the bitmaps, on_authenticated() sends it.
  const bool linked = phase_ == Phase::kBitmaps || phase_ == Phase::kRunning;
  if (linked && !told && wire_version() >= 3) send(wire::SyncPause{true});
  log("resync paused by the operator");
  state_changed();
  return Ok{};
}

CommandResult Resource::resume_sync() {
  if (!user_paused_sync_) return CommandResult::failure("resume-sync refused: resync is not paused on this node");
  user_paused_sync_ = false;
  const bool linked = phase_ == Phase::kBitmaps || phase_ == Phase::kRunning;
  if (linked && !local_paused_sync() && wire_version() >= 3) send(wire::SyncPause{false});
  sync_pause_changed("resync resumed by the operator");
  return Ok{};
}

void Resource::set_sync_paused_after(bool paused, const std::string& why) {
  if (paused == after_paused_sync_) return;
  const bool told = local_paused_sync();
  after_paused_sync_ = paused;
  const bool linked = phase_ == Phase::kBitmaps || phase_ == Phase::kRunning;
  // A peer older than protocol 3 cannot be told: then only a SyncTarget
  // here pauses (it requests the blocks), as for pause_sync().
  if (linked && told != local_paused_sync() && wire_version() >= 3) send(wire::SyncPause{local_paused_sync()});
  if (paused) {
    log("resync paused: " + why + " (resync_after)");
    state_changed();
  } else {
    sync_pause_changed("resync may go on: " + why + " (resync_after)");
  }
}

void Resource::on_sync_pause(const wire::SyncPause& m) {
  if (m.paused == peer_paused_sync_) return;
  peer_paused_sync_ = m.paused;
  if (m.paused) {
    log("resync paused by the peer (its operator or its resync_after)");
    state_changed();
  } else {
    sync_pause_changed("resync resumed by the peer");
  }
}

void Resource::sync_pause_changed(const std::string& why) {
  log(why + (resync_paused() ? " (still paused by another: " + sync_paused_by() + ")" : ""));
  // The token bucket starts from empty, not from the pause's worth.
  resync_tokens_ = 0;
  resync_tokens_at_ = loop_.now();
  if (!resync_paused() && phase_ == Phase::kRunning && replication_ == ReplicationState::kSyncTarget)
    resync_timer_.arm_at(loop_.now());
  state_changed();
}

void Resource::keep_past_resync(uint64_t offset, uint64_t length) {
  if (replication_ != ReplicationState::kSyncSource || !bitmap_) return;
  if (!kept_past_resync_) kept_past_resync_.emplace(bitmap_->data_size());
  kept_past_resync_->set_range(offset, length);
}

void Resource::finish_resync_as_source() {
  // The target has every block: whatever our bitmap still holds (blocks the
  // target got through application writes) is in sync now, except what
  // this resync did not cover (kept_past_resync_): kept for the next connect.
  bitmap_->clear_all();
  if (kept_past_resync_) {
    if (kept_past_resync_->data_size() == bitmap_->data_size()) bitmap_->merge(*kept_past_resync_);
    kept_past_resync_.reset();
  }
  (void)persist_bitmap();
  if (new_generation_for_diskless_peer_ && peer_role_ == Role::kPrimary && wire_version() < 12) {
    // The Primary peer that went Diskless has a full copy again (it
    // attached a disk on this link) and, below protocol 12, kept its own
    // generation: the one we started for its Diskless time is taken back,
    // ours is the pair's current again. (From protocol 12 it took ours,
    // announced by NewGeneration, and we only clear the bitmap one.)
    sb_.generations.current = uuid_value(sb_.generations.bitmap);
    sb_.generations.bitmap = 0;
    new_generation_for_diskless_peer_ = false;
  } else {
    clear_bitmap_uuid(sb_.generations);
  }
  if (crashed_primary_) {
    crashed_primary_ = false;
    sb_.flags.was_primary = role_ == Role::kPrimary;
  }
  (void)persist_superblock();
  resync_done_bytes_ = resync_total_bytes_;
  resync_finished_at_ = loop_.now();
  ++resyncs_finished_as_source_;
  set_replication(ReplicationState::kEstablished, "resync finished: the peer is UpToDate");
}

}  // namespace vrrpd::replication
