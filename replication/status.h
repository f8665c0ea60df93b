// The states of a replicated resource as operators know them from DRBD, with
// DRBD's names (to_string), and ResourceStatus: the plain-data snapshot that
// the daemon, vrrpctl and the "replication" health check read. Nothing here
// has behaviour; Resource (resource.h) fills it in.
//
// Role and disk state reuse the wire enums (protocol.h), because they are
// what each side reports to the other; the peer's are std::optional, empty
// while no peer is connected (DRBD prints "Unknown" / "DUnknown").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "replication/protocol.h"

namespace vrrpd::replication {

using Role = wire::Role;
using DiskState = wire::DiskState;

// The link to the peer (DRBD 9 connection states; the handshake is part of
// kConnecting, as in DRBD 9).
enum class ConnectionState {
  kStandAlone,     // not trying to connect (never connected, or gave up: split brain, refusal)
  kDisconnecting,  // tearing the link down on request
  kConnecting,     // waiting for a connection, or authenticating / exchanging bitmaps on one
  kConnected,      // handshake done; see ReplicationState
};

// What the connected pair is doing with the data (DRBD 9 replication states).
enum class ReplicationState {
  kOff,          // not connected
  kEstablished,  // in sync; writes are mirrored
  kSyncSource,   // resyncing the peer from our data
  kSyncTarget,   // resyncing our data from the peer
  kVerifyS,      // online verify, we ask for digests
  kVerifyT,      // online verify, the peer asks
  // Shown by status() only (the engine's own state stays SyncSource /
  // SyncTarget): the resync is paused by an operator, here or on the peer
  // (drbdadm pause-sync; DRBD's user-isp / peer-isp).
  kPausedSyncS,
  kPausedSyncT,
  // Protocol A with on_congestion pull-ahead (DRBD's Ahead/Behind): the
  // Primary's link was congested, so it stopped mirroring and records its
  // writes in the bitmap (Ahead); the peer knows it lacks them (Behind,
  // disk Outdated). Once the link has drained, a reconnect resyncs the peer.
  kAhead,
  kBehind,
};

// "Primary", "Secondary"; "Unknown" for an absent peer role.
const char* to_string(Role r);
const char* to_string(std::optional<Role> r);
// "Diskless", "Attaching", "Inconsistent", "Outdated", "UpToDate",
// "Consistent"; "DUnknown" for an absent peer disk.
const char* to_string(DiskState d);
const char* to_string(std::optional<DiskState> d);
// "StandAlone", "Disconnecting", "Connecting", "Connected".
const char* to_string(ConnectionState c);
// "Off", "Established", "SyncSource", "SyncTarget", "VerifyS", "VerifyT",
// "PausedSyncS", "PausedSyncT".
const char* to_string(ReplicationState r);

// The answer of a node asked through the fence path (fence.h) to outdate
// itself because its Primary peer lost the replication link to it. The
// Primary counts kOutdated and kInconsistent as fenced: either way the node
// holds no data that could be promoted in place of the Primary's.
enum class FenceAnswer {
  kOutdated,      // its disk is now Outdated (persisted)
  kInconsistent,  // it has no good image (Inconsistent, Diskless): nothing to outdate
  kPrimary,       // it is Primary itself: two primaries, a split brain in the making
  kConnected,     // it is connected to the asker in the asker's generation: the link is back
  kRefused,       // anything else (its superblock could not be written, ...)
};
// "outdated", "inconsistent", "primary", "connected", "refused" (the fence
// wire format's words).
const char* to_string(FenceAnswer a);

// A snapshot of one resource. Sizes in bytes, rates in bytes per second.
struct ResourceStatus {
  std::string name;
  Role role = Role::kSecondary;
  DiskState disk = DiskState::kDiskless;
  std::optional<Role> peer_role;       // empty unless connected
  // Empty unless connected, or Outdated when not connected and the peer was
  // outdated through the fence path (DRBD shows pdsk:Outdated then too).
  std::optional<DiskState> peer_disk;
  ConnectionState connection = ConnectionState::kStandAlone;
  ReplicationState replication = ReplicationState::kOff;
  std::string peer;  // the connection's peer_description(); empty unless connected

  uint64_t size_bytes = 0;          // replicated data size (0 while Diskless)
  uint64_t out_of_sync_bytes = 0;   // DRBD's "oos", in bytes
  uint64_t resync_total_bytes = 0;  // what the running (or last) resync had to move
  uint64_t resync_done_bytes = 0;
  uint64_t resync_rate = 0;               // achieved by the running (or last) resync, bytes/s
  uint64_t resync_rate_limit = 0;         // configured, bytes/s
  char protocol = 'C';                    // replication protocol: 'A', 'B' or 'C'
  uint64_t resync_equal_bytes = 0;        // checksum-based resync: found equal, not transferred
  uint64_t verify_done_bytes = 0;         // online verify: compared so far (or in the last run)
  uint64_t verify_out_of_sync_bytes = 0;  // online verify: found different
  // Completed since the daemon started, so that an observer polling now and
  // then sees each one, however short (the daemon's notify events).
  uint64_t verifies_finished = 0;           // as the verify's source or its peer
  uint64_t resyncs_finished_as_target = 0;  // this node became UpToDate
  uint64_t resyncs_finished_as_source = 0;  // the peer became UpToDate
  // pause-sync: "" not paused, else who paused, joined by ",": "user" (this
  // node's operator), "after" (resync_after: a resource this one waits for
  // resyncs here), "peer" (the peer's operator or its resync_after). Kept
  // while no resync runs: it holds the next one.
  std::string resync_paused;

  uint64_t io_errors = 0;       // failed local reads/writes since start
  uint64_t sent_bytes = 0;      // frames sent to the peer, headers included
  uint64_t received_bytes = 0;  // bytes received from the peer
  uint64_t written_bytes = 0;   // data written to the local disk (application, peer, resync)
  uint64_t discarded_bytes = 0;  // discarded (TRIM) on the local disk (application, peer)

  bool split_brain = false;      // detected and not resolved automatically
  std::string split_brain_text;  // the decision and why (also when resolved)
  // Generation identifiers (DRBD's show-gi): this node's (while attached),
  // and the peer's as its last Hello named them, with what the handshake
  // that compared them decided ("source-bitmap (rule 50: ...)"). Kept after
  // the link drops: they explain the last connect's decision.
  std::optional<Generations> generations;
  std::optional<Generations> peer_generations;
  std::string last_handshake;
  // fencing resource-and-stonith: writes and flushes are not answered
  // while the peer is being fenced (ResourceOptions::freeze_io_while_fencing).
  bool io_suspended = false;
  std::string io_suspended_why;
  // A Primary's disk given up under on-io-error detach with no peer holding
  // its data: the data is on that disk alone, and reads and writes fail
  // until attach() takes that same disk back (another one is refused).
  // kept_for_write_back_bytes of it, which no flush had made durable, are
  // held in memory to be written back then; a restart loses them.
  bool only_copy_given_up = false;
  uint64_t kept_for_write_back_bytes = 0;
  std::string last_error;        // the last refusal or failure, for the operator
  std::string connection_why;    // why `connection` last changed (a drop's reason)
};

}  // namespace vrrpd::replication
