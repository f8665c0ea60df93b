// Resource: the connect handshake's verdicts. Split brain is detected,
// reported and resolved exactly as the configured after-sb policy says (or
// not at all); connections that must not happen (wrong secret, different
// sizes or protocols, another protocol version, unrelated data) are refused
// with a message for the operator and without writing to either disk.
#include <gtest/gtest.h>

#include "replication/metadata.h"
#include "replication/resource.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using std::chrono::seconds;

class SplitBrainTest : public ResourcePairTest {
 protected:
  // a is Primary; the link breaks; a writes a_blocks blocks, b is promoted
  // and writes b_blocks blocks (other places); then each is demoted unless
  // told to stay Primary, and the link comes back.
  void diverge(int a_blocks, int b_blocks, bool a_stays_primary, bool b_stays_primary) {
    bring_up_synced();
    net.set_link_up(false);
    settle();
    for (int i = 0; i < a_blocks; ++i)
      ASSERT_TRUE(write_now(*a, a_offset(i), pattern(a_offset(i), 4096, 1)).ok());
    ok(b->primary());  // UpToDate and alone: allowed (the split brain in the making)
    for (int i = 0; i < b_blocks; ++i)
      ASSERT_TRUE(write_now(*b, b_offset(i), pattern(b_offset(i), 4096, 2)).ok());
    if (!a_stays_primary) ok(a->secondary());
    if (!b_stays_primary) ok(b->secondary());
    net.reset_stats();
    net.set_link_up(true);
    advance(seconds(1));
  }
  static uint64_t a_offset(int i) { return uint64_t(i) * 3 * 4096; }
  static uint64_t b_offset(int i) { return (uint64_t{1} << 20) + uint64_t(i) * 5 * 4096; }

  void with_policy(AfterSb0Pri p0, AfterSb1Pri p1 = AfterSb1Pri::kDisconnect) {
    ResourceOptions oa = options_for(0), ob = options_for(1);
    oa.split_brain.after_sb_0pri = ob.split_brain.after_sb_0pri = p0;
    oa.split_brain.after_sb_1pri = ob.split_brain.after_sb_1pri = p1;
    make(oa, ob);
  }
  // The winner's data is on both disks, the pair is connected and in sync.
  void expect_resolved_in_favour_of(Resource& winner, Resource& loser) {
    EXPECT_EQ(winner.status().replication, ReplicationState::kEstablished) << winner.status().last_error;
    EXPECT_EQ(loser.status().disk, DiskState::kUpToDate);
    EXPECT_FALSE(winner.status().split_brain);
    EXPECT_NE(winner.status().split_brain_text.find("split brain detected"), std::string::npos);
    EXPECT_TRUE(disks_equal());
  }
};

TEST_F(SplitBrainTest, DisconnectPolicyLeavesBothStandAloneAndSaysWhy) {
  make();
  diverge(3, 1, false, false);
  for (Resource* r : {a.get(), b.get()}) {
    ResourceStatus s = r->status();
    EXPECT_EQ(s.connection, ConnectionState::kStandAlone);
    EXPECT_TRUE(s.split_brain);
    EXPECT_NE(s.split_brain_text.find("split brain detected: after-sb-0pri disconnect"), std::string::npos)
        << s.split_brain_text;
    EXPECT_NE(s.last_error.find("split brain"), std::string::npos) << s.last_error;
  }
  // Nothing was overwritten on either side.
  EXPECT_EQ(read_back(disk_a, a_offset(0), 4096), pattern(a_offset(0), 4096, 1));
  EXPECT_EQ(read_back(disk_b, b_offset(0), 4096), pattern(b_offset(0), 4096, 2));
  EXPECT_EQ(
      net.sent(0, wire::FrameType::kResyncReply).frames + net.sent(1, wire::FrameType::kResyncReply).frames,
      0u);
  // And neither may be promoted until an operator decides.
  CommandResult r = b->primary();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("unresolved split brain"), std::string::npos) << r.error();
}

TEST_F(SplitBrainTest, DiscardLeastChangesKeepsTheBusierSide) {
  with_policy(AfterSb0Pri::kDiscardLeastChanges);
  diverge(3, 1, false, false);
  expect_resolved_in_favour_of(*a, *b);
  EXPECT_NE(a->status().split_brain_text.find("discard-least-changes"), std::string::npos);
  // The union: a's 3 blocks and b's own block, overwritten with a's data
  // (a's blocks 0, 3 and 6 travel as one request, the clean gaps with them).
  EXPECT_EQ(resync_data_bytes(0), (7 + 1) * 4096u);
  EXPECT_EQ(read_back(disk_b, a_offset(2), 4096), pattern(a_offset(2), 4096, 1));
}

TEST_F(SplitBrainTest, DiscardLeastChangesCanPickThePeer) {
  with_policy(AfterSb0Pri::kDiscardLeastChanges);
  diverge(1, 4, false, false);
  expect_resolved_in_favour_of(*b, *a);
  EXPECT_EQ(read_back(disk_a, b_offset(3), 4096), pattern(b_offset(3), 4096, 2));
}

TEST_F(SplitBrainTest, DiscardZeroChangesDropsTheSideThatWroteNothing) {
  with_policy(AfterSb0Pri::kDiscardZeroChanges);
  diverge(2, 0, false, false);
  expect_resolved_in_favour_of(*a, *b);
  EXPECT_NE(b->status().split_brain_text.find("discard-zero-changes"), std::string::npos);
}

TEST_F(SplitBrainTest, DiscardYoungerPrimaryKeepsThePrimaryFromBeforeTheSplit) {
  with_policy(AfterSb0Pri::kDiscardYoungerPrimary);
  diverge(1, 5, false, false);  // b has more changes but became primary later
  expect_resolved_in_favour_of(*a, *b);
  EXPECT_NE(a->status().split_brain_text.find("discard-younger-primary"), std::string::npos)
      << a->status().split_brain_text;
}

TEST_F(SplitBrainTest, DiscardSecondaryKeepsTheRemainingPrimary) {
  with_policy(AfterSb0Pri::kDisconnect, AfterSb1Pri::kDiscardSecondary);
  diverge(1, 5, /*a_stays_primary=*/true, false);
  expect_resolved_in_favour_of(*a, *b);
  EXPECT_NE(b->status().split_brain_text.find("after-sb-1pri discard-secondary"), std::string::npos)
      << b->status().split_brain_text;
  EXPECT_EQ(a->status().role, Role::kPrimary);
}

TEST_F(SplitBrainTest, ConsensusAcceptsTheVerdictThatDiscardsTheSecondary) {
  with_policy(AfterSb0Pri::kDiscardLeastChanges, AfterSb1Pri::kConsensus);
  diverge(3, 1, /*a_stays_primary=*/true, false);  // least-changes discards b, the secondary
  expect_resolved_in_favour_of(*a, *b);
  EXPECT_NE(a->status().split_brain_text.find("consensus"), std::string::npos)
      << a->status().split_brain_text;
}

TEST_F(SplitBrainTest, ConsensusRefusesAVerdictAgainstThePrimary) {
  with_policy(AfterSb0Pri::kDiscardLeastChanges, AfterSb1Pri::kConsensus);
  diverge(1, 3, /*a_stays_primary=*/true, false);  // least-changes would discard the primary
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(b->status().split_brain);
  EXPECT_EQ(read_back(disk_a, a_offset(0), 4096), pattern(a_offset(0), 4096, 1));
}

TEST_F(SplitBrainTest, TwoPrimariesAreNeverResolvedAutomatically) {
  with_policy(AfterSb0Pri::kDiscardLeastChanges, AfterSb1Pri::kDiscardSecondary);
  diverge(1, 2, true, true);
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  EXPECT_TRUE(a->status().split_brain);
  EXPECT_NE(a->status().split_brain_text.find("after-sb-2pri"), std::string::npos)
      << a->status().split_brain_text;
}

TEST_F(SplitBrainTest, OperatorResolvesWithDiscardMyData) {
  make();
  diverge(1, 3, false, false);
  ASSERT_EQ(b->status().connection, ConnectionState::kStandAlone);
  // drbdadm connect --discard-my-data on the victim, connect on the survivor.
  b->set_discard_my_data(true);
  ok(b->connect(net.connector(1)));
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  expect_resolved_in_favour_of(*a, *b);
  EXPECT_NE(b->status().split_brain_text.find("discard-my-data on this node"), std::string::npos);
  EXPECT_FALSE(b->options().discard_my_data) << "one-shot, as drbdadm connect --discard-my-data";
  EXPECT_EQ(read_back(disk_b, a_offset(0), 4096), pattern(a_offset(0), 4096, 1));
}

// ---- refusals ----

TEST_F(ResourcePairTest, StatusShowsBothNodesGenerationsAndTheLastHandshakesDecision) {
  make();
  create_and_attach(*a);
  ASSERT_TRUE(a->status().generations.has_value());
  EXPECT_EQ(*a->status().generations, a->generations());
  EXPECT_FALSE(a->status().peer_generations.has_value()) << "no handshake yet";
  EXPECT_EQ(a->status().last_handshake, "");
  create_and_attach(*b);
  connect_and_sync_from_a();
  // a wrote while b was away: the next handshake makes a the source of a
  // bitmap resync, and both say so with the generations it compared.
  net.set_link_up(false);
  advance(std::chrono::seconds(3));
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 4096, 1)).ok());
  const Generations a_before = a->generations(), b_before = b->generations();
  ASSERT_NE(a_before.current, b_before.current);
  net.set_link_up(true);
  advance(std::chrono::seconds(3));
  ASSERT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(a->status().peer_generations, b_before);
  EXPECT_EQ(b->status().peer_generations, a_before);
  EXPECT_EQ(a->status().last_handshake.rfind("source-bitmap (rule ", 0), 0u) << a->status().last_handshake;
  EXPECT_EQ(b->status().last_handshake.rfind("target-bitmap (rule ", 0), 0u) << b->status().last_handshake;
  // Kept after the link is gone: it explains the last decision.
  net.set_link_up(false);
  advance(std::chrono::seconds(3));
  EXPECT_EQ(a->status().peer_generations, b_before);
  EXPECT_FALSE(a->status().last_handshake.empty());
}

TEST_F(ResourcePairTest, WrongSecretIsRefusedWithoutTouchingEitherDisk) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  ob.shared_secret = "not-the-same";
  make(oa, ob);
  create_and_attach(*a);
  create_and_attach(*b);
  disk_a.clear_write_log();
  disk_b.clear_write_log();
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  for (Resource* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->status().connection, ConnectionState::kStandAlone);
    EXPECT_NE(r->status().last_error.find("wrong shared secret"), std::string::npos)
        << r->status().last_error;
  }
  EXPECT_TRUE(disk_a.writes().empty());
  EXPECT_TRUE(disk_b.writes().empty());
  EXPECT_EQ(net.connections(), 1) << "a refusal is not retried";
}

TEST_F(ResourcePairTest, SmallerPeerDiskIsRefused) {
  FakeStorage small(kTestDiskBytes / 2);
  a = std::make_unique<Resource>(loop, options_for(0), disk_a);
  b = std::make_unique<Resource>(loop, options_for(1), small);
  create_and_attach(*a);
  create_and_attach(*b);
  ok(a->primary(true));
  disk_a.clear_write_log();
  small.clear_write_log();
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  // The smaller node cannot grow to the peer's size (its storage holds no
  // more) and refuses, saying so; both end StandAlone.
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
  const std::string why = "the peer replicates more bytes than this node (" + std::to_string(a->status().size_bytes) +
                          " bytes, this node " + std::to_string(b->status().size_bytes) +
                          ") and this node's storage holds " + std::to_string(b->status().size_bytes);
  EXPECT_NE(b->status().last_error.find(why), std::string::npos) << b->status().last_error;
  EXPECT_NE(a->status().last_error.find("peer disconnected: " + why), std::string::npos) << a->status().last_error;
  EXPECT_TRUE(disk_a.writes().empty());
  EXPECT_TRUE(small.writes().empty());
}

TEST_F(ResourcePairTest, DifferentProtocolsAreRefused) {
  ResourceOptions oa = options_for(0), ob = options_for(1);
  ob.protocol = wire::ReplicationProtocol::kA;
  make(oa, ob);
  attach_and_connect_both();
  advance(seconds(1));
  EXPECT_NE(a->status().last_error.find("peer replicates with protocol A, this node C"), std::string::npos)
      << a->status().last_error;
  EXPECT_EQ(b->status().connection, ConnectionState::kStandAlone);
}

TEST_F(ResourcePairTest, UnrelatedDataIsRefused) {
  make();
  // Two disks that never had anything to do with each other.
  for (auto [disk, uuid] : {std::pair{&disk_a, uint64_t{0x1000}}, std::pair{&disk_b, uint64_t{0x2000}}}) {
    CreateMetadataParams p;
    Result<Superblock> sb = create_metadata(*disk, p);
    ASSERT_TRUE(sb.ok());
    sb->generations.current = uuid;
    sb->flags.consistent = true;
    ASSERT_TRUE(write_superblock(*disk, sb.value()).ok());
  }
  ok(a->attach());
  ok(b->attach());
  disk_a.clear_write_log();
  disk_b.clear_write_log();
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  for (Resource* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->status().connection, ConnectionState::kStandAlone);
    EXPECT_NE(r->status().last_error.find("unrelated data"), std::string::npos) << r->status().last_error;
  }
  EXPECT_TRUE(disk_a.writes().empty());
  EXPECT_TRUE(disk_b.writes().empty());
}

// The peer finished its side of the handshake first and dropped the link
// at once (a forced promotion renegotiates): our side, still waiting for
// its AuthResponse, reconnects instead of refusing for good; a final
// reason (incompatible) does end in StandAlone.
TEST_F(ResourcePairTest, ADisconnectDuringOurHandshakeIsRetriedUnlessFinal) {
  make();
  create_and_attach(*a);
  for (wire::DisconnectCode code : {wire::DisconnectCode::kOther, wire::DisconnectCode::kIncompatible}) {
    SCOPED_TRACE(static_cast<int>(code));
    std::unique_ptr<Connection> peer;
    Connector::Callbacks cb;
    cb.on_connected = [&](std::unique_ptr<Connection> c) {
      peer = std::move(c);
      Connection::Callbacks ccb;
      ccb.on_bytes = [](std::span<const uint8_t>) {};
      ccb.on_closed = [](const std::string&) {};
      peer->start(std::move(ccb));
      wire::Hello h;
      h.node_id = 1;
      h.device_size = a->status().size_bytes;
      h.disk_state = DiskState::kUpToDate;
      peer->send(wire::encode_frame({1, h}));
      peer->send(wire::encode_frame({2, wire::AuthChallenge{}}));
      peer->send(wire::encode_frame({3, wire::Disconnect{code, "forced primary: resync the peer from this node"}}));
    };
    std::string error;
    ASSERT_TRUE(net.connector(1).start(std::move(cb), error));
    const int before = net.connections();
    ok(a->connect(net.connector(0)));
    settle();
    const ResourceStatus s = a->status();
    if (code == wire::DisconnectCode::kOther) {
      EXPECT_EQ(s.connection, ConnectionState::kConnecting) << "dialling again: " << s.last_error;
      EXPECT_EQ(s.last_error.find("authentication failed"), std::string::npos) << s.last_error;
      EXPECT_EQ(net.connections(), before + 1);
      ok(a->disconnect());
      settle();
    } else {
      EXPECT_EQ(s.connection, ConnectionState::kStandAlone);
      EXPECT_NE(s.last_error.find("peer disconnected during the handshake: forced primary"), std::string::npos)
          << s.last_error;
    }
    net.connector(1).stop();
    settle();
  }
}

// A peer that speaks only protocol versions 3..4, scripted by hand.
TEST_F(ResourcePairTest, ProtocolVersionMismatchIsRefused) {
  make();
  create_and_attach(*a);
  disk_a.clear_write_log();
  std::unique_ptr<Connection> peer;
  wire::FrameReader from_a;
  std::vector<wire::Frame> received;
  Connector::Callbacks cb;
  cb.on_connected = [&](std::unique_ptr<Connection> c) {
    peer = std::move(c);
    Connection::Callbacks ccb;
    ccb.on_bytes = [&](std::span<const uint8_t> bytes) {
      ASSERT_TRUE(from_a.feed(bytes));
      wire::Frame f;
      while (from_a.next(f) == wire::FrameReader::Next::kFrame) received.push_back(f);
    };
    ccb.on_closed = [](const std::string&) {};
    peer->start(std::move(ccb));
    wire::Hello h;
    h.min_version = wire::kMaxProtocolVersion + 1;
    h.max_version = wire::kMaxProtocolVersion + 2;
    h.node_id = 1;
    h.device_size = a->status().size_bytes;
    h.disk_state = DiskState::kUpToDate;
    peer->send(wire::encode_frame({1, h}));
    peer->send(wire::encode_frame({2, wire::AuthChallenge{}}));
  };
  std::string error;
  ASSERT_TRUE(net.connector(1).start(std::move(cb), error));
  ok(a->connect(net.connector(0)));
  advance(seconds(1));
  EXPECT_EQ(a->status().connection, ConnectionState::kStandAlone);
  const std::string ours = "1.." + std::to_string(wire::kMaxProtocolVersion);
  const std::string theirs =
      std::to_string(wire::kMaxProtocolVersion + 1) + ".." + std::to_string(wire::kMaxProtocolVersion + 2);
  EXPECT_NE(a->status().last_error.find("peer speaks replication protocol " + theirs + ", this node " + ours),
            std::string::npos)
      << a->status().last_error;
  // The peer was told what we speak.
  bool told = false;
  for (const wire::Frame& f : received) {
    if (const auto* r = std::get_if<wire::AuthResult>(&f.message))
      told = !r->ok && r->reason.find("this node speaks " + ours) != std::string::npos;
  }
  EXPECT_TRUE(told);
  EXPECT_TRUE(disk_a.writes().empty());
}

TEST_F(ResourcePairTest, InvalidateOnAConnectedSecondaryResyncsEverything) {
  bring_up_synced();
  disk_b.bytes()[4096] ^= 0xff;  // silent corruption the operator knows of
  net.reset_stats();
  ok(b->invalidate());
  advance(seconds(1));
  EXPECT_EQ(resync_data_bytes(0), data_size());
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(disks_equal());
}

TEST_F(ResourcePairTest, OutdatedDiskWithTheSameDataBecomesUpToDateOnConnect) {
  bring_up_synced();
  ok(a->secondary());  // no new generation when the link goes
  settle();
  const Generations before = a->generations();
  ok(b->disconnect());
  settle();
  b.reset();
  // Marked outdated while away (as fencing would); its data did not change.
  Result<Superblock> sb = read_metadata(disk_b, MetadataLayout::kInternal);
  ASSERT_TRUE(sb.ok());
  sb->flags.outdated = true;
  ASSERT_TRUE(write_superblock(disk_b, sb.value()).ok());
  b = std::make_unique<Resource>(loop, options_for(1), disk_b);
  ok(b->attach());
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_FALSE(b->primary().ok());
  ok(b->connect(net.connector(1)));
  advance(seconds(1));
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(a->status().peer_disk, DiskState::kUpToDate);
  EXPECT_EQ(a->generations(), before) << "rule 40, no resync";
  EXPECT_EQ(b->status().resync_total_bytes, 0u);
}

// A double fault: both disks Inconsistent (the one good copy failed while
// the other was being resynced). The generations alone would make the
// crashed Primary the source (rule 40), and its target would end UpToDate
// on data that is not. No resync runs; the operator forces the copy to
// keep, which then resyncs the peer in full, not only what the bitmaps
// name. (Found by the pair simulation, protocol A seed 1119 and, for the
// full resync, protocol C seed 529.)
TEST_F(ResourcePairTest, TwoInconsistentDisksAreNotResyncedUntilTheOperatorForcesOne) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
  a.reset();  // kill -9 of the Primary
  b.reset();
  for (FakeStorage* d : {&disk_a, &disk_b}) {
    Result<Superblock> sb = read_metadata(*d, MetadataLayout::kInternal);
    ASSERT_TRUE(sb.ok()) << sb.error();
    sb->flags.consistent = false;
    ASSERT_TRUE(write_superblock(*d, sb.value()).ok());
  }
  // a's copy differs from b's where no bitmap says so (a half-resynced
  // image is anything).
  std::fill_n(disk_a.bytes().begin() + (12u << 20), 4096, 0x5A);  // outside the hot extent (0)
  make();
  ok(a->attach());
  ok(b->attach());
  ASSERT_EQ(a->status().disk, DiskState::kInconsistent);
  ASSERT_EQ(b->status().disk, DiskState::kInconsistent);
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(b->status().disk, DiskState::kInconsistent) << "no UpToDate from an Inconsistent source";
  EXPECT_EQ(a->status().disk, DiskState::kInconsistent);
  EXPECT_NE(a->status().last_error.find("both disks are Inconsistent"), std::string::npos) << a->status().last_error;
  EXPECT_FALSE(b->primary().ok());
  // The operator keeps b's copy: all of it goes to a.
  ok(b->primary(/*force=*/true));
  EXPECT_EQ(b->status().out_of_sync_bytes, b->status().size_bytes);
  advance(seconds(2));
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_TRUE(disks_equal());
}

// Generations that diverged (each side wrote since the last common one)
// with one disk Inconsistent: no split brain, since that disk holds no
// image to keep. The good side resyncs it in full (the generations do not
// say which blocks differ), as DRBD decides "due to disk states". (Found by
// the pair simulation, seed 987: a forced Primary opposite an
// Inconsistent peer that had started a newer generation was refused as a
// split brain.)
TEST_F(ResourcePairTest, DivergedGenerationsOppositeAnInconsistentDiskAreAFullResyncNotASplitBrain) {
  bring_up_synced();
  ASSERT_TRUE(write_now(*a, 0, pattern(0, 1u << 20, 1)).ok());
  a.reset();
  b.reset();
  uint64_t next_uuid = 0x1234567890abcd00ull;
  for (FakeStorage* d : {&disk_a, &disk_b}) {
    Result<Superblock> sb = read_metadata(*d, MetadataLayout::kInternal);
    ASSERT_TRUE(sb.ok()) << sb.error();
    sb->generations.bitmap = uuid_value(sb->generations.current);  // each changed data since
    sb->generations.current = next_uuid;
    next_uuid += 0x100;
    sb->flags.consistent = d == &disk_b;  // a Inconsistent, b a good image
    sb->flags.was_primary = false;
    ASSERT_TRUE(write_superblock(*d, sb.value()).ok());
  }
  std::fill_n(disk_a.bytes().begin() + (12u << 20), 4096, 0x5A);  // named by no bitmap
  make();
  ok(a->attach());
  ok(b->attach());
  ASSERT_EQ(a->status().disk, DiskState::kInconsistent);
  ok(a->connect(net.connector(0)));
  ok(b->connect(net.connector(1)));
  advance(seconds(2));
  EXPECT_FALSE(a->status().split_brain) << a->status().split_brain_text;
  EXPECT_FALSE(b->status().split_brain) << b->status().split_brain_text;
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished);
  EXPECT_EQ(resync_data_bytes(1), data_size()) << "in full, from b";
  EXPECT_TRUE(disks_equal());
}

}  // namespace
}  // namespace vrrpd::replication::testing
