// Resource: on-io-error detach and the Diskless Primary. After a local disk
// error under the detach policy the disk is given up at once (no more I/O to
// a failing device, no half-updated metadata). A Primary replicating to an
// UpToDate peer keeps serving: writes go only to the peer (Data frames,
// completed per protocol), reads are fetched from it with ResyncRequest /
// ResyncReply, which the peer answers from its disk. Without such a peer
// every request fails with EIO. A Secondary, SyncSource or SyncTarget that
// loses its disk drops the link (StandAlone): it has nothing left to offer.
//
// Recovery without a failover (drbdadm attach on a Diskless Primary):
// replace the disk, create-md, attach. The new disk comes in Inconsistent
// with every block out of sync and this node stays Primary as the
// SyncTarget of a full resync on the running link:
//   - reads of a range with an out-of-sync block go to the peer, the rest
//     are served locally;
//   - writes go to both disks as usual. A resync request in flight over a
//     block written since is answered with the peer's data from before the
//     write (the peer reads when the request arrives, ahead of our Data), so
//     its reply is not applied but asked for again: the new request travels
//     behind our Data on the ordered stream and sees the write;
//   - losing the peer fails reads of out-of-sync blocks and every write
//     (the local copy alone is not the data); the next handshake makes this
//     node SyncTarget again, Primary or not.
// The peer (UpToDate) learns of it from our StateChange (Diskless ->
// Inconsistent) and shows SyncSource; it only answers requests, so an older
// peer that does not know this serves it too.
//
// The disk given up, attached again unchanged (records_of_given_up_disk()):
// with a protocol-8 peer only what it missed is fetched. Its records go
// to the peer before the StateChange; the peer merges them into its bitmap
// (which holds what we wrote while Diskless) and answers with the union;
// that, with our own writes since, is what we fetch (PROTOCOL.md,
// "Re-attach under a Primary"). Until the answer every block counts as
// missing, as for a new disk.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "replication/resource.h"

namespace vrrpd::replication {

bool Resource::detach_on_io_error(const std::string& what) {
  if (options_.on_io_error != IoErrorPolicy::kDetach || !data_) return false;
  report_error(what + "; on-io-error detach: the local disk is given up (Diskless)");
  give_up_disk("on-io-error detach after: " + what);
  return true;
}

void Resource::give_up_disk(const std::string& why) {
  // What this disk may lack from now on, as far as we know it here: its
  // bitmap and its hot extents (writes in flight, unflushed, or lost in a
  // failed flush are all in the activity log). The peer records the rest.
  given_up_disk_.reset();
  metadata_detach_why_.clear();  // (due for this disk: done now)
  metadata_detach_timer_.disarm();
  // (The state changes below, a SyncTarget or VerifyS Primary back to
  // Established, leave this as it is.)
  const bool keeps_serving =
      role_ == Role::kPrimary && can_serve_through_peer() && replication_ != ReplicationState::kSyncSource;
  if (bitmap_) {
    GivenUpDisk g{sb_.device_uuid,
                  sb_.sequence,
                  sb_.superblock_offset,
                  sb_.generations,
                  superblock_unsaved_ ? saved_generations_ : sb_.generations,
                  al_ ? al_->sequence() : 0,
                  std::move(*bitmap_)};
    if (al_) mark_extents_out_of_sync(al_->active_extents(), g.records);
    if (role_ == Role::kPrimary && !keeps_serving && data_) {
      // The only copy (sole_copy, below). Bytes no flush made durable may
      // be in the page cache alone: those a failed flush lost (Linux marks
      // their pages clean), whether written again already
      // (rewrite_pending_) or not (a failed flush that gives the disk up
      // at once, under detach). Every extent with a write no completed
      // flush covered, at most the activity log's (kMaxAlExtents of
      // 4 MiB), as reads return it. A read that fails (a page not cached
      // on a disk that refuses reads) leaves nothing to keep there.
      const std::vector<uint32_t> unflushed = unflushed_.extents();
      std::set<uint32_t> extents(unflushed.begin(), unflushed.end());
      for (const auto& [e, reported] : rewrite_pending_) extents.insert(e);
      for (uint32_t e : extents) {
        const uint64_t begin = uint64_t{e} * kAlExtentSize;
        if (begin >= sb_.data_size) continue;
        std::vector<uint8_t> bytes(std::min(kAlExtentSize, sb_.data_size - begin));
        if (data_->read(begin, bytes).ok()) g.unwritten.emplace(e, std::move(bytes));
      }
    }
    given_up_disk_.emplace(std::move(g));
  }
  reattach_records_.reset();
  for (auto& [id, w] : writes_) {
    w.pinned.clear();  // the activity log goes with the disk
    w.written_locally = false;  // and what was written to it
  }
  rewrite_pending_.clear();
  al_.reset();
  bitmap_.reset();
  data_.reset();
  set_disk(DiskState::kDiskless, why);
  if (role_ == Role::kPrimary && replication_ == ReplicationState::kSyncTarget) {
    // The disk attached under us failed during its resync: back to serving
    // through the peer. Resync replies still due are dropped as they come.
    resync_timer_.disarm();
    resync_in_flight_bytes_ = 0;
    set_replication(ReplicationState::kEstablished, "the disk being resynced failed");
  }
  if (replication_ == ReplicationState::kVerifyS) {
    // Our online verify compared the peer's blocks with this disk: there is
    // nothing left to compare them with. The replies still due are dropped
    // as they come (before, they were compared with a disk no longer there:
    // the pair simulation, seed 3159, a null dereference).
    abandon_verify("this node's disk failed");
  }
  // No peer holds what this Primary served (the link was down, or the peer
  // is not UpToDate): the disk just given up is the only copy of it (the
  // pair simulation, protocol B seed 11394: it was fetched back over from
  // a stale peer once attached again).
  if (given_up_disk_ && role_ == Role::kPrimary && !keeps_serving) given_up_disk_->sole_copy = true;
  if (keeps_serving) {
    log("serving reads and writes through the peer");
    publish_local_state();
  } else if (conn_) {
    drop_connection("local disk failed: this node is Diskless", After::kStandAlone,
                    wire::DisconnectCode::kOther);
  }
}

CommandResult Resource::attach_under_primary(const Superblock& on_disk) {
  // A new disk (fresh metadata) larger than the volume holds it in its
  // first data_size bytes, as at a Secondary's first connect (protocol 9):
  // its superblock, written below, then says so; the rest of the disk
  // waits for a resize. Any other disk must describe the volume's size.
  Superblock found = on_disk;
  const bool larger_new_disk = on_disk.data_size > sb_.data_size && is_just_created(on_disk.generations);
  if (on_disk.data_size != sb_.data_size && !larger_new_disk)
    return CommandResult::failure(
        "attach refused: the disk's metadata describes " + std::to_string(on_disk.data_size) +
        " bytes of data, the volume has " + std::to_string(sb_.data_size) +
        (on_disk.data_size < sb_.data_size ? " (a disk of at least the volume's size is needed)"
                                           : " (create-md on it first: a new disk may be larger than the volume)"));
  if (larger_new_disk) found.data_size = sb_.data_size;
  if (given_up_disk_ && given_up_disk_->sole_copy) return attach_sole_copy_under_primary(found);
  set_disk(DiskState::kAttaching, "attach under the Primary");
  Result<AlRecovery> rec = Result<AlRecovery>::failure("");
  std::optional<OutOfSyncBitmap> bm = load_attached_metadata(found, rec);
  if (!bm) return CommandResult::failure("attach failed: " + rec.error());
  reattach_records_ = records_of_given_up_disk(found, rec.value(), *bm);
  took_back_given_up_disk_ = reattach_records_.has_value();
  // Every block to fetch until the peer's bitmap says what it wrote alone
  // (reads meanwhile go to the peer); with the records, then only those.
  bm->set_all();
  // Inconsistent on disk before any block is written.
  if (IoStatus s = take_disk_under_primary(found, /*consistent=*/false, std::move(*bm), rec->last_sequence); !s.ok())
    return CommandResult::failure("attach failed: writing the new disk's metadata: " + s.message());
  if (larger_new_disk)
    log("the new disk holds " + std::to_string(on_disk.data_size) + " bytes of data; it takes the volume's " +
        std::to_string(sb_.data_size) + " (a resize can grow the volume into the rest)");
  set_disk(DiskState::kInconsistent, reattach_records_
                                         ? "the disk given up is back under the Primary: what it missed to be fetched "
                                           "from the peer"
                                         : "attached under the Primary: every block to be fetched from the peer");
  if (can_serve_through_peer()) {
    // The records go first, then our StateChange: the peer answers that
    // with its bitmap merged with them (protocol 8; an older peer gets no
    // records and serves a full resync).
    const bool ask_peer = reattach_records_.has_value() && wire_version() >= 8;
    if (ask_peer) {
      send_bitmap_of(*reattach_records_);
      reattach_bitmap_.emplace(sb_.data_size);
      reattach_bitmap_bits_ = 0;
      reattach_answer_due_ = true;
    }
    // (Written just above; a failure now is reported, the bits stay set.)
    (void)start_sync_target(/*full=*/true, ask_peer ? "the disk given up is back under the Primary: resync from the "
                                                      "peer, of what it missed once the peer's bitmap is in"
                                                    : "attached under the Primary: full resync from the peer");
    resync_in_band_ = true;
    publish_local_state();  // the peer goes SyncSource on our Inconsistent
    resync_timer_.arm_at(loop_.now());
  } else if (conn_) {
    renegotiate("attached under the Primary: resync from the peer");
  } else if (connector_ != nullptr) {
    connector_->connection_lost();  // Diskless refused connections; ask again
  }
  return Ok{};
}

CommandResult Resource::attach_sole_copy_under_primary(const Superblock& found) {
  auto refused = [&](const std::string& why) {
    return CommandResult::failure("attach refused: this Primary lost its disk with no peer holding its data, so only "
                                  "that disk as it was can come back under it; " + why +
                                  " (to start over from the peer's data: secondary, then attach)");
  };
  if (found.device_uuid != given_up_disk_->device_uuid) return refused("this is another disk");
  set_disk(DiskState::kAttaching, "attach under the Primary");
  Result<AlRecovery> rec = Result<AlRecovery>::failure("");
  std::optional<OutOfSyncBitmap> bm = load_attached_metadata(found, rec);
  if (!bm) return CommandResult::failure("attach failed: " + rec.error());
  if (const std::string changed = given_up_disk_change(found, rec.value(), *bm); !changed.empty()) {
    set_disk(DiskState::kDiskless, "attach refused");
    return refused("its metadata changed since (" + changed + ")");
  }
  // What no flush had made durable when the disk was given up (a failed
  // flush's lost writes among it), which attach() dropped from the page
  // cache: written back and flushed before the disk is the data again
  // (else the Primary would serve older bytes than it served before, and
  // resync them to the peer). Refused, the disk stays given up with them.
  if (IoStatus s = write_back_unwritten(given_up_disk_->unwritten); !s.ok()) {
    set_disk(DiskState::kDiskless, "attach failed");
    return CommandResult::failure("attach failed: writing again what no flush had made durable before the disk was "
                                  "given up failed: " + s.message() +
                                  "; the disk stays given up (attach again once it takes writes)");
  }
  // What the peer may lack: the disk's bitmap, its records when given up
  // (the failed write's blocks, the hot extents) and the extents its log
  // names now.
  OutOfSyncBitmap records = std::move(given_up_disk_->records);
  given_up_disk_.reset();
  records.merge(*bm);
  mark_extents_out_of_sync(rec->extents, records);
  reattach_records_.reset();
  took_back_given_up_disk_ = false;
  if (IoStatus s = take_disk_under_primary(found, /*consistent=*/true, std::move(records), rec->last_sequence);
      !s.ok())
    return CommandResult::failure("attach failed: writing the disk's metadata: " + s.message());
  set_disk(DiskState::kUpToDate, "the disk given up is back under the Primary, which had no other copy of its data (" +
                                     std::to_string(bitmap_->out_of_sync_bytes() / 1024) +
                                     " KiB recorded as what the peer may lack)");
  if (conn_) renegotiate("the Primary's disk is back: the handshake decides what the peer lacks");
  else if (connector_ != nullptr) connector_->connection_lost();  // Diskless refused connections; ask again
  return Ok{};
}

IoStatus Resource::write_back_unwritten(std::map<uint32_t, std::vector<uint8_t>>& unwritten) {
  if (unwritten.empty()) return {};
  uint64_t bytes = 0;
  for (const auto& [e, data] : unwritten) {
    if (IoStatus s = data_device_->write(uint64_t{e} * kAlExtentSize, data); !s.ok()) return s;
    bytes += data.size();
  }
  if (IoStatus s = data_device_->flush(); !s.ok()) return s;
  log("wrote again " + std::to_string(bytes) + " bytes (" + std::to_string(unwritten.size()) +
      " extents) that no flush had made durable when the disk was given up, as this Primary served them");
  unwritten.clear();
  return {};
}

std::optional<OutOfSyncBitmap> Resource::load_attached_metadata(const Superblock& found, Result<AlRecovery>& rec) {
  Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(md_storage(), found.bitmap_offset, found.data_size);
  rec = bm.ok() ? recover_after_attach(md_storage(), found, bm.value()) : Result<AlRecovery>::failure(bm.error());
  if (!rec.ok()) {
    set_disk(DiskState::kDiskless, "attach failed");
    return std::nullopt;
  }
  return std::move(bm.value());
}

IoStatus Resource::take_disk_under_primary(const Superblock& found, bool consistent, OutOfSyncBitmap bitmap,
                                           uint64_t al_sequence) {
  // The pair's generations are ours (we are the Primary), not the disk's:
  // kept, so that the next handshake with the peer still relates.
  const Generations pair = sb_.generations;
  sb_ = found;
  sb_.generations = pair;
  sb_.flags.consistent = consistent;
  sb_.flags.outdated = false;
  sb_.flags.peer_outdated = false;
  sb_.flags.was_primary = true;
  bitmap_.emplace(std::move(bitmap));
  data_ = std::make_unique<StorageRegion>(*data_device_, 0, sb_.data_size);
  al_.emplace(md_storage(), sb_, al_sequence);
  crashed_primary_ = false;
  IoStatus s = persist_bitmap();
  if (s.ok()) s = persist_superblock();
  if (!s.ok()) {
    al_.reset();
    bitmap_.reset();
    data_.reset();
    set_disk(DiskState::kDiskless, "attach failed");
  }
  return s;
}

void Resource::serve_attaching_primary() {
  if (reattach_bitmap_ && reattach_bitmap_bits_ == reattach_bitmap_->block_count()) {
    // The disk it had given up, with its records: those blocks and what we
    // recorded while it was Diskless are to be sent. Saved (by
    // start_sync_source) before the answer tells the Primary to fetch
    // only these.
    bitmap_->merge(*reattach_bitmap_);
    reattach_bitmap_.reset();
    start_sync_source(/*full=*/false, "the Primary peer attached the disk it had given up: resync of what it missed");
    send_bitmap_of(*bitmap_);
    return;
  }
  reattach_bitmap_.reset();
  // Every block is to be sent: our bitmap says so (and shrinks as we answer,
  // which is the progress shown here). A flap keeps it for the next
  // handshake, where it adds nothing to the target's own bitmap.
  start_sync_source(/*full=*/true, "the Primary peer attached a new disk: full resync to it");
}

std::string Resource::given_up_disk_change(const Superblock& found, const AlRecovery& rec,
                                           const OutOfSyncBitmap& on_disk) const {
  const GivenUpDisk& g = *given_up_disk_;
  // The same disk, but its metadata moved on since (written elsewhere, an
  // older copy of it): what it holds is not known. One write more than we
  // counted is expected: a metadata write whose flush failed was taken as
  // failed but may have landed (the superblock then holds what we hold;
  // that activity-log transaction's extents are merged with the ones we
  // knew).
  // After a failed superblock write (a new generation at a link loss
  // whose save failed, and the disk given up for it under detach) the
  // superblock we counted holds the generations saved before.
  // A move of internal metadata to the end of the grown disk (the
  // operator's resize of the disk, move_internal_metadata_to_end()) copies
  // the superblock, activity log and bitmap as they are and writes the
  // superblock twice: the same disk, two writes on, found elsewhere (the
  // pair simulation, protocol A seed 5356: the only copy, grown under
  // metadata that had not moved yet, came back refused).
  const auto one_of = [](uint64_t found_seq, uint64_t known) { return found_seq == known || found_seq == known + 1; };
  const uint64_t moves = found.superblock_offset != g.superblock_offset ? 2 : 0;
  if (found.sequence < moves || !one_of(found.sequence - moves, g.superblock_sequence))
    return "superblock " + std::to_string(found.sequence) + ", " + std::to_string(g.superblock_sequence) +
           " when given up" + (moves ? ", metadata moved" : "");
  const Generations& expected =
      found.sequence - moves == g.superblock_sequence ? g.saved_generations : g.generations;
  if (!(found.generations == expected))
    return "generations " + generations_text(found.generations) + ", " + generations_text(expected) +
           " when given up";
  if (!one_of(rec.last_sequence, g.al_sequence))
    return "activity log at transaction " + std::to_string(rec.last_sequence) + ", " + std::to_string(g.al_sequence) +
           " when given up";
  if (g.records.block_count() != on_disk.block_count()) return "size";
  return "";
}

std::optional<OutOfSyncBitmap> Resource::records_of_given_up_disk(const Superblock& found, const AlRecovery& rec,
                                                                 const OutOfSyncBitmap& on_disk) {
  if (!given_up_disk_) return std::nullopt;
  if (found.device_uuid != given_up_disk_->device_uuid) {  // another disk
    given_up_disk_.reset();
    return std::nullopt;
  }
  // Changed since: all of it is fetched.
  const std::string changed = given_up_disk_change(found, rec, on_disk);
  GivenUpDisk g = std::move(*given_up_disk_);
  given_up_disk_.reset();
  if (!changed.empty()) {
    log("the disk given up is back, but its metadata changed since (" + changed + "): full resync");
    return std::nullopt;
  }
  OutOfSyncBitmap records = std::move(g.records);
  records.merge(on_disk);
  mark_extents_out_of_sync(rec.extents, records);
  log("the disk given up is back, unchanged: " + std::to_string(records.out_of_sync_bytes() / 1024) +
      " KiB recorded here as possibly stale, and what the peer recorded since");
  return records;
}

void Resource::on_reattach_bitmap_chunk(const wire::BitmapChunk& chunk) {
  // From a Diskless Primary peer before its StateChange(Inconsistent): its
  // records. On that Primary: the peer's answer.
  const bool records_from_peer = !reattach_answer_due_ && role_ == Role::kSecondary &&
                                 peer_role_ == Role::kPrimary && peer_disk_ == DiskState::kDiskless && bitmap_;
  if (wire_version() < 8 || !(records_from_peer || reattach_answer_due_)) {
    fail_link("unexpected BitmapChunk at bit " + std::to_string(chunk.offset_bits) + " on the running link",
              wire::DisconnectCode::kProtocolError);
    return;
  }
  if (records_from_peer && chunk.offset_bits == 0) {
    reattach_bitmap_.emplace(sb_.data_size);  // a new attach starts again
    reattach_bitmap_bits_ = 0;
  }
  if (!reattach_bitmap_ || chunk.offset_bits != reattach_bitmap_bits_ ||
      chunk.bit_count > reattach_bitmap_->block_count() - reattach_bitmap_bits_) {
    fail_link("unexpected BitmapChunk at bit " + std::to_string(chunk.offset_bits) + " on the running link",
              wire::DisconnectCode::kProtocolError);
    return;
  }
  wire::for_each_set_run(chunk, [this](uint64_t first, uint64_t count) {
    reattach_bitmap_->set_range(first * kBlockSize, count * kBlockSize);
  });
  reattach_bitmap_bits_ += chunk.bit_count;
  if (!reattach_answer_due_ || reattach_bitmap_bits_ != reattach_bitmap_->block_count()) return;
  // The answer is complete (the records wait for the StateChange).
  reattach_answer_due_ = false;
  OutOfSyncBitmap needed = std::move(*reattach_bitmap_);
  reattach_bitmap_.reset();
  if (bitmap_ && reattach_records_ && replication_ == ReplicationState::kSyncTarget) {
    needed.merge(*reattach_records_);  // with our writes since the records were sent
    narrow_reattach_resync(needed, "the peer's bitmap");
  }
}

void Resource::narrow_reattach_resync(const OutOfSyncBitmap& needed, const std::string& how) {
  const uint64_t dropped = bitmap_->keep_only(needed);
  reattach_records_.reset();
  // (A failed save leaves more bits on disk than needed: only more work.)
  (void)persist_bitmap();
  resync_total_bytes_ = resync_done_bytes_ + bitmap_->out_of_sync_bytes();
  log("resync of the disk given up narrowed by " + how + ": " + std::to_string(bitmap_->out_of_sync_bytes() / 1024) +
      " KiB to fetch, " + std::to_string(dropped * kBlockSize / 1024) + " KiB it holds already");
}

void Resource::request_from_peer(ReplyDue due) {
  send(wire::ResyncRequest{due.offset, static_cast<uint32_t>(due.length), due.kind == ReplyDue::Kind::kChecksum});
  replies_due_.push_back(due);
}

void Resource::note_write_during_resync(uint64_t offset, uint64_t length) {
  for (ReplyDue& due : replies_due_)
    if (due.kind != ReplyDue::Kind::kRead && due.offset < offset + length && offset < due.offset + due.length)
      due.overwritten = true;
}

void Resource::read_through_peer(uint64_t offset, std::span<uint8_t> out, IoCallback done) {
  if (!can_serve_through_peer()) return done(IoStatus::error(EIO));
  const uint64_t begin = offset / wire::kSectorSize * wire::kSectorSize;
  const uint64_t end = std::min(
      sb_.data_size, (offset + out.size() + wire::kSectorSize - 1) / wire::kSectorSize * wire::kSectorSize);
  const uint64_t id = next_read_id_++;
  RemoteRead& rr = remote_reads_[id];
  rr.offset = begin;
  rr.buffer.resize(end - begin);
  rr.user_offset = offset;
  rr.out = out;
  rr.done = std::move(done);
  for (uint64_t pos = begin; pos < end; pos += wire::kMaxDataBytes) {
    const uint64_t n = std::min<uint64_t>(wire::kMaxDataBytes, end - pos);
    ReplyDue due;
    due.kind = ReplyDue::Kind::kRead;
    due.offset = pos;
    due.length = n;
    due.read_id = id;
    request_from_peer(due);
    ++rr.replies_outstanding;
  }
}

void Resource::on_remote_read_reply(const wire::ResyncReply& r) {
  const ReplyDue want = replies_due_.front();
  replies_due_.pop_front();
  last_answer_ = loop_.now();
  auto it = remote_reads_.find(want.read_id);
  if (it == remote_reads_.end()) return;
  RemoteRead& rr = it->second;
  std::memcpy(rr.buffer.data() + (r.offset - rr.offset), r.data.data(), r.data.size());
  if (--rr.replies_outstanding > 0) return;
  std::memcpy(rr.out.data(), rr.buffer.data() + (rr.user_offset - rr.offset), rr.out.size());
  IoCallback done = std::move(rr.done);
  remote_reads_.erase(it);
  done(IoStatus());
}

void Resource::fail_remote_reads() {
  replies_due_.clear();
  std::map<uint64_t, RemoteRead> reads;
  reads.swap(remote_reads_);
  for (auto& [id, rr] : reads) rr.done(IoStatus::error(EIO));
}

}  // namespace vrrpd::replication
