// Generation identifiers (DRBD's "UUIDs") and the connect-time decision of
// which side, if any, must resync from the other. Pure: no I/O, no clock, no
// randomness (callers pass random values in).
//
// A generation identifier names one "version" of the data. Each node keeps:
//   current     the generation its data is in now;
//   bitmap      the generation at which its out-of-sync bitmap started
//               recording (0 when the bitmap is not in use, i.e. connected and
//               in sync); while disconnected, the bitmap holds exactly the
//               blocks changed since `bitmap`;
//   history[2]  the two generations before that, newest first.
// Bit 0 of every identifier is the primary flag, as in DRBD: it is set in
// `current` while the node is primary, and it survives into `bitmap` when a
// new current generation starts, so bitmap & 1 says "this node was already
// primary when its data diverged" (used by discard-younger/older-primary).
// All comparisons ignore bit 0. Random identifiers therefore have bit 0 clear.
#pragma once

#include <cstdint>
#include <string>

namespace vrrpd::replication {

// Value of `current` on freshly created metadata (DRBD's UUID_JUST_CREATED).
inline constexpr uint64_t kJustCreatedUuid = 4;
// The primary flag in bit 0 of a generation identifier.
inline constexpr uint64_t kUuidPrimaryBit = 1;

struct Generations {
  uint64_t current = kJustCreatedUuid;
  uint64_t bitmap = 0;
  uint64_t history[2] = {0, 0};

  bool operator==(const Generations&) const = default;
};

// The identifier without its primary flag: the value compared by decide().
inline uint64_t uuid_value(uint64_t uuid) { return uuid & ~kUuidPrimaryBit; }

// Generations of freshly created metadata: current = just-created, rest 0.
inline Generations just_created_generations() { return Generations{}; }

// Whether a current generation is "initial": freshly created metadata's
// (create-md, never synced nor promoted: the disk holds nothing of the
// pair's data yet), or never written (0).
inline bool is_initial_uuid(uint64_t uuid) {
  return uuid_value(uuid) == kJustCreatedUuid || uuid_value(uuid) == 0;
}
inline bool is_just_created(const Generations& g) { return is_initial_uuid(g.current); }

// Sets or clears the primary flag in `current` (on promote/demote).
void set_primary_flag(Generations& g, bool primary);

// Starts a new data generation: called when a primary writes without its peer
// (promotion while disconnected, or a primary losing its peer). The old
// current becomes the bitmap generation (keeping its primary flag, see above),
// so the bitmap from now on records what changed since the peer last had the
// same data. If a bitmap generation was already set it is pushed into the
// history first. `random` is a fresh random value; its bit 0 is ignored and
// replaced by `primary`.
void new_current_uuid(Generations& g, uint64_t random, bool primary);

// After a finished resync on the SyncSource side: the bitmap generation is no
// longer needed (the peer has caught up); it moves into history, bitmap = 0.
void clear_bitmap_uuid(Generations& g);

// After a finished resync on the SyncTarget side: the target's data is now the
// source's generation; it takes the source's current and history, with no
// bitmap generation, and its own primary flag clear (a target is secondary).
void adopt_sync_source_generations(Generations& g, const Generations& source);

// Result of comparing the generations of both sides at connect time.
enum class SyncDecision {
  kNone,          // same data (or nothing can be decided): no resync
  kSourceBitmap,  // we are SyncSource; resync the blocks in the bitmaps
  kTargetBitmap,  // we are SyncTarget; resync the blocks in the bitmaps
  kSourceFull,    // we are SyncSource; resync every block
  kTargetFull,    // we are SyncTarget; resync every block
  kSplitBrain,    // both sides changed the data independently
  kUnrelated,     // no common generation: different data sets; refuse
  kBothInitial,   // both just created: the operator must pick the source
};

// Stable lower-case name ("source-bitmap", "split-brain", ...) for logs.
const char* to_string(SyncDecision d);

// An identifier as people read it (show-gi, dump-md, the status JSON): 16
// upper-case hex digits, bit 0 the Primary flag as stored. Hex, as DRBD
// prints them, and as a string in JSON, where many readers lose the low
// bits of a 64-bit number.
std::string generation_hex(uint64_t uuid);

// A whole set as "current:bitmap:history0:history1" (dump-md, the
// handshake's log line).
std::string generations_text(const Generations& g);

// What decide() needs besides the two generation sets.
struct HandshakeFlags {
  // Our metadata had was_primary set at attach: we crashed while primary
  // (DRBD's CRASHED_PRIMARY); our activity-log extents are in the bitmap.
  bool self_crashed_primary = false;
  // The same flag as reported by the peer.
  bool peer_crashed_primary = false;
  // Tie-breaker when both sides are symmetric (both crashed primaries): the
  // side for which this is true becomes SyncTarget. The two peers must
  // compute opposite values (e.g. from comparing node ids), as DRBD's
  // RESOLVE_CONFLICTS bit.
  bool self_resolves_conflicts = false;
};

// decide() with the DRBD rule number and an operator-readable reason.
struct HandshakeResult {
  SyncDecision decision = SyncDecision::kNone;
  int rule = 0;  // DRBD 8.4 drbd_uuid_compare() rule number
  // For kSplitBrain: true when the bitmaps share a generation (rule 90), so
  // the after-sb policies may pick a winner and a bitmap resync suffices;
  // false when only the histories meet (rule 100): never resolved
  // automatically here, and resolving it by hand needs a full sync.
  bool auto_resolvable = false;
  std::string reason;
};

// The connect-time comparison, rule by rule as DRBD 8.4's drbd_uuid_compare;
// see generations.cc and README.md ("Sync decision") for each rule.
HandshakeResult compare_generations(const Generations& self, const Generations& peer,
                                    const HandshakeFlags& flags = {});

// compare_generations(...).decision.
SyncDecision decide(const Generations& self, const Generations& peer, const HandshakeFlags& flags = {});

}  // namespace vrrpd::replication
