// Resource: the connection to the peer. Framing (FrameReader, sequence
// numbers), authentication (AuthSession), the checks on the peer's Hello
// that refuse a connection before any data moves, dispatch of the frames,
// the keep-alive (Ping/PingAck, ko-count watchdog) and dropping a link.
//
// Connect sequence on each side (both run it at once):
//   Hello + AuthChallenge -> AuthResponse -> AuthResult   (auth.h)
//   checks: peer node id, device size, protocol, generations not unrelated
//   our bitmap in BitmapChunks; the peer's bitmap received
//   decision (resource_resync.cc) -> Connected, Established / SyncSource /
//   SyncTarget; StateChange with our role and disk
// The lower node id is the AuthSession initiator (see ResourceOptions).
#include <algorithm>

#include "replication/resource.h"
#include "vrrpd/base/log.h"

namespace vrrpd::replication {

namespace {

std::string ms(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

CommandResult Resource::connect(Connector& connector) {
  // (A Diskless Primary connects to the peer that holds its data.)
  if (disk_ == DiskState::kDiskless && role_ != Role::kPrimary)
    return CommandResult::failure("connect refused: attach a disk first");
  if (connector_ != nullptr)
    return CommandResult::failure("connect refused: already connecting or connected (disconnect first)");
  Connector::Callbacks cb;
  cb.on_connected = [this](std::unique_ptr<Connection> c) { on_connected(std::move(c)); };
  cb.on_error = [this](const std::string& m) { report_error("connector: " + m); };
  std::string error;
  if (!connector.start(std::move(cb), error)) return CommandResult::failure("connect failed: " + error);
  connector_ = &connector;
  split_brain_ = false;
  set_connection(ConnectionState::kConnecting, "connect");
  return Ok{};
}

CommandResult Resource::disconnect() {
  set_connection(ConnectionState::kDisconnecting, "disconnect");
  if (conn_) {
    drop_connection("disconnected by the operator", After::kStandAlone, wire::DisconnectCode::kShutdown);
  } else {
    if (connector_ != nullptr) connector_->stop();
    connector_ = nullptr;
    set_connection(ConnectionState::kStandAlone, "disconnect");
  }
  return Ok{};
}

wire::Hello Resource::make_hello() const {
  wire::Hello h;
  h.node_id = options_.node_id;
  h.node_name = options_.node_name.substr(0, wire::kMaxNodeNameBytes);
  h.device_size = sb_.data_size;
  h.protocol = options_.protocol;
  h.role = role_;
  h.disk_state = disk_;
  h.generations = sb_.generations;
  h.max_version = options_.max_protocol_version;
  if (crashed_primary_) h.flags |= wire::kHelloCrashedPrimary;
  if (options_.discard_my_data) h.flags |= wire::kHelloDiscardMyData;
  return h;
}

void Resource::on_connected(std::unique_ptr<Connection> conn) {
  if (conn_ || connector_ == nullptr || (disk_ == DiskState::kDiskless && role_ != Role::kPrimary)) {
    // A Diskless Secondary: nothing to replicate; attach() asks the
    // connector again. (A Diskless Primary reconnects to its data.)
    conn->close();
    return;
  }
  conn_ = std::move(conn);
  last_heard_ = loop_.now();
  const uint64_t link = ++link_generation_;
  Connection::Callbacks cb;
  // The transport reads straight into the frame reader: a Data frame's
  // block lands in the buffer the local write takes (see FrameReader).
  cb.receive_space = [this] { return reader_.receive_space(); };
  cb.on_received = [this, link](size_t n) {
    if (link == link_generation_) on_received(n);
  };
  cb.on_closed = [this, link](const std::string& why) {
    if (link == link_generation_) fail_link("connection lost: " + why, std::nullopt);
  };
  cb.on_drained = [this, link] {
    // Protocol A writes waiting for the send queue: look at once (deferred:
    // this may run inside send()).
    if (link == link_generation_ && (!congested_writes_.empty() || replication_ == ReplicationState::kAhead))
      congestion_timer_.arm_at(loop_.now());
  };
  conn_->start(std::move(cb));
  reader_ = wire::FrameReader();
  next_send_sequence_ = 1;
  phase_ = Phase::kAuthenticating;
  log("connection from/to " + conn_->peer_description() + ": authenticating");
  Result<Nonce> nonce = random_nonce();
  if (!nonce.ok()) {
    fail_link("no random nonce: " + nonce.error(), std::nullopt);
    return;
  }
  const AuthRole role =
      options_.node_id < options_.peer_node_id ? AuthRole::kInitiator : AuthRole::kResponder;
  Result<AuthSession> session =
      AuthSession::create(role, options_.shared_secret, make_hello(), nonce.value());
  if (!session.ok()) {
    refuse(session.error(), wire::DisconnectCode::kOther);
    return;
  }
  auth_.emplace(std::move(session.value()));
  handshake_timer_.arm_in(options_.timeout);
  for (wire::Message& m : auth_->start()) send(std::move(m));
}

void Resource::send(wire::Message m) { (void)send_frame(std::move(m)); }

uint16_t Resource::wire_version() const {
  return auth_ && auth_->state() == AuthState::kAuthenticated ? auth_->agreed_version() : wire::kHandshakeVersion;
}

uint64_t Resource::send_frame(wire::Message m) {
  if (!conn_) return 0;
  const uint64_t sequence = next_send_sequence_++;
  send_bytes(wire::encode_frame(wire::Frame{sequence, std::move(m)}, wire_version()));
  return sequence;
}

uint64_t Resource::send_data(uint64_t offset, uint32_t flags, std::span<const uint8_t> data,
                             const std::shared_ptr<const void>& keep) {
  if (!conn_) return 0;
  const uint64_t sequence = next_send_sequence_++;
  if (keep) {
    // The payload goes into the socket from the caller's buffer: no copy
    // of up to 1 MiB per frame on the Primary's loop.
    std::vector<uint8_t> head = wire::encode_data_frame_head(sequence, offset, flags, data, wire_version());
    sent_bytes_ += head.size() + data.size();
    conn_->send_borrowed(std::move(head), data, keep);
  } else {
    send_bytes(wire::encode_data_frame(sequence, offset, flags, data, wire_version()));
  }
  return sequence;
}

void Resource::send_bytes(std::vector<uint8_t> frame) {
  sent_bytes_ += frame.size();
  conn_->send(std::move(frame));
}

void Resource::on_received(size_t bytes) {
  received_bytes_ += bytes;
  last_heard_ = loop_.now();  // anything from the peer answers a probe
  reader_.received(bytes);
  const uint64_t link = link_generation_;
  wire::Frame frame;
  for (;;) {
    const wire::FrameReader::Next r = reader_.next(frame);
    if (r == wire::FrameReader::Next::kNeedMore) break;
    if (r == wire::FrameReader::Next::kError) {
      fail_link("protocol error: " + reader_.error().message(), wire::DisconnectCode::kProtocolError);
      return;
    }
    on_frame(frame);
    if (link != link_generation_) return;  // that frame ended this connection
    // The block was written (or refused) while the frame was handled: its
    // buffer takes the next big payload.
    if (auto* d = std::get_if<wire::Data>(&frame.message)) reader_.recycle(std::move(d->data));
    if (auto* reply = std::get_if<wire::ResyncReply>(&frame.message)) reader_.recycle(std::move(reply->data));
  }
  hint_receive_size();
}

void Resource::hint_receive_size() {
  if (!conn_) return;
  // Nothing can be done with part of a frame, so the transport may wait for
  // the rest of it before waking this loop: one wake-up per Data frame
  // instead of one per arriving segment (measured: sequential protocol C
  // writes 11% faster; see bench/README.md). Any later frame comes after
  // those bytes, so no frame is handled later than before. Only the
  // takeover's probe counts bytes rather than frames as a sign of life:
  // while it waits for its answer, every byte is delivered as it arrives.
  const bool probe_unanswered = probe_sent_ && last_heard_ < *probe_sent_;
  conn_->expect_bytes(probe_unanswered ? 1 : reader_.bytes_wanted());
}

void Resource::on_frame(const wire::Frame& frame) {
  const bool was_authenticated = auth_->state() == AuthState::kAuthenticated;
  // The peer may end the connection while our side of the handshake is
  // still running: it completed its side first and then dropped the link
  // for a reason of its own (a forced promotion renegotiates). Only its
  // final reasons are a refusal; anything else is retried.
  if (const auto* d = std::get_if<wire::Disconnect>(&frame.message); d != nullptr && !was_authenticated) {
    const bool final = d->code == wire::DisconnectCode::kSplitBrain || d->code == wire::DisconnectCode::kIncompatible;
    if (final) report_error("peer disconnected during the handshake: " + d->reason);
    drop_connection("peer disconnected during the handshake: " + d->reason,
                    final ? After::kStandAlone : After::kReconnect, std::nullopt);
    return;
  }
  AuthSession::Step step = auth_->on_message(frame.message);
  for (wire::Message& m : step.to_send) send(std::move(m));
  if (auth_->state() == AuthState::kRefused) {
    const std::string why = auth_->reason();
    // A refusal of the handshake is a configuration problem (secret,
    // version, node id): retrying would only repeat it.
    if (!was_authenticated)
      refuse("authentication failed: " + why, wire::DisconnectCode::kIncompatible);
    else
      fail_link("protocol error: " + why, std::nullopt);
    return;
  }
  if (!was_authenticated) {
    if (auth_->state() == AuthState::kAuthenticated) on_authenticated();
    return;
  }
  if (!step.deliver) return;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::BitmapChunk>) {
          on_bitmap_chunk(m);
        } else if constexpr (std::is_same_v<T, wire::Data>) {
          apply_peer_data(frame.sequence, m);
        } else if constexpr (std::is_same_v<T, wire::Discard>) {
          apply_peer_discard(frame.sequence, m);
        } else if constexpr (std::is_same_v<T, wire::PullAhead>) {
          on_pull_ahead(m);
        } else if constexpr (std::is_same_v<T, wire::DataAck>) {
          last_answer_ = loop_.now();
          on_data_ack(m);
        } else if constexpr (std::is_same_v<T, wire::Barrier>) {
          apply_barrier(m);
        } else if constexpr (std::is_same_v<T, wire::BarrierAck>) {
          last_answer_ = loop_.now();
          on_barrier_ack(m);
        } else if constexpr (std::is_same_v<T, wire::ResyncRequest>) {
          on_resync_request(m);
        } else if constexpr (std::is_same_v<T, wire::ResyncReply>) {
          last_answer_ = loop_.now();
          on_resync_reply(m);
        } else if constexpr (std::is_same_v<T, wire::StateChange>) {
          on_peer_state(m);
        } else if constexpr (std::is_same_v<T, wire::Ping>) {
          send(wire::PingAck{});
        } else if constexpr (std::is_same_v<T, wire::PingAck>) {
          ping_timeout_timer_.disarm();
        } else if constexpr (std::is_same_v<T, wire::Disconnect>) {
          const bool final =
              m.code == wire::DisconnectCode::kSplitBrain || m.code == wire::DisconnectCode::kIncompatible;
          if (final) report_error("peer disconnected: " + m.reason);
          drop_connection("peer disconnected: " + m.reason, final ? After::kStandAlone : After::kReconnect,
                          std::nullopt);
        } else if constexpr (std::is_same_v<T, wire::ChecksumReply>) {
          last_answer_ = loop_.now();
          on_checksum_reply(m);
        } else if constexpr (std::is_same_v<T, wire::VerifyRequest>) {
          on_verify_request(m);
        } else if constexpr (std::is_same_v<T, wire::VerifyReply>) {
          last_answer_ = loop_.now();
          on_verify_reply(m);
        } else if constexpr (std::is_same_v<T, wire::VerifyEnd>) {
          on_verify_end(m);
        } else if constexpr (std::is_same_v<T, wire::ResizeRequest>) {
          on_resize_request(wire::ResizeWithOptions{m.current_size, m.max_size, false, false});
        } else if constexpr (std::is_same_v<T, wire::ResizeWithOptions>) {
          on_resize_request(m);
        } else if constexpr (std::is_same_v<T, wire::ResizeReply>) {
          on_resize_reply(m);
        } else if constexpr (std::is_same_v<T, wire::SyncPause>) {
          on_sync_pause(m);
        } else if constexpr (std::is_same_v<T, wire::SkipInitialSync>) {
          on_skip_initial_sync(m);
        } else if constexpr (std::is_same_v<T, wire::NewGeneration>) {
          peer_announced_generations_ = m.generations;
        } else {
          // Handshake frames: AuthSession refused them above.
          fail_link(std::string("unexpected ") + wire::to_string(wire::type_of(m)),
                    wire::DisconnectCode::kProtocolError);
        }
      },
      frame.message);
}

void Resource::fail_link(const std::string& reason, std::optional<wire::DisconnectCode> tell_peer) {
  report_error(reason);
  drop_connection(reason, After::kReconnect, tell_peer);
}

void Resource::refuse(const std::string& reason, wire::DisconnectCode code) {
  report_error(reason);
  drop_connection(reason, After::kStandAlone, code);
}

void Resource::on_authenticated() {
  const wire::Hello& ph = auth_->peer_hello();
  peer_hello_ = ph;
  log("authenticated peer " + std::to_string(ph.node_id) + " (" + ph.node_name + ")");
  // Refusals before any data moves; each names both values.
  if (ph.node_id != options_.peer_node_id) {
    refuse("peer has node id " + std::to_string(ph.node_id) + ", configured peer node id is " +
               std::to_string(options_.peer_node_id),
           wire::DisconnectCode::kIncompatible);
    return;
  }
  if (ph.protocol != options_.protocol) {
    refuse(std::string("peer replicates with protocol ") + static_cast<char>(ph.protocol) + ", this node " +
               static_cast<char>(options_.protocol) + ": configure the same protocol on both nodes",
           wire::DisconnectCode::kIncompatible);
    return;
  }
  if (ph.disk_state == DiskState::kDiskless || disk_ == DiskState::kDiskless) {
    // Only a Diskless Primary back on the link to the Secondary that holds
    // its data (protocol 10): no bitmaps, no resync.
    if (std::string why = diskless_connect_refusal(ph); !why.empty()) {
      refuse(why, wire::DisconnectCode::kIncompatible);
      return;
    }
    finish_diskless_handshake(ph);
    return;
  }
  // The peer has a disk. The Primary we serve (it lost its disk, or it is
  // our SyncTarget, promoted) keeps its record as long as it resyncs.
  const bool served_primary_resyncing = serves_primary_resyncing(ph);
  if (!served_primary_resyncing) forget_diskless_primary();
  HandshakeFlags flags;
  flags.self_crashed_primary = crashed_primary_;
  flags.peer_crashed_primary = (ph.flags & wire::kHelloCrashedPrimary) != 0;
  flags.self_resolves_conflicts = options_.node_id > options_.peer_node_id;
  handshake_ = compare_generations(sb_.generations, ph.generations, flags);
  last_peer_generations_ = ph.generations;
  last_handshake_text_ = std::string(to_string(handshake_.decision)) + " (rule " + std::to_string(handshake_.rule) +
                         ": " + handshake_.reason + ")";
  // Both sides' identifiers (current:bitmap:history), as DRBD prints them
  // at connect: what a split brain or an unexpected direction is read from.
  log("generations: " + last_handshake_text_ + "; self " + generations_text(sb_.generations) + ", peer " +
      generations_text(ph.generations));
  if (handshake_.decision == SyncDecision::kUnrelated) {
    refuse("unrelated data: the peer's generations share nothing with ours (" + handshake_.reason +
               "); wrong peer or disk? re-create the metadata on the node to be overwritten",
           wire::DisconnectCode::kIncompatible);
    return;
  }
  // After the generations: growing to the peer's size depends on who has
  // the newer data.
  if (ph.device_size != sb_.data_size && !settle_size_at_handshake(ph)) return;
  peer_role_ = ph.role;
  peer_disk_ = ph.disk_state;
  phase_ = Phase::kBitmaps;
  // Restarted (Consistent) while that Primary resynced from us: our data is
  // what it last saw (the record, cleared at our promotion, says so), so
  // we are UpToDate, and it must hear so before our bitmap, or it refuses a
  // Consistent source (protocol 11; an older peer takes no StateChange
  // here and is refused by it as before).
  if (served_primary_resyncing && disk_ == DiskState::kConsistent && role_ == Role::kSecondary &&
      wire_version() >= 11) {
    set_disk(DiskState::kUpToDate, "the Primary whose data this node holds is back, resyncing from this node");
    send(wire::StateChange{role_, disk_});
  }
  peer_bitmap_.emplace(sb_.data_size);
  peer_bitmap_bits_ = 0;
  // Before our bitmap: the peer knows of the pause before it can start a
  // resync as SyncTarget.
  if (local_paused_sync() && wire_version() >= 3) send(wire::SyncPause{true});
  ping_timer_.arm_in(options_.ping_interval);
  // A node about to be overwritten holds its bitmap until the peer's is in
  // (the source sends its own at once, so only one side ever waits): then
  // it knows whether anything is overwritten, and runs the handler first.
  bitmap_held_ = options_.before_resync_target && becomes_target_of_good_image();
  if (!bitmap_held_) send_bitmap();
}

bool Resource::serves_primary_resyncing(const wire::Hello& ph) const {
  // A Primary still resyncing from us (Inconsistent: a disk attached under
  // it after it lost its own, or our SyncTarget promoted), on the data we
  // hold, by the rules of
  // diskless_connect_refusal(): we served it since it lost its disk and
  // were not Primary since (the record), or we never heard that it lost
  // it (the link dropped first) and hold its current generation with no
  // bitmap generation (a promotion of ours would have started one).
  if (ph.role != Role::kPrimary || ph.disk_state != DiskState::kInconsistent) return false;
  const uint64_t data = uuid_value(ph.generations.current);
  const std::optional<DisklessPeer> served = served_diskless_primary();
  const bool untouched = data == uuid_value(sb_.generations.current) && sb_.generations.bitmap == 0;
  return (served && served->generation == data) || untouched;
}

std::string Resource::diskless_connect_refusal(const wire::Hello& ph) const {
  const bool self_diskless = disk_ == DiskState::kDiskless;
  if (self_diskless && ph.disk_state == DiskState::kDiskless) return "neither node has a disk attached";
  if (wire_version() < 10)
    return self_diskless ? "this Diskless Primary cannot connect: the peer's build does not serve a Diskless "
                           "Primary on a new connection (replication protocol 10 is needed); attach a disk here"
                         : "peer has no disk attached";
  // The node with the disk: Secondary, UpToDate or Consistent (restarted:
  // the rules below are what tells that its data is the Primary's). The
  // Diskless one: Primary, on the data it last saw: the disk side's bitmap
  // generation (started when the Primary went Diskless) if the disk side
  // served it since on a running link and has not been Primary since
  // (served_diskless_primary(), in the superblock: a restart keeps it); or
  // the disk side's current generation with no bitmap generation (the link
  // dropped before it heard that the Primary went Diskless; promoted since,
  // it would have started a new generation). Anything else means the data
  // moved on without the Primary (the other node was promoted meanwhile),
  // or the Primary wrote on its own disk without the peer before that disk
  // failed: its file system would not match. The Diskless side cannot see
  // the disk side's memory, and lets it decide (a refusal there comes as
  // a Disconnect).
  const Role diskless_role = self_diskless ? role_ : ph.role;
  const Role disk_role = self_diskless ? ph.role : role_;
  const DiskState disk_state = self_diskless ? ph.disk_state : disk_;
  const Generations& diskless_gen = self_diskless ? sb_.generations : ph.generations;
  const Generations& disk_gen = self_diskless ? ph.generations : sb_.generations;
  const std::string side = self_diskless ? "the peer" : "this node";
  if (diskless_role != Role::kPrimary)
    return self_diskless ? "this node has no disk attached" : "peer has no disk attached";
  if (disk_role != Role::kSecondary) return "both nodes are Primary: dual-primary is not supported";
  if (disk_state != DiskState::kUpToDate && disk_state != DiskState::kConsistent)
    return std::string("a Diskless Primary connects only to an UpToDate or Consistent peer; ") + side +
           "'s disk is " + to_string(disk_state);
  const uint64_t data = uuid_value(diskless_gen.current);
  if (data != uuid_value(disk_gen.current) && data != uuid_value(disk_gen.bitmap))
    return "the Diskless Primary's data (generation " + std::to_string(data) + ") is not what " + side +
           " holds (current " + std::to_string(disk_gen.current) + ", bitmap " + std::to_string(disk_gen.bitmap) +
           "): it moved on without the Primary; demote the Diskless Primary";
  const std::optional<DisklessPeer> served_peer = served_diskless_primary();
  const bool served = served_peer && served_peer->generation == data;
  const bool untouched = data == uuid_value(disk_gen.current) && disk_gen.bitmap == 0;
  if (!self_diskless && !served && !untouched)
    return "the Diskless Primary peer was not served by this node since it lost its disk (this node was Primary "
           "since, or its metadata was written by a build that did not record it): its data may have moved on; "
           "demote the Diskless Primary";
  return "";
}

void Resource::finish_diskless_handshake(const wire::Hello& ph) {
  const bool self_diskless = disk_ == DiskState::kDiskless;
  peer_role_ = ph.role;
  // A Consistent (restarted) disk side that accepts us is UpToDate from
  // now on (below, on its side; its StateChange follows). Taken so at once
  // here, or our first requests would fail before it arrives; if it refuses
  // instead, its Disconnect comes first and it answers nothing.
  peer_disk_ = self_diskless && ph.disk_state == DiskState::kConsistent ? DiskState::kUpToDate : ph.disk_state;
  last_peer_generations_ = ph.generations;
  const std::string why = self_diskless ? "Diskless Primary: served through the peer again"
                                        : "the Diskless Primary peer is served again";
  last_handshake_text_ = why + " (no bitmaps, no resync)";
  // Served again: the peer took us for the Primary whose data it holds
  // (the rules of diskless_connect_refusal()), and it records our writes
  // from now on. The disk given up is no longer the only copy: attached
  // again, it is resynced from the peer on this link. Taken back as the
  // data instead, its handshake met the generation the peer started for
  // us here as diverged data (the pair simulation, protocol C/B seed
  // 25164: a split brain with no second Primary).
  if (self_diskless && given_up_disk_) given_up_disk_->no_longer_sole_copy();
  // Its writes are recorded here (apply_peer_change), under the generation
  // started when it went Diskless; started now if we did not hear of that
  // before the drop (as on_peer_state does).
  if (!self_diskless) {
    if (!served_diskless_primary() || served_diskless_primary()->generation != uuid_value(ph.generations.current)) {
      start_new_generation("the Primary peer is back without its disk: this node holds the only copy of its writes");
      remember_diskless_primary(DisklessPeer{uuid_value(ph.generations.current), true});
    }
    new_generation_for_diskless_peer_ = served_diskless_primary()->new_generation;
    // Restarted: our data is what the Diskless Primary last saw (the rules
    // of diskless_connect_refusal()), and nobody else holds any.
    if (disk_ == DiskState::kConsistent)
      set_disk(DiskState::kUpToDate, "the Diskless Primary whose data this node holds is back");
  }
  enter_running(why);
  ping_timer_.arm_in(options_.ping_interval);  // (armed before the bitmaps in the other handshake)
  if (io_suspended_) resume_held_io("the link is back");
  set_replication(ReplicationState::kEstablished, why);
  send(wire::StateChange{role_, disk_});
  if (!self_diskless) announce_generations_to_diskless_primary();
  start_blocked_writes();
}

void Resource::announce_generations_to_diskless_primary() {
  // Without it (a peer below protocol 12), a disk attached under that
  // Primary keeps the Primary's generation at the end of its resync and we
  // take ours back, which only works if we hear of that end: a link cut
  // right before, and a new generation on the Primary, left the two with
  // different currents over one common bitmap generation, a split brain
  // with no second Primary (the pair simulation, seed 14016).
  if (wire_version() >= 12) send(wire::NewGeneration{sb_.generations});
}

bool Resource::becomes_target_of_good_image() const {
  // finish_handshake()'s decision, as far as it is known before the
  // bitmaps: an Inconsistent peer is never the source, a Primary never the
  // target of a good image (refused), and an Inconsistent disk holds
  // nothing to save.
  const bool good = disk_ == DiskState::kUpToDate || disk_ == DiskState::kConsistent || disk_ == DiskState::kOutdated;
  if (!good || role_ == Role::kPrimary || peer_hello_.disk_state == DiskState::kInconsistent) return false;
  const SyncDecision d = handshake_.decision;
  if (d == SyncDecision::kSplitBrain)
    return options_.discard_my_data && (peer_hello_.flags & wire::kHelloDiscardMyData) == 0;
  return d == SyncDecision::kTargetBitmap || d == SyncDecision::kTargetFull;
}

void Resource::release_held_bitmap() {
  const bool full = handshake_.decision == SyncDecision::kTargetFull ||
                    (handshake_.decision == SyncDecision::kSplitBrain && !handshake_.auto_resolvable);
  if (!full && bitmap_->count() == 0 && peer_bitmap_->count() == 0) {
    // The peer's newer generation changed nothing here: nothing to save.
    bitmap_held_ = false;
    send_bitmap();
    finish_handshake();
    return;
  }
  log("the peer's data replaces this node's " + std::string(to_string(disk_)) + " image (" +
      (full ? std::string("all of it") : std::to_string(bitmap_->out_of_sync_bytes() + peer_bitmap_->out_of_sync_bytes()) +
                                             " bytes at most") +
      "): running the before-resync-target handler first (the handshake waits for it)");
  const uint64_t link = link_generation_;
  options_.before_resync_target([this, link, alive = std::weak_ptr<const bool>(alive_)](bool ok, std::string detail) {
    if (alive.expired()) return;                            // this Resource is gone
    if (link != link_generation_ || !bitmap_held_) return;  // that connection is gone
    bitmap_held_ = false;
    if (!ok) {
      fail_link("before-resync-target handler failed (" + detail +
                    "): not resyncing over this node's data without it; the next connect tries again",
                wire::DisconnectCode::kOther);
      return;
    }
    log("before-resync-target handler done (" + detail + "): sending the bitmap");
    send_bitmap();
    finish_handshake();
  });
}

void Resource::on_peer_state(const wire::StateChange& s) {
  if (s.role == Role::kPrimary && role_ == Role::kPrimary) {
    refuse("both nodes are Primary: dual-primary is not supported", wire::DisconnectCode::kIncompatible);
    return;
  }
  const std::optional<DiskState> before = peer_disk_;
  peer_role_ = s.role;
  peer_disk_ = s.disk_state;
  // Before the bitmaps (protocol 11): the restarted peer took us for the
  // Primary it served, and is UpToDate; finish_handshake() reads it.
  if (phase_ == Phase::kBitmaps) return;
  // The Primary we serve is ours to serve until its resync from us ends (a
  // restart of this node in between must still know it).
  const bool served_primary_resyncs = s.role == Role::kPrimary && s.disk_state == DiskState::kInconsistent;
  if (s.disk_state != DiskState::kDiskless && !served_primary_resyncs) forget_diskless_primary();
  // Our SyncTarget was promoted (a switchover during its resync): until the
  // resync ends it writes only through us, so our data is its data, as for
  // a Primary that lost its disk. Recorded (on disk) so that after a
  // restart of ours it resumes from us instead of refusing a Consistent
  // source (protocol 11). Its generation is the one in its Hello: a
  // promotion on a running link starts none.
  if (phase_ == Phase::kRunning && served_primary_resyncs && role_ == Role::kSecondary &&
      replication_ == ReplicationState::kSyncSource && local_data_current()) {
    const uint64_t data = uuid_value(peer_hello_.generations.current);
    if (!served_diskless_primary() || served_diskless_primary()->generation != data)
      remember_diskless_primary(DisklessPeer{data, false});
  }
  // What our verify compared against is gone: the peer's disk detached, or
  // another one (Inconsistent) took its place. Ended first, so that the
  // rules below see an Established link.
  if (replication_ == ReplicationState::kVerifyS &&
      (s.disk_state == DiskState::kDiskless || s.disk_state == DiskState::kInconsistent))
    abandon_verify(std::string("the peer's disk is now ") + to_string(s.disk_state));
  if (replication_ == ReplicationState::kSyncSource && s.disk_state == DiskState::kUpToDate)
    finish_resync_as_source();
  // The Primary peer lost its disk (on-io-error detach) and serves through
  // ours: from now on only we hold its writes. As DRBD: a new generation
  // (the handshake with that disk, back later, makes us its source) and its
  // writes recorded in our bitmap (apply_peer_data). Its writes in flight
  // when the disk failed are in that disk's own activity log.
  if (phase_ == Phase::kRunning && s.role == Role::kPrimary && s.disk_state == DiskState::kDiskless &&
      before.has_value() && *before != DiskState::kDiskless && role_ == Role::kSecondary && local_data_current())
    serve_diskless_primary_peer();
  // The Primary peer, Diskless, attached a new disk on this link (its
  // attach_under_primary()): it fetches every block from us.
  if (phase_ == Phase::kRunning && replication_ == ReplicationState::kEstablished && s.role == Role::kPrimary &&
      before == DiskState::kDiskless && s.disk_state == DiskState::kInconsistent && disk_ == DiskState::kUpToDate)
    serve_attaching_primary();
  // ... and lost it again before the end.
  if (replication_ == ReplicationState::kSyncSource && s.disk_state == DiskState::kDiskless)
    set_replication(ReplicationState::kEstablished, "the peer's disk failed during its resync");
  // The peer went Inconsistent on the running link and fetches blocks from
  // us: the blocks a resize added (it grew as their target, on this link or
  // in this handshake). Our bitmap holds them.
  if (phase_ == Phase::kRunning && replication_ == ReplicationState::kEstablished &&
      s.disk_state == DiskState::kInconsistent && before.has_value() && *before != DiskState::kDiskless &&
      *before != DiskState::kInconsistent && disk_ == DiskState::kUpToDate) {
    OutOfSyncBitmap records = *bitmap_;
    if (grown_from_ < sb_.data_size) records.clear_range(grown_from_, sb_.data_size - grown_from_);
    start_sync_source(/*full=*/false, "the peer resyncs the blocks a resize added");
    if (records.out_of_sync_bytes() > 0) kept_past_resync_ = std::move(records);
  }
}

void Resource::serve_diskless_primary_peer() {
  const bool had_bitmap_generation = sb_.generations.bitmap != 0;
  start_new_generation("the Primary peer lost its disk: this node holds the only copy of its writes");
  new_generation_for_diskless_peer_ = !had_bitmap_generation;
  // Its data, should the link drop or this node restart: it may reconnect
  // Diskless (protocol 10).
  remember_diskless_primary(
      DisklessPeer{uuid_value(peer_hello_.generations.current), new_generation_for_diskless_peer_});
  announce_generations_to_diskless_primary();
}

void Resource::on_ping_due() {
  send(wire::Ping{});
  if (!ping_timeout_timer_.armed()) ping_timeout_timer_.arm_in(options_.ping_timeout);
  ping_timer_.arm_in(options_.ping_interval);
}

bool Resource::probe_primary_peer() {
  if (!conn_) return false;
  const TimePoint now = loop_.now();
  const bool answered = probe_sent_ && last_heard_ >= *probe_sent_;
  if (probe_sent_ && !answered && now - *probe_sent_ >= options_.probe_timeout) {
    fail_link("the peer, Primary, did not answer a probe within " + ms(options_.probe_timeout) + " (nothing heard for " +
                  ms(now - last_heard_) + ") while this node is being promoted: taking it as gone",
              wire::DisconnectCode::kOther);
    return true;
  }
  // A new probe unless one is pending; after an answer, one per probe_timeout.
  if (!probe_sent_ || (answered && now - *probe_sent_ >= options_.probe_timeout)) {
    send(wire::Ping{});
    probe_sent_ = now;
    hint_receive_size();
  }
  return false;
}

void Resource::on_ping_timeout() {
  fail_link("ping timeout: no PingAck within " + ms(options_.ping_timeout), std::nullopt);
}

void Resource::on_handshake_timeout() {
  fail_link("handshake did not complete within " + ms(options_.timeout),
            wire::DisconnectCode::kProtocolError);
}

void Resource::on_watchdog() {
  bool waiting = std::any_of(flushes_.begin(), flushes_.end(), [](const FlushRequest& f) { return !f.peer_done; }) ||
                 resync_in_flight_bytes_ > 0 || verify_in_flight_bytes_ > 0 || !replies_due_.empty();
  for (const auto& [id, w] : writes_)
    waiting = waiting || (w.mirrored && (!w.peer_done || w.acks_outstanding > 0));
  const TimePoint now = loop_.now();
  if (waiting && last_answer_ < now - options_.timeout) {
    if (++ko_ >= options_.ko_count) {
      fail_link("peer answered no request for " + ms(options_.timeout * options_.ko_count) + " (timeout " +
                    ms(options_.timeout) + " x ko-count " + std::to_string(options_.ko_count) + ")",
                wire::DisconnectCode::kOther);
      return;
    }
  } else {
    ko_ = 0;
  }
  watchdog_timer_.arm_in(options_.timeout);
}

void Resource::renegotiate(const std::string& why) {
  drop_connection(why, After::kReconnect, wire::DisconnectCode::kOther);
}

void Resource::drop_connection(const std::string& reason, After after,
                               std::optional<wire::DisconnectCode> tell_peer) {
  const bool was_replicating = replicating();
  // resource-and-stonith: the peer has every acknowledged write and may be
  // promoted; from here on nothing is acknowledged until it is outdated.
  // Before fail_over_pending_peer_io(), which answers the writes in flight.
  if (options_.freeze_io_while_fencing && role_ == Role::kPrimary && was_replicating && local_data_current() &&
      peer_disk_ == DiskState::kUpToDate && !sb_.flags.peer_outdated && !io_suspended_ &&
      !demote_done_)  // demoting: it writes no more, and secondary() must not be refused
    suspend_io("lost the UpToDate peer while Primary (" + reason + "): fencing it");
  if (conn_) {
    if (tell_peer) send(wire::Disconnect{*tell_peer, reason.substr(0, wire::kMaxReasonBytes)});
    ++link_generation_;  // callbacks of this connection are stale from now on
    conn_->close();
    // Not destroyed here: we may be inside its own callback.
    closed_conns_.push_back(std::move(conn_));
    reap_timer_.arm_at(loop_.now());
    log("connection dropped: " + reason);
  }
  auth_.reset();
  phase_ = Phase::kNone;
  handshake_timer_.disarm();
  ping_timer_.disarm();
  ping_timeout_timer_.disarm();
  probe_sent_.reset();
  watchdog_timer_.disarm();
  epoch_timer_.disarm();
  epoch_writes_ = 0;
  resync_timer_.disarm();
  resync_in_flight_bytes_ = 0;
  verify_in_flight_bytes_ = 0;
  verify_refine_.clear();
  verify_asked_.clear();
  ko_ = 0;
  peer_bitmap_.reset();
  bitmap_held_ = false;
  resync_in_band_ = false;
  diskless_primary_records_.reset();  // (their bits stay in the bitmap)
  peer_announced_generations_.reset();
  kept_past_resync_.reset();  // still in our bitmap: the handshake resyncs them
  new_generation_for_diskless_peer_ = false;
  reattach_bitmap_.reset();
  reattach_bitmap_bits_ = 0;
  reattach_answer_due_ = false;
  peer_paused_sync_ = false;
  if (detach_done_) {
    auto done = std::move(detach_done_);
    detach_done_ = nullptr;
    done(CommandResult::failure("detach: the link dropped (" + reason +
                                ") before the peer confirmed the writes only this disk held; the disk stays attached"));
  }
  write_limit_ = kNoWriteLimit;
  if (resize_done_) {
    auto done = std::move(resize_done_);
    resize_done_ = nullptr;
    done(CommandResult::failure(
        "resize: the link dropped before the peer answered (" + reason + "); " +
        (withdrawing_resize_
             ? "the peer had grown, and this node, its disk given up, asked it to take back its old size: if it did "
               "not, it stays the Inconsistent target of blocks only that disk held (attach a disk, or demote)"
         : resize_asked_.shrink
             ? "if the peer shrank, the next handshake grows it back and resyncs the end: shrink again"
             : "if the peer grew, this node grows at the next handshake")));
  }
  withdrawing_resize_ = false;
  fail_over_pending_peer_io();
  if (data_) {
    // A Primary that loses its peer starts a new generation, so that the
    // next handshake knows its data is newer (DRBD's new current UUID).
    // (Not with an Inconsistent disk: it takes no writes without the peer.)
    if (role_ == Role::kPrimary && was_replicating && local_data_current())
      start_new_generation("lost the peer while Primary");
    (void)persist_bitmap();
  }
  set_replication(ReplicationState::kOff, reason);
  peer_role_.reset();
  peer_disk_.reset();
  Connector* connector = connector_;
  if (after == After::kStandAlone || connector == nullptr) {
    if (connector != nullptr) connector->stop();
    connector_ = nullptr;
    set_connection(ConnectionState::kStandAlone, reason);
  } else {
    set_connection(ConnectionState::kConnecting, reason);
  }
  start_blocked_writes();  // writes held for a handshake now go to the bitmap
  if (after == After::kReconnect && connector != nullptr) connector->connection_lost();
  // After the new generation above: the waiting demotion happens now.
  maybe_finish_pending_demotion(/*link_lost=*/true);
}

}  // namespace vrrpd::replication
