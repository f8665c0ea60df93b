// Resource: online verify (drbdadm verify). The verify source walks the whole
// device in 1 MiB steps, paced by the resync token bucket, and asks the peer
// for the SHA-256 of each step (VerifyRequest); it compares the answer
// (VerifyReply) with the digest of its own copy. A step that differs is asked
// about again in 4 KiB blocks (VerifyRequests of one block each, valid in
// every protocol version), and only the blocks that differ are marked out of
// sync, as DRBD does. One damaged block costs 256 small round trips (about
// 30 KiB on the wire) instead of marking and later resyncing 1 MiB; the
// common case, nothing differs, costs one digest per MiB as before. As in
// DRBD, verify only finds differences: they are resynced at the next connect
// (disconnect, connect), so that the operator decides which side is right
// first.
//
// The peer shows VerifyT from the first VerifyRequest until VerifyEnd, on a
// connection of protocol version 2 (with a version-1 peer it stays
// Established: it would not understand VerifyEnd). Application writes go on
// meanwhile; a block written while its digests cross can show up as a
// (harmless) false difference.
#include <algorithm>
#include <optional>

#include "replication/block_digest.h"
#include "replication/resource.h"

namespace vrrpd::replication {

namespace {

constexpr uint64_t kVerifyStepBytes = wire::kMaxDataBytes;  // per VerifyRequest
constexpr uint64_t kVerifyBlockBytes = 4096;                // a differing step's resolution (a bitmap bit)
constexpr uint64_t kVerifyWindowBytes = 4u << 20;           // in flight

}  // namespace

CommandResult Resource::verify() {
  if (replication_ != ReplicationState::kEstablished)
    return CommandResult::failure(std::string("verify refused: replication is ") + to_string(replication_) +
                                  ", it must be Established");
  if (!verify_asked_.empty())
    return CommandResult::failure("verify refused: the peer still owes answers to the verify abandoned just now; "
                                  "retry in a moment");
  // As resize() refuses while a verify runs: a growth answered meanwhile
  // makes this node the target of the added blocks, and its verify would
  // end without the peer hearing of it (the pair simulation, seed 11934:
  // the peer stayed VerifyT, never the source of those blocks).
  if (resize_done_)
    return CommandResult::failure("verify refused: a resize is waiting for the peer's answer; retry once it is done");
  verify_cursor_ = 0;
  verify_in_flight_bytes_ = 0;
  verify_done_bytes_ = 0;
  verify_out_of_sync_bytes_ = 0;
  verify_refine_.clear();
  verify_asked_.clear();
  resync_tokens_ = 0;
  resync_tokens_at_ = loop_.now();
  set_replication(ReplicationState::kVerifyS, "online verify of " + std::to_string(sb_.data_size) + " bytes");
  request_verify_blocks();
  return Ok{};
}

void Resource::request_verify_blocks() {
  while (verify_in_flight_bytes_ < kVerifyWindowBytes) {
    // Blocks of differing steps first: they finish what is already open.
    VerifyAsk ask;
    if (!verify_refine_.empty()) {
      const VerifyRange& r = verify_refine_.front();
      ask = {r.offset, static_cast<uint32_t>(std::min(kVerifyBlockBytes, r.length)), true};
    } else if (verify_cursor_ < sb_.data_size) {
      ask = {verify_cursor_, static_cast<uint32_t>(std::min(kVerifyStepBytes, sb_.data_size - verify_cursor_)),
             false};
    } else {
      break;
    }
    if (!take_resync_tokens(ask.length)) return;
    send(wire::VerifyRequest{ask.offset, ask.length});
    verify_asked_.push_back(ask);
    verify_in_flight_bytes_ += ask.length;
    if (ask.block) {
      VerifyRange& r = verify_refine_.front();
      r.offset += ask.length;
      r.length -= ask.length;
      if (r.length == 0) verify_refine_.pop_front();
    } else {
      verify_cursor_ += ask.length;
    }
  }
  if (verify_asked_.empty() && verify_refine_.empty() && verify_cursor_ >= sb_.data_size) finish_verify();
}

void Resource::on_verify_request(const wire::VerifyRequest& r) {
  if (!range_fits(r.offset, r.length, sb_.data_size)) {
    fail_link("unexpected VerifyRequest at offset " + std::to_string(r.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  // Our disk went away (detach) while the request was on its way: the
  // all-zero digest of an unreadable block; the source, told of our
  // Diskless state, abandons the verify.
  if (!data_) return send(wire::VerifyReply{r.offset, r.length, wire::Digest{}});
  if (replication_ == ReplicationState::kEstablished && wire_version() >= 2) {
    verify_done_bytes_ = 0;
    verify_out_of_sync_bytes_ = 0;
    set_replication(ReplicationState::kVerifyT, "online verify started by the peer");
  }
  // An unreadable block answers with an all-zero digest, which no SHA-256
  // of real data equals: the source sees a difference.
  std::optional<std::vector<uint8_t>> block = read_for_peer(r.offset, r.length, "verify");
  send(wire::VerifyReply{r.offset, r.length, block ? block_digest(*block) : wire::Digest{}});
}

void Resource::on_verify_reply(const wire::VerifyReply& r) {
  if (replication_ != ReplicationState::kVerifyS && !verify_asked_.empty() &&
      verify_asked_.front().offset == r.offset && verify_asked_.front().length == r.length) {
    verify_asked_.pop_front();  // a verify abandoned since (abandon_verify)
    return;
  }
  if (replication_ != ReplicationState::kVerifyS || verify_asked_.empty() ||
      verify_asked_.front().offset != r.offset || verify_asked_.front().length != r.length) {
    fail_link("unexpected VerifyReply at offset " + std::to_string(r.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  const VerifyAsk ask = verify_asked_.front();
  verify_asked_.pop_front();
  verify_in_flight_bytes_ -= std::min<uint64_t>(verify_in_flight_bytes_, r.length);
  if (!ask.block) verify_done_bytes_ += r.length;
  std::vector<uint8_t> ours(r.length);
  IoStatus s = data_->read(r.offset, ours);
  if (!s.ok()) ++io_errors_;
  if (!s.ok() || block_digest(ours) != r.digest) {
    if (!ask.block && r.length > kVerifyBlockBytes) {
      verify_refine_.push_back({r.offset, r.length});  // which of its blocks?
    } else {
      bitmap_->set_range(r.offset, r.length);
      verify_out_of_sync_bytes_ += r.length;
    }
  }
  request_verify_blocks();
}

void Resource::on_verify_end(const wire::VerifyEnd& e) {
  if (replication_ != ReplicationState::kVerifyT) return;  // it asked about nothing (an empty device)
  verify_done_bytes_ = e.verified_bytes;
  verify_out_of_sync_bytes_ = e.out_of_sync_bytes;
  ++verifies_finished_;
  set_replication(ReplicationState::kEstablished, "online verify by the peer finished: " +
                                                      std::to_string(e.out_of_sync_bytes) + " of " +
                                                      std::to_string(e.verified_bytes) + " bytes differ");
}

void Resource::abandon_verify(const std::string& why) {
  // Replies still due are dropped as they come (on_verify_reply); the bits
  // set so far stay (at worst a resync of blocks that are equal).
  verify_refine_.clear();
  verify_in_flight_bytes_ = 0;
  (void)persist_bitmap();
  set_replication(ReplicationState::kEstablished, "online verify abandoned: " + why);
}

void Resource::finish_verify() {
  (void)persist_bitmap();
  std::string result = "online verify finished: " + std::to_string(verify_out_of_sync_bytes_) + " of " +
                       std::to_string(verify_done_bytes_) + " bytes differ";
  if (wire_version() >= 2) send(wire::VerifyEnd{verify_done_bytes_, verify_out_of_sync_bytes_});
  if (verify_out_of_sync_bytes_ > 0) {
    result += "; marked out of sync, resynced at the next connect (disconnect, then connect)";
    report_error(result);
  }
  ++verifies_finished_;
  set_replication(ReplicationState::kEstablished, result);
}

}  // namespace vrrpd::replication
