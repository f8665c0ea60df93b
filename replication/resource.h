// Resource: one replicated volume, the engine core. It owns the local disk
// (data and metadata: superblock, out-of-sync bitmap, activity log), the
// connection to the peer (handshake, bitmap exchange, sync decision), the
// write path with DRBD's protocols A/B/C, resync, and the keep-alive.
//
// Threads: everything runs on ONE EventLoop thread, the engine's loop (never
// the VRRP loop). The control API, submit_*() and status() must be called on
// that thread; tests drive it with an EventLoop on a FakeClock. The Volume
// methods (read/write/flush) are the exception: they are for frontend threads
// (FUSE workers), post the request to the loop and block until it completes,
// so they must never be called on the loop thread itself.
//
// The implementation is split by concern:
//   resource.cc         construction, metadata, attach/detach, roles, status,
//                       the Volume adapter, the state transitions
//   resource_io.cc      the write path (activity log, protocols, barriers),
//                       reads, and applying the peer's writes
//   resource_peer.cc    the connection: framing, authentication, handshake
//                       checks, keep-alive, dropping a connection
//   resource_resync.cc  bitmap exchange, sync decision, split-brain
//                       resolution, resync as source and as target,
//                       checksum-based resync
//   resource_verify.cc  online verify
//   resource_diskless.cc on-io-error detach, a Diskless Primary served
//                       through the peer
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "replication/activity_log.h"
#include "replication/auth.h"
#include "replication/bitmap.h"
#include "replication/flusher.h"
#include "replication/metadata.h"
#include "replication/protocol.h"
#include "replication/split_brain.h"
#include "replication/status.h"
#include "replication/storage.h"
#include "replication/transport.h"
#include "replication/unflushed_extents.h"
#include "replication/volume.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::replication {

// Protocol A's default congestion_fill: 8 MiB of frames queued for the
// link, about 70 ms of a 1 GbE link.
inline constexpr uint64_t kDefaultCongestionFill = 8u << 20;

// DRBD's on-congestion, for protocol A: what a write does when the link's
// send queue holds more than congestion_fill. With kPullAhead, also when
// congestion_extents activity-log extents hold writes the peer has not yet
// confirmed (kBlock waits for a free extent in the log anyway).
enum class CongestionPolicy {
  kBlock,      // the writer waits until the queue has drained to it (back-pressure)
  kPullAhead,  // stop mirroring: Ahead/Behind, the peer resynced once the link drained
};

// DRBD's on-io-error.
enum class IoErrorPolicy {
  // The failed request returns the error; a failed write's blocks are marked
  // out of sync (resynced later); io_errors counts it. Transient errors are
  // survived.
  kPassthrough,
  // Give up the local disk: Diskless. A Primary connected to an UpToDate
  // peer goes on serving reads and writes through the peer; otherwise
  // requests fail with EIO. Replace the disk, create-md, attach, resync.
  kDetach,
};

// Configuration of one resource; defaults follow DRBD where users know them.
struct ResourceOptions {
  std::string name;
  // This node's and the peer's node id (must differ). The lower id is the
  // authentication "initiator" whichever end opened the TCP connection (the
  // Connection does not say, and both ends may dial at once).
  uint32_t node_id = 0;
  uint32_t peer_node_id = 1;
  std::string node_name;  // shown to the peer; at most 64 bytes
  wire::ReplicationProtocol protocol = wire::ReplicationProtocol::kC;
  std::string shared_secret;     // HMAC key; must not be empty
  SplitBrainPolicy split_brain;  // after-sb-0pri/1pri/2pri, all "disconnect" by default
  // The operator picked this node as the split-brain victim: its changes are
  // discarded at the next handshake (drbdadm connect --discard-my-data).
  // One-shot: cleared when a connection is established.
  bool discard_my_data = false;

  MetadataLayout metadata_layout = MetadataLayout::kInternal;
  uint32_t al_slots = kDefaultAlSlots;  // create_md(): activity-log ring slots

  // Resync bandwidth, bytes/s (a token bucket on the loop clock). DRBD's
  // fixed-rate default (250 KiB/s) is far too slow for today's links; 100 MiB/s
  // leaves room for application writes on a 1 GbE replication link.
  uint64_t resync_rate = 100u << 20;
  // Checksum-based resync (DRBD's csums-alg, here always SHA-256): the
  // SyncTarget first asks for a digest of each out-of-sync run and fetches
  // the data only if its own copy differs. Saves bandwidth when most blocks
  // marked out of sync are in fact equal (after invalidate, or a crash whose
  // activity-log extents were mostly written on both sides); costs a read
  // of the block on both sides and one more round trip.
  bool checksum_resync = false;
  // What a local disk error does (DRBD's on-io-error).
  IoErrorPolicy on_io_error = IoErrorPolicy::kPassthrough;
  // Keep-alive. DRBD sends a ping every ping-int (10 s) and drops the link
  // when the answer takes longer than ping-timeout (0.5 s). We ping every
  // second (20 bytes) and allow 5 s for the answer: a TCP link that stalls
  // for a few seconds (the flap that causes a needless multi-GB resync) is
  // ridden out, and a dead peer is noticed within ping_interval +
  // ping_timeout.
  std::chrono::nanoseconds ping_interval = std::chrono::seconds(1);
  std::chrono::nanoseconds ping_timeout = std::chrono::seconds(5);
  // The takeover's probe (see primary()): a node asked to promote while the
  // peer is Primary pings it, and the next request after probe_timeout with
  // nothing heard from the peer since drops the link. VRRP has then declared
  // the master dead (its own flap tolerance), so the replication link need
  // not wait for its longer ping_timeout. One and a half advert intervals or
  // more: if the "dead" master was only cut off for a moment, its next advert
  // arrives first, the takeover is abandoned and nobody asks again.
  std::chrono::nanoseconds probe_timeout = std::chrono::milliseconds(1500);
  // A request (write ack, resync reply, barrier ack) unanswered while the
  // peer sends nothing for timeout × ko_count (DRBD: 6 s × 7 = 42 s) drops
  // the connection; `timeout` also bounds the connect handshake.
  std::chrono::nanoseconds timeout = std::chrono::seconds(6);
  uint32_t ko_count = 7;
  // Protocol A only (ignored under B and C, whose writes wait for the peer
  // anyway): how many bytes the link's send queue may hold before a write
  // counts as congested (DRBD's congestion-fill), and what then happens.
  uint64_t congestion_fill = kDefaultCongestionFill;
  CongestionPolicy on_congestion = CongestionPolicy::kBlock;
  // Protocol A with kPullAhead (DRBD's congestion-extents): pull ahead as
  // soon as this many activity-log extents hold mirrored writes that the
  // peer has not confirmed (its BarrierAck), before a writer would wait for
  // one of them to leave the log: a peer whose disk is slow, or a long link,
  // keeps them pinned although little is queued. At most the log's size
  // (al_max_extents, kMaxAlExtents by default), which is the default: only
  // a log full of such extents pulls ahead.
  uint32_t congestion_extents = kMaxAlExtents;
  // Highest replication protocol version announced in Hello. Lower only to
  // act as an older node (a mixed-version pair in the tests).
  uint16_t max_protocol_version = wire::kMaxProtocolVersion;
  // DRBD's fencing resource-and-stonith: a Primary that loses the link to
  // an UpToDate peer answers no write or flush until that peer is known not
  // to promote stale data: outdated through the fence path
  // (note_peer_fenced), the link back (the handshake makes it SyncTarget),
  // or the operator (resume_io). Writes go on to the local disk meanwhile;
  // only their completions wait, so nothing is acknowledged that the peer
  // could lose by taking over. Off: resource-only (answered at once).
  bool freeze_io_while_fencing = false;
  // DRBD's before-resync-target handler (e.g. an LVM snapshot of the
  // backing device, the only consistent copy while a resync overwrites it):
  // called, on this loop, when the generations make this node the
  // SyncTarget of a connect while its disk holds a good image (UpToDate,
  // Consistent, Outdated), before it sends its bitmap. The handshake waits
  // (the peer holds its writes meanwhile, as DRBD's does); `done` (on this
  // loop) true goes on, false drops the link with `detail` (reconnecting
  // later tries again). It must answer within `timeout`, which the peer
  // waits for our bitmap. Not called if nothing is to be resynced. A
  // split-brain victim chosen by discard-my-data counts; one chosen by an
  // after-sb policy does not (both sides would wait for the other's
  // bitmap). Empty: no handler.
  using HandlerDone = std::function<void(bool ok, std::string detail)>;
  std::function<void(HandlerDone)> before_resync_target;
};

// Outcome of a control command: success, or a message for the operator.
struct Ok {};
using CommandResult = Result<Ok>;

// How long an epoch (the writes one Barrier closes) stays open after its
// first write, unless a flush or a full activity log closes it earlier. Each
// Barrier makes the peer flush its disk; this bounds that to ~100 per second
// and retirement (activity-log extents released) to ~10 ms after a write.
inline constexpr std::chrono::milliseconds kEpochInterval{10};

// Protocol A back-pressure: a write is answered once it is written locally
// and the link's send queue (bytes not yet taken by the kernel) is at most
// congestion_fill; otherwise when it has drained to it (the Connection's
// on_drained, with a poll every kCongestionPoll as a backstop), or, with
// on_congestion pull-ahead, at once: the node goes Ahead.
inline constexpr std::chrono::milliseconds kCongestionPoll{10};

// Request flags of submit_write().
inline constexpr uint32_t kWriteFua = wire::kDataFua;      // durable on completion
inline constexpr uint32_t kWriteFlush = wire::kDataFlush;  // flush caches before writing

// vrrpctl replication resize --size / --assume-clean (drbdadm's): `size`
// grows to exactly that many bytes (a multiple of 4096 that both nodes'
// storage holds) instead of the largest both hold, or, below the current
// size, shrinks to it (a peer of protocol 6; see resize()); `assume_clean`
// takes the added blocks as identical on both nodes (zeroed or fresh thin
// devices), so none is resynced and both stay UpToDate.
struct ResizeOptions {
  std::optional<uint64_t> size;  // bytes
  bool assume_clean = false;
};

class Resource final : public Volume {
 public:
  using IoCallback = std::function<void(IoStatus)>;

  // `data` holds the replicated data and, for internal metadata, the metadata
  // at its end; `external_md` is the metadata storage for the external
  // layout (nullptr for internal). Both must outlive the Resource. Nothing is
  // read or written until create_md() / attach().
  Resource(EventLoop& loop, ResourceOptions options, BlockStorage& data, BlockStorage* external_md = nullptr);
  ~Resource() override;
  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;

  // ---- Control API (loop thread). Errors are operator-readable. ----

  // Writes fresh metadata (drbdadm create-md). Refused while attached.
  CommandResult create_md();
  // Reads the metadata and bitmap, recovers the activity log of a crashed
  // Primary (its hot extents become out of sync), and goes Inconsistent,
  // Outdated or UpToDate from the superblock flags (drbdadm attach / up).
  // On a Diskless Primary (after on-io-error detach) the disk comes back
  // under the running volume instead: it must describe the same data size
  // (a new disk, fresh from create_md(), may be larger: it takes the
  // volume's size, as at a Secondary's first connect); it goes
  // Inconsistent with every block out of sync and resyncs in full from the
  // UpToDate peer while this node stays Primary (SyncTarget;
  // out-of-sync blocks are read through the peer meanwhile). See
  // attach_under_primary().
  CommandResult attach();
  // The last attach() under a Primary took back the disk it had given up,
  // unchanged: only what it missed is resynced, not the whole volume.
  bool took_back_given_up_disk() const { return took_back_given_up_disk_; }
  // A Primary gave up its disk with no peer to serve through: that disk,
  // wherever it is now, holds the only copy of what it served (only it
  // can be attached under this Primary again).
  bool gave_up_the_only_copy() const { return given_up_disk_ && given_up_disk_->sole_copy; }
  // The storage the next attach() uses (a replaced disk). Only while
  // Diskless; the old storage must stay alive until the Resource is gone
  // (a flush of it may still be running on the Flusher thread).
  CommandResult replace_storage(BlockStorage& data, BlockStorage* external_md);
  // Saves the bitmap and goes Diskless; drops the connection. A Primary
  // (drbdadm detach, a planned disk swap) is allowed only while Established
  // with an UpToDate peer: it keeps the link and serves through the peer, as
  // after on-io-error detach; attach() brings a disk back under it.
  // A Primary also needs every write it acknowledged under protocol A or B
  // confirmed by the peer's BarrierAck: until then this disk may hold the
  // only copy (refused; the epoch is closed, so a retry soon succeeds).
  CommandResult detach();
  // detach() that waits for that confirmation (the daemon's): the epoch is
  // closed, new writes are answered only at their BarrierAck meanwhile, and
  // the disk is given up at the first BarrierAck that leaves no write on it
  // alone. `done` gets detach()'s outcome, or a failure if the link drops
  // first (the disk stays attached).
  void detach_when_confirmed(std::function<void(CommandResult)> done);
  // Promotes. Refused unless the disk is UpToDate (force overrides that, as
  // for the initial full sync), and always refused while the peer is Primary
  // or an unresolved split brain stands. A SyncTarget connected to an
  // UpToDate peer may be promoted without force (DRBD 9 allows it too; not
  // with force): it stays Inconsistent and SyncTarget, reads what is not
  // resynced yet from the peer and fails writes if the peer is lost before
  // the end, so the peer must stay up until then.
  // While the peer is Primary, a refusal also probes it: a Ping, and if a
  // later primary(), probe_timeout or more after it, finds that nothing at
  // all arrived from the peer since, that call drops the link (Connecting;
  // the peer's role becomes unknown) and goes on to promote. A live peer
  // answers and stays Primary; a caller that stops asking (the takeover was
  // abandoned) leaves the link alone.
  CommandResult primary(bool force = false);
  // Demotes; writes are refused (EROFS) from now on. Also ends a wait of
  // secondary_when_confirmed() (its `done` gets this outcome).
  CommandResult secondary();
  // secondary() once the peer has confirmed (BarrierAck: written and
  // flushed there) every write mirrored to it, the daemon's demotion, as
  // DRBD's waits for the requests on the fly. The epoch is closed now and
  // new writes are refused (EROFS) meanwhile. A link lost first finds the
  // node still Primary: it starts a new generation for the writes the peer
  // did not confirm (recorded in its bitmap) and then demotes, so that the
  // next handshake makes it their source. Demoted at once the node would
  // hold them as a Secondary in the generation it shares with the peer,
  // and once the peer held records of its own (a failed local write or
  // flush while it was Primary) no handshake could tell whose are newer.
  // Blocks this Primary records out of sync on an Established link
  // between two UpToDate disks (a local write or flush that failed under
  // on-io-error passthrough, a write the peer failed) are written again
  // first, on both disks, with the bytes read from this one: the retry the
  // file system did not make. The copy this node served is what the peer
  // serves once promoted, and the records are gone instead of waiting for
  // the next connect (up to kMaxDemotionPushBytes; a block this disk cannot
  // read, or write again, stays recorded).
  // The wait ends at the latest when link supervision drops a silent or
  // stalled peer (ping_timeout, or timeout x ko_count for a slow disk); a
  // promotion meanwhile cancels it (`done` gets a failure).
  void secondary_when_confirmed(std::function<void(CommandResult)> done);
  // Starts connecting through `connector` (kept by reference until
  // disconnect()). Requires an attached disk.
  CommandResult connect(Connector& connector);
  // Tells the peer, drops the link, stops the connector: StandAlone.
  CommandResult disconnect();
  // Online verify (drbdadm verify): compares every block with the peer's by
  // SHA-256 digest, paced by resync_rate; differing blocks are marked out of
  // sync (resynced at the next connect, as in DRBD). Needs an Established link.
  CommandResult verify();
  // drbdadm pause-sync / resume-sync: no resync blocks are requested while
  // this node's operator or the peer's has paused (the status shows
  // PausedSyncS / PausedSyncT); application writes are mirrored as usual.
  // The pause holds until resume_sync(), across reconnects, and also holds
  // a resync that starts later. The peer is told (protocol 3); with an
  // older peer only a pause on the SyncTarget side can be honoured, so a
  // connected SyncSource refuses then.
  CommandResult pause_sync();
  CommandResult resume_sync();
  // DRBD's resync-after (its "after-isp"), set by the daemon: paused while
  // a resource this one waits for resyncs on this node. Like pause_sync(),
  // but apart from the operator's pause (resume_sync() does not end it),
  // and the peer is told only while the two pauses together change. `why`
  // names the resource waited for (for the log).
  void set_sync_paused_after(bool paused, const std::string& why);
  // drbdadm new-current-uuid --clear-bitmap: the operator declares the two
  // freshly created disks identical (both zeroed, new thin volumes), so
  // the initial full sync is skipped: both become UpToDate in one new
  // generation with empty bitmaps. Only on an Established link (protocol 3)
  // with both disks Inconsistent with just-created generations and both
  // Secondary. If the disks were not identical, the difference stays
  // (verify finds it). If the peer cannot follow, it drops the link and
  // the next handshake does the full sync from this node after all.
  CommandResult skip_initial_sync();
  // Discards the local data: every block out of sync, disk Inconsistent; a
  // full resync from the peer follows (now if connected). Only as Secondary.
  CommandResult invalidate();
  // drbdadm invalidate-remote: the peer's data is discarded instead, from
  // this node's UpToDate disk: every block out of sync here and a new
  // current generation, then a reconnect, whose handshake makes this node
  // the SyncSource of a full resync (the peer Inconsistent until it ends).
  // Needs an Established link and a Secondary peer; this node may be
  // Primary (its writes go on). Works with peers of every protocol
  // version: only the generations and the bitmap say it.
  CommandResult invalidate_remote();
  // Online grow (drbdadm resize), after the backing storage grew on both
  // nodes (internal metadata: by at least the metadata's size, which moves
  // to the new end; external: the metadata storage needs room for the
  // larger bitmap). Needs an Established link to a peer of protocol 3 or
  // later and both disks UpToDate. The volume grows to the largest size
  // both nodes' storage holds; the added blocks are resynced from the
  // Primary (both Secondary: from this node) to the other node, which is
  // Inconsistent until that ends. `done` runs on the loop once both nodes
  // have grown (or the resize was refused, by either node); the frontend
  // sees the new size() from then on. If the link drops in between, the
  // handshake that follows grows the node left behind (marking the added
  // blocks out of sync, also after assume_clean: it cannot know).
  // `options` (ResizeOptions) need a peer of protocol 5.
  //
  // Shrinking (options.size below the current size; a peer of protocol 6):
  // the end of the volume is cut off on both nodes, the backing storage and
  // the metadata stay where they are (a later plain resize grows back into
  // that space, resyncing it). Refused while a file system on the volume
  // (ext2/3/4, XFS: fs_probe.h) still reaches past the new end, and on a
  // Secondary whose peer is Primary: the Secondary shrinks first, the
  // Primary last, so a link lost in between leaves the Secondary smaller,
  // and the handshake grows it back as the target of the end. From the
  // request on, the Primary refuses writes past the new end (EINVAL).
  void resize(std::function<void(CommandResult)> done, const ResizeOptions& options = {});
  // Marks this node's data Outdated (drbdadm outdate): a good image known to
  // be older than the peer's, which promotes only with force, also after a
  // restart (persisted). Only as a Secondary with a good image (UpToDate,
  // Consistent) and no established link (connected, the handshake decides).
  CommandResult outdate();
  // New settings for a running resource (a configuration reload; drbdadm
  // adjust). The resync rate, split-brain policies, on-io-error policy and
  // the link supervision (ping_interval, ping_timeout, probe_timeout,
  // timeout, ko_count) apply at once: a running resync paces at the new
  // rate, the next ping goes out within the new interval, the watchdog
  // counts in the new timeout. What the peer sees in the handshake (node ids
  // and name, protocol, shared secret, protocol version) can only change
  // while StandAlone: disconnect first, connect after. The name, metadata
  // layout and activity-log size cannot change (they describe the disk).
  // The one-shot discard-my-data flag is kept as it is.
  CommandResult adjust(const ResourceOptions& next);
  // ---- Fencing (fence.h; DRBD's fencing resource-only) ----
  // The fence path asks this node, for its Primary peer that lost the
  // replication link, to outdate itself. `peer_current` is the asker's
  // current generation: a node still connected in that generation has the
  // link back and answers kConnected; one connected in an older generation
  // holds a link the Primary has given up, drops it and outdates itself.
  FenceAnswer answer_fence_request(uint64_t peer_current, std::string* text);
  // True while this node should outdate its peer through the fence path:
  // Primary with UpToDate data, no established link, and the peer not known
  // outdated.
  bool wants_peer_fenced() const;
  // The fence path reached the peer and it answered kOutdated or
  // kInconsistent: peer_outdated is persisted (attach then gives UpToDate,
  // since nobody has newer data), the status shows the peer's disk Outdated
  // while disconnected; cleared at the next handshake. Ignored while a link
  // is established (the answer is stale).
  void note_peer_fenced(FenceAnswer answer, const std::string& text);

  // Answers the writes and flushes held while fencing the peer with
  // freeze_io_while_fencing (drbdadm resume-io): the operator accepts that
  // the peer, if it promotes, lacks them. Refused unless suspended.
  CommandResult resume_io();
  // The daemon is stopping: from now on, while I/O is suspended (the peer
  // not fenced), writes and flushes are answered with EIO at once instead of
  // held, starting with those held now. Nothing the peer may lack is
  // acknowledged, and an unmount does not wait for a fence that will not
  // come. Demotion is then allowed (and ends the suspension).
  void fail_suspended_io(const std::string& why);

  // The discard-my-data flag for the next handshake (split-brain victim);
  // cleared once a connection has been established with it.
  void set_discard_my_data(bool on) { options_.discard_my_data = on; }

  ResourceStatus status() const;
  // Called on the loop thread after role, disk, connection or replication
  // state (or the split-brain flag) changed; several changes in one loop
  // turn give one call. Deferred through a zero-delay timer, so the observer
  // may call the control API (it never runs inside a transition).
  void set_state_observer(std::function<void()> observer) { observer_ = std::move(observer); }
  // For tests and diagnostics.
  const Generations& generations() const { return sb_.generations; }
  const OutOfSyncBitmap* bitmap() const { return bitmap_ ? &*bitmap_ : nullptr; }
  const ResourceOptions& options() const { return options_; }

  // ---- Non-blocking I/O (loop thread). `done` may run before return. ----

  // The longest write: one activity-log extent (4 MiB), so that a write
  // spans at most kMinAlExtents extents. The kernel's requests through the
  // FUSE export are at most 1 MiB.
  static constexpr uint64_t kMaxWriteBytes = kAlExtentSize;

  // Writes `data` at `offset` (bytes; need not be sector-aligned). Completes
  // per protocol: A when written locally and queued to the peer, B when the
  // peer has received it, C when the peer has written it. EROFS unless
  // Primary; EINVAL beyond the end or longer than kMaxWriteBytes; the local
  // errno on a failed local write.
  void submit_write(uint64_t offset, std::span<const uint8_t> data, uint32_t flags, IoCallback done);
  // Reads from the local disk into `out` (kept valid by the caller until `done`).
  void submit_read(uint64_t offset, std::span<uint8_t> out, IoCallback done);
  // Makes every write completed before the call durable on the local disk
  // and, under protocols B and C, on the peer's (Barrier / BarrierAck).
  void submit_flush(IoCallback done);
  // Discard (TRIM) of [offset, offset+length): afterwards the range reads as
  // zeros on both disks (BlockStorage::discard, which releases the space
  // where the storage can), completed per protocol like a write. It is a
  // write in every other respect too: activity log, bitmap while
  // disconnected, epochs. Split into one request per activity-log extent
  // (a discard of the whole device must not need the whole log at once);
  // partial sectors at either end are written as zeros. A peer of
  // protocol 3 or older is sent Data frames of zeros instead.
  void submit_discard(uint64_t offset, uint64_t length, IoCallback done);

  // ---- Volume: blocking adapter for frontend threads (not the loop). ----
  uint64_t size() const override;
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override;
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override;
  IoStatus flush() override;
  bool writable() const override;
  // Posted to the loop; `done` runs on the loop thread.
  void write_async(uint64_t offset, std::vector<uint8_t> data, Completion done) override;
  void flush_async(Completion done) override;
  EventLoop* request_loop() override { return &loop_; }
  void start_read(uint64_t offset, std::span<uint8_t> out, Completion done) override;
  void start_write(uint64_t offset, std::span<const uint8_t> data, Completion done) override;
  void start_write_shared(uint64_t offset, std::span<const uint8_t> data, std::shared_ptr<const void> keep,
                          Completion done) override;
  void start_flush(Completion done) override;
  IoStatus discard(uint64_t offset, uint64_t length) override;
  void start_discard(uint64_t offset, uint64_t length, Completion done) override;

 private:
  // ---- resource.cc ----
  BlockStorage& md_storage() { return external_md_ ? *external_md_ : *data_device_; }
  // The local disk holds the current data: attached and not Inconsistent
  // (a Primary's disk is Inconsistent only while attach_under_primary()'s
  // resync runs; until it ends, the peer holds the out-of-sync blocks).
  bool local_data_current() const { return data_ && disk_ != DiskState::kInconsistent; }
  // The only places the four state variables change; each logs "old -> new"
  // with the reason.
  void set_role(Role to, const std::string& why);
  void set_disk(DiskState to, const std::string& why);
  void set_connection(ConnectionState to, const std::string& why);
  void set_replication(ReplicationState to, const std::string& why);
  void log(const std::string& message) const;
  // freeze_io_while_fencing: hold completions from now on / answer those held.
  void suspend_io(const std::string& why);
  void resume_held_io(const std::string& why);
  // Gives the held writes and flushes their answers: as held, or EIO with
  // fail_while_suspended_ (complete_write_to_caller/complete_flushes decide).
  void answer_held_io();
  // primary() of a SyncTarget with an UpToDate peer.
  CommandResult promote_sync_target();
  // Persists the outdated flag and goes Outdated (outdate(), a fence request).
  CommandResult mark_outdated(const std::string& why);
  void state_changed();                           // schedules the observer
  void report_error(const std::string& message);  // last_error + log
  IoStatus persist_superblock();
  // The last persist_superblock() failed: the disk holds older metadata
  // than sb_. start_write() writes it again before any write, and fails
  // the write while it cannot.
  bool superblock_unsaved_ = false;
  // The generations of the superblock last read or written on this disk.
  Generations saved_generations_;
  IoStatus persist_bitmap();
  // A superblock or bitmap write (or the data flush before a bitmap write)
  // failed: counted and reported; under on-io-error detach, and while
  // peer_holds_the_data(), the disk is given up as soon as the code that
  // wrote is done with it (a zero-delay timer: the callers go on using the
  // disk until they return), as DRBD detaches a disk whose metadata it
  // cannot write.
  void metadata_write_failed(const std::string& what);
  // The peer holds what this disk holds: a metadata error may give it up.
  bool peer_holds_the_data() const;
  uint64_t random_u64() const;
  // Starts a new data generation if no bitmap generation is set yet (the
  // peer no longer sees our writes); persists it.
  void start_new_generation(const std::string& why);
  // Called after every role/disk change: tells the peer and the frontend.
  void publish_local_state();

  // ---- resource_io.cc ----
  // Protocol A, pull-ahead: the send queue is above congestion_fill, or
  // congestion_extents of the activity log wait for the peer (`why`); stop
  // mirroring (Ahead), tell the peer (Behind), answer the waiting writes.
  void pull_ahead(const std::string& why);
  // Pull-ahead is configured and this node may go Ahead now.
  bool may_pull_ahead() const;
  // Ahead: once the queue has drained, reconnect; the handshake resyncs
  // the peer from our bitmap.
  void maybe_end_ahead();
  void on_pull_ahead(const wire::PullAhead& m);
  // One application write, from submit to retirement (acknowledged by the
  // peer, or its blocks recorded in the bitmap).
  struct WriteRequest {
    uint64_t offset = 0;            // bytes, sector aligned
    // The bytes: `owned` (a copy, or widened to whole sectors), or the
    // caller's buffer (Volume::write, whose caller waits for `done`). Only
    // data.size() may be used once `done` has been called.
    std::span<const uint8_t> data;
    std::vector<uint8_t> owned;
    // The caller's buffer, shared (Volume::start_write_shared) when `data`
    // lies in it: the Data frames borrow it (Connection::send_borrowed)
    // instead of copying it. Dropped if `data` moves into `owned`.
    std::shared_ptr<const void> keep;
    // A discard (submit_discard): no bytes, `discard_length` of them made
    // zeros; sector aligned, within one activity-log extent.
    bool discard = false;
    uint64_t discard_length = 0;
    uint64_t size() const { return discard ? discard_length : data.size(); }
    uint32_t flags = 0;             // kWrite* bits
    IoCallback done;                // empty once the caller has its answer
    std::vector<uint32_t> pinned;   // activity-log extents pinned for it
    bool written = false;           // the local write is done
    bool mirrored = false;          // Data frames went to the peer
    uint32_t acks_outstanding = 0;  // DataAcks still expected (B, C)
    uint32_t epoch = 0;             // barrier that closes it (A, B)
    bool peer_done = false;         // on the peer's disk, or recorded in the bitmap
    // Protocol A on a Primary whose own disk is not the data (Diskless,
    // or resyncing): the caller is answered at the BarrierAck, not when
    // the frames are sent (complete_protocol_a_write).
    bool answer_at_barrier_ack = false;
    // For clearing its blocks' out-of-sync bits at retirement
    // (clear_bits_of_retired_write): the local write succeeded on the disk
    // attached now, the BarrierAck (not a lost link) settled the peer's copy,
    // and how many flushes had failed here when it was written.
    bool written_locally = false;
    bool peer_flushed = false;
    uint64_t failed_flushes_at_write = 0;
    // The retry of a block this Primary records out of sync, with the bytes
    // read from its disk (push_records_before_demotion()): counted by
    // writes_unconfirmed() from the start, also while it waits for the
    // activity log. Otherwise a write like any other, whose retirement
    // clears the bits.
    bool push = false;
  };
  // A flush waiting for the peer's BarrierAck (protocols B, C).
  // A flush: our disk's (on the Flusher thread) and, under B/C, the peer's
  // (its BarrierAck). Answered in submission order once both are done, or
  // at once when ours failed.
  struct FlushRequest {
    uint64_t id = 0;
    uint32_t barrier = 0;  // the epoch its Barrier closed
    IoCallback done;
    bool local_done = false;  // our disk flushed (or there is none)
    bool peer_done = false;   // the peer's BarrierAck came (or is not waited for)
    IoStatus status;          // what the caller gets
  };
  // Every write enters here. The bytes are `owned` (handed over) when that is
  // not empty, else a view of `borrowed`, which the caller keeps valid until
  // `done` (Volume::write, whose caller waits: no copy of a FUSE buffer).
  // `keep`, if set, holds `borrowed` valid beyond `done` (WriteRequest::keep).
  void queue_write(uint64_t offset, std::span<const uint8_t> borrowed, std::vector<uint8_t> owned, uint32_t flags,
                   IoCallback done, std::shared_ptr<const void> keep = nullptr);
  // One piece of submit_discard() (sector aligned, one AL extent at most).
  void queue_discard(uint64_t offset, uint64_t length, IoCallback done);
  // Why a write of `size` bytes at `offset` cannot be taken now (EROFS,
  // EIO, EINVAL), or ok.
  IoStatus check_write(uint64_t offset, uint64_t size) const;
  // Queues a checked request and starts what can start.
  void enqueue_write(WriteRequest w);
  void start_blocked_writes();
  // Returns false if the request must wait (activity log busy).
  bool start_write(uint64_t id);
  enum class LocalWrite { kWritten, kWaitForActivityLog, kFailed, kDetached };
  // AL and sector widening of a started request (kWritten: ready to write).
  // kFailed: the caller has its error already; kDetached: the disk is gone,
  // only the peer can take it.
  LocalWrite prepare_local_write(uint64_t id);
  // Extents to activate with `extent` (the write covers extents first..last)
  // in one activity-log transaction: the next kAlExtentsAhead not yet
  // active, when the write continues a sequential run; else none.
  std::vector<uint32_t> al_extents_ahead(uint32_t extent, uint32_t first, uint32_t last) const;
  // The local write itself (with the request's flush/FUA); results as above.
  LocalWrite write_locally(uint64_t id);
  // A local disk error on request `id`: on-io-error detach, or passthrough
  // (bitmap, error to the caller).
  LocalWrite local_write_failed(uint64_t id, IoStatus s);
  // Sends the request's Data frames and sets up their acks and epoch.
  void mirror_write(uint64_t id);
  // Protocol A: answers the caller now, or once the link has taken what is
  // queued down to congestion_fill (congested_writes_, in order); or
  // pulls ahead.
  void complete_protocol_a_write(uint64_t id);
  void release_congested_writes();
  // Answers the caller once; the request may be gone when this returns.
  void complete_write_to_caller(uint64_t id, IoStatus status);
  void maybe_retire_write(uint64_t id);
  // A retiring write that reached both disks makes its whole 4 KiB blocks
  // equal again: their out-of-sync bits are cleared (DRBD's set_in_sync at
  // request completion; "a retry clears it" under on-io-error passthrough).
  void clear_bits_of_retired_write(uint64_t id, const WriteRequest& w);
  void on_data_ack(const wire::DataAck& ack);
  void on_barrier_ack(const wire::BarrierAck& ack);
  void on_local_flush_done(uint64_t flush_id, IoStatus s);
  // Answers the flushes at the front of flushes_ that are done.
  void complete_flushes();
  void close_epoch();
  void apply_peer_data(uint64_t sequence, const wire::Data& d);
  void apply_peer_discard(uint64_t sequence, const wire::Discard& d);
  // Shared by both: the checks, the acknowledgements per protocol, the
  // bitmap (a Diskless Primary's change, a failed one) and `counter`;
  // `apply` does the local I/O and says whether a flush of it failed.
  // `frame` and `doing` name it in messages.
  void apply_peer_change(uint64_t sequence, const char* frame, const char* doing, uint64_t offset, uint64_t length,
                         uint64_t& counter, const std::function<IoStatus(bool& flush_failed)>& apply);
  // A write or flush (a Barrier's, a Data frame's FLUSH/FUA) of the peer's
  // data failed here: on-io-error detach, or record it, become
  // Inconsistent and drop the link (if `on_this_link`) so that the
  // handshake resyncs it from the peer. `unnoted_flush`: a flush failed
  // that note_failed_flush() has not marked yet (the Barrier's, on the
  // Flusher; flush_data_now() marks its own).
  void peer_writes_failed_here(const std::string& what, bool unnoted_flush, bool on_this_link);
  void apply_barrier(const wire::Barrier& b);
  // Connection gone: writes still waiting for the peer are complete locally
  // and their blocks go into the bitmap; waiting flushes complete.
  void fail_over_pending_peer_io();
  bool replicating() const;  // Data frames go to the peer now
  // Replicating to an UpToDate peer: a Diskless Primary can serve through it.
  bool can_serve_through_peer() const;
  bool handshake_in_progress() const;
  // Some block of [offset, offset+length) is out of sync (false when Diskless).
  bool out_of_sync_within(uint64_t offset, uint64_t length) const;

  // ---- resource_peer.cc ----
  void on_connected(std::unique_ptr<Connection> conn);
  void on_received(size_t bytes);
  // Tells the connection how many bytes the frame in progress still needs.
  void hint_receive_size();
  void on_frame(const wire::Frame& frame);
  void on_authenticated();
  void on_peer_state(const wire::StateChange& s);
  void send(wire::Message m);
  // Sends on the link; returns the frame's sequence number.
  uint64_t send_frame(wire::Message m);
  // A Data frame built straight from `data` (no intermediate copy).
  // `keep`, if set, holds `data` valid: the frame borrows it, no copy.
  uint64_t send_data(uint64_t offset, uint32_t flags, std::span<const uint8_t> data,
                     const std::shared_ptr<const void>& keep = nullptr);
  void send_bytes(std::vector<uint8_t> frame);  // an encoded frame; conn_ must be set
  wire::Hello make_hello() const;
  void on_ping_due();
  void on_ping_timeout();
  // primary()'s probe of a peer that is Primary; true if the link was dropped.
  bool probe_primary_peer();
  void on_handshake_timeout();
  void on_watchdog();
  // Whether this connect makes this node, holding a good image, the
  // SyncTarget (as far as the generations tell before the bitmaps).
  bool becomes_target_of_good_image() const;
  // With our bitmap held and the peer's in: runs
  // options_.before_resync_target if anything is to be overwritten, then
  // sends our bitmap and finishes the handshake.
  void release_held_bitmap();
  // Ends the connection. StandAlone stops the connector (refusals, split
  // brain, operator); otherwise it reconnects. `tell_peer` sends a
  // Disconnect first.
  enum class After { kReconnect, kStandAlone };
  void drop_connection(const std::string& reason, After after, std::optional<wire::DisconnectCode> tell_peer);
  void refuse(const std::string& reason, wire::DisconnectCode code);
  // A link failure worth telling the operator (last_error); reconnects.
  void fail_link(const std::string& reason, std::optional<wire::DisconnectCode> tell_peer);
  // After invalidate() or a forced primary on a connected pair: drop and
  // redo the handshake so the generations pick the new direction.
  void renegotiate(const std::string& why);

  // ---- resource_resync.cc ----
  // Our bitmap (or, re-attaching the same disk under this Primary, its
  // records: reattach_records_) in BitmapChunks.
  void send_bitmap();
  void send_bitmap_of(const OutOfSyncBitmap& bits);
  void on_bitmap_chunk(const wire::BitmapChunk& chunk);
  void finish_handshake();
  // Our bitmap becomes what to resync: every block, or ours ∪ the peer's.
  void mark_resync_blocks(bool full);
  void start_sync_source(bool full, const std::string& why);
  // False when the bitmap or superblock could not be written (reported):
  // the caller decides whether to go on (the handshake drops the link and
  // retries; nothing was overwritten yet).
  bool start_sync_target(bool full, const std::string& why);
  void request_resync_blocks();
  // The end (block number) of one resync request starting at out-of-sync
  // block `first` whose first run ends at `end`: later runs are taken in
  // across clean gaps of at most kResyncMaxGapBlocks, up to max_blocks.
  uint64_t coalesced_run_end(uint64_t first, uint64_t end, uint64_t max_blocks) const;
  void on_resync_request(const wire::ResyncRequest& r);
  void on_resync_reply(const wire::ResyncReply& r);
  void finish_resync_as_target();
  void finish_resync_as_source();
  void refill_resync_tokens();
  // True when `length` more bytes may be requested now; otherwise arms
  // resync_timer_ for when they may.
  bool take_resync_tokens(uint64_t length);
  void on_checksum_reply(const wire::ChecksumReply& r);
  // A local block the peer asked for; counts and reports a read error.
  std::optional<std::vector<uint8_t>> read_for_peer(uint64_t offset, uint32_t length, const char* purpose);

  // ---- resource_diskless.cc ----
  // on-io-error detach: gives up the local disk after `what` failed. False
  // (nothing done) under passthrough; the caller then reports the error.
  bool detach_on_io_error(const std::string& what);
  // Drops the disk (no I/O to it any more): a Primary with an UpToDate peer
  // goes on serving through it, anything else leaves the link (StandAlone).
  void give_up_disk(const std::string& why);
  // attach() on a Diskless Primary: the new disk is Inconsistent, and a full
  // resync from the peer starts on the running link (or at the next
  // handshake, which lets an Inconsistent Primary be SyncTarget).
  CommandResult attach_under_primary(const Superblock& found);
  // A Diskless Primary reconnecting to the Secondary that holds its data
  // (protocol 10): why the connection is refused ("" if it is not), and
  // the handshake without bitmaps that follows.
  std::string diskless_connect_refusal(const wire::Hello& ph) const;
  // The peer is a Primary resyncing from us (a disk attached under it, or
  // our SyncTarget promoted) on the data we hold: served_diskless_primary()
  // names it, or we never heard it lost its disk (the Diskless rule).
  bool serves_primary_resyncing(const wire::Hello& ph) const;
  void finish_diskless_handshake(const wire::Hello& ph);
  // The Primary peer that went Diskless while this node (Secondary) served
  // it on a running link, which may reconnect Diskless (protocol 10) or
  // with a disk attached under it and not yet resynced (protocol 11; also
  // our SyncTarget promoted during its resync, which writes only through
  // us as well): its
  // data generation, and whether we started a generation for its writes.
  // In the superblock (Superblock::diskless_primary_generation), so that a
  // restart keeps it: remember_diskless_primary() persists it, and
  // forget_diskless_primary() (this node promoted, the peer has a good disk
  // again or was demoted) clears it, persisted unless `persist_later` (the caller writes
  // the superblock before anything acts on it).
  struct DisklessPeer {
    uint64_t generation = 0;
    bool new_generation = false;
  };
  std::optional<DisklessPeer> served_diskless_primary() const;
  void remember_diskless_primary(DisklessPeer p);
  void forget_diskless_primary(bool persist_later = false);
  // The end of either handshake: Connected, the handshake timer off, the
  // link watchdog on.
  void enter_running(const std::string& why);
  // The peer, Primary, attached a disk on the running link: it resyncs from
  // us (it drives the resync; we answer its requests). In full, or, when it
  // sent the records of the disk it had given up (protocol 8), only those
  // and what we recorded while it was Diskless; then our bitmap goes back
  // to it as the answer.
  void serve_attaching_primary();
  // What a disk attached under this Primary missed, if it is the disk
  // give_up_disk() dropped, unchanged since (same device UUID, superblock
  // and activity-log sequence, generations): its records then, what its
  // metadata holds, and its activity log's extents. Nothing for any other
  // disk (a full resync).
  std::optional<OutOfSyncBitmap> records_of_given_up_disk(const Superblock& found, const AlRecovery& rec,
                                                         const OutOfSyncBitmap& on_disk);
  // How the metadata of `found` differs from the disk give_up_disk()
  // dropped ("superblock ...", "activity log ...", "size"); empty if it is
  // that disk as it was.
  std::string given_up_disk_change(const Superblock& found, const AlRecovery& rec,
                                   const OutOfSyncBitmap& on_disk) const;
  // attach_under_primary() of the disk a Primary gave up with no peer to
  // serve through (GivenUpDisk::sole_copy): it holds the Primary's data,
  // so it comes back UpToDate with its records as what the peer may lack,
  // and the next handshake decides the resync (as DRBD attaches a disk
  // whose current UUID is the Primary's). Any other disk is refused: the
  // Primary has no copy to fill it from.
  CommandResult attach_sole_copy_under_primary(const Superblock& found);
  // GivenUpDisk::unwritten written to the data device and flushed; emptied
  // if that succeeded.
  IoStatus write_back_unwritten(std::map<uint32_t, std::vector<uint8_t>>& unwritten);
  // The attached disk's bitmap and activity-log recovery (`rec`); nothing,
  // Diskless again and the error in `rec`, if they cannot be read.
  std::optional<OutOfSyncBitmap> load_attached_metadata(const Superblock& found, Result<AlRecovery>& rec);
  // Makes `found` this Primary's disk with `bitmap`, the pair's generations
  // and was_primary, and persists it; on a failure Diskless again.
  IoStatus take_disk_under_primary(const Superblock& found, bool consistent, OutOfSyncBitmap bitmap,
                                   uint64_t al_sequence);
  // A BitmapChunk on the running link (protocol 8): the records of the
  // disk the Diskless Primary peer attaches again, or, on that Primary, the
  // peer's answer, which narrows what we fetch.
  void on_reattach_bitmap_chunk(const wire::BitmapChunk& chunk);
  // The blocks to fetch become bitmap_ AND `needed` (the peer's bitmap with
  // our records): only clears bits, so a block written since stays clean.
  void narrow_reattach_resync(const OutOfSyncBitmap& needed, const std::string& how);
  void read_through_peer(uint64_t offset, std::span<uint8_t> out, IoCallback done);
  void on_remote_read_reply(const wire::ResyncReply& r);
  void fail_remote_reads();  // link gone: EIO
  // A local write on a Primary resyncing as SyncTarget: resync requests in
  // flight over [offset, offset+length) are answered with the peer's data
  // from before the write, so their replies are not applied (asked again).
  void note_write_during_resync(uint64_t offset, uint64_t length);

  // ---- resource_resize.cc ----
  // Both backing sizes read again; the largest data size they hold now.
  Result<uint64_t> local_max_data_size();
  // Moves/extends the metadata for `new_size` bytes (grow.h) and switches
  // to it: the added blocks out of sync unless `assume_clean`; `as_target`
  // (they come from the peer) makes the disk Inconsistent, persisted with
  // the new metadata.
  CommandResult grow_to(uint64_t new_size, bool as_target, bool assume_clean, const std::string& why);
  // The target side of the added blocks, on the running link.
  void start_resize_resync();
  // resize() to a smaller size, after resize()'s common checks.
  void ask_shrink(std::function<void(CommandResult)> done, uint64_t new_size, bool assume_clean);
  uint64_t grown_from_ = 0;  // the data size before the last grow_to()
  // Cuts the volume to `new_size` bytes: the superblock with the new size
  // (the commit point; the metadata does not move, the bitmap pages past
  // the end are ignored from then on), then the bitmap, the frontend's size.
  CommandResult shrink_to(uint64_t new_size, const std::string& why);
  // A Primary whose disk was given up while its growth waited for the
  // peer cannot grow: it asks the peer, grown as the target of the added
  // blocks, to take back its old size (a shrink request to it) and drops
  // the peer's requests for those blocks meanwhile.
  bool withdrawing_resize_ = false;
  // A SyncTarget's record of the blocks a Diskless Primary peer wrote here
  // (which this node holds, unlike the other bits of its bitmap): they
  // stay set, for that Primary's disk, and take_back_growth() does not
  // count them as blocks this node lacks. Dropped with the link.
  std::optional<OutOfSyncBitmap> diskless_primary_records_;
  // The peer's side of that: a Secondary that is the target of nothing but
  // the blocks its growth added (no block below the old end out of sync)
  // shrinks back and is UpToDate again; fails (with the reason) otherwise.
  CommandResult take_back_growth(const wire::ResizeWithOptions& r);
  // ResizeRequest is ResizeWithOptions without options.
  void on_resize_request(const wire::ResizeWithOptions& r);
  void on_resize_reply(const wire::ResizeReply& r);
  // The peer's Hello names another size: grow to it (the end of a resize
  // the peer finished and we did not) or refuse. False if refused.
  bool settle_size_at_handshake(const wire::Hello& ph);

  // ---- resource_verify.cc ----
  void request_verify_blocks();
  void on_verify_request(const wire::VerifyRequest& r);
  void on_verify_reply(const wire::VerifyReply& r);
  void on_verify_end(const wire::VerifyEnd& e);
  // The connection's agreed protocol version once authenticated, else the
  // handshake's (1): the header version of what we send.
  uint16_t wire_version() const;
  void finish_verify();
  // Ends our verify as source without a result (the peer's disk changed
  // under it: detached, or another disk attached).
  void abandon_verify(const std::string& why);

  EventLoop& loop_;
  ResourceOptions options_;
  BlockStorage* data_device_;  // never null; replace_storage() changes it while Diskless
  BlockStorage* external_md_;

  Role role_ = Role::kSecondary;
  DiskState disk_ = DiskState::kDiskless;
  ConnectionState connection_ = ConnectionState::kStandAlone;
  ReplicationState replication_ = ReplicationState::kOff;
  std::optional<Role> peer_role_;
  std::optional<DiskState> peer_disk_;

  // Attached state (disk_ != kDiskless).
  Superblock sb_;
  std::unique_ptr<StorageRegion> data_;  // the replicated bytes only
  std::optional<OutOfSyncBitmap> bitmap_;
  std::optional<ActivityLog> al_;
  bool crashed_primary_ = false;  // was_primary found at attach; cleared after the next resync
  // The disk give_up_disk() dropped, as it was then (kept while Diskless):
  // attached again unchanged under this Primary, it is resynced from its
  // records and the peer's bitmap instead of in full.
  struct GivenUpDisk {
    std::array<uint8_t, 16> device_uuid{};
    uint64_t superblock_sequence = 0;
    // Where its superblock was: internal metadata that the operator moved
    // to the end of the grown disk since (vrrpctl replication resize on
    // the disk) is found elsewhere, two superblock writes on.
    uint64_t superblock_offset = 0;
    Generations generations;
    // What the superblock at superblock_sequence holds: `generations`,
    // unless the last superblock write failed (superblock_unsaved_), which
    // may also have landed (at superblock_sequence + 1, with `generations`).
    Generations saved_generations;
    uint64_t al_sequence = 0;  // the last activity-log transaction written
    OutOfSyncBitmap records;   // the bitmap then, with the active extents
    // Given up by a Primary that had no peer to serve through, and no
    // write has gone to one since: this disk is the only copy of what the
    // Primary served (attach_sole_copy_under_primary()).
    bool sole_copy = false;
    // With sole_copy: the extents that may have been in the page cache
    // alone (unflushed_, rewrite_pending_), as reads returned them when
    // the disk was given up (what the Primary served), by extent number.
    // attach() drops the cache; attach_sole_copy_under_primary() writes
    // these back first, or what a failed flush lost would go with it.
    std::map<uint32_t, std::vector<uint8_t>> unwritten;
    // A peer holds the Primary's data again: not the only copy any more.
    void no_longer_sole_copy() {
      sole_copy = false;
      unwritten.clear();
    }
  };
  std::optional<GivenUpDisk> given_up_disk_;
  // detach_when_confirmed() waiting for the peer's BarrierAck; empty if none.
  std::function<void(CommandResult)> detach_done_;
  // Writes answered to the caller whose only confirmed copy is this disk:
  // protocol A (answered once sent) or B (once received), not yet covered
  // by a BarrierAck.
  size_t writes_only_here() const;
  // A Primary's detach() may serve through the peer afterwards: its disk
  // is current, the link Established, the peer's disk UpToDate.
  bool primary_may_detach() const;
  // detach_when_confirmed(): detaches once writes_only_here() is 0.
  void maybe_finish_pending_detach();
  // Fails a detach_when_confirmed() still waiting: demoted, the node keeps
  // its disk.
  void cancel_pending_detach_for_demotion();
  // secondary_when_confirmed() waiting; empty if none.
  std::function<void(CommandResult)> demote_done_;
  // Writes mirrored to the peer and not yet covered by its BarrierAck,
  // answered or not, under any protocol; and pushes not yet sent.
  size_t writes_unconfirmed() const;
  // secondary_when_confirmed(): queues a push (WriteRequest::push) of
  // every block recorded out of sync, when the link is Established between
  // two UpToDate disks. Returns the bytes queued.
  uint64_t push_records_before_demotion();
  // A demotion pushes at most this much (the records of a few failed
  // writes, normally); beyond it they wait for the next connect, which
  // resyncs them from this node.
  static constexpr uint64_t kMaxDemotionPushBytes = 64ull << 20;
  // secondary_when_confirmed(): demotes once writes_unconfirmed() is 0 or
  // the link is gone. `link_lost`: called at the end of a link loss.
  void maybe_finish_pending_demotion(bool link_lost = false);
  // That disk attached again under this Primary: the blocks it may lack
  // (records_of_given_up_disk()). Until the peer's bitmap is known every
  // block is fetched (bitmap_ all set: reads go to the peer); sent instead
  // of bitmap_ in a handshake or on the running link (protocol 8), and
  // dropped once the resync was narrowed to it and the peer's bitmap.
  std::optional<OutOfSyncBitmap> reattach_records_;
  bool took_back_given_up_disk_ = false;  // what took_back_given_up_disk() says
  // This connection only (cleared by drop_connection()):
  // - the resync as target was started by attach_under_primary() on the
  //   running link, with no handshake: the peer's Hello predates it. At the
  //   end the Primary takes the generations the peer announced
  //   (NewGeneration, protocol 12), or, without them, keeps its own;
  bool resync_in_band_ = false;
  // - the generations the peer holds for us, a Diskless Primary it serves
  //   (its NewGeneration, protocol 12); used once, by the end of an
  //   in-band resync;
  std::optional<Generations> peer_announced_generations_;
  // - our Primary peer went Diskless and we started a new generation for
  //   the writes only we hold; when it attaches a disk on this link and we
  //   have resynced it in full, a peer below protocol 12 keeps its own
  //   generation, so ours is taken back (the peer's current is our bitmap
  //   generation). From protocol 12 the peer takes ours instead.
  bool new_generation_for_diskless_peer_ = false;
  // - the peer's operator paused resync (SyncPause).
  bool peer_paused_sync_ = false;
  // - re-attach on the running link (protocol 8): the bitmap coming in
  //   BitmapChunks (a Diskless Primary peer's records; on that Primary, the
  //   peer's answer) and how many of its bits are in.
  std::optional<OutOfSyncBitmap> reattach_bitmap_;
  uint64_t reattach_bitmap_bits_ = 0;
  bool reattach_answer_due_ = false;  // Primary: our records sent, the answer not complete
  // - SyncSource: blocks the end of this resync must leave recorded, as
  //   the target does not fetch them in it (it fetches what its bitmap
  //   held at the start): those this node records for its own disk's sake
  //   meanwhile (a local write or flush that failed: keep_past_resync()),
  //   and, in the resync of the blocks a resize added (the peer grew as
  //   their target on the running link), those it had recorded before,
  //   outside the added ones. They wait for the next connect.
  std::optional<OutOfSyncBitmap> kept_past_resync_;
  void keep_past_resync(uint64_t offset, uint64_t length);
  // - resize(): waiting for the peer's ResizeReply to what we asked.
  std::function<void(CommandResult)> resize_done_;
  wire::ResizeWithOptions resize_asked_;
  // - a shrink asked of the peer: writes must end below this (bytes) until
  //   its answer; kNoWriteLimit otherwise.
  static constexpr uint64_t kNoWriteLimit = UINT64_MAX;
  uint64_t write_limit_ = kNoWriteLimit;

  // Connection state; reset by drop_connection().
  Connector* connector_ = nullptr;
  std::unique_ptr<Connection> conn_;
  std::vector<std::unique_ptr<Connection>> closed_conns_;  // destroyed off the call stack
  Timer reap_timer_;
  std::function<void()> observer_;
  Timer observer_timer_;  // armed at "now" by a state change
  std::optional<AuthSession> auth_;
  wire::FrameReader reader_;
  uint64_t next_send_sequence_ = 1;
  uint64_t link_generation_ = 0;  // bumped per drop: stale callbacks check it
  enum class Phase { kNone, kAuthenticating, kBitmaps, kRunning };
  Phase phase_ = Phase::kNone;
  wire::Hello peer_hello_;
  HandshakeResult handshake_;                   // compare_generations() of this connection
  std::optional<OutOfSyncBitmap> peer_bitmap_;  // as received in the exchange
  uint64_t peer_bitmap_bits_ = 0;               // bits received so far
  bool bitmap_held_ = false;                    // ours not sent yet: see release_held_bitmap()
  // Expires with this Resource: a handler's answer that comes after it was
  // destroyed (vrrpctl replication down meanwhile) is dropped, not run on
  // freed memory.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
  Timer handshake_timer_, ping_timer_, ping_timeout_timer_, watchdog_timer_;
  std::optional<TimePoint> probe_sent_;  // primary()'s probe Ping on this connection
  TimePoint last_heard_{};               // the last bytes from the peer on this connection
  TimePoint last_answer_{};  // last DataAck, BarrierAck or ResyncReply (ko-count)
  uint32_t ko_ = 0;

  // Write path.
  std::map<uint64_t, WriteRequest> writes_;  // by id; started and waiting
  std::deque<uint64_t> blocked_writes_;      // ids waiting for the handshake or the AL, in order
  struct FrameRange {
    uint64_t write_id, offset, length;
  };
  std::unordered_map<uint64_t, FrameRange> data_frames_;  // Data sequence -> its write
  std::deque<FlushRequest> flushes_;
  uint64_t next_flush_id_ = 1;
  uint64_t next_write_id_ = 1;
  bool starting_writes_ = false;  // start_blocked_writes() is running
  // What is durable on our disk. A write to the data device sits in the
  // page cache until the device is flushed; a power loss undoes it. Every
  // local data write (application, the peer's Data, resync) is counted; a
  // completed flush covers those counted before it started. Two rules use
  // the counts:
  //  * an activity-log extent leaves the log only when every write to it is
  //    durable here: after a power loss only the log's extents are
  //    compared with the peer, and the peer's flush (the BarrierAck that
  //    retires a write) does not make our copy durable. An eviction whose
  //    victim holds unflushed writes (unflushed_) waits
  //    (kWaitForActivityLog) for a flush on the Flusher; a full log starts
  //    that flush early, for the next victim, so writes rarely wait;
  //  * the bitmap on disk says "in sync" only for blocks whose data is
  //    durable: persist_bitmap() flushes the data first when bits were
  //    cleared (a SyncTarget's blocks landing) since the last flush;
  //  * a failed flush leaves unknown what reached the disk: every unflushed
  //    extent is marked out of sync and written again (note_failed_flush();
  //    while such a rewrite fails, every flush fails: rewrite_pending_),
  //    the next application flush answers EIO, and a Secondary does not
  //    acknowledge the Barrier it failed to flush (it turns Inconsistent
  //    and reconnects: peer_writes_failed_here()).
  uint64_t data_writes_ = 0;
  uint64_t data_writes_flushed_ = 0;
  uint64_t cleared_bits_need_ = 0;  // data_writes_ when bits were last cleared for data written here
  UnflushedExtents unflushed_;      // extents written since the last flush that covered them
  bool eviction_flush_running_ = false;
  // After a failed eviction flush, the waiting writes try again this much
  // later (not at once: a disk that fails every flush would spin the loop).
  static constexpr std::chrono::milliseconds kEvictionFlushRetry{100};
  Timer eviction_retry_timer_;
  // metadata_write_failed() under on-io-error detach: why the disk is to be
  // given up (empty: nothing due), and the timer that does it.
  std::string metadata_detach_why_;
  Timer metadata_detach_timer_;
  void start_eviction_flush();
  // Starts the eviction flush now if the log is full and its next victim
  // holds unflushed writes: by the time an extent must leave, it is durable.
  void flush_ahead_of_eviction();
  // Counts a local data write of [offset, offset + length) (before it is issued).
  void note_local_write(uint64_t offset, uint64_t length) { unflushed_.wrote(offset, length, ++data_writes_); }
  void note_local_flush(uint64_t covers) {
    data_writes_flushed_ = std::max(data_writes_flushed_, covers);
    unflushed_.flushed(covers);
  }
  // A flush of the data device failed: marks every unflushed extent out of
  // sync in the bitmap (in memory; the next persist_bitmap() records it)
  // and writes those extents again from what reads return (the page cache
  // still holds the writes a failed writeback dropped), so that the next
  // flush that succeeds makes them durable. Returns how many bits were
  // newly set.
  uint64_t note_failed_flush();
  // Writes the extents in rewrite_pending_ again from what reads return;
  // true once none is left.
  bool rewrite_pending_extents();
  // rewrite_pending_extents() when the extent's one read or write failed:
  // each 4 KiB block of `buffer` (the extent at byte `begin`) written again
  // on its own, read first unless `already_read`. Returns the first error.
  IoStatus rewrite_block_by_block(uint64_t begin, std::span<uint8_t> buffer, bool already_read);
  // A durable metadata write (activity log, bitmap, superblock) failed.
  void note_failed_durable_write();
  // A flush failed on a Primary that no application flush has reported yet
  // (an eviction's, the bitmap's): the next application flush to complete
  // answers EIO, as Linux reports a writeback error at the next fsync, so
  // the application learns that writes it made may be lost here. Cleared
  // when the role changes.
  bool unreported_flush_error_ = false;
  // Flushes of the data disk that failed (note_failed_flush()): a write made
  // before one may not be on the disk, whatever its own write returned.
  uint64_t failed_flushes_ = 0;
  // Extents that a failed flush left to be written again from the page
  // cache, and whose rewrite failed too (the disk also refuses writes
  // there): every flush tries them first and fails (EIO) while any is
  // left, so no caller is told that data is durable which is not, and the
  // extents stay in the activity log (rewrite_pending_extents()).
  // The value: its failure was reported (once per extent, not per retry).
  std::map<uint32_t, bool> rewrite_pending_;
  // While an extent is pending, its rewrite is tried again this often, not
  // only at the next flush: the pages a failed flush lost are clean in the
  // page cache, and a restart drops them (attach's cache drop), so a kill
  // -9 before the next flush would lose them for good; written again as
  // soon as the disk takes writes, they are dirty and survive it (the pair
  // simulation, protocol B seed 37799: the disk refused writes for a
  // while, no flush came after it recovered, and a kill -9 lost a write
  // that a resync then took from the old Primary over the peer's copy).
  static constexpr std::chrono::milliseconds kRewriteRetry{100};
  // Extents a sequential write activates in the activity log beyond the
  // one it needs, in the same transaction (al_extents_ahead()): one
  // transaction per 16 MiB of sequential writes instead of per 4 MiB, for
  // at most 12 MiB more to resync after a crash. At most an eighth of the
  // log (none below 8 extents).
  static constexpr uint32_t kAlExtentsAhead = 3;
  Timer rewrite_retry_timer_;
  // Flushes the data device on this thread (a request's FLUSH or FUA, which
  // its caller waits for anyway); `covers` is the last write it covers.
  IoStatus flush_data_now(uint64_t covers);
  // The same on the Flusher thread: covers every write made before the
  // call; `done` runs on the loop with the result, after the record of
  // unflushed writes was updated on success. Fails (EIO) while an extent
  // a failed flush lost could not be written again. Failure handling
  // (note_failed_flush() or detach) is the caller's.
  void flush_data_async(std::function<void(IoStatus)> done);
  // Clears bits for blocks whose data just landed here (not yet durable).
  uint64_t clear_landed(uint64_t offset, uint64_t length) {
    cleared_bits_need_ = data_writes_;
    return bitmap_->clear_range(offset, length);
  }
  uint32_t epoch_ = 1;            // barrier number of the open epoch
  uint32_t epoch_writes_ = 0;     // writes mirrored in the open epoch
  Timer epoch_timer_;             // closes the open epoch kEpochInterval after its first write
  std::deque<uint64_t> congested_writes_;  // protocol A: written, waiting for the send queue to drain
  Timer congestion_timer_;                 // polls the send queue while congested_writes_ waits
  uint32_t peer_epoch_writes_ = 0;  // Data applied since the last Barrier (secondary side)

  // Resync.
  uint64_t resync_cursor_ = 0;  // next block to request (target)
  uint64_t resync_in_flight_bytes_ = 0;
  uint64_t resync_total_bytes_ = 0;
  uint64_t resync_done_bytes_ = 0;
  uint64_t resync_unflushed_bytes_ = 0;  // cleared since the bitmap was last saved
  double resync_tokens_ = 0;             // bytes that may be requested now
  TimePoint resync_tokens_at_{};
  uint64_t resync_equal_bytes_ = 0;                       // checksum resync: found equal, not transferred
  TimePoint resync_started_at_{}, resync_finished_at_{};  // for the achieved rate
  uint64_t resyncs_finished_as_target_ = 0, resyncs_finished_as_source_ = 0;  // since start
  Timer resync_timer_;

  // Reads of a Diskless Primary, or of the out-of-sync blocks of a Primary
  // resyncing as SyncTarget, served by the peer (ResyncRequest/Reply).
  struct RemoteRead {
    uint64_t offset = 0;  // sector-aligned start of `buffer`
    std::vector<uint8_t> buffer;
    uint64_t user_offset = 0;
    std::span<uint8_t> out;
    IoCallback done;
    uint32_t replies_outstanding = 0;
  };
  // Every ResyncRequest sent on this link, in the order the peer answers
  // them (it answers each as it arrives): a read's, a resync block's, or a
  // checksum-resync digest's.
  struct ReplyDue {
    enum class Kind { kRead, kResync, kChecksum } kind = Kind::kResync;
    uint64_t offset = 0, length = 0;
    uint64_t read_id = 0;      // kRead
    bool overwritten = false;  // kResync/kChecksum: a local write since (note_write_during_resync)
  };
  std::map<uint64_t, RemoteRead> remote_reads_;
  std::deque<ReplyDue> replies_due_;
  // Sends a ResyncRequest and records the reply it is owed.
  void request_from_peer(ReplyDue due);
  // True if the next reply due is of `kind` (a ResyncReply also answers a
  // read) and covers [offset, offset+length); otherwise drops the link.
  bool take_reply_due(ReplyDue::Kind kind, uint64_t offset, uint64_t length, const char* what);
  uint64_t next_read_id_ = 1;

  // Online verify (source side).
  uint64_t verify_cursor_ = 0;  // next byte offset to ask about
  // A step whose digests differ is asked about again block by block (4 KiB),
  // so only the differing blocks are marked: the ranges still to ask about.
  struct VerifyRange {
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  std::deque<VerifyRange> verify_refine_;
  // Requests sent and not yet answered, in order (answers come in order).
  struct VerifyAsk {
    uint64_t offset = 0;
    uint32_t length = 0;
    bool block = false;  // a refinement request
  };
  std::deque<VerifyAsk> verify_asked_;
  uint64_t verify_in_flight_bytes_ = 0;
  uint64_t verify_done_bytes_ = 0;
  uint64_t verify_out_of_sync_bytes_ = 0;
  uint64_t verifies_finished_ = 0;  // since start, as source or target

  // pause_sync() until resume_sync().
  bool user_paused_sync_ = false;
  // set_sync_paused_after().
  bool after_paused_sync_ = false;
  // What this node has told the peer (SyncPause): either of its pauses.
  bool local_paused_sync() const { return user_paused_sync_ || after_paused_sync_; }
  bool resync_paused() const { return local_paused_sync() || peer_paused_sync_; }
  // Who paused: "user", "after" (resync_after), "peer", joined by ","; ""
  // if nobody (ResourceStatus::resync_paused).
  std::string sync_paused_by() const {
    std::string by;
    for (auto [set, who] : {std::pair{user_paused_sync_, "user"}, std::pair{after_paused_sync_, "after"},
                            std::pair{peer_paused_sync_, "peer"}})
      if (set) by += (by.empty() ? "" : ",") + std::string(who);
    return by;
  }
  void on_sync_pause(const wire::SyncPause& m);
  void on_skip_initial_sync(const wire::SkipInitialSync& m);
  // Protocol 12: tells the Diskless Primary we serve which generations
  // hold its writes (see wire::NewGeneration).
  void announce_generations_to_diskless_primary();
  // This Secondary, current, holds the only copy of the Primary peer's
  // writes from now on (that peer lost its disk): a new generation,
  // recorded and announced to it.
  void serve_diskless_primary_peer();
  // Both sides of skip_initial_sync(): `generation` becomes ours, the
  // bitmap empty, the disk UpToDate (persisted).
  IoStatus declare_in_sync(uint64_t generation, const std::string& why);
  // After a pause ends: the SyncTarget asks for blocks again.
  void sync_pause_changed(const std::string& why);

  // Counters and reports.
  uint64_t io_errors_ = 0, sent_bytes_ = 0, received_bytes_ = 0, written_bytes_ = 0, discarded_bytes_ = 0;
  bool split_brain_ = false;
  std::string split_brain_text_;
  std::optional<Generations> last_peer_generations_;  // status(): the last handshake's
  std::string last_handshake_text_;
  // freeze_io_while_fencing: completions held since `suspended_why_`;
  // held_writes_ are writes_ ids whose caller waits, with their status.
  bool io_suspended_ = false;
  bool fail_while_suspended_ = false;  // fail_suspended_io(): EIO instead of holding
  std::string suspended_why_;
  std::vector<std::pair<uint64_t, IoStatus>> held_writes_;
  std::string last_error_;
  std::string connection_why_;  // the reason given to the last set_connection()

  // Read by frontend threads.
  std::atomic<uint64_t> published_size_{0};
  std::atomic<bool> published_writable_{false};

  // The Secondary's Barrier flushes, off the loop (threaded for files).
  // Last, so it is destroyed (its thread joined) first.
  Flusher flusher_;
};

}  // namespace vrrpd::replication
