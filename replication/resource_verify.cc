// Resource: online verify (drbdadm verify). The verify source walks the whole
// device in 1 MiB steps, paced by the resync token bucket, and asks the peer
// for the SHA-256 of each step (VerifyRequest); it compares the answer
// (VerifyReply) with the digest of its own copy and marks every block of a
// differing step out of sync. As in DRBD, verify only finds differences: they
// are resynced at the next connect (disconnect, connect), so that the
// operator decides which side is right first.
//
// The peer answers from whatever replication state it is in (it shows
// Established, not VerifyT: StateChange carries no replication state).
// Application writes go on meanwhile; a block written while its digests
// cross can show up as a (harmless) false difference.
#include <algorithm>
#include <optional>

#include "replication/block_digest.h"
#include "replication/resource.h"

namespace vrrpd::replication {

namespace {

constexpr uint64_t kVerifyStepBytes = wire::kMaxDataBytes;  // per VerifyRequest
constexpr uint64_t kVerifyWindowBytes = 4u << 20;           // in flight

}  // namespace

CommandResult Resource::verify() {
  if (replication_ != ReplicationState::kEstablished)
    return CommandResult::failure(std::string("verify refused: replication is ") + to_string(replication_) +
                                  ", it must be Established");
  verify_cursor_ = 0;
  verify_in_flight_bytes_ = 0;
  verify_done_bytes_ = 0;
  verify_out_of_sync_bytes_ = 0;
  resync_tokens_ = 0;
  resync_tokens_at_ = loop_.now();
  set_replication(ReplicationState::kVerifyS, "online verify of " + std::to_string(sb_.data_size) + " bytes");
  request_verify_blocks();
  return Ok{};
}

void Resource::request_verify_blocks() {
  while (verify_in_flight_bytes_ < kVerifyWindowBytes && verify_cursor_ < sb_.data_size) {
    const uint64_t length = std::min(kVerifyStepBytes, sb_.data_size - verify_cursor_);
    if (!take_resync_tokens(length)) return;
    send(wire::VerifyRequest{verify_cursor_, static_cast<uint32_t>(length)});
    verify_in_flight_bytes_ += length;
    verify_cursor_ += length;
  }
  if (verify_in_flight_bytes_ == 0 && verify_cursor_ >= sb_.data_size) finish_verify();
}

void Resource::on_verify_request(const wire::VerifyRequest& r) {
  if (!data_ || !range_fits(r.offset, r.length, sb_.data_size)) {
    fail_link("unexpected VerifyRequest at offset " + std::to_string(r.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  // An unreadable block answers with an all-zero digest, which no SHA-256
  // of real data equals: the source sees a difference.
  std::optional<std::vector<uint8_t>> block = read_for_peer(r.offset, r.length, "verify");
  send(wire::VerifyReply{r.offset, r.length, block ? block_digest(*block) : wire::Digest{}});
}

void Resource::on_verify_reply(const wire::VerifyReply& r) {
  if (replication_ != ReplicationState::kVerifyS || !range_fits(r.offset, r.length, sb_.data_size)) {
    fail_link("unexpected VerifyReply at offset " + std::to_string(r.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  verify_in_flight_bytes_ -= std::min<uint64_t>(verify_in_flight_bytes_, r.length);
  verify_done_bytes_ += r.length;
  std::vector<uint8_t> ours(r.length);
  IoStatus s = data_->read(r.offset, ours);
  if (!s.ok()) ++io_errors_;
  if (!s.ok() || block_digest(ours) != r.digest) {
    bitmap_->set_range(r.offset, r.length);
    verify_out_of_sync_bytes_ += r.length;
  }
  request_verify_blocks();
}

void Resource::finish_verify() {
  (void)persist_bitmap();
  std::string result = "online verify finished: " + std::to_string(verify_out_of_sync_bytes_) + " of " +
                       std::to_string(verify_done_bytes_) + " bytes differ";
  if (verify_out_of_sync_bytes_ > 0) {
    result += "; marked out of sync, resynced at the next connect (disconnect, then connect)";
    report_error(result);
  }
  set_replication(ReplicationState::kEstablished, result);
}

}  // namespace vrrpd::replication
