// Generation identifiers: the helpers that move them on promotion and after a
// resync, and every connect-time rule of compare_generations() with the
// decision and DRBD rule number it must produce (one table, a SCOPED_TRACE
// per case, Kea style).
#include "replication/generations.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vrrpd::replication {
namespace {

constexpr uint64_t A = 0xA000, B = 0xB000, C = 0xC000, D = 0xD000, E = 0xE000, F = 0xF000;
constexpr uint64_t JC = kJustCreatedUuid;

Generations gen(uint64_t current, uint64_t bitmap = 0, uint64_t h0 = 0, uint64_t h1 = 0) {
  return Generations{current, bitmap, {h0, h1}};
}

struct Case {
  const char* name;
  Generations self;
  Generations peer;
  HandshakeFlags flags;
  SyncDecision expected;
  int rule;
};

void test_decision(const Case& c) {
  SCOPED_TRACE(c.name);
  const HandshakeResult r = compare_generations(c.self, c.peer, c.flags);
  EXPECT_EQ(to_string(r.decision), std::string(to_string(c.expected)));
  EXPECT_EQ(r.rule, c.rule);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_EQ(decide(c.self, c.peer, c.flags), c.expected);
}

TEST(SyncDecision, EveryHandshakeRuleGivesItsDecision) {
  const HandshakeFlags none{};
  const HandshakeFlags self_crashed{.self_crashed_primary = true};
  const HandshakeFlags peer_crashed{.peer_crashed_primary = true};
  const HandshakeFlags both_we_lose{true, true, true};
  const HandshakeFlags both_we_win{true, true, false};
  const std::vector<Case> cases = {
      {"both just created", gen(JC), gen(JC), none, SyncDecision::kBothInitial, 10},
      {"both zero (never written)", gen(0), gen(0), none, SyncDecision::kBothInitial, 10},
      {"we are just created", gen(JC), gen(A), none, SyncDecision::kTargetFull, 20},
      {"peer is just created", gen(A), gen(JC), none, SyncDecision::kSourceFull, 30},
      {"peer just created, primary bit set on ours", gen(A | 1), gen(JC), none, SyncDecision::kSourceFull, 30},
      {"same current, clean shutdown", gen(A, 0, B), gen(A, 0, B), none, SyncDecision::kNone, 40},
      {"same current, primary bits differ", gen(A | 1), gen(A), none, SyncDecision::kNone, 40},
      {"same current, we crashed as primary", gen(A), gen(A), self_crashed, SyncDecision::kSourceBitmap, 40},
      {"same current, peer crashed as primary", gen(A), gen(A), peer_crashed, SyncDecision::kTargetBitmap, 40},
      {"same current, both crashed, we lose the tie", gen(A), gen(A), both_we_lose, SyncDecision::kTargetBitmap, 40},
      {"same current, both crashed, we win the tie", gen(A), gen(A), both_we_win, SyncDecision::kSourceBitmap, 40},
      {"same current, we missed resync-finished", gen(A, B, C), gen(A, 0, B, C), none, SyncDecision::kSourceBitmap, 34},
      {"same current, peer did not record resync start", gen(A, B, C), gen(A, 0, D), none, SyncDecision::kSourceBitmap, 36},
      {"same current, peer missed resync-finished", gen(A, 0, B, C), gen(A, B, C), none, SyncDecision::kTargetBitmap, 35},
      {"same current, we did not record resync start", gen(A, 0, D), gen(A, B, C), none, SyncDecision::kTargetBitmap, 37},
      {"peer wrote since our current", gen(A, 0, C), gen(B, A, C), none, SyncDecision::kTargetBitmap, 50},
      {"peer wrote, its bitmap uuid has primary bit", gen(A), gen(B | 1, A | 1), none, SyncDecision::kTargetBitmap, 50},
      {"our current is in peer history[0]", gen(A), gen(B, C, A), none, SyncDecision::kTargetFull, 60},
      {"our current is in peer history[1]", gen(A), gen(B, C, D, A), none, SyncDecision::kTargetFull, 60},
      {"we wrote since the peer's current", gen(B, A, C), gen(A, 0, C), none, SyncDecision::kSourceBitmap, 70},
      {"peer current is in our history[0]", gen(B, C, A), gen(A), none, SyncDecision::kSourceFull, 80},
      {"peer current is in our history[1]", gen(B, C, D, A), gen(A), none, SyncDecision::kSourceFull, 80},
      {"both wrote since the common generation", gen(B, A, C), gen(D, A, C), none, SyncDecision::kSplitBrain, 90},
      {"both wrote, primary bits in bitmaps differ", gen(B, A | 1, C), gen(D, A, C), none, SyncDecision::kSplitBrain, 90},
      {"only histories meet", gen(B, C, E), gen(D, F, E), none, SyncDecision::kSplitBrain, 100},
      {"nothing in common", gen(A, B, C, D), gen(E, F), none, SyncDecision::kUnrelated, -1000},
      {"empty histories are not a common generation", gen(A), gen(B), none, SyncDecision::kUnrelated, -1000},
  };
  for (const Case& c : cases) test_decision(c);
}

TEST(SyncDecision, OnlyBitmapSplitBrainIsAutoResolvable) {
  EXPECT_TRUE(compare_generations(gen(B, A, C), gen(D, A, C)).auto_resolvable);
  EXPECT_FALSE(compare_generations(gen(B, C, E), gen(D, F, E)).auto_resolvable);
}

TEST(SyncDecision, IsSymmetricBetweenThePeers) {
  // What one side decides, the other must decide mirrored, or both would
  // try to be SyncSource.
  auto mirror = [](SyncDecision d) {
    switch (d) {
      case SyncDecision::kSourceBitmap: return SyncDecision::kTargetBitmap;
      case SyncDecision::kTargetBitmap: return SyncDecision::kSourceBitmap;
      case SyncDecision::kSourceFull: return SyncDecision::kTargetFull;
      case SyncDecision::kTargetFull: return SyncDecision::kSourceFull;
      default: return d;
    }
  };
  const std::vector<std::pair<Generations, Generations>> pairs = {
      {gen(JC), gen(A)}, {gen(A, 0, C), gen(B, A, C)}, {gen(A), gen(B, C, A)},
      {gen(B, A, C), gen(D, A, C)}, {gen(A, B, C), gen(A, 0, B, C)}, {gen(A), gen(E, F)}};
  for (const auto& [x, y] : pairs) {
    SCOPED_TRACE(std::to_string(x.current) + " vs " + std::to_string(y.current));
    EXPECT_EQ(decide(y, x), mirror(decide(x, y)));
  }
  // Both crashed primaries: the tie-breaker flags are opposite on the peers.
  EXPECT_EQ(decide(gen(A), gen(A), {true, true, true}),
            mirror(decide(gen(A), gen(A), {true, true, false})));
}

TEST(Generations, NewCurrentUuidMovesCurrentToBitmapAndKeepsPrimaryBit) {
  Generations g = gen(A | 1, 0, C, D);
  new_current_uuid(g, E | 1, true);
  EXPECT_EQ(g, gen(E | 1, A | 1, C, D));  // random's bit 0 replaced by the role
  new_current_uuid(g, F, false);
  // The bitmap generation was in use: it moves into history first.
  EXPECT_EQ(g, gen(F, E | 1, A | 1, C));
}

TEST(Generations, PrimaryDisconnectedThenReconnectResyncsByBitmap) {
  // Connected, in sync, both at A; the primary loses the peer and writes.
  Generations primary = gen(A | 1, 0, C), secondary = gen(A, 0, C);
  new_current_uuid(primary, B, true);
  EXPECT_EQ(decide(primary, secondary), SyncDecision::kSourceBitmap);
  EXPECT_EQ(decide(secondary, primary), SyncDecision::kTargetBitmap);
  // Resync finished: source drops the bitmap generation, target adopts.
  clear_bitmap_uuid(primary);
  adopt_sync_source_generations(secondary, primary);
  EXPECT_EQ(primary, gen(B | 1, 0, A | 1, C));
  EXPECT_EQ(secondary, gen(B, 0, A | 1, C));
  EXPECT_EQ(decide(primary, secondary), SyncDecision::kNone);
}

TEST(Generations, BothPromotedWhileApartIsSplitBrain) {
  Generations x = gen(A, 0, C), y = gen(A, 0, C);
  new_current_uuid(x, B, true);
  new_current_uuid(y, D, true);
  const HandshakeResult r = compare_generations(x, y);
  EXPECT_EQ(r.decision, SyncDecision::kSplitBrain);
  EXPECT_TRUE(r.auto_resolvable);
}

TEST(Generations, ClearBitmapUuidWithoutBitmapChangesNothing) {
  Generations g = gen(A, 0, C, D);
  clear_bitmap_uuid(g);
  EXPECT_EQ(g, gen(A, 0, C, D));
}

TEST(Generations, PrimaryFlagSetAndClearedInCurrentOnly) {
  Generations g = gen(A, B);
  set_primary_flag(g, true);
  EXPECT_EQ(g.current, A | 1);
  set_primary_flag(g, false);
  EXPECT_EQ(g, gen(A, B));
}

TEST(GenerationHex, SixteenUpperCaseDigitsWithThePrimaryBitAsStored) {
  EXPECT_EQ(generation_hex(0), "0000000000000000");
  EXPECT_EQ(generation_hex(0x1234567890ABCDE1), "1234567890ABCDE1");
  EXPECT_EQ(generation_hex(UINT64_MAX), "FFFFFFFFFFFFFFFF");
}

}  // namespace
}  // namespace vrrpd::replication
