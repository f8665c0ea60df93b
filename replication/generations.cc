// Generation identifiers and the connect-time sync decision; see
// generations.h. The rules follow DRBD 8.4 drbd_uuid_compare() in order, with
// its rule numbers, so that a log line "rule 50" can be looked up in DRBD's
// documentation as well as here.
#include "replication/generations.h"

#include <cstdio>

namespace vrrpd::replication {

namespace {

bool is_initial(uint64_t uuid) { return is_initial_uuid(uuid); }

bool same(uint64_t a, uint64_t b) { return uuid_value(a) == uuid_value(b); }

HandshakeResult result(SyncDecision d, int rule, std::string reason, bool auto_resolvable = false) {
  return HandshakeResult{d, rule, auto_resolvable, std::move(reason)};
}

// Equal current generations (rules 34-40): the data was the same when the
// two last talked; what remains is an unfinished resync or a crashed primary.
HandshakeResult compare_equal_currents(const Generations& self, const Generations& peer,
                                       const HandshakeFlags& flags) {
  if (peer.bitmap == 0 && self.bitmap != 0) {
    // Only we still have a bitmap generation: we were SyncSource and the end
    // of that resync was not recorded on our side (rule 34: the peer already
    // moved our bitmap generation into its history, so the resync did end;
    // the caller should clear_bitmap_uuid()) or the peer never recorded the
    // start (rule 36). Either way resuming from our bitmap is correct; an
    // already-finished resync has a clean bitmap and ends at once.
    const bool finished = same(self.bitmap, peer.history[0]) && same(self.history[0], peer.history[1]);
    return result(SyncDecision::kSourceBitmap, finished ? 34 : 36,
                  finished ? "we were SyncSource and missed the resync-finished event"
                           : "we were SyncSource; the peer did not record the resync start");
  }
  if (self.bitmap == 0 && peer.bitmap != 0) {
    const bool finished = same(self.history[0], peer.bitmap) && same(self.history[1], peer.history[0]);
    return result(SyncDecision::kTargetBitmap, finished ? 35 : 37,
                  finished ? "we were SyncTarget and the peer missed the resync-finished event"
                           : "we were SyncTarget; we did not record the resync start");
  }
  // Rule 40, "common power failure": a primary that crashed may have written
  // blocks (the extents of its activity log, now in its bitmap) that never
  // reached the secondary, so the crashed primary is the source.
  if (!flags.self_crashed_primary && !flags.peer_crashed_primary) {
    return result(SyncDecision::kNone, 40, "same current generation; no resync needed");
  }
  if (flags.self_crashed_primary && !flags.peer_crashed_primary) {
    return result(
        SyncDecision::kSourceBitmap, 40,
        "same current generation; we crashed as primary: resync our activity-log extents to the peer");
  }
  if (!flags.self_crashed_primary && flags.peer_crashed_primary) {
    return result(
        SyncDecision::kTargetBitmap, 40,
        "same current generation; the peer crashed as primary: resync its activity-log extents from it");
  }
  return flags.self_resolves_conflicts
             ? result(SyncDecision::kTargetBitmap, 40,
                      "same current generation; both crashed as primary; the tie-breaker makes us SyncTarget")
             : result(
                   SyncDecision::kSourceBitmap, 40,
                   "same current generation; both crashed as primary; the tie-breaker makes us SyncSource");
}

}  // namespace

void set_primary_flag(Generations& g, bool primary) {
  g.current = primary ? (g.current | kUuidPrimaryBit) : uuid_value(g.current);
}

void new_current_uuid(Generations& g, uint64_t random, bool primary) {
  if (g.bitmap != 0) {
    // A bitmap generation is already in use (we were disconnected before and
    // start yet another generation); it must not be lost, because it is what
    // the peer may still have as its current.
    g.history[1] = g.history[0];
    g.history[0] = g.bitmap;
  }
  g.bitmap = g.current;  // keeps its primary flag: "was primary at the split"
  g.current = uuid_value(random) | (primary ? kUuidPrimaryBit : 0);
}

void clear_bitmap_uuid(Generations& g) {
  if (g.bitmap == 0) return;
  g.history[1] = g.history[0];
  g.history[0] = g.bitmap;
  g.bitmap = 0;
}

void adopt_sync_source_generations(Generations& g, const Generations& source) {
  g.current = uuid_value(source.current);
  g.bitmap = 0;
  g.history[0] = source.history[0];
  g.history[1] = source.history[1];
}

std::string generation_hex(uint64_t uuid) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(uuid));
  return buf;
}

std::string generations_text(const Generations& g) {
  return generation_hex(g.current) + ":" + generation_hex(g.bitmap) + ":" + generation_hex(g.history[0]) + ":" +
         generation_hex(g.history[1]);
}

const char* to_string(SyncDecision d) {
  switch (d) {
    case SyncDecision::kNone:
      return "none";
    case SyncDecision::kSourceBitmap:
      return "source-bitmap";
    case SyncDecision::kTargetBitmap:
      return "target-bitmap";
    case SyncDecision::kSourceFull:
      return "source-full";
    case SyncDecision::kTargetFull:
      return "target-full";
    case SyncDecision::kSplitBrain:
      return "split-brain";
    case SyncDecision::kUnrelated:
      return "unrelated";
    case SyncDecision::kBothInitial:
      return "both-initial";
  }
  return "?";
}

HandshakeResult compare_generations(const Generations& self, const Generations& peer,
                                    const HandshakeFlags& flags) {
  // Rule 10: both sides are new. Neither has data the other lacks, so nothing
  // tells which one to copy; the operator must choose the initial SyncSource
  // (e.g. "vrrpctl replication new-current-uuid" / primary --force on it).
  if (is_initial(self.current) && is_initial(peer.current)) {
    return result(SyncDecision::kBothInitial, 10,
                  "both sides have just-created metadata; choose the initial sync source explicitly");
  }
  // Rule 20/30: one side is new: it gets everything from the other.
  if (is_initial(self.current)) {
    return result(SyncDecision::kTargetFull, 20, "our metadata is just created; full sync from the peer");
  }
  if (is_initial(peer.current)) {
    return result(SyncDecision::kSourceFull, 30,
                  "the peer's metadata is just created; full sync to the peer");
  }
  if (same(self.current, peer.current)) return compare_equal_currents(self, peer, flags);

  // Rule 50: the peer's bitmap started at our current generation: the peer
  // wrote while we were away and its bitmap holds exactly those blocks.
  if (same(peer.bitmap, self.current)) {
    return result(SyncDecision::kTargetBitmap, 50,
                  "the peer changed data since our current generation; bitmap resync from the peer");
  }
  // Rule 60: our current is in the peer's history: the peer moved on by more
  // than its bitmap covers; only a full sync is safe.
  if (same(self.current, peer.history[0]) || same(self.current, peer.history[1])) {
    return result(SyncDecision::kTargetFull, 60,
                  "our current generation is in the peer's history; full sync from the peer");
  }
  // Rule 70/80: the mirror images of rules 50/60.
  if (same(self.bitmap, peer.current)) {
    return result(SyncDecision::kSourceBitmap, 70,
                  "we changed data since the peer's current generation; bitmap resync to the peer");
  }
  if (same(peer.current, self.history[0]) || same(peer.current, self.history[1])) {
    return result(SyncDecision::kSourceFull, 80,
                  "the peer's current generation is in our history; full sync to the peer");
  }
  // Rule 90: both bitmaps start at the same generation but the currents
  // differ: both sides wrote after the split. Both bitmaps together cover
  // every differing block, so an after-sb policy may pick a winner.
  if (self.bitmap != 0 && same(self.bitmap, peer.bitmap)) {
    return result(SyncDecision::kSplitBrain, 90,
                  "split brain: both sides changed data since the common generation", true);
  }
  // Rule 100: only the histories meet: diverged further back than the bitmaps
  // reach; no automatic resolution (DRBD: only with always-asbp, full sync).
  for (uint64_t s : self.history) {
    for (uint64_t p : peer.history) {
      if (uuid_value(s) != 0 && same(s, p)) {
        return result(SyncDecision::kSplitBrain, 100,
                      "split brain: the data diverged before either bitmap started; resolve by hand", false);
      }
    }
  }
  // DRBD's -1000: no generation in common.
  return result(SyncDecision::kUnrelated, -1000, "unrelated data: no common generation; refusing to sync");
}

SyncDecision decide(const Generations& self, const Generations& peer, const HandshakeFlags& flags) {
  return compare_generations(self, peer, flags).decision;
}

}  // namespace vrrpd::replication
