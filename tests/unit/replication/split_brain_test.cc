// After-split-brain policies: each after-sb-0pri/1pri/2pri policy with the
// winner it must pick and a reason that names the policy; no outcome without
// a reason.
#include "replication/split_brain.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vrrpd::replication {
namespace {

using W = SplitBrainWinner;

struct Case {
  const char* name;
  SplitBrainPolicy policy;
  SplitBrainFacts facts;
  W expected;
  const char* reason_contains;
};

SplitBrainPolicy p0(AfterSb0Pri p) { return {.after_sb_0pri = p}; }
SplitBrainPolicy p1(AfterSb1Pri p, AfterSb0Pri zero = AfterSb0Pri::kDisconnect) {
  return {.after_sb_0pri = zero, .after_sb_1pri = p};
}

// Facts builder: changed blocks and who was primary at the split.
SplitBrainFacts changes(uint64_t self, uint64_t peer) {
  return {.self_changed_blocks = self, .peer_changed_blocks = peer};
}
SplitBrainFacts at_split(bool self_pri, bool peer_pri, uint64_t self_ch = 5, uint64_t peer_ch = 5) {
  SplitBrainFacts f = changes(self_ch, peer_ch);
  f.self_primary_at_split = self_pri;
  f.peer_primary_at_split = peer_pri;
  return f;
}
SplitBrainFacts roles(bool self_pri, bool peer_pri, SplitBrainFacts f) {
  f.self_primary = self_pri;
  f.peer_primary = peer_pri;
  return f;
}
SplitBrainFacts loses_ties(SplitBrainFacts f) {
  f.self_resolves_conflicts = true;
  return f;
}

void test_resolution(const Case& c) {
  SCOPED_TRACE(c.name);
  const SplitBrainResolution r = resolve_split_brain(c.policy, c.facts);
  EXPECT_EQ(std::string(to_string(r.winner)), to_string(c.expected));
  EXPECT_NE(r.reason.find(c.reason_contains), std::string::npos) << r.reason;
}

TEST(SplitBrain, AfterSb0PriPolicies) {
  using P = AfterSb0Pri;
  const std::vector<Case> cases = {
      {"disconnect", p0(P::kDisconnect), changes(1, 100), W::kNone, "after-sb-0pri disconnect"},
      {"younger primary: we are younger", p0(P::kDiscardYoungerPrimary), at_split(false, true), W::kPeer, "we became primary after the split"},
      {"younger primary: peer is younger", p0(P::kDiscardYoungerPrimary), at_split(true, false), W::kSelf, "the peer became primary after the split"},
      {"younger primary: undecided falls back to least changes", p0(P::kDiscardYoungerPrimary), at_split(true, true, 3, 9), W::kPeer, "falling back to discard-least-changes"},
      {"younger primary: undecided falls back to zero changes", p0(P::kDiscardYoungerPrimary), at_split(false, false, 0, 9), W::kPeer, "falling back to discard-zero-changes"},
      {"older primary: we are younger", p0(P::kDiscardOlderPrimary), at_split(false, true), W::kSelf, "the peer was primary before the split"},
      {"older primary: peer is younger", p0(P::kDiscardOlderPrimary), at_split(true, false), W::kPeer, "we were primary before the split"},
      {"older primary: undecided falls back", p0(P::kDiscardOlderPrimary), at_split(false, false, 9, 3), W::kSelf, "discard-least-changes"},
      {"zero changes: peer wrote nothing", p0(P::kDiscardZeroChanges), changes(7, 0), W::kSelf, "discarding the peer (no changes)"},
      {"zero changes: we wrote nothing", p0(P::kDiscardZeroChanges), changes(0, 7), W::kPeer, "discarding ours (no changes)"},
      {"zero changes: neither wrote, we win tie", p0(P::kDiscardZeroChanges), changes(0, 0), W::kSelf, "tie broken"},
      {"zero changes: neither wrote, we lose tie", p0(P::kDiscardZeroChanges), loses_ties(changes(0, 0)), W::kPeer, "tie broken"},
      {"zero changes: both wrote", p0(P::kDiscardZeroChanges), changes(1, 2), W::kNone, "both sides changed data"},
      {"least changes: we changed less", p0(P::kDiscardLeastChanges), changes(3, 4), W::kPeer, "we changed 3 blocks, the peer 4"},
      {"least changes: peer changed less", p0(P::kDiscardLeastChanges), changes(40, 4), W::kSelf, "discarding the peer's changes"},
      {"least changes: equal, we lose tie", p0(P::kDiscardLeastChanges), loses_ties(changes(4, 4)), W::kPeer, "tie broken"},
  };
  for (const Case& c : cases) test_resolution(c);
}

TEST(SplitBrain, AfterSb1PriPolicies) {
  using P = AfterSb1Pri;
  using Z = AfterSb0Pri;
  const std::vector<Case> cases = {
      {"disconnect", p1(P::kDisconnect), roles(true, false, changes(0, 5)), W::kNone, "after-sb-1pri disconnect"},
      {"discard secondary: we are primary", p1(P::kDiscardSecondary), roles(true, false, changes(1, 50)), W::kSelf, "we are primary"},
      {"discard secondary: we are secondary", p1(P::kDiscardSecondary), roles(false, true, changes(50, 1)), W::kPeer, "we are secondary"},
      {"consensus: 0pri discards the secondary (peer)", p1(P::kConsensus, Z::kDiscardLeastChanges), roles(true, false, changes(9, 2)), W::kSelf, "after-sb-1pri consensus"},
      {"consensus: 0pri discards the secondary (us)", p1(P::kConsensus, Z::kDiscardZeroChanges), roles(false, true, changes(0, 2)), W::kPeer, "discarding ours"},
      {"consensus: 0pri would discard the primary", p1(P::kConsensus, Z::kDiscardLeastChanges), roles(true, false, changes(2, 9)), W::kNone, "would discard the primary's data"},
      {"consensus: 0pri undecided", p1(P::kConsensus, Z::kDisconnect), roles(true, false, changes(9, 2)), W::kNone, "disconnecting"},
  };
  for (const Case& c : cases) test_resolution(c);
}

TEST(SplitBrain, TwoPrimariesAlwaysDisconnect) {
  SplitBrainPolicy permissive{AfterSb0Pri::kDiscardLeastChanges, AfterSb1Pri::kDiscardSecondary, AfterSb2Pri::kDisconnect};
  const SplitBrainResolution r = resolve_split_brain(permissive, roles(true, true, changes(0, 100)));
  EXPECT_EQ(r.winner, W::kNone);
  EXPECT_NE(r.reason.find("after-sb-2pri disconnect"), std::string::npos) << r.reason;
}

TEST(SplitBrain, PeersWithOppositeTieBreakersPickTheSameWinner) {
  // Each side evaluates from its own point of view; the results must agree
  // (one says self, the other says peer), or both would become SyncSource.
  SplitBrainFacts x = changes(4, 4), y = loses_ties(changes(4, 4));
  const auto rx = resolve_split_brain(p0(AfterSb0Pri::kDiscardLeastChanges), x);
  const auto ry = resolve_split_brain(p0(AfterSb0Pri::kDiscardLeastChanges), y);
  EXPECT_EQ(rx.winner, W::kSelf);
  EXPECT_EQ(ry.winner, W::kPeer);
}

}  // namespace
}  // namespace vrrpd::replication
