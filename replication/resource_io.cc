// Resource: the data path. Application writes on the Primary (activity log,
// local write, Data frames, completion per protocol A/B/C, barriers and
// flushes), reads, and the Secondary's side: applying the peer's Data and
// Barrier frames and acknowledging them.
//
// A write's life: submitted -> (blocked while a handshake decides where
// writes go, or while the activity log is full) -> AL extents pinned ->
// written locally -> Data frames queued to the peer, or its blocks set in the
// bitmap when there is no peer -> caller answered (per protocol) -> retired
// once the peer has flushed it (the BarrierAck of its epoch, under every
// protocol) or its blocks are in the bitmap (link gone): AL extents unpinned.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "replication/resource.h"

namespace vrrpd::replication {

bool Resource::can_serve_through_peer() const { return replicating() && peer_disk_ == DiskState::kUpToDate; }

bool Resource::replicating() const {
  // A Primary that is SyncTarget (a disk attached under it) mirrors its
  // writes too: the peer holds the data.
  return phase_ == Phase::kRunning &&
         (replication_ == ReplicationState::kEstablished || replication_ == ReplicationState::kSyncSource ||
          replication_ == ReplicationState::kVerifyS || replication_ == ReplicationState::kVerifyT ||
          (replication_ == ReplicationState::kSyncTarget && role_ == Role::kPrimary));
}

bool Resource::out_of_sync_within(uint64_t offset, uint64_t length) const {
  if (!bitmap_ || length == 0) return false;
  auto run = bitmap_->find_next_dirty_run(offset / kBlockSize);
  return run && run->first_block * kBlockSize < offset + length;
}

// Only between sending our bitmap and the decision: a write before that is
// in the bitmap we send, one after it goes to the peer or the bitmap as
// decided. Authentication may stall on a bad link; writes go on meanwhile.
bool Resource::handshake_in_progress() const { return conn_ && phase_ == Phase::kBitmaps; }

void Resource::submit_write(uint64_t offset, std::span<const uint8_t> data, uint32_t flags, IoCallback done) {
  queue_write(offset, {}, std::vector<uint8_t>(data.begin(), data.end()), flags, std::move(done));
}

IoStatus Resource::check_write(uint64_t offset, uint64_t size) const {
  // Also while a demotion waits for the peer (secondary_when_confirmed()).
  if (role_ != Role::kPrimary || demote_done_) return IoStatus::error(EROFS);
  // An Inconsistent disk (attached under us) may wait for its handshake.
  if (!local_data_current() && !can_serve_through_peer() && !(data_ && handshake_in_progress()))
    return IoStatus::error(EIO);
  if (!range_fits(offset, size, std::min(sb_.data_size, write_limit_))) return IoStatus::error(EINVAL);
  return IoStatus();
}

void Resource::queue_write(uint64_t offset, std::span<const uint8_t> borrowed, std::vector<uint8_t> owned,
                           uint32_t flags, IoCallback done, std::shared_ptr<const void> keep) {
  const size_t size = owned.empty() ? borrowed.size() : owned.size();
  if (size > kMaxWriteBytes) return done(IoStatus::error(EINVAL));
  if (IoStatus s = check_write(offset, size); !s.ok()) return done(s);
  if (size == 0) return done(IoStatus());
  WriteRequest w;
  w.offset = offset;
  if (owned.empty()) {
    w.data = borrowed;
    w.keep = std::move(keep);
  } else {
    w.owned = std::move(owned);
    w.data = w.owned;  // the vector's buffer stays put when the request is moved
  }
  w.flags = flags & (kWriteFua | kWriteFlush);
  w.done = std::move(done);
  enqueue_write(std::move(w));
}

void Resource::enqueue_write(WriteRequest w) {
  const uint64_t id = next_write_id_++;
  writes_.emplace(id, std::move(w));
  blocked_writes_.push_back(id);
  start_blocked_writes();
}

void Resource::submit_discard(uint64_t offset, uint64_t length, IoCallback done) {
  if (IoStatus s = check_write(offset, length); !s.ok()) return done(s);
  if (length == 0) return done(IoStatus());
  // The pieces: partial sectors at the ends (written as zeros: the wire and
  // the bitmap know no smaller unit), whole sectors in between cut at
  // activity-log extent boundaries.
  struct Piece {
    uint64_t offset, length;
    bool zeros;
  };
  std::vector<Piece> pieces;
  const uint64_t end = offset + length;
  uint64_t head_end = std::min(end, (offset + wire::kSectorSize - 1) / wire::kSectorSize * wire::kSectorSize);
  if (head_end > offset) pieces.push_back({offset, head_end - offset, true});
  const uint64_t tail_begin = std::max(head_end, end / wire::kSectorSize * wire::kSectorSize);
  for (uint64_t pos = head_end; pos < tail_begin;) {
    const uint64_t next = std::min(tail_begin, (pos / kAlExtentSize + 1) * kAlExtentSize);
    pieces.push_back({pos, next - pos, false});
    pos = next;
  }
  if (end > tail_begin) pieces.push_back({tail_begin, end - tail_begin, true});
  // One answer for all pieces: the first error, once every piece is done.
  struct Joined {
    size_t pending;
    IoStatus status;
    IoCallback done;
  };
  auto joined = std::make_shared<Joined>(Joined{pieces.size(), IoStatus(), std::move(done)});
  for (const Piece& p : pieces) {
    IoCallback piece_done = [joined](IoStatus s) {
      if (!s.ok() && joined->status.ok()) joined->status = s;
      if (--joined->pending == 0) joined->done(joined->status);
    };
    if (p.zeros) {
      queue_write(p.offset, {}, std::vector<uint8_t>(p.length, 0), 0, std::move(piece_done));
    } else {
      queue_discard(p.offset, p.length, std::move(piece_done));
    }
  }
}

void Resource::queue_discard(uint64_t offset, uint64_t length, IoCallback done) {
  // Checked again: an earlier piece's completion may have run the caller's
  // code, and the role may have changed since.
  if (IoStatus s = check_write(offset, length); !s.ok()) return done(s);
  WriteRequest w;
  w.offset = offset;
  w.discard = true;
  w.discard_length = length;
  w.done = std::move(done);
  enqueue_write(std::move(w));
}

void Resource::start_blocked_writes() {
  // While the bitmaps are exchanged nobody knows yet whether a write must go
  // to the peer or into the bitmap (the bitmap we sent is already on its way).
  // Not re-entered from a completion callback: writes start in order.
  if (handshake_in_progress() || starting_writes_) return;
  starting_writes_ = true;
  while (!blocked_writes_.empty() && !handshake_in_progress()) {
    const uint64_t id = blocked_writes_.front();
    blocked_writes_.pop_front();
    if (!start_write(id)) {
      blocked_writes_.push_front(id);  // activity log full: wait for a release
      // Extents are released by BarrierAcks: close the open epoch now
      // rather than at its timer.
      if (epoch_writes_ > 0) close_epoch();
      break;
    }
    maybe_retire_write(id);
  }
  starting_writes_ = false;
}

namespace {

uint64_t round_down(uint64_t v, uint64_t to) { return v / to * to; }
uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

Resource::LocalWrite Resource::prepare_local_write(uint64_t id) {
  WriteRequest& w = writes_.at(id);
  IoStatus s;
  if (w.offset + w.size() > sb_.data_size) {
    // Queued before a shrink cut the volume below its end. A shrink refuses
    // while a write past the new end waits and holds new ones back until it
    // is done; this keeps any that slips by from running past the volume.
    report_error("write at offset " + std::to_string(w.offset) + " (" + std::to_string(w.size()) +
                 " bytes) ends past the volume's end (" + std::to_string(sb_.data_size) + " bytes) after a shrink");
    w.written = true;
    complete_write_to_caller(id, IoStatus::error(EINVAL));
    return LocalWrite::kFailed;
  }
  // Activity log first: the extent is on disk as "hot" before we touch it,
  // here or on the peer (a crash then resyncs it whichever copy got it).
  const uint32_t first = al_extent_of(w.offset);
  const uint32_t last = al_extent_of(w.offset + w.size() - 1);
  for (uint32_t e = first; e <= last && s.ok(); ++e) {
    if (std::find(w.pinned.begin(), w.pinned.end(), e) != w.pinned.end()) continue;
    const std::vector<uint32_t> ahead = al_extents_ahead(e, first, last);
    // Activating may evict a cold extent: its writes and what the bitmap
    // says about it must be on disk before the log forgets it. (Extents
    // ahead evict only victims whose writes are durable; their bits go
    // with the same bitmap write.)
    const bool evicts = al_->would_evict(e);
    const bool ahead_evicts =
        !ahead.empty() && al_->active_extents().size() + 1 + ahead.size() > al_->max_extents();
    if (ahead_evicts && !evicts) {
      s = persist_bitmap();
      if (!s.ok()) break;
    }
    if (evicts) {
      const std::optional<uint32_t> victim = al_->eviction_victim();
      if (!victim) return LocalWrite::kWaitForActivityLog;  // every extent has writes in flight
      if (unflushed_.holds(*victim)) {
        start_eviction_flush();
        return LocalWrite::kWaitForActivityLog;
      }
      // The victim's bits go to disk with the bitmap; if they cannot, the
      // extent stays in the log (its crash recovery still covers them) and
      // this write fails as a failed local write does.
      s = persist_bitmap();
      if (!s.ok()) break;
    }
    s = al_->activate(e, ahead, [this](uint32_t victim) { return !unflushed_.holds(victim); });
    if (s.errno_value() == EBUSY) return LocalWrite::kWaitForActivityLog;
    if (!s.ok()) note_failed_durable_write();
    if (s.ok()) w.pinned.push_back(e);
    if (s.ok() && evicts) flush_ahead_of_eviction();
  }
  // Widen to whole sectors (the wire's unit) with the bytes we already have:
  // on a Primary the local disk is the current data.
  const uint64_t begin = round_down(w.offset, wire::kSectorSize);
  const uint64_t end = std::min(round_up(w.offset + w.data.size(), wire::kSectorSize), sb_.data_size);
  const bool widen = !w.discard && (begin != w.offset || end != w.offset + w.data.size());
  if (s.ok() && widen && !local_data_current() && out_of_sync_within(begin, end - begin)) {
    // Resyncing under a Primary: the bytes around a partial sector are not
    // here yet. (The kernel's loop device writes whole sectors.)
    report_error("write at offset " + std::to_string(w.offset) + " (" + std::to_string(w.data.size()) +
                 " bytes) does not cover whole sectors of a block not yet resynced; refused");
    w.written = true;
    complete_write_to_caller(id, IoStatus::error(EIO));
    return LocalWrite::kFailed;
  }
  if (s.ok() && widen) {
    std::vector<uint8_t> whole(end - begin);
    s = data_->read(begin, whole);
    if (s.ok()) {
      std::memcpy(whole.data() + (w.offset - begin), w.data.data(), w.data.size());
      w.offset = begin;
      w.owned = std::move(whole);
      w.data = w.owned;
      w.keep.reset();
    }
  }
  if (s.ok()) return LocalWrite::kWritten;
  return local_write_failed(id, s);
}

std::vector<uint32_t> Resource::al_extents_ahead(uint32_t extent, uint32_t first, uint32_t last) const {
  // Only for a write that runs on from the extent before: a sequential
  // writer, whose next extents will follow (measured: one activity-log
  // transaction, a synchronous metadata write, per 4 MiB was a tenth of the
  // Primary's engine loop time during sequential writes). Random writes
  // keep one transaction per new extent, as before.
  if (extent != last || al_->is_active(extent)) return {};
  const bool sequential = first < last || (first > 0 && al_->is_active(first - 1));
  if (!sequential) return {};
  const uint64_t extents = (sb_.data_size + kAlExtentSize - 1) / kAlExtentSize;
  // At most an eighth of the log, so a small log keeps what is written
  // (DRBD's minimum is 7 extents; ours is 2).
  const uint32_t count = std::min(kAlExtentsAhead, al_->max_extents() / 8);
  std::vector<uint32_t> ahead;
  for (uint64_t a = uint64_t{extent} + 1; a <= uint64_t{extent} + count && a < extents; ++a)
    if (!al_->is_active(static_cast<uint32_t>(a))) ahead.push_back(static_cast<uint32_t>(a));
  return ahead;
}

Resource::LocalWrite Resource::write_locally(uint64_t id) {
  WriteRequest& w = writes_.at(id);
  IoStatus s;
  const uint64_t before = data_writes_;
  if (w.flags & kWriteFlush) s = flush_data_now(before);
  note_local_write(w.offset, w.size());
  // The disk given up, back under this Primary, before the peer's bitmap
  // narrowed its resync: the peer may never get this write (the link can
  // drop first), so it is fetched again whatever the peer recorded.
  if (reattach_records_) reattach_records_->set_range(w.offset, w.size());
  if (s.ok()) s = w.discard ? data_->discard(w.offset, w.size()) : data_->write(w.offset, w.data);
  if (s.ok() && (w.flags & kWriteFua)) s = flush_data_now(data_writes_);
  if (s.ok()) {
    w.written_locally = true;
    w.failed_flushes_at_write = failed_flushes_;
    (w.discard ? discarded_bytes_ : written_bytes_) += w.size();
    if (replication_ == ReplicationState::kSyncTarget) note_write_during_resync(w.offset, w.size());
    return LocalWrite::kWritten;
  }
  return local_write_failed(id, s);
}

Resource::LocalWrite Resource::local_write_failed(uint64_t id, IoStatus s) {
  WriteRequest& w = writes_.at(id);
  ++io_errors_;
  const std::string what = std::string(w.discard ? "local discard" : "local write") + " at offset " +
                           std::to_string(w.offset) + " failed: " + s.message();
  if (detach_on_io_error(what)) return LocalWrite::kDetached;
  // on-io-error passthrough: the caller gets the error; the block may now
  // differ from the peer's.
  bitmap_->set_range(w.offset, w.size());
  keep_past_resync(w.offset, w.size());
  report_error(what);
  w.written = true;
  complete_write_to_caller(id, s);
  return LocalWrite::kFailed;
}

void Resource::mirror_write(uint64_t id) {
  WriteRequest& w = writes_.at(id);
  w.mirrored = true;
  // A Diskless Primary's disk given up is no longer the only copy of its data.
  if (!data_ && given_up_disk_) given_up_disk_->no_longer_sole_copy();
  w.epoch = epoch_;
  uint32_t frames = 0;
  if (w.discard && wire_version() >= 4) {
    const uint64_t seq = send_frame(wire::Discard{w.offset, static_cast<uint32_t>(w.size())});
    data_frames_[seq] = FrameRange{id, w.offset, w.size()};
    ++frames;
  } else {
    // A discard for a peer that does not know the frame: the zeros it
    // stands for, as Data.
    static const std::vector<uint8_t> kZeros(wire::kMaxDataBytes, 0);
    for (uint64_t pos = 0; pos < w.size(); pos += wire::kMaxDataBytes) {
      const uint64_t n = std::min<uint64_t>(wire::kMaxDataBytes, w.size() - pos);
      const std::span<const uint8_t> bytes =
          w.discard ? std::span<const uint8_t>(kZeros).first(n) : w.data.subspan(pos, n);
      const uint64_t seq = send_data(w.offset + pos, w.flags, bytes, w.discard ? nullptr : w.keep);
      data_frames_[seq] = FrameRange{id, w.offset + pos, n};
      ++frames;
    }
  }
  // The caller's answer: A once written locally, B and C on the DataAcks.
  // But "written" on the peer may still sit in its volatile disk cache: only
  // the BarrierAck of the epoch (the peer flushed) retires the write. Until
  // then a lost link puts its blocks into the bitmap, so a peer that crashed
  // and lost them is resynced. The epoch closes kEpochInterval after its
  // first write, at a flush, or when the activity log runs out of extents:
  // each Barrier costs the peer a disk flush, which must not be paid per
  // write (it would sit in front of the next write's Data on the peer).
  if (options_.protocol != wire::ReplicationProtocol::kA) w.acks_outstanding = frames;
  ++epoch_writes_;
  if (!epoch_timer_.armed()) epoch_timer_.arm_in(kEpochInterval);
}

bool Resource::start_write(uint64_t id) {
  if (data_ && superblock_unsaved_ && !persist_superblock().ok() &&
      !(peer_holds_the_data() && detach_on_io_error("writing the superblock again before a write failed"))) {
    // The disk does not hold this node's metadata as it is (a new
    // generation, was_primary): a write answered now would be described
    // wrongly after a crash, and the next handshake could resync older data
    // over it (the pair simulation, protocol A seed 11746: a new generation
    // whose save failed, a kill -9, and the old one's tie-break). Written
    // again first; failed while the disk refuses it. (Under on-io-error
    // detach the disk is given up instead, and the write goes on through
    // the peer, or fails below without one.)
    writes_.at(id).written = true;
    complete_write_to_caller(id, IoStatus::error(EIO));
    return true;
  }
  if (data_ && !local_data_current() && !can_serve_through_peer()) {
    // Resyncing under a Primary and the peer is gone: our copy alone is not
    // the data, and what we wrote would be overwritten by the next resync.
    writes_.at(id).written = true;
    complete_write_to_caller(id, IoStatus::error(EIO));
    return true;
  }
  if (data_) {
    switch (prepare_local_write(id)) {
      case LocalWrite::kWaitForActivityLog:
        return false;
      case LocalWrite::kFailed:
        return true;
      case LocalWrite::kWritten:
      case LocalWrite::kDetached:
        break;
    }
  }
  if (data_ && replicating()) {
    // The frames go out first: the peer receives and writes them while we
    // write our copy, instead of after it. The caller is answered only when
    // both are done (the DataAcks are handled on this thread, after this
    // returns), and a failed local write still fails the caller.
    mirror_write(id);
    const LocalWrite r = write_locally(id);
    if (r == LocalWrite::kFailed) return true;  // the peer's copy is retired by its acks as usual
    if (r == LocalWrite::kDetached && !can_serve_through_peer()) {
      // Only on a peer that is no good copy (e.g. our SyncTarget): lost.
      writes_.at(id).written = true;
      complete_write_to_caller(id, IoStatus::error(EIO));
      return true;
    }
  } else if (data_) {
    if (write_locally(id) == LocalWrite::kFailed) return true;
  }
  WriteRequest& w = writes_.at(id);
  w.written = true;
  if (w.mirrored) {
    if (options_.protocol == wire::ReplicationProtocol::kA) complete_protocol_a_write(id);
    return true;
  }
  if (!data_) {
    // Diskless: the peer's disk is the only one. It needs whole sectors,
    // and we have nothing to fill a partial one with.
    if (!can_serve_through_peer() || w.offset % wire::kSectorSize != 0 ||
        w.size() % wire::kSectorSize != 0) {
      complete_write_to_caller(id, IoStatus::error(EIO));
      return true;
    }
  } else if (!replicating()) {
    bitmap_->set_range(w.offset, w.size());
    complete_write_to_caller(id, IoStatus());
    return true;
  }
  mirror_write(id);
  if (options_.protocol == wire::ReplicationProtocol::kA) complete_protocol_a_write(id);
  return true;
}

void Resource::complete_protocol_a_write(uint64_t id) {
  if (!local_data_current() || detach_done_) {
    // Diskless, or resyncing a disk attached under this Primary: the
    // peer's disk holds the only copy of the data, and "sent" is not
    // "stored": a link that drops now would lose a write already
    // acknowledged (the next resync overwrites our copy from the peer's),
    // with this node still running and nothing failed but the link.
    // Answered at its epoch's BarrierAck (the peer wrote and flushed it),
    // with the epoch closed now rather than at its timer. So too while a
    // detach waits for the peer to hold everything this disk holds.
    writes_.at(id).answer_at_barrier_ack = true;
    if (epoch_writes_ > 0) close_epoch();
    return;
  }
  // Back-pressure: "sent" means handed to the kernel's socket buffer, give
  // or take congestion_fill. Beyond that the caller waits, so a writer
  // faster than the link cannot queue without bound in our memory; or,
  // with pull-ahead, the node stops mirroring instead.
  if (congested_writes_.empty() && (!conn_ || conn_->queued_bytes() <= options_.congestion_fill)) {
    complete_write_to_caller(id, IoStatus());
    // DRBD's congestion-extents: little is queued, but the peer confirms
    // slowly (a slow disk, a long link), and each write it has not
    // confirmed keeps its extent in the activity log. Pull ahead before a
    // writer has to wait for one of them to leave the log.
    if (!may_pull_ahead() || !al_) return;
    const uint32_t pinned = al_->pinned_extents();
    if (pinned >= std::min(options_.congestion_extents, al_->max_extents()))
      pull_ahead("activity log: " + std::to_string(pinned) + " of " + std::to_string(al_->max_extents()) +
                 " extents hold writes the peer has not confirmed (congestion_extents " +
                 std::to_string(options_.congestion_extents) + ")");
    return;
  }
  congested_writes_.push_back(id);
  if (may_pull_ahead())
    return pull_ahead("send queue " + std::to_string(conn_->queued_bytes()) + " bytes, above congestion_fill " +
                      std::to_string(options_.congestion_fill));
  if (!congestion_timer_.armed()) congestion_timer_.arm_in(kCongestionPoll);
}

bool Resource::may_pull_ahead() const {
  // Only with our own current copy to fall back on (not Diskless, not
  // resyncing under a Primary), and a peer that can be told.
  return options_.on_congestion == CongestionPolicy::kPullAhead &&
         options_.protocol == wire::ReplicationProtocol::kA && replication_ == ReplicationState::kEstablished &&
         role_ == Role::kPrimary && local_data_current() && conn_ && wire_version() >= 4;
}

void Resource::release_congested_writes() {
  while (!congested_writes_.empty() &&
         (!conn_ || conn_->queued_bytes() <= options_.congestion_fill || replication_ == ReplicationState::kAhead)) {
    const uint64_t id = congested_writes_.front();
    congested_writes_.pop_front();
    complete_write_to_caller(id, IoStatus());
    maybe_retire_write(id);
  }
  if (!congested_writes_.empty()) congestion_timer_.arm_in(kCongestionPoll);
  maybe_end_ahead();
}

void Resource::pull_ahead(const std::string& why) {
  const uint64_t queued = conn_->queued_bytes();
  // The writes mirrored so far retire with this epoch's BarrierAck, which
  // still comes: the link stays up.
  if (epoch_writes_ > 0) close_epoch();
  // Our writes from now on are ours alone: a new generation, so that any
  // later handshake (the one that ends Ahead, or one after a crash) finds
  // the peer's current generation as our bitmap generation and resyncs it
  // from our bitmap.
  start_new_generation("pulled ahead of the congested peer");
  set_replication(ReplicationState::kAhead, why +
                                                " (on_congestion pull-ahead): writes go to the bitmap until the "
                                                "peer has confirmed what was sent, then the peer is resynced");
  send(wire::PullAhead{queued});
  // What the peer becomes on that frame (its StateChange confirms it). If
  // the link dies first, the peer's disk is unknown again, as for any drop.
  peer_disk_ = DiskState::kOutdated;
  release_congested_writes();  // Ahead: answered now
}

void Resource::maybe_end_ahead() {
  if (replication_ != ReplicationState::kAhead || !conn_) return;
  // Drained: the peer has acknowledged every write mirrored before we
  // pulled ahead (their epoch's BarrierAck; the PullAhead frame follows
  // that Barrier), so the kernel's socket buffer is through too and the
  // reconnect throws nothing away; and our own queue is down to a quarter
  // of the fill, so that the resync does not find the link congested again
  // at once.
  const bool acknowledged = std::none_of(writes_.begin(), writes_.end(), [](const auto& entry) {
    return entry.second.mirrored && !entry.second.peer_done;
  });
  if (!acknowledged || conn_->queued_bytes() > options_.congestion_fill / 4) {
    if (!congestion_timer_.armed()) congestion_timer_.arm_in(kCongestionPoll);
    return;
  }
  renegotiate("the link drained after pulling ahead: resync the Behind peer (" +
              std::to_string(bitmap_->out_of_sync_bytes()) + " bytes out of sync)");
}

void Resource::on_pull_ahead(const wire::PullAhead& m) {
  if (role_ == Role::kPrimary || replication_ != ReplicationState::kEstablished) {
    fail_link(std::string("peer pulled ahead while this node is ") + to_string(role_) + " and " +
                  to_string(replication_),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  // Outdated, also across a restart: the Primary's writes from now on are
  // not here, and this node must not be promoted as if they were.
  (void)mark_outdated("the Primary pulled ahead (its send queue held " + std::to_string(m.queued_bytes) +
                      " bytes then): this node lacks its writes until the resync");
  publish_local_state();
  set_replication(ReplicationState::kBehind, "the Primary pulled ahead; resynced when its link has drained");
}

void Resource::complete_write_to_caller(uint64_t id, IoStatus status) {
  auto it = writes_.find(id);
  if (it == writes_.end() || !it->second.done) return;
  if (io_suspended_ && fail_while_suspended_) {
    status = IoStatus::error(EIO);  // stopping: not acknowledged, and not held
  } else if (io_suspended_) {
    // Fencing the peer: answered by resume_held_io(). The write keeps its
    // activity-log extents until then (maybe_retire_write waits for `done`).
    auto held = std::find_if(held_writes_.begin(), held_writes_.end(), [id](const auto& h) { return h.first == id; });
    if (held == held_writes_.end()) held_writes_.emplace_back(id, status);
    else if (!status.ok()) held->second = status;  // a failure found later is the answer
    return;
  }
  IoCallback done = std::move(it->second.done);
  it->second.done = nullptr;
  it->second.keep.reset();  // `data` is not used after the answer; queued frames hold their own
  done(status);  // may re-enter; `it` is not used after this
}

void Resource::maybe_retire_write(uint64_t id) {
  auto it = writes_.find(id);
  if (it == writes_.end()) return;
  WriteRequest& w = it->second;
  if (!w.written || w.done || (w.mirrored && !w.peer_done)) return;
  clear_bits_of_retired_write(id, w);
  if (al_)
    for (uint32_t e : w.pinned) al_->release(e);
  for (auto f = data_frames_.begin(); f != data_frames_.end();) {
    f = f->second.write_id == id ? data_frames_.erase(f) : std::next(f);
  }
  writes_.erase(it);
  start_blocked_writes();  // an AL extent may be free now
}

void Resource::clear_bits_of_retired_write(uint64_t id, const WriteRequest& w) {
  // Both copies hold this write, durably on the peer (its BarrierAck: the
  // peer acknowledges a barrier only after writing every frame before it
  // and flushing; a failed write there drops the link instead), and on our
  // disk as far as the activity log knows (the extent leaves the log only
  // once a flush covered it, so a crash still resyncs it). Only on an
  // Established link between two UpToDate disks: a resync owns the bits
  // otherwise. Not after a flush failed here since the write (its pages
  // may never reach the disk; note_failed_flush() marked them), and not
  // while another write overlaps it (one that failed locally after this
  // one's Data left would leave the copies different).
  if (!w.mirrored || !w.peer_flushed || !w.written_locally || !bitmap_ ||
      w.failed_flushes_at_write != failed_flushes_ || replication_ != ReplicationState::kEstablished ||
      disk_ != DiskState::kUpToDate || peer_disk_ != DiskState::kUpToDate)
    return;
  if (bitmap_->count() == 0) return;
  for (const auto& [other_id, other] : writes_)
    if (other_id != id && other.offset < w.offset + w.size() && w.offset < other.offset + other.size()) return;
  // Whole blocks only (clear_range rounds inward): a partly written block
  // may still differ in its other bytes.
  if (bitmap_->clear_range(w.offset, w.size()) > 0 && bitmap_->count() == 0)
    log("every block recorded out of sync was written again on both disks: in sync");
}

void Resource::on_data_ack(const wire::DataAck& ack) {
  auto f = data_frames_.find(ack.sequence);
  if (f == data_frames_.end()) return;  // its write already retired (e.g. a late Failed under A)
  const FrameRange r = f->second;
  const bool c = options_.protocol == wire::ReplicationProtocol::kC;
  if (ack.kind == wire::AckKind::kFailed) {
    if (!data_) {
      // Diskless: the peer's copy was the only one.
      report_error("peer failed to write offset " + std::to_string(r.offset) + " and this node is Diskless");
      complete_write_to_caller(r.write_id, IoStatus::error(EIO));
    } else {
      // Our copy is fine; the peer's is not: resync it later.
      bitmap_->set_range(r.offset, r.length);
      report_error("peer failed to write offset " + std::to_string(r.offset) + "; marked out of sync");
    }
    if (!c) return;  // under B the Received ack was the one that counted
  }
  auto it = writes_.find(r.write_id);  // looked up again: the callback above may have run
  if (it == writes_.end() || it->second.acks_outstanding == 0) return;
  if (--it->second.acks_outstanding > 0) return;
  if (((detach_done_ && !c) || !local_data_current()) && !it->second.peer_done) {
    // Protocol B while a detach waits, or with the peer's disk as the only
    // good copy (Diskless, or resyncing a disk attached under us): what the
    // peer received is not on its disk yet, and its write may still fail
    // (a Failed ack, then EIO here). Answered at the BarrierAck (the epoch
    // closed now), as protocol A is there (complete_protocol_a_write).
    // Protocol C too when the peer's disk is the only copy: its "written"
    // may still sit in the peer's volatile cache, and a power loss there
    // would lose a write already answered, with the next flush succeeding
    // without it once the peer is back (the pair simulation, protocol C
    // seed 28406). (While a detach waits under C our disk still has it.)
    it->second.answer_at_barrier_ack = true;
    if (epoch_writes_ > 0) close_epoch();
    return;
  }
  complete_write_to_caller(r.write_id, IoStatus());
  maybe_retire_write(r.write_id);
}

void Resource::close_epoch() {
  epoch_timer_.disarm();
  if (!replicating()) return;
  send(wire::Barrier{epoch_});
  ++epoch_;
  epoch_writes_ = 0;
}

void Resource::on_barrier_ack(const wire::BarrierAck& ack) {
  std::vector<uint64_t> done;
  for (auto& [id, w] : writes_) {
    if (w.mirrored && !w.peer_done && w.epoch <= ack.barrier) {
      w.peer_done = true;
      w.peer_flushed = true;
      done.push_back(id);
    }
  }
  for (uint64_t id : done) {
    auto it = writes_.find(id);
    if (it != writes_.end() && it->second.answer_at_barrier_ack) complete_write_to_caller(id, IoStatus());
    maybe_retire_write(id);
  }
  for (FlushRequest& f : flushes_)
    if (f.barrier <= ack.barrier) f.peer_done = true;
  complete_flushes();
  maybe_end_ahead();
  maybe_finish_pending_detach();
  maybe_finish_pending_demotion();
}

void Resource::submit_flush(IoCallback done) {
  // The Barrier goes out first, so the peer flushes (everything before it)
  // while we flush here. Under A we do not wait for the peer's flush
  // (asynchronous by definition), unless the peer's disk holds the only
  // copy of the data (Diskless, or resyncing under this Primary).
  const bool wait_for_peer =
      replicating() && (options_.protocol != wire::ReplicationProtocol::kA || !local_data_current());
  const uint32_t barrier = epoch_;
  if (replicating()) close_epoch();
  if (!local_data_current() && !can_serve_through_peer()) return done(IoStatus::error(EIO));
  FlushRequest f;
  f.id = next_flush_id_++;
  f.barrier = barrier;
  f.done = std::move(done);
  f.local_done = !data_;
  f.peer_done = !wait_for_peer;
  flushes_.push_back(std::move(f));
  if (!data_) return complete_flushes();
  // Our disk's flush runs on the Flusher's thread (fdatasync takes
  // milliseconds, seconds on a disk busy with writeback): meanwhile the
  // loop goes on answering pings and acks, and writing. Every write
  // completed before this call is in the page cache already, so the flush
  // covers it.
  const uint64_t id = flushes_.back().id;
  flush_data_async([this, id](IoStatus s) { on_local_flush_done(id, s); });
}

void Resource::flush_data_async(std::function<void(IoStatus)> done) {
  const bool rewritten = rewrite_pending_extents();
  const uint64_t covers = data_writes_;
  const uint64_t failed_before = failed_flushes_;
  flusher_.flush(*data_device_, [this, covers, rewritten, failed_before, done = std::move(done)](IoStatus s) {
    if (s.ok() && !rewritten) s = IoStatus::error(EIO);
    // Another flush failed since this one was submitted (an earlier one
    // queued on the Flusher, most often): what it lost was written again,
    // or not, after this flush may have started, so this success says
    // nothing about it (the pair simulation, protocol A seed 29814: a
    // second flush answered success for a write the first one lost and no
    // rewrite could put back). Failed too; the next flush vouches for them.
    if (s.ok() && failed_flushes_ != failed_before) s = IoStatus::error(EIO);
    if (s.ok()) note_local_flush(covers);
    done(s);
  });
}

void Resource::start_eviction_flush() {
  if (eviction_flush_running_) return;
  eviction_flush_running_ = true;
  flush_data_async([this](IoStatus s) {
    eviction_flush_running_ = false;
    if (!s.ok()) {
      ++io_errors_;
      const std::string what = "local flush before an activity-log extent leaves the log failed: " + s.message();
      if (!detach_on_io_error(what)) {
        // The extents may hold writes this disk lost: recorded (resynced at
        // the next handshake) and written again, so the retried flush
        // makes them durable before they leave the log.
        const uint64_t marked = note_failed_flush();
        (void)persist_bitmap();
        report_error(what + "; " + std::to_string(marked * kBlockSize) + " bytes of its extents marked out of sync");
      }
      eviction_retry_timer_.arm_in(kEvictionFlushRetry);
      return;
    }
    start_blocked_writes();
  });
}

void Resource::flush_ahead_of_eviction() {
  if (!al_ || !al_->full()) return;
  const std::optional<uint32_t> victim = al_->eviction_victim();
  if (victim && unflushed_.holds(*victim)) start_eviction_flush();
}

void Resource::on_local_flush_done(uint64_t flush_id, IoStatus s) {
  auto pending = [&] {
    return std::find_if(flushes_.begin(), flushes_.end(), [&](const FlushRequest& r) { return r.id == flush_id; });
  };
  if (pending() == flushes_.end()) return;  // answered already (the resource went down)
  IoStatus status;
  if (!s.ok()) {
    ++io_errors_;
    const std::string what = "local flush failed: " + s.message();
    // Detached: the peer's copy is the one now; its BarrierAck answers.
    if (!detach_on_io_error(what)) {
      // passthrough: the caller gets the error, and the blocks it may have
      // lost are resynced (from here) at the next handshake.
      note_failed_flush();
      unreported_flush_error_ = false;  // this caller hears of it
      (void)persist_bitmap();
      report_error(what);
      status = s;
    } else if (!can_serve_through_peer()) {
      status = IoStatus::error(EIO);
    }
  }
  if (s.ok() && unreported_flush_error_) {
    // An earlier flush failed unseen (an eviction's, the bitmap's): this
    // one may have succeeded without the writes that one dropped.
    unreported_flush_error_ = false;
    status = IoStatus::error(EIO);
  }
  auto f = pending();  // looked up again: detaching may have answered it
  if (f == flushes_.end()) return;
  f->local_done = true;
  if (!status.ok()) f->status = status;
  complete_flushes();
}

void Resource::complete_flushes() {
  if (io_suspended_ && !fail_while_suspended_) return;  // fencing the peer: resume_held_io() comes back here
  if (io_suspended_)
    for (FlushRequest& f : flushes_)
      if (f.status.ok()) f.status = IoStatus::error(EIO);  // stopping: answered, not durable on the peer
  // In order: a flush is answered only after every flush before it.
  while (!flushes_.empty() && flushes_.front().local_done &&
         (flushes_.front().peer_done || !flushes_.front().status.ok())) {
    FlushRequest f = std::move(flushes_.front());
    flushes_.pop_front();
    f.done(f.status);  // may re-enter (submit another flush)
  }
}

void Resource::submit_read(uint64_t offset, std::span<uint8_t> out, IoCallback done) {
  if (!data_ && !can_serve_through_peer()) return done(IoStatus::error(EIO));
  if (!range_fits(offset, out.size(), sb_.data_size)) return done(IoStatus::error(EINVAL));
  // A Primary resyncing a disk attached under it: blocks not yet here come
  // from the peer (EIO without one). (A Secondary SyncTarget reads its own
  // disk, as before: nothing but tools reads an unpromoted volume.)
  if (data_ && role_ == Role::kPrimary && !local_data_current() && out_of_sync_within(offset, out.size()))
    return read_through_peer(offset, out, std::move(done));
  if (data_) {
    IoStatus s = data_->read(offset, out);
    if (s.ok()) return done(s);
    ++io_errors_;
    const std::string what = "local read at offset " + std::to_string(offset) + " failed: " + s.message();
    if (!detach_on_io_error(what)) {
      report_error(what);
      return done(s);
    }
  }
  read_through_peer(offset, out, std::move(done));
}

void Resource::apply_peer_data(uint64_t sequence, const wire::Data& d) {
  apply_peer_change(sequence, "Data", "writing the peer's data", d.offset, d.data.size(), written_bytes_,
                    [&](bool& flush_failed) {
                      IoStatus s;
                      const uint64_t before = data_writes_;
                      if (d.flags & wire::kDataFlush) flush_failed = !(s = flush_data_now(before)).ok();
                      note_local_write(d.offset, d.data.size());
                      if (s.ok()) s = data_->write(d.offset, d.data);
                      if (s.ok() && (d.flags & wire::kDataFua)) flush_failed = !(s = flush_data_now(data_writes_)).ok();
                      return s;
                    });
}

void Resource::apply_peer_discard(uint64_t sequence, const wire::Discard& d) {
  // Zeros the Primary has too: on a SyncTarget as good as a resync reply.
  apply_peer_change(sequence, "Discard", "discarding the peer's range", d.offset, d.length, discarded_bytes_,
                    [&](bool&) {
                      note_local_write(d.offset, d.length);
                      return data_->discard(d.offset, d.length);
                    });
}

void Resource::apply_peer_change(uint64_t sequence, const char* frame, const char* doing, uint64_t offset,
                                 uint64_t length, uint64_t& counter,
                                 const std::function<IoStatus(bool& flush_failed)>& apply) {
  if (role_ == Role::kPrimary) {
    fail_link(std::string("peer sent ") + frame + " while this node is Primary", wire::DisconnectCode::kProtocolError);
    return;
  }
  if (!range_fits(offset, length, sb_.data_size)) {
    fail_link(std::string("peer sent ") + frame + " beyond the end of the device", wire::DisconnectCode::kProtocolError);
    return;
  }
  if (options_.protocol == wire::ReplicationProtocol::kB)
    send(wire::DataAck{sequence, wire::AckKind::kReceived});
  if (!data_) {
    send(wire::DataAck{sequence, wire::AckKind::kFailed});
    return;
  }
  // A Diskless Primary's write is on no other disk: recorded (durably,
  // before the data) so that its disk, when back, is resynced. On a
  // SyncTarget (the Primary lost its disk as it sent us the blocks its
  // growth added) the record stays set when the data lands, and is kept
  // apart from the blocks we lack (the pair simulation, seed 945 under
  // the resize-time disk fault: cleared as landed, the write was recorded
  // nowhere and the Primary's disk, back, kept the old block).
  const bool from_diskless_primary = peer_disk_ == DiskState::kDiskless;
  std::vector<uint64_t> recorded_here;  // blocks we held before, recorded only for that disk
  if (from_diskless_primary && replication_ == ReplicationState::kSyncTarget)
    for (uint64_t blk = offset / kBlockSize; blk * kBlockSize < offset + length; ++blk)
      if (!bitmap_->test(blk)) recorded_here.push_back(blk);
  if (from_diskless_primary && bitmap_->set_range(offset, length) > 0) (void)persist_bitmap();
  bool flush_failed = false;
  IoStatus s = apply(flush_failed);
  ++peer_epoch_writes_;
  if (!s.ok()) {
    ++io_errors_;
    send(wire::DataAck{sequence, wire::AckKind::kFailed});
    const std::string what = std::string(doing) + " at offset " + std::to_string(offset) + " (" +
                             std::to_string(length) + " bytes) failed: " + s.message();
    // (A failed flush_data_now() has marked its extents already.)
    if (!flush_failed) bitmap_->set_range(offset, length);
    // A Diskless Primary's write, under passthrough: our Failed ack fails
    // it with EIO there, as a failing local disk would, and no write it
    // was answered for is missing here, so the disk stays what it is and
    // the link stays (DRBD's pass_on with its negative ack). Dropping the
    // link would fail every request of that Primary, which has no copy of
    // the data, for one failed write. The block stays
    // recorded for its disk. A failed flush still goes the way below:
    // which writes it lost is unknown, and the Barrier must not be acked.
    if (!flush_failed && role_ == Role::kSecondary && peer_role_ == Role::kPrimary &&
        peer_disk_ == DiskState::kDiskless && options_.on_io_error == IoErrorPolicy::kPassthrough) {
      (void)persist_bitmap();  // a failure is counted and reported; the bits stay set
      report_error(what + "; the Diskless Primary's write fails with EIO there, the link stays");
      return;
    }
    return peer_writes_failed_here(what, /*unnoted_flush=*/false, true);
  }
  counter += length;
  // During a resync an application write is as good as a resync reply
  // (not a Diskless Primary's: recorded above for its disk).
  if (replication_ == ReplicationState::kSyncTarget && !from_diskless_primary) clear_landed(offset, length);
  if (!recorded_here.empty()) {
    if (!diskless_primary_records_) diskless_primary_records_.emplace(sb_.data_size);
    for (uint64_t blk : recorded_here) diskless_primary_records_->set_range(blk * kBlockSize, kBlockSize);
  }
  if (options_.protocol == wire::ReplicationProtocol::kC)
    send(wire::DataAck{sequence, wire::AckKind::kWritten});
}

void Resource::apply_barrier(const wire::Barrier& b) {
  // Every Data before the Barrier was written when it arrived (in order, on
  // this thread); the flush makes them durable before we say so. It runs off
  // the loop: the next epoch's Data is written (and, under C, acknowledged)
  // meanwhile; a flush covering some of those too does no harm. BarrierAcks
  // keep their order (the Flusher answers in order).
  const uint32_t writes = peer_epoch_writes_;
  peer_epoch_writes_ = 0;
  if (!data_) {
    send(wire::BarrierAck{b.barrier, writes});
    return;
  }
  const uint64_t link = link_generation_;
  flush_data_async([this, link, barrier = b.barrier, writes](IoStatus s) {
    if (s.ok()) {
      if (link == link_generation_) send(wire::BarrierAck{barrier, writes});
      return;
    }
    ++io_errors_;
    // No BarrierAck: it would tell the Primary that the epoch's writes are
    // durable here, and it would retire them.
    peer_writes_failed_here("flush for the peer's barrier " + std::to_string(barrier) + " failed: " + s.message(),
                            /*unnoted_flush=*/true, link == link_generation_);
  });
}

void Resource::peer_writes_failed_here(const std::string& what, bool unnoted_flush, bool on_this_link) {
  // Detached (Diskless), the link drops. Under passthrough, as DRBD's
  // pass_on: our disk lacks data the Primary has, so it is Inconsistent
  // (on disk first: a restart must not promote it), and we drop the link.
  // The Primary then records every write it has not retired (no
  // BarrierAck came for them), and the handshake at the reconnect resyncs
  // both sides' records to us. Keeping the link would let a later flush
  // that succeeds (without the lost writes) acknowledge their Barrier.
  if (!data_) {
    // The disk was given up since this flush was queued (a write behind
    // its Barrier failed under detach): what it lost went with it. Taken
    // for a disk, this node went "Inconsistent" without one, and its next
    // handshake read a bitmap that was not there (the pair simulation,
    // protocol C seed 16786: SIGSEGV).
    report_error(what + " (the disk was given up already)");
    return;
  }
  if (detach_on_io_error(what)) return;
  if (unnoted_flush) (void)note_failed_flush();
  (void)persist_bitmap();
  if (disk_ != DiskState::kInconsistent) {
    sb_.flags.consistent = false;
    (void)persist_superblock();
    set_disk(DiskState::kInconsistent, "local I/O error on the peer's writes");
  }
  const std::string recorded =
      what + "; " + std::to_string(bitmap_ ? bitmap_->out_of_sync_bytes() : 0) + " bytes recorded out of sync here";
  if (on_this_link) {
    fail_link(recorded + "; reconnecting to resync them from the peer", wire::DisconnectCode::kOther);
  } else {
    report_error(recorded);
  }
}

void Resource::fail_over_pending_peer_io() {
  congested_writes_.clear();  // answered below with the other mirrored writes
  congestion_timer_.disarm();
  std::vector<uint64_t> ids;
  for (auto& [id, w] : writes_) {
    if (!w.mirrored || (w.peer_done && w.acks_outstanding == 0)) continue;
    // Whether the peer has it on disk is unknown: resync it on reconnect.
    if (bitmap_ && !w.peer_done) bitmap_->set_range(w.offset, w.size());
    w.peer_done = true;
    w.acks_outstanding = 0;
    ids.push_back(id);
  }
  data_frames_.clear();
  // Diskless (or resyncing under a Primary), the peer's copy was the only
  // good one: those writes are lost.
  const IoStatus status = local_data_current() ? IoStatus() : IoStatus::error(EIO);
  // Flushes no longer wait for the peer (ours may still be running).
  for (FlushRequest& f : flushes_) {
    if (f.peer_done) continue;
    f.peer_done = true;
    if (f.status.ok()) f.status = status;
  }
  for (uint64_t id : ids) {
    complete_write_to_caller(id, status);
    maybe_retire_write(id);
  }
  complete_flushes();
  fail_remote_reads();
}

}  // namespace vrrpd::replication
