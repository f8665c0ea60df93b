// After-split-brain policies; see split_brain.h. Follows DRBD 8.4
// drbd_asb_recover_0p/1p/2p, including its fall-through order:
// discard-younger/older-primary fall back to zero changes, then to least
// changes; discard-zero-changes does not fall back further.
#include "replication/split_brain.h"

namespace vrrpd::replication {

namespace {

using W = SplitBrainWinner;

std::string blocks(const SplitBrainFacts& f) {
  return "we changed " + std::to_string(f.self_changed_blocks) + " blocks, the peer " +
         std::to_string(f.peer_changed_blocks);
}

SplitBrainResolution tie_break(const SplitBrainFacts& f, const std::string& why) {
  return {f.self_resolves_conflicts ? W::kPeer : W::kSelf,
          why + "; tie broken by node order: " +
              (f.self_resolves_conflicts ? "discarding our changes" : "discarding the peer's changes")};
}

// Zero-changes rule; nullopt-like kNone with empty reason when it cannot decide.
SplitBrainResolution zero_changes(const SplitBrainFacts& f) {
  const std::string p = "discard-zero-changes: " + blocks(f);
  if (f.self_changed_blocks == 0 && f.peer_changed_blocks == 0)
    return tie_break(f, p + ", no changes on either side");
  if (f.peer_changed_blocks == 0) return {W::kSelf, p + "; discarding the peer (no changes)"};
  if (f.self_changed_blocks == 0) return {W::kPeer, p + "; discarding ours (no changes)"};
  return {W::kNone, ""};
}

SplitBrainResolution least_changes(const SplitBrainFacts& f) {
  const std::string p = "discard-least-changes: " + blocks(f);
  if (f.self_changed_blocks < f.peer_changed_blocks) return {W::kPeer, p + "; discarding our changes"};
  if (f.self_changed_blocks > f.peer_changed_blocks) return {W::kSelf, p + "; discarding the peer's changes"};
  return tie_break(f, p + ", equal");
}

SplitBrainResolution recover_0pri(AfterSb0Pri policy, const SplitBrainFacts& f) {
  const std::string prefix = std::string("after-sb-0pri ") + to_string(policy) + ": ";
  const bool self_younger = !f.self_primary_at_split && f.peer_primary_at_split;
  const bool peer_younger = f.self_primary_at_split && !f.peer_primary_at_split;
  switch (policy) {
    case AfterSb0Pri::kDisconnect:
      return {W::kNone, prefix + "no automatic recovery; disconnecting"};
    case AfterSb0Pri::kDiscardYoungerPrimary:
      if (self_younger)
        return {W::kPeer, prefix + "we became primary after the split; discarding our changes"};
      if (peer_younger)
        return {W::kSelf, prefix + "the peer became primary after the split; discarding its changes"};
      break;
    case AfterSb0Pri::kDiscardOlderPrimary:
      if (self_younger)
        return {W::kSelf, prefix + "the peer was primary before the split; discarding its changes"};
      if (peer_younger)
        return {W::kPeer, prefix + "we were primary before the split; discarding our changes"};
      break;
    case AfterSb0Pri::kDiscardZeroChanges: {
      auto r = zero_changes(f);
      if (r.winner == W::kNone)
        return {W::kNone, prefix + "both sides changed data (" + blocks(f) + "); disconnecting"};
      return {r.winner, prefix + r.reason};
    }
    case AfterSb0Pri::kDiscardLeastChanges: {
      auto r = least_changes(f);
      return {r.winner, prefix + r.reason};
    }
  }
  // Younger/older primary could not decide (both or neither were primary at
  // the split): DRBD falls through to zero changes, then least changes.
  const std::string fallback = prefix + "could not tell the primaries apart; falling back to ";
  auto z = zero_changes(f);
  if (z.winner != W::kNone) return {z.winner, fallback + z.reason};
  auto l = least_changes(f);
  return {l.winner, fallback + l.reason};
}

SplitBrainResolution recover_1pri(const SplitBrainPolicy& policy, const SplitBrainFacts& f) {
  const std::string prefix = std::string("after-sb-1pri ") + to_string(policy.after_sb_1pri) + ": ";
  switch (policy.after_sb_1pri) {
    case AfterSb1Pri::kDisconnect:
      return {W::kNone, prefix + "no automatic recovery; disconnecting"};
    case AfterSb1Pri::kDiscardSecondary:
      return f.self_primary
                 ? SplitBrainResolution{W::kSelf,
                                        prefix + "we are primary; discarding the secondary peer's changes"}
                 : SplitBrainResolution{W::kPeer, prefix + "we are secondary; discarding our changes"};
    case AfterSb1Pri::kConsensus: {
      // Accept the 0pri verdict only if it discards the secondary's data; the
      // primary's data is in use and must never be thrown away here.
      auto r = recover_0pri(policy.after_sb_0pri, f);
      const W secondary = f.self_primary ? W::kPeer : W::kSelf;
      if (r.winner != W::kNone && r.winner != secondary) return {r.winner, prefix + r.reason};
      if (r.winner == W::kNone) return {W::kNone, prefix + r.reason};
      return {W::kNone, prefix + "(" + r.reason + ") would discard the primary's data; disconnecting"};
    }
  }
  return {W::kNone, prefix + "unknown policy; disconnecting"};
}

}  // namespace

SplitBrainResolution resolve_split_brain(const SplitBrainPolicy& policy, const SplitBrainFacts& f) {
  const int primaries = (f.self_primary ? 1 : 0) + (f.peer_primary ? 1 : 0);
  if (primaries == 0) return recover_0pri(policy.after_sb_0pri, f);
  if (primaries == 1) return recover_1pri(policy, f);
  return {W::kNone, "after-sb-2pri disconnect: both sides are primary; disconnecting"};
}

const char* to_string(SplitBrainWinner w) {
  switch (w) {
    case W::kSelf:
      return "self";
    case W::kPeer:
      return "peer";
    case W::kNone:
      return "none";
  }
  return "?";
}

const char* to_string(AfterSb0Pri p) {
  switch (p) {
    case AfterSb0Pri::kDisconnect:
      return "disconnect";
    case AfterSb0Pri::kDiscardYoungerPrimary:
      return "discard-younger-primary";
    case AfterSb0Pri::kDiscardOlderPrimary:
      return "discard-older-primary";
    case AfterSb0Pri::kDiscardZeroChanges:
      return "discard-zero-changes";
    case AfterSb0Pri::kDiscardLeastChanges:
      return "discard-least-changes";
  }
  return "?";
}

const char* to_string(AfterSb1Pri p) {
  switch (p) {
    case AfterSb1Pri::kDisconnect:
      return "disconnect";
    case AfterSb1Pri::kConsensus:
      return "consensus";
    case AfterSb1Pri::kDiscardSecondary:
      return "discard-secondary";
  }
  return "?";
}

}  // namespace vrrpd::replication
