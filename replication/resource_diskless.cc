// Resource: on-io-error detach and the Diskless Primary. After a local disk
// error under the detach policy the disk is given up at once (no more I/O to
// a failing device, no half-updated metadata). A Primary replicating to an
// UpToDate peer keeps serving: writes go only to the peer (Data frames,
// completed per protocol), reads are fetched from it with ResyncRequest /
// ResyncReply, which the peer answers from its disk. Without such a peer
// every request fails with EIO. A Secondary, SyncSource or SyncTarget that
// loses its disk drops the link (StandAlone): it has nothing left to offer.
//
// Recovery is the operator's: replace the disk, create-md, attach, and a
// full resync from the peer follows.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "replication/resource.h"

namespace vrrpd::replication {

bool Resource::detach_on_io_error(const std::string& what) {
  if (options_.on_io_error != IoErrorPolicy::kDetach || !data_) return false;
  report_error(what + "; on-io-error detach: the local disk is given up (Diskless)");
  for (auto& [id, w] : writes_) w.pinned.clear();  // the activity log goes with the disk
  al_.reset();
  bitmap_.reset();
  data_.reset();
  set_disk(DiskState::kDiskless, "on-io-error detach after: " + what);
  const bool keeps_serving =
      role_ == Role::kPrimary && can_serve_through_peer() && replication_ != ReplicationState::kSyncSource;
  if (keeps_serving) {
    log("serving reads and writes through the peer");
    publish_local_state();
  } else if (conn_) {
    drop_connection("local disk failed: this node is Diskless", After::kStandAlone,
                    wire::DisconnectCode::kOther);
  }
  return true;
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
    send(wire::ResyncRequest{pos, static_cast<uint32_t>(n), false});
    expected_replies_.push_back(ExpectedReply{id, pos, n});
    ++rr.replies_outstanding;
  }
}

void Resource::on_remote_read_reply(const wire::ResyncReply& r) {
  const ExpectedReply want = expected_replies_.front();
  if (r.offset != want.offset || r.data.size() != want.length) {
    fail_link("ResyncReply at offset " + std::to_string(r.offset) + " does not answer the read at " +
                  std::to_string(want.offset),
              wire::DisconnectCode::kProtocolError);
    return;
  }
  expected_replies_.pop_front();
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
  expected_replies_.clear();
  std::map<uint64_t, RemoteRead> reads;
  reads.swap(remote_reads_);
  for (auto& [id, rr] : reads) rr.done(IoStatus::error(EIO));
}

}  // namespace vrrpd::replication
