// The witness: the wire format (HMAC, replays), the lease rule on a fake
// clock, and a client against a server over real UDP on 127.0.0.1.
#include "vrrpd/daemon/witness.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "tests/unit/notify/notify_test_support.h"

namespace vrrpd::witness {
namespace {

using namespace std::chrono_literals;
using notify::test_support::run_loop_until;

const std::string kSecret = "witness-secret";

TEST(WitnessWire, RoundTripsEveryField) {
  Message m{"refused", "node-a", "VI_1", 1234567890123ull, 42, "node-b", 7300};
  const std::string d = encode(m, kSecret);
  EXPECT_EQ(d.rfind("vrrpd-witness/1 refused node=node-a lock=VI_1 boot=1234567890123 seq=42 holder=node-b "
                    "remaining_ms=7300 mac=", 0),
            0u)
      << d;
  std::string error;
  auto back = decode(d, kSecret, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->kind, "refused");
  EXPECT_EQ(back->node, "node-a");
  EXPECT_EQ(back->lock, "VI_1");
  EXPECT_EQ(back->boot, 1234567890123ull);
  EXPECT_EQ(back->seq, 42u);
  EXPECT_EQ(back->holder, "node-b");
  EXPECT_EQ(back->remaining_ms, 7300u);
}

TEST(WitnessWire, WrongSecretOrChangedByteIsRejected) {
  const std::string d = encode({"claim", "node-a", "VI_1", 1, 2, "", 0}, kSecret);
  std::string error;
  EXPECT_FALSE(decode(d, "another-secret", &error));
  EXPECT_EQ(error, "wrong mac (a different shared secret?)");
  std::string forged = d;
  forged.replace(forged.find("node-a"), 6, "node-b");  // claim in another node's name
  EXPECT_FALSE(decode(forged, kSecret, &error));
  EXPECT_EQ(error, "wrong mac (a different shared secret?)");
  EXPECT_FALSE(decode("hello", kSecret, &error));
  EXPECT_EQ(error, "not a vrrpd-witness/1 message");
}

TEST(LeaseRule, OneHolderAtATimeAndTheOldHolderGetsALeaseToStepDown) {
  LeaseTable t(5s);
  const TimePoint t0{};
  EXPECT_TRUE(t.claim("VI_1", "a", t0).granted);
  auto b = t.claim("VI_1", "b", t0 + 1s);
  EXPECT_FALSE(b.granted);
  EXPECT_EQ(b.holder, "a");
  EXPECT_EQ(b.remaining, 9s);  // 4 s of a's lease, then 5 s for a to step down
  EXPECT_TRUE(t.claim("VI_1", "a", t0 + 3s).granted);  // renewal: now valid until 8 s
  EXPECT_FALSE(t.claim("VI_1", "b", t0 + 12s).granted);  // expired at 8 s, but a may still be stepping down
  auto late = t.claim("VI_1", "b", t0 + 13s);
  EXPECT_TRUE(late.granted);
  EXPECT_EQ(late.holder, "b");
  EXPECT_FALSE(t.claim("VI_1", "a", t0 + 14s).granted);  // a came back: b holds it now
  EXPECT_TRUE(t.claim("VI_2", "a", t0 + 14s).granted);   // locks are independent
}

TEST(LeaseRule, ReleaseHandsOverAtOnce) {
  LeaseTable t(5s);
  const TimePoint t0{};
  ASSERT_TRUE(t.claim("VI_1", "a", t0).granted);
  t.release("VI_1", "b");  // not the holder: no effect
  EXPECT_FALSE(t.claim("VI_1", "b", t0 + 1s).granted);
  t.release("VI_1", "a");
  EXPECT_TRUE(t.claim("VI_1", "b", t0 + 1s).granted);
}

TEST(LeaseRule, RestartedWitnessWaitsTwoLeasesForAnOldHolderToRenew) {
  const TimePoint start{std::chrono::hours(1)};
  LeaseTable t(5s, start);
  auto fresh = t.claim("VI_1", "b", start + 1s);
  EXPECT_FALSE(fresh.granted);
  EXPECT_EQ(fresh.holder, "");
  EXPECT_EQ(fresh.remaining, 9s);
  EXPECT_TRUE(t.claim("VI_1", "a", start + 2s, true).granted);  // the old holder renews
  auto other = t.claim("VI_1", "b", start + 3s);
  EXPECT_FALSE(other.granted);
  EXPECT_EQ(other.holder, "a");
  EXPECT_TRUE(t.claim("VI_2", "b", start + 10s).granted);  // two leases later anyone may claim
}

class WitnessOverUdp : public ::testing::Test {
 protected:
  WitnessOverUdp() : loop_(clock_) {}
  Client::Options options(const std::string& node, uint16_t port) {
    return {node, *IpAddress::parse("127.0.0.1"), port, kSecret, 2s, 300ms};
  }
  // Claims and waits for the answer.
  std::pair<Client::Result, std::string> claim(Client& c, const std::string& lock) {
    std::optional<std::pair<Client::Result, std::string>> answer;
    c.claim(lock, [&](Client::Result r, std::string text) { answer.emplace(r, std::move(text)); });
    EXPECT_TRUE(run_loop_until(loop_, [&] { return answer.has_value(); }, 5s));
    return answer.value_or(std::make_pair(Client::Result::kUnreachable, std::string("no answer")));
  }
  // A server on a port the kernel picks (tests run in parallel processes).
  std::unique_ptr<Server> server(Duration lease, bool restart_wait = false) {
    return std::make_unique<Server>(loop_, *IpAddress::parse("127.0.0.1"), 0, kSecret, lease, restart_wait);
  }

  MonotonicClock clock_;
  EventLoop loop_;
};

TEST_F(WitnessOverUdp, GrantsOneNodeRefusesTheOtherAndHandsOverOnRelease) {
  auto witness = server(2s);
  Client a(loop_, options("node-a", witness->port())), b(loop_, options("node-b", witness->port()));
  auto [ra, ta] = claim(a, "VI_1");
  EXPECT_EQ(ra, Client::Result::kGranted) << ta;
  EXPECT_TRUE(a.holds("VI_1"));
  auto [rb, tb] = claim(b, "VI_1");
  EXPECT_EQ(rb, Client::Result::kRefused);
  EXPECT_EQ(tb.rfind("the witness gives VI_1 to node-a (", 0), 0u) << tb;
  EXPECT_FALSE(b.holds("VI_1"));
  a.release("VI_1");
  EXPECT_FALSE(a.holds("VI_1"));
  run_loop_until(loop_, [] { return false; }, 100ms);  // the release arrives
  auto [rb2, tb2] = claim(b, "VI_1");
  EXPECT_EQ(rb2, Client::Result::kGranted) << tb2;
}

TEST_F(WitnessOverUdp, RenewalsKeepTheLeaseBeyondItsLength) {
  auto witness = server(600ms);
  auto opts = options("node-a", witness->port());
  opts.lease = 600ms;
  Client a(loop_, opts);
  ASSERT_EQ(claim(a, "VI_1").first, Client::Result::kGranted);
  run_loop_until(loop_, [] { return false; }, 1500ms);  // 2.5 leases, renewed every 200 ms
  EXPECT_TRUE(a.holds("VI_1"));
}

TEST_F(WitnessOverUdp, NoServerMeansUnreachableAfterTheAnswerTimeout) {
  // A UDP port that takes datagrams and never answers.
  auto silent = server(2s);
  const uint16_t port = silent->port();
  silent.reset();  // closed: nothing answers there now
  Client a(loop_, options("node-a", port));
  const TimePoint start = loop_.now();
  auto [r, text] = claim(a, "VI_1");
  EXPECT_EQ(r, Client::Result::kUnreachable);
  EXPECT_GE(loop_.now() - start, 300ms);
  EXPECT_NE(text.find("did not answer within 300 ms"), std::string::npos) << text;
  EXPECT_FALSE(a.holds("VI_1"));
}

TEST_F(WitnessOverUdp, ARestartedWitnessRefusesFreshClaimsForTwoLeases) {
  auto witness = server(300ms, true);
  auto opts = options("node-a", witness->port());
  opts.lease = 300ms;
  Client a(loop_, opts);
  auto [r, text] = claim(a, "VI_1");
  EXPECT_EQ(r, Client::Result::kRefused);
  EXPECT_EQ(text.rfind("the witness gives VI_1 to nobody yet: it restarted and waits ", 0), 0u) << text;
  run_loop_until(loop_, [] { return false; }, 650ms);
  EXPECT_EQ(claim(a, "VI_1").first, Client::Result::kGranted);
}

TEST_F(WitnessOverUdp, AClientWithAnotherSecretGetsNoAnswer) {
  auto witness = server(2s);
  auto opts = options("node-a", witness->port());
  opts.secret = "not-the-secret";
  Client a(loop_, opts);
  EXPECT_EQ(claim(a, "VI_1").first, Client::Result::kUnreachable);
}

}  // namespace
}  // namespace vrrpd::witness
