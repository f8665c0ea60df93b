// Resource: online grow (drbdadm resize). The operator grows the backing
// storage on both nodes, then asks one node to resize:
//   1. that node (the initiator) sends ResizeRequest with the size both
//      replicate now and the largest its storage holds;
//   2. the peer grows to the smaller of that and its own largest (grow.h:
//      metadata moved or extended, crash-safe), then answers ResizeReply
//      with the new size, or refuses with the reason;
//   3. the initiator grows to the same size.
// The added blocks hold whatever each disk had there, so they are out of
// sync: the Secondary (both Secondary: the peer asked) takes them from the
// other node, Inconsistent until that resync ends, which runs on the live
// link (as after attach under a Primary: the target asks, the source
// answers). The Primary's frontend sees the new size only once it has
// grown, and the peer grows before anything is written there: its reply
// precedes any Data on the ordered stream.
//
// The operator's options (protocol 5, ResizeWithOptions instead of
// ResizeRequest): --size makes the new size exact (a peer whose storage
// holds less refuses; without it the peer settles on the smaller largest),
// --assume-clean leaves the added blocks out of both bitmaps, so nobody
// goes Inconsistent and nothing is resynced (DRBD's resize --assume-clean,
// for zeroed or fresh thin devices; an online verify finds it if the
// claim was wrong).
//
// A link or node lost between 2 and 3 leaves the nodes with different
// sizes; the next handshake grows the smaller one to the larger one's size
// (settle_size_at_handshake), as its target or its source depending on
// which side is Inconsistent already.
#include <algorithm>

#include "replication/fs_probe.h"
#include "replication/grow.h"
#include "replication/resource.h"

namespace vrrpd::replication {

Result<uint64_t> Resource::local_max_data_size() {
  Result<uint64_t> d = data_device_->refresh_size();
  if (!d.ok()) return Result<uint64_t>::failure("reading the size of the backing device: " + d.error());
  if (external_md_ != nullptr) {
    Result<uint64_t> m = external_md_->refresh_size();
    if (!m.ok()) return Result<uint64_t>::failure("reading the size of the metadata storage: " + m.error());
  }
  return max_data_size(sb_, md_storage().size(), data_device_->size());
}

void Resource::resize(std::function<void(CommandResult)> done, const ResizeOptions& options) {
  auto refused = [&](const std::string& why) { done(CommandResult::failure("resize refused: " + why)); };
  if (!data_) return refused("no disk is attached");
  if (resize_done_) return refused("a resize is already waiting for the peer");
  if (phase_ != Phase::kRunning || replication_ != ReplicationState::kEstablished)
    return refused(std::string("the link must be Established (connected, no resync or verify running); it is ") +
                   to_string(connection_) + "/" + to_string(replication_));
  if (disk_ != DiskState::kUpToDate || peer_disk_ != DiskState::kUpToDate)
    return refused(std::string("both disks must be UpToDate; this node is ") + to_string(disk_) + ", the peer " +
                   (peer_disk_ ? to_string(*peer_disk_) : "unknown"));
  if (wire_version() < 3)
    return refused("the peer's build does not know online resize (it speaks replication protocol " +
                   std::to_string(wire_version()) + "; 3 is needed)");
  const bool with_options = options.size.has_value() || options.assume_clean;
  if (with_options && wire_version() < 5)
    return refused("the peer's build does not know resize --size or --assume-clean (it speaks replication "
                   "protocol " + std::to_string(wire_version()) + "; 5 is needed); a plain resize works with it");
  if (options.size) {
    const uint64_t size = *options.size;
    if (size % kBlockSize != 0)
      return refused("--size " + std::to_string(size) + " is not a multiple of 4096 bytes");
    if (size == sb_.data_size)
      return refused("the volume has " + std::to_string(size) + " bytes already");
    if (size < sb_.data_size) return ask_shrink(std::move(done), size, options.assume_clean);
  }
  Result<uint64_t> max = local_max_data_size();
  if (!max.ok()) return refused(max.error());
  if (max.value() <= sb_.data_size)
    return refused("the backing storage did not grow: it holds " + std::to_string(max.value()) +
                   " bytes of data, the volume has " + std::to_string(sb_.data_size) +
                   " already; grow it on both nodes first");
  if (options.size && *options.size > max.value())
    return refused("--size " + std::to_string(*options.size) + " does not fit: this node's backing storage holds " +
                   std::to_string(max.value()) + " bytes of data");
  const uint64_t target_size = options.size.value_or(max.value());
  // Whether this node could grow to that size at all (an internal metadata
  // move needs room past the old copy), before the peer grows.
  Result<Superblock> plan = plan_grown_metadata(sb_, md_storage().size(), data_device_->size(), target_size);
  if (!plan.ok()) return refused(plan.error());
  resize_done_ = std::move(done);
  resize_asked_ = wire::ResizeWithOptions{sb_.data_size, target_size, options.size.has_value(), options.assume_clean};
  log("resize: asking the peer to grow from " + std::to_string(sb_.data_size) + (options.size ? " to " : " to up to ") +
      std::to_string(target_size) + " bytes" +
      (options.assume_clean ? ", the added blocks assumed identical on both nodes (--assume-clean)" : ""));
  if (with_options) send(resize_asked_);
  else send(wire::ResizeRequest{sb_.data_size, target_size});
}

void Resource::ask_shrink(std::function<void(CommandResult)> done, uint64_t new_size, bool assume_clean) {
  auto refused = [&](const std::string& why) { done(CommandResult::failure("resize refused: " + why)); };
  const std::string to = "--size " + std::to_string(new_size);
  if (assume_clean) return refused("--assume-clean is for the blocks a growth adds; shrinking adds none");
  if (wire_version() < 6)
    return refused("the peer's build does not know shrinking (it speaks replication protocol " +
                   std::to_string(wire_version()) + "; 6 is needed)");
  if (new_size == 0) return refused(to + ": a volume needs at least one 4096-byte block");
  if (role_ == Role::kSecondary && peer_role_ == Role::kPrimary)
    return refused("the peer is Primary: shrink on the Primary (the Secondary shrinks first, so that a link lost "
                   "halfway never leaves the Primary smaller than its peer)");
  // The one check DRBD leaves to the operator: cutting off a file system
  // that still spans the end loses whatever it keeps there.
  if (std::optional<FileSystemExtent> fs = probe_file_system(*data_); fs && fs->bytes > new_size)
    return refused("the " + fs->type + " file system on the volume spans " + std::to_string(fs->bytes) +
                   " bytes, more than " + to + ": shrink it first (ext2/3/4: unmount, e2fsck -f, resize2fs "
                   "DEVICE " + std::to_string(new_size / 1024) + "K; XFS cannot shrink), then the volume");
  // Writes already sent reach the peer before the request (one ordered
  // stream); one not sent yet would come after its cut.
  for (const auto& [id, w] : writes_)
    if (!w.mirrored && w.offset + w.size() > new_size)
      return refused("a write past the new end (offset " + std::to_string(w.offset) +
                     ") waits to be sent to the peer; retry once it is done");
  // From here until the answer, no write may start past the new end.
  write_limit_ = new_size;
  resize_done_ = std::move(done);
  resize_asked_ = wire::ResizeWithOptions{sb_.data_size, new_size, /*exact=*/true, /*assume_clean=*/false,
                                          /*shrink=*/true};
  log("resize: asking the peer to shrink from " + std::to_string(sb_.data_size) + " to " + std::to_string(new_size) +
      " bytes (it shrinks first, then this node)");
  send(resize_asked_);
}

void Resource::on_resize_request(const wire::ResizeWithOptions& r) {
  // `why` as the asking node reads it ("the peer ..." is this node).
  auto refuse_resize = [&](const std::string& why) {
    report_error("resize asked by the peer refused, told it: " + why);
    send(wire::ResizeReply{0, why.substr(0, wire::kMaxReasonBytes)});
  };
  // The Primary lost its disk before it could grow (withdrawing_resize_):
  // this node, the target of the blocks the growth added, takes back its
  // old size.
  if (r.shrink && role_ == Role::kSecondary && peer_role_ == Role::kPrimary &&
      peer_disk_ == DiskState::kDiskless && replication_ == ReplicationState::kSyncTarget && resync_in_band_) {
    CommandResult back = take_back_growth(r);
    if (!back.ok()) return refuse_resize(back.error());
    send(wire::ResizeReply{r.max_size, ""});
    send(wire::StateChange{role_, disk_});
    serve_diskless_primary_peer();
    return;
  }
  // Both nodes were asked at once and the requests crossed on the link:
  // each refuses the other's (and so learns of its own refusal), rather
  // than each growing to the other's size and then failing at its own
  // answer, a size it has passed. The operator asks again, on one node.
  if (resize_done_)
    return refuse_resize("the peer was asked to resize at the same time (the two requests crossed); ask again, "
                         "on one node");
  if (r.current_size != sb_.data_size)
    return refuse_resize("this node replicates " + std::to_string(r.current_size) + " bytes, the peer " +
                         std::to_string(sb_.data_size));
  if (!data_ || disk_ != DiskState::kUpToDate || replication_ != ReplicationState::kEstablished)
    return refuse_resize(std::string("the peer is ") + to_string(disk_) + "/" + to_string(replication_) +
                         ", not UpToDate and Established");
  if (r.shrink) {
    // The asker checked the file system on its (identical) data. A Primary
    // never shrinks first: the asker refuses that before sending.
    if (role_ == Role::kPrimary)
      return refuse_resize("the peer is Primary: shrink on the Primary, which shrinks last");
    CommandResult shrunk = shrink_to(r.max_size, "resize asked by the peer");
    if (!shrunk.ok()) return refuse_resize("the peer could not shrink: " + shrunk.error());
    send(wire::ResizeReply{r.max_size, ""});
    return;
  }
  Result<uint64_t> max = local_max_data_size();
  if (!max.ok()) return refuse_resize("the peer could not read its size: " + max.error());
  if (r.exact && max.value() < r.max_size)
    return refuse_resize("the peer's backing storage holds " + std::to_string(max.value()) + " bytes of data, not " +
                         std::to_string(r.max_size) + "; grow it too");
  const uint64_t new_size = std::min(max.value(), r.max_size);
  if (new_size <= sb_.data_size)
    return refuse_resize("the peer's backing storage did not grow: it holds " + std::to_string(max.value()) +
                         " bytes of data; grow it too");
  // The added blocks go from the Primary to the Secondary; with two
  // Secondaries, from the asking node to this one. Assumed clean, they go
  // nowhere.
  const bool target = role_ == Role::kSecondary && !r.assume_clean;
  CommandResult grown = grow_to(new_size, target, r.assume_clean, "resize asked by the peer");
  if (!grown.ok()) return refuse_resize("the peer could not grow: " + grown.error());
  send(wire::ResizeReply{new_size, ""});
  if (target) start_resize_resync();
}

void Resource::on_resize_reply(const wire::ResizeReply& r) {
  if (!resize_done_) {
    fail_link("unexpected ResizeReply", wire::DisconnectCode::kProtocolError);
    return;
  }
  auto done = std::move(resize_done_);
  resize_done_ = nullptr;
  write_limit_ = kNoWriteLimit;
  const wire::ResizeWithOptions asked = resize_asked_;
  if (withdrawing_resize_) {
    withdrawing_resize_ = false;
    const std::string grown = "the peer had grown to " + std::to_string(asked.current_size) + " bytes";
    if (r.new_size != asked.max_size) {
      // It stays the Inconsistent target of blocks nobody can send.
      const std::string why = "resize: this node's disk was given up before the peer's answer and " + grown +
                              "; asked to take back " + std::to_string(asked.max_size) + " bytes, it " +
                              (r.new_size == 0 ? "refused: " + r.reason : "answered " + std::to_string(r.new_size));
      fail_link(why, wire::DisconnectCode::kOther);
      return done(CommandResult::failure(why + "; attach a disk, or demote"));
    }
    log("resize withdrawn: " + grown + " and took back " + std::to_string(r.new_size));
    return done(CommandResult::failure("resize abandoned: this node's disk was given up before the peer's answer; " +
                                       grown + " and took back " + std::to_string(r.new_size) +
                                       " (resize again once a disk is attached)"));
  }
  if (r.new_size == 0) return done(CommandResult::failure("resize refused by the peer: " + r.reason));
  if (asked.shrink) {
    if (r.new_size != asked.max_size) {
      const std::string why = "resize: the peer shrank to " + std::to_string(r.new_size) +
                              " bytes, this node asked for " + std::to_string(asked.max_size);
      fail_link(why, wire::DisconnectCode::kProtocolError);
      return done(CommandResult::failure(why));
    }
    CommandResult shrunk = shrink_to(r.new_size, "resize");
    if (!shrunk.ok()) {
      // The peer is smaller now: the next handshake grows it back (as the
      // target of the end), and the operator shrinks again.
      const std::string why = "resize: the peer shrank to " + std::to_string(r.new_size) +
                              " bytes but this node could not: " + shrunk.error();
      fail_link(why + "; the next handshake grows the peer back", wire::DisconnectCode::kOther);
      return done(CommandResult::failure(why));
    }
    return done(Ok{});
  }
  // The peer grew to a size we did not offer: neither node can be trusted
  // to agree on the geometry from here.
  if (r.new_size <= asked.current_size || r.new_size > asked.max_size || (asked.exact && r.new_size != asked.max_size)) {
    const std::string why = "resize: the peer grew to " + std::to_string(r.new_size) + " bytes, this node asked for " +
                            (asked.exact ? "" : "up to ") + std::to_string(asked.max_size);
    fail_link(why, wire::DisconnectCode::kProtocolError);
    return done(CommandResult::failure(why));
  }
  if (!data_ && role_ == Role::kPrimary && !asked.assume_clean && wire_version() >= 6) {
    // Our disk was given up (on-io-error detach) while we waited: with no
    // disk we cannot grow, and the peer, grown as the target of the added
    // blocks, waits for blocks only that disk held; Inconsistent, it can
    // serve nothing, and a Diskless Primary does not connect to it again
    // (the pair simulation, seed 47761, with the disk failing instead of
    // the operator's detach). The volume never grew here: the peer takes
    // back its old size and serves us. (Assumed clean, the peer stays
    // UpToDate and serves us grown; the next attach grows this node.)
    withdrawing_resize_ = true;
    resize_done_ = std::move(done);
    resize_asked_ = wire::ResizeWithOptions{r.new_size, asked.current_size, /*exact=*/true,
                                            /*assume_clean=*/false, /*shrink=*/true};
    log("resize: this node's disk was given up before the peer's answer, so the volume keeps " +
        std::to_string(asked.current_size) + " bytes; asking the peer, grown to " + std::to_string(r.new_size) +
        ", to take back its old size");
    send(resize_asked_);
    return;
  }
  const bool target = role_ == Role::kSecondary && peer_role_ == Role::kPrimary && !asked.assume_clean;
  CommandResult grown = grow_to(r.new_size, target, asked.assume_clean, "resize");
  if (!grown.ok()) {
    // The peer has grown and we have not: the sizes differ from now on.
    const std::string why = "resize: the peer grew to " + std::to_string(r.new_size) +
                            " bytes but this node could not: " + grown.error();
    fail_link(why + "; the next handshake tries again", wire::DisconnectCode::kOther);
    return done(CommandResult::failure(why));
  }
  if (target) start_resize_resync();
  done(Ok{});
}

CommandResult Resource::take_back_growth(const wire::ResizeWithOptions& r) {
  const uint64_t old_size = r.max_size;
  if (r.current_size != sb_.data_size || old_size != grown_from_ || old_size >= sb_.data_size)
    return CommandResult::failure("the peer grew from " + std::to_string(grown_from_) + " to " +
                                  std::to_string(sb_.data_size) + " bytes, not from " + std::to_string(old_size) +
                                  " to " + std::to_string(r.current_size));
  // Below the old end this disk must be what the Primary's volume holds:
  // it was UpToDate when it grew and has taken every write since. (The
  // Primary's writes since it lost its disk are recorded in the bitmap
  // too, for that disk: this node holds them.)
  OutOfSyncBitmap lacking = *bitmap_;
  if (diskless_primary_records_) {
    uint64_t from = 0;
    while (auto run = diskless_primary_records_->find_next_dirty_run(from)) {
      lacking.clear_range(run->first_block * kBlockSize, run->block_count * kBlockSize);
      from = run->first_block + run->block_count;
    }
  }
  if (auto run = lacking.find_next_dirty_run(0); run && run->first_block * kBlockSize < old_size)
    return CommandResult::failure("the peer has blocks out of sync below the old end (from offset " +
                                  std::to_string(run->first_block * kBlockSize) + "), not only the added ones");
  diskless_primary_records_.reset();  // in the bitmap, which records for that disk from now on
  // The Primary drops our requests for the added blocks (it has no disk to
  // read them from) and sends nothing else we wait for meanwhile.
  replies_due_.clear();
  resync_timer_.disarm();
  resync_in_flight_bytes_ = 0;
  // Consistent again with the old size, in the one superblock write that
  // commits the shrink: a crash on either side of it leaves a disk that
  // says what it holds.
  sb_.flags.consistent = true;
  CommandResult shrunk =
      shrink_to(old_size, "the Primary lost its disk before it grew: its volume keeps the old size");
  if (!shrunk.ok()) {
    sb_.flags.consistent = false;
    return CommandResult::failure("the peer could not take back its old size: " + shrunk.error());
  }
  resync_in_band_ = false;
  resync_done_bytes_ = resync_total_bytes_ = 0;
  set_disk(DiskState::kUpToDate, "the Primary never grew: the blocks a resize added are gone again");
  set_replication(ReplicationState::kEstablished, "the resize was withdrawn by the Primary, which lost its disk");
  return Ok{};
}

CommandResult Resource::grow_to(uint64_t new_size, bool as_target, bool assume_clean, const std::string& why) {
  if (!data_ || !bitmap_ || !al_) return CommandResult::failure("no disk is attached");
  // The sizes read again (the plan checks that new_size fits them).
  if (Result<uint64_t> max = local_max_data_size(); !max.ok()) return CommandResult::failure(max.error());
  Result<Superblock> plan = plan_grown_metadata(sb_, md_storage().size(), data_device_->size(), new_size);
  if (!plan.ok()) return CommandResult::failure(plan.error());
  Superblock grown = plan.value();
  if (as_target) grown.flags.consistent = false;  // on disk with the new size: a crash keeps it Inconsistent
  OutOfSyncBitmap bm = resized_bitmap(*bitmap_, new_size, /*mark_added=*/!assume_clean);
  // Assumed clean, the added space still holds this node's old internal
  // metadata (bitmap, activity log: not what the peer has there) when it
  // moves to the new end. Those blocks are marked with the new metadata and
  // cleared once write_grown_metadata() has zeroed them (its last step), so
  // a crash in between leaves them for the next handshake's resync, never
  // silently different.
  uint64_t stale_begin = 0, stale_end = 0;
  if (assume_clean && sb_.layout == MetadataLayout::kInternal && grown.superblock_offset != sb_.superblock_offset) {
    stale_begin = old_metadata_begin(sb_);
    stale_end = std::min<uint64_t>(sb_.superblock_offset + 2ull * kSuperblockSlotSize, new_size);
    if (stale_begin < stale_end) bm.set_range(stale_begin, stale_end - stale_begin);
    else stale_begin = stale_end = 0;
  }
  const uint64_t al_sequence = al_->sequence() + 1;
  GrowResult w = write_grown_metadata(md_storage(), sb_, grown, bm, al_->active_extents(), al_sequence);
  // Its flushes are flushes of the data's file too (internal metadata): a
  // failure may have dropped the writes since the last good flush, which
  // note_failed_durable_write() marks and writes again, as for any other
  // metadata write.
  if (!w.committed) {
    ++io_errors_;
    if (w.durable_write_failed) note_failed_durable_write();
    return CommandResult::failure("writing the grown metadata failed: " + w.status.message() +
                                  " (the metadata in force is unchanged)");
  }
  if (!w.status.ok()) {
    ++io_errors_;
    report_error("resize: zeroing the old metadata after the move failed: " + w.status.message() +
                 (stale_end > stale_begin ? "; its blocks stay out of sync until the next connect resyncs them" : ""));
  }
  const uint64_t old_size = sb_.data_size;
  grown_from_ = old_size;
  const bool moved = grown.al_offset != sb_.al_offset;
  sb_ = grown;
  bitmap_.emplace(std::move(bm));
  if (moved) al_->moved_to(sb_, al_sequence);
  if (w.durable_write_failed) note_failed_durable_write();  // (on the grown bitmap)
  if (stale_end > stale_begin && w.status.ok()) {
    bitmap_->clear_range(stale_begin, stale_end - stale_begin);  // zeros now, as on the peer
    (void)persist_bitmap();
  }
  data_->set_length(new_size);
  published_size_ = new_size;
  log("grown from " + std::to_string(old_size) + " to " + std::to_string(new_size) + " bytes (" + why + "); the " +
      std::to_string(new_size - old_size) + " bytes added are " +
      (assume_clean ? "taken as zeros on both nodes (--assume-clean)" : "out of sync"));
  if (as_target) set_disk(DiskState::kInconsistent, "resize: the added blocks come from the peer");
  state_changed();
  return Ok{};
}

CommandResult Resource::shrink_to(uint64_t new_size, const std::string& why) {
  if (!data_ || !bitmap_) return CommandResult::failure("no disk is attached");
  if (new_size == 0 || new_size >= sb_.data_size || new_size % kBlockSize != 0)
    return CommandResult::failure("cannot shrink " + std::to_string(sb_.data_size) + " bytes to " +
                                  std::to_string(new_size));
  Superblock shrunk = sb_;
  shrunk.data_size = new_size;  // bitmap_length stays: the pages past the end are ignored
  if (IoStatus s = write_superblock(md_storage(), shrunk); !s.ok()) {
    ++io_errors_;
    note_failed_durable_write();  // as in grow_to()
    return CommandResult::failure("writing the superblock with the smaller size failed: " + s.message() +
                                  " (the size in force is unchanged)");
  }
  // The bitmap on disk needs no change: read with the new size, its bits
  // past the end are masked off. Bits set in memory and not yet written
  // keep their way to disk: every page of the smaller copy is dirty.
  OutOfSyncBitmap bm = resized_bitmap(*bitmap_, new_size, /*mark_added=*/false);
  bm.mark_all_pages_dirty();
  const uint64_t old_size = sb_.data_size;
  const uint64_t dropped = bitmap_->out_of_sync_bytes() - bm.out_of_sync_bytes();
  sb_ = shrunk;
  bitmap_.emplace(std::move(bm));
  (void)persist_bitmap();  // a failure is reported; the pages stay dirty
  data_->set_length(new_size);
  published_size_ = new_size;
  log("shrunk from " + std::to_string(old_size) + " to " + std::to_string(new_size) + " bytes (" + why + "); the " +
      std::to_string(old_size - new_size) + " bytes past the new end are no longer replicated" +
      (dropped > 0 ? " (" + std::to_string(dropped) + " of them were out of sync)" : ""));
  state_changed();
  return Ok{};
}

void Resource::start_resize_resync() {
  // (A failure to record the added blocks is reported; they stay set in
  // memory and the next handshake merges them again.)
  (void)start_sync_target(/*full=*/false, "resize: the added blocks from the peer");
  resync_in_band_ = true;  // no handshake: the generations stay as they are
  publish_local_state();   // the peer goes SyncSource on our Inconsistent
  resync_timer_.arm_at(loop_.now());
}

bool Resource::settle_size_at_handshake(const wire::Hello& ph) {
  const std::string sizes = std::to_string(ph.device_size) + " bytes, this node " + std::to_string(sb_.data_size);
  if (wire_version() < 3 || !data_) {
    refuse(std::string("peer's disk is ") + (ph.device_size < sb_.data_size ? "smaller" : "larger") +
               " than ours: " + sizes + " bytes; both must replicate the same size",
           wire::DisconnectCode::kIncompatible);
    return false;
  }
  // A disk with fresh metadata (create-md, never synced: a replacement or
  // a first disk) holds nothing of the pair's yet. Larger than the peer's,
  // it takes the peer's size at its first connect, as DRBD sizes a new disk
  // by the smaller of both: only a resize grows a volume. (Before version
  // 9 the smaller node grew to it, or refused when its storage was full.)
  // Both sides read the same Hellos, so both decide alike.
  if (wire_version() >= 9) {
    if (ph.device_size < sb_.data_size && disk_ == DiskState::kInconsistent && is_just_created(sb_.generations)) {
      CommandResult cut = shrink_to(ph.device_size, "a new disk takes the size the peer replicates; a resize can "
                                                    "grow it into the rest");
      if (!cut.ok()) {
        refuse("this node's new disk could not take the peer's size (" + sizes + "): " + cut.error(),
               wire::DisconnectCode::kIncompatible);
        return false;
      }
      return true;
    }
    if (ph.device_size > sb_.data_size && ph.disk_state == DiskState::kInconsistent &&
        is_just_created(ph.generations)) {
      log("the peer's new disk is larger (" + sizes + "): it takes this node's size");
      return true;
    }
  }
  if (ph.device_size < sb_.data_size) {
    // The peer grows to our size in its own handshake if its storage has
    // room (the end of a resize it missed), or refuses and says why.
    log("the peer replicates fewer bytes (" + sizes + "): it grows to this node's size if its storage holds it");
    return true;
  }
  Result<uint64_t> max = local_max_data_size();
  if (!max.ok() || max.value() < ph.device_size) {
    refuse("the peer replicates more bytes than this node (" + sizes + ") and this node's storage holds " +
               (max.ok() ? std::to_string(max.value()) + " bytes of data" : "an unknown size (" + max.error() + ")") +
               ": grow its backing storage (the next connect grows the volume), or re-create the peer's "
               "metadata on a disk of this size",
           wire::DisconnectCode::kIncompatible);
    return false;
  }
  // A resize the peer finished while we were away. Whoever is Inconsistent
  // already is the target of the added blocks; otherwise we are, unless
  // the generations make us the source (we wrote since; the added blocks
  // then go with the rest) or the data diverged (the split-brain
  // resolution picks the direction for them too).
  const SyncDecision d = handshake_.decision;
  const bool target = ph.disk_state != DiskState::kInconsistent && d != SyncDecision::kSourceBitmap &&
                      d != SyncDecision::kSourceFull && d != SyncDecision::kSplitBrain;
  // A Primary whose own disk is Inconsistent (attached under it, or
  // promoted while it was SyncTarget) already takes from the peer all it
  // lacks and serves those blocks through the peer meanwhile: the added
  // blocks go with the rest. (Refused, the pair never connected again:
  // the pair simulation, seed 43067 under every protocol, a resize that
  // finished on the peer while this Primary was Diskless.) A Primary with
  // current data is not made a SyncTarget by a size.
  if (target && role_ == Role::kPrimary && local_data_current()) {
    refuse("the peer has grown to " + std::to_string(ph.device_size) +
               " bytes (a resize finished there) and this Primary would have to take the added blocks from it: "
               "demote it, or resize the peer's storage back",
           wire::DisconnectCode::kIncompatible);
    return false;
  }
  CommandResult grown = grow_to(ph.device_size, target, /*assume_clean=*/false,
                                "the peer has grown: a resize finished there, not here");
  if (!grown.ok()) {
    refuse("the peer has grown to " + std::to_string(ph.device_size) + " bytes and this node could not: " +
               grown.error(),
           wire::DisconnectCode::kIncompatible);
    return false;
  }
  return true;
}

}  // namespace vrrpd::replication
