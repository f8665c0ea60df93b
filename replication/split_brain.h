// Automatic split-brain recovery policies (DRBD's after-sb-0pri/1pri/2pri),
// pure: given the roles and what each side changed since the split, pick the
// side whose data survives, or none (disconnect and wait for the operator).
// Every outcome carries a reason string for the log; nothing is discarded
// silently. Only used when compare_generations() returned kSplitBrain with
// auto_resolvable.
#pragma once

#include <cstdint>
#include <string>

namespace vrrpd::replication {

// Policy when neither side is primary at reconnect.
enum class AfterSb0Pri {
  kDisconnect,             // no automatic recovery
  kDiscardYoungerPrimary,  // keep the side that was primary before the split
  kDiscardOlderPrimary,    // keep the side that became primary after the split
  kDiscardZeroChanges,     // if exactly one side wrote nothing, it loses
  kDiscardLeastChanges,    // the side with fewer changed blocks loses
};

// Policy when exactly one side is primary at reconnect.
enum class AfterSb1Pri {
  kDisconnect,
  kConsensus,         // apply after-sb-0pri; accept only if it discards the secondary
  kDiscardSecondary,  // the primary's data always wins
};

// Policy when both sides are primary at reconnect: never resolved here.
enum class AfterSb2Pri { kDisconnect };

struct SplitBrainPolicy {
  AfterSb0Pri after_sb_0pri = AfterSb0Pri::kDisconnect;
  AfterSb1Pri after_sb_1pri = AfterSb1Pri::kDisconnect;
  AfterSb2Pri after_sb_2pri = AfterSb2Pri::kDisconnect;
};

// What is known about both sides at reconnect.
struct SplitBrainFacts {
  bool self_primary = false;  // roles now
  bool peer_primary = false;
  // Blocks set in each side's out-of-sync bitmap: what it wrote since the split.
  uint64_t self_changed_blocks = 0;
  uint64_t peer_changed_blocks = 0;
  // Whether each side was already primary when the data diverged: bit 0 of
  // its bitmap generation (see generations.h). The side with false became
  // primary later: the "younger" primary.
  bool self_primary_at_split = false;
  bool peer_primary_at_split = false;
  // Tie-breaker for equal changes; the two sides must compute opposite values
  // (see HandshakeFlags::self_resolves_conflicts). True: we lose ties.
  bool self_resolves_conflicts = false;
};

enum class SplitBrainWinner {
  kSelf,  // our data survives: we become SyncSource, the peer's changes are discarded
  kPeer,  // the peer's data survives: we become SyncTarget, our changes are discarded
  kNone,  // no automatic decision: disconnect, the operator decides
};

const char* to_string(SplitBrainWinner w);

struct SplitBrainResolution {
  SplitBrainWinner winner = SplitBrainWinner::kNone;
  std::string reason;  // always set, e.g. "after-sb-0pri discard-least-changes: ..."
};

// Applies the policy for the number of current primaries (0, 1 or 2).
SplitBrainResolution resolve_split_brain(const SplitBrainPolicy& policy, const SplitBrainFacts& facts);

// Config names as in drbd.conf ("discard-younger-primary", ...), for logs.
const char* to_string(AfterSb0Pri p);
const char* to_string(AfterSb1Pri p);

}  // namespace vrrpd::replication
