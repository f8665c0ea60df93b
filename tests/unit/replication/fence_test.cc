// Fencing (fence.h): outdate() as drbdadm outdate, the Resource's side of a
// fence request, the Primary's peer_outdated, and the fence path itself
// (codec, and two FencePaths talking over real UDP on loopback, their loop
// on a fake clock).
#include "replication/fence.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <sys/socket.h>
#include <unistd.h>

#include "replication/metadata.h"
#include "replication/tcp_transport.h"
#include "tests/unit/replication/resource_harness.h"

namespace vrrpd::replication::testing {
namespace {

using fence::decode;
using fence::encode;
using fence::FencePath;
using fence::FencePathOptions;
using fence::Message;

// ---- codec ----

Message outdate_request() {
  Message m;
  m.kind = "outdate";
  m.resource = "r0";
  m.node = "198.51.100.1:7789";
  m.cnonce = 0x0123456789abcdefULL;
  m.snonce = 0xfedcba9876543210ULL;
  m.generation = 0x42;
  return m;
}

Message result_message(std::string answer, std::string text) {
  Message m;
  m.kind = "result";
  m.resource = "r0";
  m.node = "b";
  m.cnonce = 7;
  m.answer = std::move(answer);
  m.text = std::move(text);
  return m;
}

TEST(FenceCodec, EveryKindRoundTrips) {
  Message ask = outdate_request();
  ask.kind = "ask";
  ask.snonce = ask.generation = 0;  // not carried
  Message challenge = outdate_request();
  challenge.kind = "challenge";
  challenge.generation = 0;
  const Message result = result_message("outdated", "disk Outdated (it was UpToDate)");
  for (const Message& m : {ask, challenge, outdate_request(), result}) {
    std::string error;
    auto back = decode(encode(m, "secret-1"), "secret-1", &error);
    ASSERT_TRUE(back) << m.kind << ": " << error;
    EXPECT_EQ(*back, m) << m.kind;
  }
}

TEST(FenceCodec, RefusesAWrongSecretATamperedFieldAndUnknownWords) {
  std::string error;
  const std::string d = encode(outdate_request(), "secret-1");
  EXPECT_FALSE(decode(d, "secret-2", &error));
  EXPECT_EQ(error, "wrong mac (a different shared secret?)");

  std::string tampered = d;
  tampered.replace(tampered.find("generation=") + 11, 16, std::string(15, '0') + "1");
  EXPECT_FALSE(decode(tampered, "secret-1", &error));
  EXPECT_EQ(error, "wrong mac (a different shared secret?)");

  EXPECT_FALSE(decode("vrrpd-witness/1 claim node=a mac=00", "secret-1", &error));
  EXPECT_EQ(error, "not a vrrpd-fence/1 message");

  Message r = outdate_request();
  r.kind = "result";
  r.answer = "maybe";
  EXPECT_FALSE(decode(encode(r, "secret-1"), "secret-1", &error));
  EXPECT_EQ(error, "unknown answer maybe");
}

TEST(FenceCodec, FreeTextCannotForgeTheMac) {
  const Message r = result_message("refused", "disk full mac=00ff\nsecond line");
  std::string error;
  auto back = decode(encode(r, "k"), "k", &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->text, "disk full_mac=00ff?second line");
}

// ---- Resource: outdate, answering a fence request, peer_outdated ----

class FenceTest : public ResourcePairTest {
 protected:
  std::unique_ptr<Resource>& node(int side) { return side == 0 ? a : b; }
  FakeStorage& disk(int side) { return side == 0 ? disk_a : disk_b; }
  // Stops the node (its disk keeps every write) and starts it from its disk.
  void restart(int side) {
    node(side).reset();
    node(side) = std::make_unique<Resource>(loop, options_for(static_cast<uint32_t>(side)), disk(side));
    ok(node(side)->attach());
  }
  bool outdated_on_disk(int side) {
    Result<Superblock> sb = read_metadata(disk(side), MetadataLayout::kInternal);
    EXPECT_TRUE(sb.ok()) << sb.error();
    return sb.ok() && sb->flags.outdated;
  }
  bool peer_outdated_on_disk(int side) {
    Result<Superblock> sb = read_metadata(disk(side), MetadataLayout::kInternal);
    EXPECT_TRUE(sb.ok()) << sb.error();
    return sb.ok() && sb->flags.peer_outdated;
  }
  // a Primary and synced, then the replication link fails; a writes on.
  void primary_loses_the_link() {
    bring_up_synced();
    net.set_link_up(false);
    settle();
    ASSERT_NE(a->status().connection, ConnectionState::kConnected);
    ASSERT_TRUE(write_now(*a, 0, pattern(0, 8192, 9)).ok());
  }
};

TEST_F(FenceTest, OutdateIsForADisconnectedSecondaryWithAGoodImageAndSurvivesARestart) {
  bring_up_synced();
  CommandResult r = a->outdate();
  EXPECT_EQ(r.error(), "outdate refused: Primary (demote first)");
  r = b->outdate();
  EXPECT_EQ(r.error(), "outdate refused: connected (the handshake with the peer decides; disconnect first)");
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);

  ok(b->disconnect());
  settle();
  ok(b->outdate());
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_TRUE(outdated_on_disk(1));
  ok(b->outdate());  // again: nothing to do
  CommandResult p = b->primary();
  EXPECT_EQ(p.error(), "primary refused: disk is Outdated, not UpToDate (use force to promote anyway)");

  restart(1);
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_FALSE(b->primary().ok());
}

TEST_F(FenceTest, OutdateRefusesDataThatIsNoGoodImage) {
  if (!a) make();
  create_and_attach(*b);
  CommandResult r = b->outdate();
  EXPECT_EQ(r.error(),
            "outdate refused: disk is Inconsistent (only a good image, UpToDate or Consistent, can be outdated)");
}

TEST_F(FenceTest, AFenceRequestOutdatesADisconnectedSecondaryAndNotAPrimary) {
  primary_loses_the_link();
  std::string text;
  EXPECT_EQ(a->answer_fence_request(b->generations().current, &text), FenceAnswer::kPrimary);
  EXPECT_EQ(text, "this node is Primary");

  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);  // a survivor of a link loss stays UpToDate...
  EXPECT_EQ(b->answer_fence_request(a->generations().current, &text), FenceAnswer::kOutdated);
  EXPECT_EQ(text, "disk Outdated");
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);  // ...unless the Primary outdates it
  EXPECT_TRUE(outdated_on_disk(1));
  EXPECT_FALSE(b->primary().ok());
  // Asked again (a retransmission that missed the cache): the same answer.
  EXPECT_EQ(b->answer_fence_request(a->generations().current, &text), FenceAnswer::kOutdated);
}

TEST_F(FenceTest, AnInconsistentNodeHasNothingToOutdate) {
  start_initial_sync();  // b is SyncTarget, Inconsistent
  net.set_link_up(false);
  settle();
  ASSERT_EQ(b->status().disk, DiskState::kInconsistent);
  std::string text;
  EXPECT_EQ(b->answer_fence_request(a->generations().current, &text), FenceAnswer::kInconsistent);
  EXPECT_EQ(text, "this node's disk is Inconsistent");
  EXPECT_FALSE(outdated_on_disk(1));
}

TEST_F(FenceTest, ALinkInTheAskersGenerationIsKeptAnOlderOneIsDropped) {
  bring_up_synced();
  std::string text;
  // Connected in a's current generation: the link is (back) up, nothing to do.
  EXPECT_EQ(b->answer_fence_request(a->generations().current, &text), FenceAnswer::kConnected);
  EXPECT_EQ(b->status().connection, ConnectionState::kConnected);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  // A request in a newer generation: the Primary gave this link up (it
  // starts a new generation when it loses an in-sync peer) while b has not
  // noticed yet. b drops the link and outdates itself.
  EXPECT_EQ(b->answer_fence_request(a->generations().current + 0x100, &text), FenceAnswer::kOutdated);
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_NE(b->status().connection, ConnectionState::kConnected);
}

TEST_F(FenceTest, PeerOutdatedIsShownKeptOverARestartAndClearedByTheHandshake) {
  primary_loses_the_link();
  EXPECT_TRUE(a->wants_peer_fenced());
  EXPECT_FALSE(b->wants_peer_fenced());  // Secondary
  EXPECT_FALSE(a->status().peer_disk.has_value());

  std::string text;
  ASSERT_EQ(b->answer_fence_request(a->generations().current, &text), FenceAnswer::kOutdated);
  a->note_peer_fenced(FenceAnswer::kOutdated, "b answered outdated");
  EXPECT_FALSE(a->wants_peer_fenced());
  EXPECT_EQ(a->status().peer_disk, DiskState::kOutdated);
  EXPECT_TRUE(peer_outdated_on_disk(0));

  // The Primary restarted alone: nobody has newer data, so it is UpToDate
  // and may promote without force (a Consistent disk could not).
  ok(a->secondary());
  restart(0);
  EXPECT_EQ(a->status().disk, DiskState::kUpToDate);
  ok(a->primary());
  ASSERT_TRUE(write_now(*a, 65536, pattern(65536, 4096, 3)).ok());

  // The link returns: b is resynced, both flags go.
  ok(a->connect(net.connector(0)));
  net.set_link_up(true);
  advance(std::chrono::seconds(2));
  EXPECT_EQ(a->status().replication, ReplicationState::kEstablished) << a->status().last_error;
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate) << b->status().last_error;
  EXPECT_EQ(a->status().peer_disk, DiskState::kUpToDate);
  EXPECT_FALSE(outdated_on_disk(1));
  EXPECT_FALSE(peer_outdated_on_disk(0));
  EXPECT_TRUE(disks_equal());
}

TEST_F(FenceTest, AStaleAnswerAfterTheLinkReturnedIsIgnored) {
  bring_up_synced();
  a->note_peer_fenced(FenceAnswer::kOutdated, "late");
  EXPECT_FALSE(peer_outdated_on_disk(0));
  EXPECT_EQ(a->status().peer_disk, DiskState::kUpToDate);
}

// ---- FencePath: two nodes over UDP on loopback ----

class FencePathTest : public FenceTest {
 protected:
  FencePathOptions path_options(int side, uint16_t port) {
    FencePathOptions o;
    o.resource = "r0";
    o.node = side == 0 ? "alpha" : "beta";
    o.local = *IpAddress::parse(side == 0 ? "127.0.0.1" : "127.0.0.2");
    o.peer = *IpAddress::parse(side == 0 ? "127.0.0.2" : "127.0.0.1");
    o.port = o.peer_port = port;
    o.secret = "fence-secret";
    return o;
  }
  // Both paths on the same free port of two loopback addresses.
  void open_paths() {
    auto first = FencePath::open(loop, *a, path_options(0, 0));
    ASSERT_TRUE(first.ok()) << first.error();
    const uint16_t port = first.value()->port();
    first.value().reset();
    auto pa = FencePath::open(loop, *a, path_options(0, port));
    auto pb = FencePath::open(loop, *b, path_options(1, port));
    ASSERT_TRUE(pa.ok()) << pa.error();
    ASSERT_TRUE(pb.ok()) << pb.error();
    path_a = std::move(pa.value());
    path_b = std::move(pb.value());
  }
  // Delivers the datagrams in flight (loopback: already queued) and runs
  // what they trigger, a few rounds deep.
  void pump() {
    for (int i = 0; i < 8; ++i) {
      loop.run_once(Duration::zero());
      settle();
    }
  }
  std::unique_ptr<FencePath> path_a, path_b;
};

TEST_F(FencePathTest, APrimaryWithoutItsLinkOutdatesThePeerOverTheFencePath) {
  primary_loses_the_link();
  open_paths();
  path_a->poke();
  pump();
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_EQ(a->status().peer_disk, DiskState::kOutdated);
  EXPECT_EQ(path_a->stats().attempts, 1u);
  EXPECT_EQ(path_a->stats().last, "peer fenced: beta answered outdated (disk Outdated)");
  EXPECT_EQ(path_b->stats().requests_answered, 1u);
  // Done: no further attempts.
  path_a->poke();
  advance(std::chrono::seconds(10));
  pump();
  EXPECT_EQ(path_a->stats().attempts, 1u);
}

TEST_F(FencePathTest, WorksOverIpv6) {
  primary_loses_the_link();
  // Two ports of ::1 (a free one each, found by binding port 0 first).
  auto free_port = [&](int side) {
    FencePathOptions o = path_options(side, 0);
    o.local = o.peer = *IpAddress::parse("::1");
    auto p = FencePath::open(loop, side == 0 ? *a : *b, o);
    EXPECT_TRUE(p.ok()) << p.error();
    return p.ok() ? p.value()->port() : uint16_t{0};
  };
  const uint16_t port_a = free_port(0), port_b = free_port(1);
  for (int side = 0; side < 2; ++side) {
    FencePathOptions o = path_options(side, side == 0 ? port_a : port_b);
    o.local = o.peer = *IpAddress::parse("::1");
    o.peer_port = side == 0 ? port_b : port_a;
    auto p = FencePath::open(loop, side == 0 ? *a : *b, o);
    ASSERT_TRUE(p.ok()) << p.error();
    (side == 0 ? path_a : path_b) = std::move(p.value());
  }
  path_a->poke();
  pump();
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_EQ(a->status().peer_disk, DiskState::kOutdated);
}

TEST_F(FencePathTest, NothingHappensWhileConnectedOrAsSecondary) {
  bring_up_synced();
  open_paths();
  path_a->poke();
  path_b->poke();
  pump();
  EXPECT_EQ(path_a->stats().attempts, 0u);
  EXPECT_EQ(path_b->stats().attempts, 0u);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
}

TEST_F(FencePathTest, AnUnreachablePeerIsRetriedUntilItAnswers) {
  primary_loses_the_link();
  open_paths();
  path_b.reset();  // the peer's daemon is not answering
  path_a->poke();
  pump();
  advance(std::chrono::milliseconds(1100));  // retransmits, then gives up
  pump();
  EXPECT_EQ(path_a->stats().unanswered, 1u);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_FALSE(a->status().peer_disk.has_value());
  EXPECT_TRUE(a->wants_peer_fenced());

  auto pb = FencePath::open(loop, *b, path_options(1, path_a->port()));
  ASSERT_TRUE(pb.ok()) << pb.error();
  path_b = std::move(pb.value());
  advance(std::chrono::seconds(2));  // the retry
  pump();
  EXPECT_EQ(path_a->stats().attempts, 2u);
  EXPECT_EQ(b->status().disk, DiskState::kOutdated);
  EXPECT_EQ(a->status().peer_disk, DiskState::kOutdated);
}

TEST_F(FencePathTest, AWrongSecretOutdatesNothing) {
  primary_loses_the_link();
  auto first = FencePath::open(loop, *a, path_options(0, 0));
  ASSERT_TRUE(first.ok());
  const uint16_t port = first.value()->port();
  first.value().reset();
  FencePathOptions ob = path_options(1, port);
  ob.secret = "another-secret";
  auto pa = FencePath::open(loop, *a, path_options(0, port));
  auto pb = FencePath::open(loop, *b, ob);
  ASSERT_TRUE(pa.ok() && pb.ok());
  path_a = std::move(pa.value());
  path_b = std::move(pb.value());
  path_a->poke();
  pump();
  advance(std::chrono::milliseconds(1100));
  pump();
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
  EXPECT_EQ(path_b->stats().requests_answered, 0u);
  EXPECT_EQ(path_a->stats().unanswered, 1u);
}

TEST_F(FencePathTest, AReplayedOutdateRequestIsDropped) {
  primary_loses_the_link();
  open_paths();
  // A recorded outdate with a snonce b never issued (or issued and used).
  Message m = outdate_request();
  m.node = "alpha";
  const std::string d = encode(m, "fence-secret");
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const SocketAddress to = socket_address(*IpAddress::parse("127.0.0.2"), path_b->port());
  ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, to.get(), to.length), static_cast<ssize_t>(d.size()));
  ::close(fd);
  pump();
  EXPECT_EQ(path_b->stats().requests_answered, 0u);
  EXPECT_EQ(b->status().disk, DiskState::kUpToDate);
}

class FencePathOpen : public ::testing::Test {
 protected:
  FencePathOpen() {
    ResourceOptions o;
    o.name = "r0";
    resource = std::make_unique<Resource>(loop, o, disk);
  }
  FencePathOptions options(const char* local, uint16_t port) {
    FencePathOptions f;
    f.resource = "r0";
    f.local = *IpAddress::parse(local);
    f.peer = *IpAddress::parse("192.0.2.78");
    f.port = port;
    return f;
  }
  FakeClock clock;
  EventLoop loop{clock};
  FakeStorage disk{kTestDiskBytes};
  std::unique_ptr<Resource> resource;
};

TEST_F(FencePathOpen, AnAddressNotYetOfThisHostIsBoundAnyway) {
  // At boot the second network may come up after the daemon.
  auto p = FencePath::open(loop, *resource, options("192.0.2.77", 0));
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_TRUE(p.value()->stats().address_was_missing);
  EXPECT_NE(p.value()->port(), 0);
  auto local = FencePath::open(loop, *resource, options("127.0.0.1", 0));
  ASSERT_TRUE(local.ok()) << local.error();
  EXPECT_FALSE(local.value()->stats().address_was_missing);
}

TEST_F(FencePathOpen, NamesTheAddressAndPortItCannotListenOn) {
  auto first = FencePath::open(loop, *resource, options("127.0.0.1", 0));
  ASSERT_TRUE(first.ok()) << first.error();
  const uint16_t port = first.value()->port();
  auto second = FencePath::open(loop, *resource, options("127.0.0.1", port));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), "fence path: cannot listen on 127.0.0.1 port " + std::to_string(port) +
                                " (UDP): Address already in use");
  auto mixed = FencePath::open(loop, *resource, options("2001:db8::1", 0));
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error(), "fence path: 2001:db8::1 and 192.0.2.78 are of different address families");
}

}  // namespace
}  // namespace vrrpd::replication::testing
