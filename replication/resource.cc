// Resource: construction, metadata, attach/detach, roles, status, the
// blocking Volume adapter and the state transitions. See resource.h for the
// threading rules and for where the rest of the engine lives.
#include "replication/resource.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <memory>

#include "vrrpd/base/log.h"

namespace vrrpd::replication {

Resource::Resource(EventLoop& loop, ResourceOptions options, BlockStorage& data, BlockStorage* external_md)
    : loop_(loop),
      options_(std::move(options)),
      data_device_(&data),
      external_md_(external_md),
      reap_timer_(loop, [this] { closed_conns_.clear(); }),
      observer_timer_(loop,
                      [this] {
                        if (observer_) observer_();
                      }),
      handshake_timer_(loop, [this] { on_handshake_timeout(); }),
      ping_timer_(loop, [this] { on_ping_due(); }),
      ping_timeout_timer_(loop, [this] { on_ping_timeout(); }),
      watchdog_timer_(loop, [this] { on_watchdog(); }),
      eviction_retry_timer_(loop, [this] { start_blocked_writes(); }),
      metadata_detach_timer_(loop,
                             [this] {
                               const std::string why = std::move(metadata_detach_why_);
                               metadata_detach_why_.clear();
                               if (data_ && !why.empty() && peer_holds_the_data()) (void)detach_on_io_error(why);
                             }),
      rewrite_retry_timer_(loop, [this] { (void)rewrite_pending_extents(); }),
      epoch_timer_(loop, [this] { close_epoch(); }),
      congestion_timer_(loop, [this] { release_congested_writes(); }),
      resync_timer_(loop, [this] { request_resync_blocks(); }),
      flusher_(loop, data.flush_may_run_concurrently()) {}

Resource::~Resource() {
  if (connector_ != nullptr) connector_->stop();
  if (conn_) conn_->close();
  // Nobody may wait forever (a frontend thread blocks in the Volume adapter):
  // whatever has not completed fails with EIO.
  std::vector<IoCallback> pending;
  for (auto& [id, w] : writes_)
    if (w.done) pending.push_back(std::move(w.done));
  for (FlushRequest& f : flushes_) pending.push_back(std::move(f.done));
  for (auto& [id, r] : remote_reads_) pending.push_back(std::move(r.done));
  writes_.clear();
  flushes_.clear();
  remote_reads_.clear();
  for (IoCallback& done : pending) done(IoStatus::error(EIO));
}

// ---- transitions ----

void Resource::log(const std::string& message) const {
  log::notice("replication " + options_.name + ": " + message);
}

void Resource::report_error(const std::string& message) {
  last_error_ = message;
  log::warning("replication " + options_.name + ": " + message);
}

void Resource::set_role(Role to, const std::string& why) {
  if (role_ == to) return;
  log(std::string("role ") + to_string(role_) + " -> " + to_string(to) + ": " + why);
  role_ = to;
  // A flush error not yet reported concerns this role's writers: a new
  // Primary's application did not make those writes.
  unreported_flush_error_ = false;
  state_changed();
  published_writable_ = role_ == Role::kPrimary;
}

void Resource::set_disk(DiskState to, const std::string& why) {
  if (disk_ == to) return;
  log(std::string("disk ") + to_string(disk_) + " -> " + to_string(to) + ": " + why);
  disk_ = to;
  state_changed();
}

void Resource::set_connection(ConnectionState to, const std::string& why) {
  if (connection_ == to) return;
  log(std::string("connection ") + to_string(connection_) + " -> " + to_string(to) + ": " + why);
  connection_ = to;
  connection_why_ = why;
  state_changed();
}

void Resource::set_replication(ReplicationState to, const std::string& why) {
  if (replication_ == to) return;
  log(std::string("replication ") + to_string(replication_) + " -> " + to_string(to) + ": " + why);
  replication_ = to;
  state_changed();
}

void Resource::state_changed() {
  if (observer_ && !observer_timer_.armed()) observer_timer_.arm_at(loop_.now());
}

void Resource::publish_local_state() {
  published_writable_ = role_ == Role::kPrimary;
  if (phase_ == Phase::kRunning) send(wire::StateChange{role_, disk_});
}

// ---- metadata ----

IoStatus Resource::persist_superblock() {
  superblock_unsaved_ = false;
  if (!data_) return {};  // Diskless: nothing to record it on
  IoStatus s = write_superblock(md_storage(), sb_);
  if (s.ok()) {
    saved_generations_ = sb_.generations;
  } else {
    superblock_unsaved_ = true;
    note_failed_durable_write();
    metadata_write_failed("writing the superblock failed: " + s.message());
  }
  return s;
}

void Resource::metadata_write_failed(const std::string& what) {
  ++io_errors_;
  report_error(what);
  // Under passthrough (and call-handler) the write is made again: the
  // superblock before the next write (start_write()), the bitmap's pages
  // stay dirty for the next save. DRBD detaches on a metadata error even
  // under pass_on; here a transient error must not end the disk's use.
  if (options_.on_io_error != IoErrorPolicy::kDetach || !data_ || !metadata_detach_why_.empty()) return;
  metadata_detach_why_ = what;
  metadata_detach_timer_.arm_at(loop_.now());
}

bool Resource::peer_holds_the_data() const {
  // Connected to an UpToDate peer, and not its SyncSource: what this disk
  // holds, the peer holds too (a Primary then serves through it). Without
  // such a peer this disk may be the only copy, and giving it up for a
  // metadata error would lose what only its page cache still has (a failed
  // flush's writes, written again at the next one; attach() drops them):
  // the pair simulation, protocol C/B seed 13835. It is kept then, as
  // under passthrough.
  return can_serve_through_peer() && replication_ != ReplicationState::kSyncSource;
}

IoStatus Resource::persist_bitmap() {
  if (!bitmap_ || !data_) return {};
  if (data_writes_flushed_ < cleared_bits_need_) {
    // Bits were cleared for blocks that landed here since the last flush:
    // they must be durable before the bitmap on disk says they are there,
    // or a power loss leaves a block that nobody knows to resync.
    if (IoStatus f = flush_data_now(data_writes_); !f.ok()) {
      // The bitmap on disk keeps those bits set; the flush's other writes
      // are marked in memory (note_failed_flush()), recorded at the next save.
      metadata_write_failed("flushing the data before writing the bitmap failed: " + f.message());
      return f;
    }
  }
  IoStatus s = bitmap_->flush_dirty_pages(md_storage(), sb_.bitmap_offset);
  if (!s.ok()) {
    note_failed_durable_write();
    metadata_write_failed("writing the bitmap failed: " + s.message());
  }
  return s;
}

IoStatus Resource::flush_data_now(uint64_t covers) {
  const bool rewritten = rewrite_pending_extents();
  IoStatus s = data_->flush();
  if (s.ok() && !rewritten) s = IoStatus::error(EIO);
  // A flush on the Flusher failed and the loop has not taken it in (its
  // lost extents are not marked or written again yet): this one's success
  // may be the error reported there instead, and would take those extents
  // for durable. (What remains is the moment between that flush's error in
  // the kernel and the Flusher's count of it.)
  if (s.ok() && flusher_.failure_undelivered()) s = IoStatus::error(EIO);
  if (s.ok()) {
    note_local_flush(covers);
  } else {
    note_failed_flush();
  }
  return s;
}

void Resource::note_failed_durable_write() {
  // An RWF_DSYNC write reports the file's writeback errors, whichever pages
  // they hit: with internal metadata the data's unflushed writes may be
  // what failed.
  if (options_.metadata_layout == MetadataLayout::kInternal) (void)note_failed_flush();
}

uint64_t Resource::note_failed_flush() {
  // Which of the writes the flush covered reached the disk is unknown, and
  // Linux may have marked their pages clean (a later flush succeeds without
  // them): only a resync settles them. Over-marks writes made after the
  // flush started, which costs a few extra resynced blocks.
  // A Primary's application wrote; a Secondary's records go to the peer.
  if (role_ == Role::kPrimary) unreported_flush_error_ = true;
  ++failed_flushes_;
  std::vector<uint32_t> extents = unflushed_.take_all();
  if (!bitmap_ || !data_ || extents.empty()) return 0;
  const uint64_t marked = mark_extents_out_of_sync(extents, *bitmap_);
  for (uint32_t e : extents) keep_past_resync(uint64_t{e} * kAlExtentSize, kAlExtentSize);
  // The bits alone are not enough: a resync clears them once the peer has
  // the blocks, and our disk would still lack them (a power loss then
  // leaves a difference nobody records). Written again, they are unflushed
  // writes like any other: an extent leaves the activity log only once a
  // flush covered them. If reads return what the disk held (the pages were
  // evicted), this writes back the same bytes and the bits make the resync
  // bring both copies to them.
  for (uint32_t e : extents) rewrite_pending_.emplace(e, false);
  (void)rewrite_pending_extents();
  return marked;
}

bool Resource::rewrite_pending_extents() {
  if (!data_) {
    rewrite_pending_.clear();  // the disk is gone; so is what it lacked
    return true;
  }
  std::vector<uint8_t> buffer;
  for (auto it = rewrite_pending_.begin(); it != rewrite_pending_.end();) {
    const uint64_t begin = uint64_t{it->first} * kAlExtentSize;
    const uint64_t end = std::min(begin + kAlExtentSize, sb_.data_size);
    if (begin >= end) {
      it = rewrite_pending_.erase(it);
      continue;
    }
    buffer.resize(end - begin);
    // Unflushed until a flush after this write succeeds, whether the write
    // does or not: the extent stays in the activity log meanwhile.
    note_local_write(begin, end - begin);
    const IoStatus read = data_->read(begin, buffer);
    IoStatus s = read;
    if (s.ok()) s = data_->write(begin, buffer);
    // Refused, block by block: the blocks the disk takes are rewritten even
    // when it refuses others of the extent (pages the failed flush lost,
    // which a kill -9 and the restart's cache drop would otherwise lose for
    // good beside a few bad sectors: the pair simulation, seed 5341). The
    // extent stays pending until every block of it is written.
    if (!s.ok()) s = rewrite_block_by_block(begin, buffer, /*already_read=*/read.ok());
    if (!s.ok()) {
      if (!it->second) {
        ++io_errors_;
        report_error("writing the extent at offset " + std::to_string(begin) +
                     " again after a failed flush failed: " + s.message() +
                     "; flushes fail until it succeeds");
        it->second = true;
      }
      ++it;
      continue;
    }
    it = rewrite_pending_.erase(it);
  }
  if (rewrite_pending_.empty()) return true;
  if (!rewrite_retry_timer_.armed()) rewrite_retry_timer_.arm_in(kRewriteRetry);
  return false;
}

IoStatus Resource::rewrite_block_by_block(uint64_t begin, std::span<uint8_t> buffer, bool already_read) {
  IoStatus first_error;
  for (uint64_t at = 0; at < buffer.size(); at += kBlockSize) {
    const std::span<uint8_t> block = buffer.subspan(at, std::min<uint64_t>(kBlockSize, buffer.size() - at));
    IoStatus s = already_read ? IoStatus{} : data_->read(begin + at, block);
    if (s.ok()) s = data_->write(begin + at, block);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

uint64_t Resource::random_u64() const {
  const auto uuid = random_device_uuid();  // getrandom(2)
  uint64_t v = 0;
  std::memcpy(&v, uuid.data(), sizeof v);
  return v;
}

void Resource::start_new_generation(const std::string& why) {
  if (sb_.generations.bitmap != 0) return;  // the bitmap already records since the split
  new_current_uuid(sb_.generations, random_u64(), role_ == Role::kPrimary);
  log("new current generation " + std::to_string(sb_.generations.current) + ": " + why);
  (void)persist_superblock();
}

std::optional<Resource::DisklessPeer> Resource::served_diskless_primary() const {
  if (sb_.diskless_primary_generation == 0) return std::nullopt;
  return DisklessPeer{sb_.diskless_primary_generation, sb_.flags.diskless_primary_new_generation};
}

void Resource::remember_diskless_primary(DisklessPeer p) {
  if (sb_.diskless_primary_generation == p.generation && sb_.flags.diskless_primary_new_generation == p.new_generation)
    return;
  sb_.diskless_primary_generation = p.generation;
  sb_.flags.diskless_primary_new_generation = p.new_generation;
  // A failed write leaves it in memory only: a restart then refuses the
  // Diskless Primary, as before this was kept on disk.
  (void)persist_superblock();
}

void Resource::forget_diskless_primary(bool persist_later) {
  if (!served_diskless_primary()) return;
  sb_.diskless_primary_generation = 0;
  sb_.flags.diskless_primary_new_generation = false;
  if (!persist_later) (void)persist_superblock();
}

CommandResult Resource::create_md() {
  if (disk_ != DiskState::kDiskless)
    return CommandResult::failure("create-md refused: the disk is attached (detach first)");
  CreateMetadataParams p;
  p.layout = options_.metadata_layout;
  p.external_data_size = data_device_->size();
  p.node_id = options_.node_id;
  p.device_uuid = random_device_uuid();
  p.al_slots = options_.al_slots;
  if (p.layout == MetadataLayout::kExternal && external_md_ == nullptr)
    return CommandResult::failure("create-md: external metadata configured but no metadata storage given");
  Result<Superblock> sb = create_metadata(md_storage(), p);
  if (!sb.ok()) return CommandResult::failure("create-md failed: " + sb.error());
  log("created metadata: " + std::to_string(sb->data_size) + " bytes of data");
  return Ok{};
}

CommandResult Resource::attach() {
  if (disk_ != DiskState::kDiskless) return CommandResult::failure("attach: already attached");
  if (options_.metadata_layout == MetadataLayout::kExternal && external_md_ == nullptr)
    return CommandResult::failure("attach: external metadata configured but no metadata storage given");
  // Reads from here on see what the disks hold: pages a failed writeback
  // lost (an earlier run's, before a kill or a detach) may still sit in the
  // page cache as clean, where a resync would copy them to the peer.
  data_device_->drop_cache();
  if (external_md_ != nullptr) external_md_->drop_cache();
  Result<Superblock> sb = read_metadata(md_storage(), options_.metadata_layout);
  if (!sb.ok()) return CommandResult::failure("attach failed: " + sb.error());
  if (sb->data_size > data_device_->size())
    return CommandResult::failure("attach failed: metadata describes " + std::to_string(sb->data_size) +
                                  " bytes of data but the data device has " +
                                  std::to_string(data_device_->size()));
  // What an earlier run (killed, or stopped without a last flush) left in
  // the page cache becomes durable now: this run's record of unflushed
  // writes starts empty, and a failed flush later would lose writes that
  // nobody records.
  if (IoStatus f = data_device_->flush(); !f.ok())
    return CommandResult::failure("attach failed: flushing the data device failed: " + f.message() +
                                  " (writes an earlier run left unflushed may be lost)");
  // A Diskless Primary serves the volume from the peer: the new disk joins
  // under it as a SyncTarget (resource_diskless.cc).
  if (role_ == Role::kPrimary) return attach_under_primary(sb.value());
  given_up_disk_.reset();  // a Secondary's handshake decides what it missed
  set_disk(DiskState::kAttaching, "attach");
  Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(md_storage(), sb->bitmap_offset, sb->data_size);
  if (!bm.ok()) {
    set_disk(DiskState::kDiskless, "attach failed");
    return CommandResult::failure("attach failed: reading the bitmap: " + bm.error());
  }
  bitmap_.emplace(std::move(bm.value()));
  // A crashed Primary's hot extents may differ from the peer: into the bitmap.
  Result<AlRecovery> rec = recover_after_attach(md_storage(), sb.value(), *bitmap_);
  if (!rec.ok()) {
    bitmap_.reset();
    set_disk(DiskState::kDiskless, "attach failed");
    return CommandResult::failure("attach failed: activity-log recovery: " + rec.error());
  }
  sb_ = sb.value();
  saved_generations_ = sb_.generations;
  superblock_unsaved_ = false;
  crashed_primary_ = sb_.flags.was_primary;
  if (crashed_primary_)
    log("crashed while Primary: " + std::to_string(rec->extents.size()) +
        " activity-log extents marked out of sync");
  al_.emplace(md_storage(), sb_, rec->last_sequence);
  data_ = std::make_unique<StorageRegion>(*data_device_, 0, sb_.data_size);
  published_size_ = sb_.data_size;
  // A Primary that crashed comes back Secondary; its generation keeps the flag
  // only in the history of the peer's decisions, not in our current.
  set_primary_flag(sb_.generations, false);
  // As DRBD: a consistent image is only Consistent until a handshake with
  // the peer says whether it is the newest (then UpToDate) or must be
  // resynced; the metadata alone cannot tell that the peer did not write
  // since. Exception: the peer is known outdated, so nobody has newer data.
  DiskState d = !sb_.flags.consistent   ? DiskState::kInconsistent
                : sb_.flags.outdated    ? DiskState::kOutdated
                : sb_.flags.peer_outdated ? DiskState::kUpToDate
                                        : DiskState::kConsistent;
  set_disk(d, d == DiskState::kConsistent ? "metadata read (UpToDate once the peer confirms it)"
                                          : "metadata read");
  // Connected before (detach keeps the connector): offer to connect again.
  // Still connected (a Diskless Primary, since demoted): the handshake was
  // made without this disk; a new one decides what it must resync.
  if (conn_) {
    renegotiate("disk attached: a new handshake decides its resync");
  } else if (connector_ != nullptr) {
    connector_->connection_lost();
  }
  return Ok{};
}

CommandResult Resource::replace_storage(BlockStorage& data, BlockStorage* external_md) {
  if (disk_ != DiskState::kDiskless) return CommandResult::failure("replace storage refused: a disk is attached");
  data_device_ = &data;
  external_md_ = external_md;
  return Ok{};
}

CommandResult Resource::detach() {
  if (disk_ == DiskState::kDiskless) return CommandResult::failure("detach: not attached");
  if (role_ == Role::kPrimary) {
    // The peer grows as the target of the added blocks, from this disk:
    // given up before the answer, the peer waits for blocks nobody can
    // send, and a Diskless Primary does not connect to an Inconsistent
    // peer (the pair simulation, seed 47761 under every protocol: the pair
    // never connected again).
    if (resize_done_)
      return CommandResult::failure("detach refused: a resize is waiting for the peer's answer; retry once it is "
                                    "answered");
    if (!primary_may_detach())
      return CommandResult::failure(
          std::string("detach refused: Primary without an UpToDate peer to serve through (replication ") +
          to_string(replication_) + "; needs Established with the peer UpToDate): demote first");
    if (const size_t only_here = writes_only_here(); only_here > 0) {
      close_epoch();  // its BarrierAck confirms them
      return CommandResult::failure("detach refused: " + std::to_string(only_here) +
                                    " acknowledged writes are on this disk only until the peer confirms them "
                                    "(protocol " + std::string(1, static_cast<char>(options_.protocol)) +
                                    "); retry in a moment");
    }
    // The disk is healthy: its metadata is left as it is now (was_primary
    // and the activity log make a later attach of it resync its hot
    // extents; the peer records what is written from now on). Its data is
    // flushed first: the peer may never hear that this disk was given up
    // (this node crashes at once), and a restart then takes it for a
    // crashed Primary's disk, the source of its hot extents, which must
    // not be older than what was acknowledged (the pair simulation, seed
    // 3163: a flush still in flight at the detach, then a power loss).
    // A failed flush marks its extents out of sync (note_failed_flush()).
    (void)flush_data_now(data_writes_);
    (void)persist_bitmap();
    give_up_disk("detach: the Primary serves through the peer");
    return Ok{};
  }
  if (conn_) drop_connection("detaching the disk", After::kReconnect, wire::DisconnectCode::kShutdown);
  (void)persist_bitmap();
  al_.reset();
  bitmap_.reset();
  data_.reset();
  sb_ = Superblock{};
  published_size_ = 0;
  set_disk(DiskState::kDiskless, "detach");
  return Ok{};
}

size_t Resource::writes_only_here() const {
  if (options_.protocol == wire::ReplicationProtocol::kC) return 0;  // answered once on the peer's disk
  return static_cast<size_t>(std::count_if(writes_.begin(), writes_.end(), [](const auto& entry) {
    const WriteRequest& w = entry.second;
    return !w.done && w.written_locally && !w.peer_done;
  }));
}

bool Resource::primary_may_detach() const {
  return local_data_current() && replication_ == ReplicationState::kEstablished && can_serve_through_peer();
}

void Resource::detach_when_confirmed(std::function<void(CommandResult)> done) {
  if (detach_done_) return done(CommandResult::failure("detach: already waiting for the peer to confirm writes"));
  // Nothing to wait for, or refused whatever the peer confirms: at once.
  if (role_ != Role::kPrimary || disk_ == DiskState::kDiskless || !primary_may_detach() || writes_only_here() == 0)
    return done(detach());
  close_epoch();  // its BarrierAck confirms them
  log("detach: waiting for the peer to confirm " + std::to_string(writes_only_here()) +
      " writes only this disk holds; new writes are answered at the peer's BarrierAck meanwhile");
  detach_done_ = std::move(done);
}

void Resource::maybe_finish_pending_detach() {
  if (!detach_done_) return;
  if (writes_only_here() > 0) {
    if (epoch_writes_ > 0) close_epoch();
    return;
  }
  auto done = std::move(detach_done_);
  detach_done_ = nullptr;
  done(detach());
}

size_t Resource::writes_unconfirmed() const {
  return static_cast<size_t>(std::count_if(writes_.begin(), writes_.end(), [](const auto& entry) {
    const WriteRequest& w = entry.second;
    return (w.mirrored && !w.peer_done) || (w.push && !w.written);
  }));
}

uint64_t Resource::push_records_before_demotion() {
  if (!data_ || !bitmap_ || phase_ != Phase::kRunning || replication_ != ReplicationState::kEstablished ||
      disk_ != DiskState::kUpToDate || peer_disk_ != DiskState::kUpToDate || bitmap_->count() == 0)
    return 0;
  const uint64_t recorded = bitmap_->out_of_sync_bytes();
  if (recorded > kMaxDemotionPushBytes) {
    log("secondary: " + std::to_string(recorded) +
        " bytes are recorded out of sync here, more than a demotion sends (" + std::to_string(kMaxDemotionPushBytes) +
        "); the next connect resyncs them from this node");
    return 0;
  }
  // Runs of at most 1 MiB, as the FUSE export's writes are. Written here
  // again too, not only sent: after a failed flush the page this reads may
  // never reach the disk unless it is dirtied anew (Linux marks pages whose
  // writeback failed clean).
  // Not past the end a shrink this node asked for: the bits there go with
  // it, and a write queued past it would outlive the volume's end (the pair
  // simulation, seed 8367: a heap overflow when the shrink came first).
  constexpr uint64_t kRunBlocks = (1u << 20) / kBlockSize;
  const uint64_t end = std::min(sb_.data_size, write_limit_);
  uint64_t queued = 0;
  std::string unread;
  for (uint64_t block = 0;;) {
    const std::optional<OutOfSyncBitmap::Run> run = bitmap_->find_next_dirty_run(block, kRunBlocks);
    if (!run || run->first_block * kBlockSize >= end) break;
    block = run->first_block + run->block_count;
    const uint64_t offset = run->first_block * kBlockSize;
    const uint64_t length = std::min(run->block_count * kBlockSize, end - offset);
    std::vector<uint8_t> bytes(length);
    if (IoStatus s = data_->read(offset, bytes); !s.ok()) {
      // Stays recorded: the next connect resyncs it (or finds it unreadable).
      ++io_errors_;
      if (unread.empty()) unread = "offset " + std::to_string(offset) + ": " + s.message();
      continue;
    }
    WriteRequest w;
    w.offset = offset;
    w.owned = std::move(bytes);
    w.data = w.owned;
    w.push = true;
    w.done = [](IoStatus) {};  // its outcome is its bits: cleared at retirement, or kept
    enqueue_write(std::move(w));
    queued += length;
  }
  if (!unread.empty())
    report_error("secondary: a block recorded out of sync could not be read to write it again on both disks (" + unread +
                 "); it stays recorded");
  if (queued > 0)
    log("secondary: writing again on both disks " + std::to_string(queued) +
        " bytes recorded out of sync here (failed local writes or flushes, writes the peer failed), as this disk "
        "holds them: what this node served is what the peer serves next");
  return queued;
}

void Resource::cancel_pending_detach_for_demotion() {
  if (!detach_done_) return;
  // A planned detach of the Primary (it would have served through the
  // peer) waits for the peer's confirmation. Demoted meanwhile (a
  // switchover, a failover by VRRP), the node keeps its disk: the plan no
  // longer holds, and a Secondary without its disk serves nobody.
  auto done = std::move(detach_done_);
  detach_done_ = nullptr;
  done(CommandResult::failure("detach: the node was demoted before the peer confirmed the writes only this disk "
                              "held; the disk stays attached (detach it again as a Secondary if still wanted)"));
}

void Resource::secondary_when_confirmed(std::function<void(CommandResult)> done) {
  if (demote_done_) return done(CommandResult::failure("secondary: already waiting for the peer to confirm writes"));
  // Refused whatever the peer confirms: at once.
  if (role_ != Role::kPrimary || !replicating() || (io_suspended_ && !fail_while_suspended_)) return done(secondary());
  (void)push_records_before_demotion();
  // Nothing to wait for: at once.
  if (writes_unconfirmed() == 0) return done(secondary());
  // Not at the BarrierAck both wait for: a node being demoted keeps its disk.
  cancel_pending_detach_for_demotion();
  close_epoch();  // its BarrierAck confirms them
  log("secondary: waiting for the peer to confirm " + std::to_string(writes_unconfirmed()) +
      " writes it has not yet flushed; new writes are refused meanwhile");
  demote_done_ = std::move(done);
}

void Resource::maybe_finish_pending_demotion(bool link_lost) {
  if (!demote_done_) return;
  if (replicating() && writes_unconfirmed() > 0) {
    if (epoch_writes_ > 0) close_epoch();
    return;
  }
  if (link_lost)
    log("secondary: the link dropped before the peer confirmed every write; those are recorded here (resynced "
        "from this node at the next handshake)");
  // secondary() answers the waiting caller.
  const CommandResult r = secondary();
  if (!r.ok() && demote_done_) {
    auto done = std::move(demote_done_);
    demote_done_ = nullptr;
    done(r);
  }
}

// ---- roles ----

CommandResult Resource::primary(bool force) {
  if (role_ == Role::kPrimary) {
    if (demote_done_) {
      // Wanted again before the demotion happened: it does not happen.
      auto done = std::move(demote_done_);
      demote_done_ = nullptr;
      log("secondary: cancelled, the node was asked to be Primary again");
      done(CommandResult::failure("secondary: cancelled by a promotion before the peer confirmed every write"));
    }
    return Ok{};
  }
  if (disk_ == DiskState::kDiskless) return CommandResult::failure("primary refused: no disk attached");
  if (peer_role_ == Role::kPrimary && !probe_primary_peer())
    return CommandResult::failure("primary refused: the peer is Primary (dual-primary is not supported)");
  if (split_brain_)
    return CommandResult::failure("primary refused: unresolved split brain (" + split_brain_text_ +
                                  "); pick a victim with discard-my-data and reconnect");
  if (replication_ == ReplicationState::kSyncTarget) {
    const std::string left = std::to_string(bitmap_->out_of_sync_bytes()) + " bytes left";
    if (force)
      return CommandResult::failure("primary --force refused: resync in progress as SyncTarget (" + left +
                                    "); force would declare half-resynced data good. Promote without it: the "
                                    "peer serves what is not here yet");
    if (phase_ != Phase::kRunning || peer_disk_ != DiskState::kUpToDate)
      return CommandResult::failure("primary refused: resync in progress as SyncTarget (" + left +
                                    ") and the peer is not an UpToDate source to read the rest from");
    return promote_sync_target();
  }
  if (disk_ == DiskState::kConsistent && !force)
    return CommandResult::failure(
        "primary refused: disk is Consistent, not UpToDate (the peer has not confirmed it yet: "
        "wait for the connection, or use force to promote anyway)");
  if (disk_ != DiskState::kUpToDate && !force)
    return CommandResult::failure(std::string("primary refused: disk is ") + to_string(disk_) +
                                  ", not UpToDate (use force to promote anyway)");
  const bool forced_data = disk_ != DiskState::kUpToDate;
  // A Consistent image is a good copy whose bitmap still records what the
  // peer lacks (our writes while disconnected, a crashed Primary's hot
  // extents): promote it as it is. Inconsistent or Outdated data forced up
  // is declared the good copy from scratch (initial sync).
  const bool declared_good = forced_data && disk_ != DiskState::kConsistent;
  const uint64_t generation_before = uuid_value(sb_.generations.current);
  set_role(Role::kPrimary, forced_data ? "primary --force" : "primary");
  // Our data moves on: a Diskless Primary peer may not come back to it.
  // Persisted with was_primary below, before the first write as Primary.
  forget_diskless_primary(/*persist_later=*/true);
  // Before the first write as Primary: was_primary on disk, so a crash is
  // recognised and the activity log replayed.
  sb_.flags.was_primary = true;
  set_primary_flag(sb_.generations, true);
  if (forced_data) {
    sb_.flags.consistent = true;
    sb_.flags.outdated = false;
    if (declared_good) {
      // Every block may differ from the peer's: this copy was not a good
      // image (its own records of what differs say nothing now), and the
      // peer's may be anything. A full resync to the peer follows at the
      // next handshake, whatever the generations allow (before, the bits
      // were cleared and a peer that shared a generation got only its own
      // bits: the pair simulation, protocol C seed 529).
      bitmap_->set_range(0, sb_.data_size);
      (void)persist_bitmap();
    }
    set_disk(DiskState::kUpToDate, "primary --force");
  }
  if (declared_good) {
    // Always a new generation: it is what makes the peer the SyncTarget.
    new_current_uuid(sb_.generations, random_u64(), true);
  } else if (!replicating()) {
    start_new_generation("promoted without a connected peer");
  }
  if (IoStatus st = persist_superblock(); !st.ok()) {
    // Without was_primary on disk a crash would go unnoticed: no writes.
    set_primary_flag(sb_.generations, false);
    set_role(Role::kSecondary, "promotion failed");
    return CommandResult::failure("primary failed: writing the superblock: " + st.message());
  }
  if (forced_data && conn_) {
    renegotiate("forced primary: resync the peer from this node");
    return Ok{};
  }
  if (conn_ && phase_ != Phase::kRunning && uuid_value(sb_.generations.current) != generation_before) {
    // A handshake was under way: the peer got (or decided on) our Hello
    // with the generations from before this promotion, and would adopt
    // them at the end of a resync from us, or meet this new one later as
    // diverged data (the pair simulation, seed 3041: a split brain with
    // no second Primary). It starts again with the new ones.
    renegotiate("promoted during the handshake: the peer was sent this node's generations from before");
    return Ok{};
  }
  publish_local_state();
  return Ok{};
}

CommandResult Resource::promote_sync_target() {
  // As a Primary resyncing a disk attached under it: blocks not yet here
  // are read from the peer, writes go to both disks, a resync reply
  // overtaken by a write is asked for again; the disk stays Inconsistent
  // until the resync ends. The generations are the source's at the end
  // (finish_resync_as_target()), with the Primary flag.
  set_role(Role::kPrimary, "primary while SyncTarget: the " + std::to_string(bitmap_->out_of_sync_bytes()) +
                               " bytes not resynced yet are read from the peer until the resync ends");
  sb_.flags.was_primary = true;
  set_primary_flag(sb_.generations, true);
  if (IoStatus st = persist_superblock(); !st.ok()) {
    set_primary_flag(sb_.generations, false);
    set_role(Role::kSecondary, "promotion failed");
    return CommandResult::failure("primary failed: writing the superblock: " + st.message());
  }
  publish_local_state();
  return Ok{};
}

CommandResult Resource::secondary() {
  if (role_ == Role::kSecondary) return Ok{};
  if (io_suspended_ && !fail_while_suspended_)
    return CommandResult::failure("secondary refused: I/O is suspended while the peer is fenced (" + suspended_why_ +
                                  "); vrrpctl replication resume-io first, or wait for the fence path or the link");
  if (io_suspended_) {
    // fail_suspended_io(): nothing is held; a Secondary writes nothing.
    io_suspended_ = false;
    suspended_why_.clear();
  }
  cancel_pending_detach_for_demotion();
  set_role(Role::kSecondary, "secondary");
  set_primary_flag(sb_.generations, false);
  if (!crashed_primary_) sb_.flags.was_primary = false;
  (void)persist_bitmap();
  (void)persist_superblock();
  publish_local_state();
  if (demote_done_) {
    auto done = std::move(demote_done_);
    demote_done_ = nullptr;
    done(Ok{});
  }
  return Ok{};
}

CommandResult Resource::skip_initial_sync() {
  auto refused = [](const std::string& why) {
    return CommandResult::failure("skip-initial-sync refused: " + why);
  };
  const bool fresh = sb_.generations == just_created_generations();
  const bool peer_fresh = peer_hello_.generations == just_created_generations();
  if (!data_) return refused("no disk is attached");
  if (phase_ != Phase::kRunning || replication_ != ReplicationState::kEstablished)
    return refused("it needs the connected peer (Established), to tell it");
  if (wire_version() < 3)
    return refused("the peer's build does not know it (replication protocol " + std::to_string(wire_version()) +
                   "; 3 is needed)");
  if (disk_ != DiskState::kInconsistent || peer_disk_ != DiskState::kInconsistent || !fresh || !peer_fresh)
    return refused(std::string("only for two freshly created disks (both Inconsistent, never synced); this node is ") +
                   to_string(disk_) + (fresh ? "" : " with data generations") + ", the peer " +
                   (peer_disk_ ? to_string(*peer_disk_) : "unknown") + (peer_fresh ? "" : " with data generations"));
  if (role_ != Role::kSecondary || peer_role_ != Role::kSecondary) return refused("both nodes must be Secondary");
  // Bit 1 set: never 0 or the just-created value (4), which the peer refuses.
  const uint64_t generation = uuid_value(random_u64()) | 2;
  static_assert((kJustCreatedUuid & 2) == 0);
  if (IoStatus st = declare_in_sync(generation, "skip-initial-sync: declared identical to the peer's disk"); !st.ok())
    return CommandResult::failure("skip-initial-sync failed: writing the metadata: " + st.message());
  send(wire::SkipInitialSync{generation});
  publish_local_state();
  return Ok{};
}

IoStatus Resource::declare_in_sync(uint64_t generation, const std::string& why) {
  bitmap_->clear_all();
  IoStatus st = persist_bitmap();
  if (!st.ok()) return st;
  Generations g;
  g.current = generation;
  const Generations before = sb_.generations;
  sb_.generations = g;
  sb_.flags.consistent = true;
  sb_.flags.outdated = false;
  st = persist_superblock();
  if (!st.ok()) {
    sb_.generations = before;
    sb_.flags.consistent = false;
    return st;
  }
  set_disk(DiskState::kUpToDate, why);
  return {};
}

void Resource::on_skip_initial_sync(const wire::SkipInitialSync& m) {
  const bool fresh = sb_.generations == just_created_generations();
  std::string why;
  if (!data_ || disk_ != DiskState::kInconsistent || !fresh)
    why = std::string("this node's disk is ") + to_string(disk_) + (fresh ? "" : " with data generations");
  else if (role_ != Role::kSecondary || replication_ != ReplicationState::kEstablished)
    why = std::string("this node is ") + to_string(role_) + "/" + to_string(replication_);
  if (why.empty()) {
    IoStatus st = declare_in_sync(m.generation, "skip-initial-sync by the peer's operator: declared identical");
    if (st.ok()) {
      publish_local_state();
      return;
    }
    why = "writing the metadata failed: " + st.message();
  }
  // The peer is UpToDate in a new generation: the next handshake makes it
  // the source of a full sync, as if nothing had been skipped.
  fail_link("the peer's skip-initial-sync cannot be followed (" + why + "); a full sync from the peer follows",
            wire::DisconnectCode::kOther);
}

CommandResult Resource::invalidate() {
  if (disk_ == DiskState::kDiskless) return CommandResult::failure("invalidate: not attached");
  if (role_ == Role::kPrimary) return CommandResult::failure("invalidate refused: Primary (demote first)");
  if (peer_disk_ && *peer_disk_ != DiskState::kUpToDate)
    return CommandResult::failure(std::string("invalidate refused: the peer's disk is ") +
                                  to_string(peer_disk_) + ", it cannot be the SyncSource");
  bitmap_->set_all();
  sb_.flags.consistent = false;
  // Just-created: the handshake then always makes us SyncTarget (full).
  sb_.generations = just_created_generations();
  (void)persist_bitmap();
  (void)persist_superblock();
  set_disk(DiskState::kInconsistent, "invalidate");
  if (conn_) renegotiate("invalidate: full resync from the peer");
  return Ok{};
}

CommandResult Resource::invalidate_remote() {
  if (!data_ || disk_ != DiskState::kUpToDate)
    return CommandResult::failure(std::string("invalidate-remote refused: this node's disk is ") + to_string(disk_) +
                                  "; only UpToDate data may replace the peer's");
  if (!conn_ || phase_ != Phase::kRunning || replication_ != ReplicationState::kEstablished)
    return CommandResult::failure(std::string("invalidate-remote refused: replication is ") +
                                  to_string(replication_) + "; it needs an Established link");
  if (peer_role_ == Role::kPrimary)
    return CommandResult::failure("invalidate-remote refused: the peer is Primary (demote it first)");
  if (!peer_disk_ || *peer_disk_ == DiskState::kDiskless)
    return CommandResult::failure("invalidate-remote refused: the peer has no disk attached");
  bitmap_->set_all();
  (void)persist_bitmap();
  // Our current generation becomes the bitmap generation: the handshake
  // then finds the peer's current there (rule 70) and resyncs it from our
  // bitmap, which is every block.
  start_new_generation("invalidate-remote");
  renegotiate("invalidate-remote: full resync to the peer");
  return Ok{};
}

// ---- outdating and fencing ----

CommandResult Resource::mark_outdated(const std::string& why) {
  const bool was = sb_.flags.outdated;
  sb_.flags.outdated = true;
  if (IoStatus st = persist_superblock(); !st.ok()) {
    sb_.flags.outdated = was;
    return CommandResult::failure("outdate failed: writing the superblock: " + st.message());
  }
  if (disk_ != DiskState::kOutdated) set_disk(DiskState::kOutdated, why);
  return Ok{};
}

CommandResult Resource::outdate() {
  if (role_ == Role::kPrimary) return CommandResult::failure("outdate refused: Primary (demote first)");
  if (disk_ == DiskState::kOutdated) return Ok{};
  if (disk_ != DiskState::kUpToDate && disk_ != DiskState::kConsistent)
    return CommandResult::failure(std::string("outdate refused: disk is ") + to_string(disk_) +
                                  " (only a good image, UpToDate or Consistent, can be outdated)");
  if (connection_ == ConnectionState::kConnected)
    return CommandResult::failure("outdate refused: connected (the handshake with the peer decides; disconnect first)");
  return mark_outdated("outdate");
}

CommandResult Resource::adjust(const ResourceOptions& next) {
  if (next.name != options_.name || next.metadata_layout != options_.metadata_layout ||
      next.al_slots != options_.al_slots)
    return CommandResult::failure("adjust refused: the name, metadata layout and activity-log size of " +
                                  options_.name + " cannot change while it runs");
  const bool handshake_changed = next.node_id != options_.node_id || next.peer_node_id != options_.peer_node_id ||
                                 next.node_name != options_.node_name || next.protocol != options_.protocol ||
                                 next.shared_secret != options_.shared_secret ||
                                 next.max_protocol_version != options_.max_protocol_version;
  if (handshake_changed && connection_ != ConnectionState::kStandAlone)
    return CommandResult::failure(
        "adjust refused: the node ids, protocol and shared secret change only while StandAlone (disconnect first)");
  // The time so far earns resync tokens at the old rate.
  if (replication_ == ReplicationState::kSyncTarget || replication_ == ReplicationState::kVerifyS)
    refill_resync_tokens();
  const bool discard = options_.discard_my_data;
  const auto old_ping_interval = options_.ping_interval, old_timeout = options_.timeout;
  options_ = next;
  options_.discard_my_data = discard;
  if (io_suspended_ && !options_.freeze_io_while_fencing) resume_held_io("fencing no longer freezes I/O");
  // Armed timers keep their old deadline unless the new period is shorter
  // and they would otherwise wait longer than it.
  if (ping_timer_.armed() && options_.ping_interval < old_ping_interval) ping_timer_.arm_in(options_.ping_interval);
  if (watchdog_timer_.armed() && options_.timeout < old_timeout) watchdog_timer_.arm_in(options_.timeout);
  // A resync (or verify) waiting for tokens recomputes its wait at the new rate.
  if (resync_timer_.armed()) resync_timer_.arm_at(loop_.now());
  return Ok{};
}

FenceAnswer Resource::answer_fence_request(uint64_t peer_current, std::string* text) {
  auto answer = [&](FenceAnswer a, std::string why) {
    if (text != nullptr) *text = std::move(why);
    return a;
  };
  if (role_ == Role::kPrimary) return answer(FenceAnswer::kPrimary, "this node is Primary");
  if (disk_ != DiskState::kUpToDate && disk_ != DiskState::kConsistent && disk_ != DiskState::kOutdated)
    return answer(FenceAnswer::kInconsistent, std::string("this node's disk is ") + to_string(disk_));
  if (conn_) {
    // The Primary starts a new current generation when it loses a link to
    // an in-sync peer, so a link in its current generation is a new one.
    if (uuid_value(sb_.generations.current) == uuid_value(peer_current))
      return answer(FenceAnswer::kConnected, "connected in the asker's generation (the link is back)");
    drop_connection("the Primary lost this link and outdates this node through the fence path", After::kReconnect,
                    wire::DisconnectCode::kOther);
  }
  CommandResult r = mark_outdated("outdated by the Primary peer through the fence path (it lost the replication link)");
  if (!r.ok()) {
    report_error(r.error());
    return answer(FenceAnswer::kRefused, r.error());
  }
  return answer(FenceAnswer::kOutdated, "disk Outdated");
}

bool Resource::wants_peer_fenced() const {
  return role_ == Role::kPrimary && disk_ == DiskState::kUpToDate && connection_ != ConnectionState::kConnected &&
         !sb_.flags.peer_outdated;
}

void Resource::note_peer_fenced(FenceAnswer answer, const std::string& text) {
  if (connection_ == ConnectionState::kConnected || disk_ == DiskState::kDiskless || sb_.flags.peer_outdated) return;
  if (answer != FenceAnswer::kOutdated && answer != FenceAnswer::kInconsistent) return;
  sb_.flags.peer_outdated = true;
  if (IoStatus st = persist_superblock(); !st.ok()) {
    sb_.flags.peer_outdated = false;
    report_error("fence: the peer answered " + std::string(to_string(answer)) +
                 ", but writing peer_outdated to the superblock failed: " + st.message());
    return;
  }
  log("peer fenced through the fence path: " + text + " (peer-disk Outdated)");
  if (io_suspended_) resume_held_io("the peer is outdated");
  state_changed();
}

void Resource::suspend_io(const std::string& why) {
  io_suspended_ = true;
  suspended_why_ = why;
  log("I/O suspended: " + why + " (fencing resource-and-stonith)");
  state_changed();
}

void Resource::resume_held_io(const std::string& why) {
  if (!io_suspended_) return;
  io_suspended_ = false;
  suspended_why_.clear();
  log("I/O resumed: " + why + " (" + std::to_string(held_writes_.size()) + " write(s) held)");
  answer_held_io();
  state_changed();
}

void Resource::answer_held_io() {
  std::vector<std::pair<uint64_t, IoStatus>> held;
  held.swap(held_writes_);
  for (const auto& [id, status] : held) {
    complete_write_to_caller(id, status);
    maybe_retire_write(id);
  }
  complete_flushes();
}

void Resource::fail_suspended_io(const std::string& why) {
  fail_while_suspended_ = true;
  if (!io_suspended_) return;
  log("I/O suspended and failing: " + why + ": " + std::to_string(held_writes_.size()) +
      " held write(s) and every write or flush until the peer is fenced fail with EIO");
  answer_held_io();  // complete_write_to_caller() and complete_flushes() answer EIO now
}

CommandResult Resource::resume_io() {
  if (!io_suspended_) return CommandResult::failure("resume-io: I/O is not suspended");
  resume_held_io("by the operator; the peer is not known outdated: if it is promoted, it lacks the writes from now on");
  return Ok{};
}

// ---- status ----

ResourceStatus Resource::status() const {
  ResourceStatus s;
  s.name = options_.name;
  s.role = role_;
  s.disk = disk_;
  s.peer_role = peer_role_;
  s.peer_disk = peer_disk_;
  if (!s.peer_disk && connection_ != ConnectionState::kConnected && sb_.flags.peer_outdated)
    s.peer_disk = DiskState::kOutdated;
  s.connection = connection_;
  s.replication = replication_;
  if (resync_paused()) {
    s.resync_paused = sync_paused_by();
    if (replication_ == ReplicationState::kSyncSource) s.replication = ReplicationState::kPausedSyncS;
    if (replication_ == ReplicationState::kSyncTarget) s.replication = ReplicationState::kPausedSyncT;
  }
  if (conn_ && phase_ == Phase::kRunning) s.peer = conn_->peer_description();
  s.size_bytes = sb_.data_size;  // kept by a Primary that detached after a disk error
  s.out_of_sync_bytes = bitmap_ ? bitmap_->out_of_sync_bytes() : 0;
  s.resync_total_bytes = resync_total_bytes_;
  s.resync_done_bytes = resync_done_bytes_;
  if (replication_ == ReplicationState::kSyncSource)  // the target counts; we see our bitmap shrink
    s.resync_done_bytes = resync_total_bytes_ - std::min(resync_total_bytes_, s.out_of_sync_bytes);
  // Average since the resync started (until it ended, for a finished one).
  const TimePoint until = resync_finished_at_ > resync_started_at_ ? resync_finished_at_ : loop_.now();
  const double seconds = std::chrono::duration<double>(until - resync_started_at_).count();
  if (resync_total_bytes_ > 0 && seconds > 0)
    s.resync_rate = static_cast<uint64_t>(static_cast<double>(s.resync_done_bytes) / seconds);
  s.resync_rate_limit = options_.resync_rate;
  s.protocol = static_cast<char>(options_.protocol);
  s.resync_equal_bytes = resync_equal_bytes_;
  s.verify_done_bytes = verify_done_bytes_;
  s.verify_out_of_sync_bytes = verify_out_of_sync_bytes_;
  s.verifies_finished = verifies_finished_;
  s.resyncs_finished_as_target = resyncs_finished_as_target_;
  s.resyncs_finished_as_source = resyncs_finished_as_source_;
  s.io_errors = io_errors_;
  s.sent_bytes = sent_bytes_;
  s.received_bytes = received_bytes_;
  s.written_bytes = written_bytes_;
  s.discarded_bytes = discarded_bytes_;
  s.split_brain = split_brain_;
  s.split_brain_text = split_brain_text_;
  if (data_) s.generations = sb_.generations;
  s.peer_generations = last_peer_generations_;
  s.last_handshake = last_handshake_text_;
  s.io_suspended = io_suspended_;
  s.io_suspended_why = suspended_why_;
  s.only_copy_given_up = gave_up_the_only_copy();
  if (s.only_copy_given_up)
    for (const auto& [extent, bytes] : given_up_disk_->unwritten) s.kept_for_write_back_bytes += bytes.size();
  s.last_error = last_error_;
  s.connection_why = connection_why_;
  return s;
}

// ---- Volume adapter: frontend threads post to the loop and wait ----

uint64_t Resource::size() const { return published_size_; }
bool Resource::writable() const { return published_writable_; }

namespace {

// Runs `start(done)` on the loop and blocks the calling thread until `done`
// has been called there.
IoStatus run_on_loop(EventLoop& loop, std::function<void(Resource::IoCallback)> start) {
  // Shared: the loop thread may still be inside set_value() when the caller
  // has returned from get() and gone.
  auto result = std::make_shared<std::promise<IoStatus>>();
  std::future<IoStatus> f = result->get_future();
  // `start` by value for the same reason; what it refers to (the caller's
  // buffers) is used only before `done`.
  loop.post([start = std::move(start), result] { start([result](IoStatus s) { result->set_value(s); }); });
  return f.get();
}

}  // namespace

IoStatus Resource::read(uint64_t offset, std::span<uint8_t> out) {
  return run_on_loop(loop_, [&](IoCallback done) { submit_read(offset, out, std::move(done)); });
}

IoStatus Resource::write(uint64_t offset, std::span<const uint8_t> data) {
  // We wait for `done`, so the request may use our caller's buffer as it is
  // (no copy of each up-to-1-MiB FUSE write).
  return run_on_loop(loop_, [&](IoCallback done) {
    queue_write(offset, data, {}, 0, std::move(done));
  });
}

IoStatus Resource::flush() {
  return run_on_loop(loop_, [&](IoCallback done) { submit_flush(std::move(done)); });
}

void Resource::write_async(uint64_t offset, std::vector<uint8_t> data, Completion done) {
  loop_.post([this, offset, data = std::move(data), done = std::move(done)]() mutable {
    queue_write(offset, {}, std::move(data), 0, std::move(done));
  });
}

void Resource::flush_async(Completion done) {
  loop_.post([this, done = std::move(done)]() mutable { submit_flush(std::move(done)); });
}

void Resource::start_read(uint64_t offset, std::span<uint8_t> out, Completion done) {
  submit_read(offset, out, std::move(done));
}

void Resource::start_write(uint64_t offset, std::span<const uint8_t> data, Completion done) {
  queue_write(offset, data, {}, 0, std::move(done));
}

void Resource::start_write_shared(uint64_t offset, std::span<const uint8_t> data, std::shared_ptr<const void> keep,
                                  Completion done) {
  queue_write(offset, data, {}, 0, std::move(done), std::move(keep));
}

void Resource::start_flush(Completion done) { submit_flush(std::move(done)); }

IoStatus Resource::discard(uint64_t offset, uint64_t length) {
  return run_on_loop(loop_, [&](IoCallback done) { submit_discard(offset, length, std::move(done)); });
}

void Resource::start_discard(uint64_t offset, uint64_t length, Completion done) {
  submit_discard(offset, length, std::move(done));
}

}  // namespace vrrpd::replication
