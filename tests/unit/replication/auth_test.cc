// Tests of the peer authentication handshake (replication/auth.h). Two
// AuthSessions talk through the real codec (encode_frame / decode_frame), so
// these also prove the handshake frames survive the wire. Nonces are fixed:
// no test depends on randomness.
#include "replication/auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <deque>

namespace vrrpd::replication {
namespace {

using wire::Message;

Nonce nonce(uint8_t fill) {
  Nonce n;
  n.fill(fill);
  return n;
}

wire::Hello hello(uint32_t node_id, const std::string& name) {
  wire::Hello h;
  h.node_id = node_id;
  h.node_name = name;
  h.device_size = 1 << 30;
  h.disk_state = wire::DiskState::kUpToDate;
  h.generations.current = 0x1234567890ABCDE0 + node_id * 2;
  return h;
}

AuthSession make(AuthRole role, const std::string& secret, wire::Hello h, uint8_t n) {
  auto s = AuthSession::create(role, secret, std::move(h), nonce(n));
  EXPECT_TRUE(s.ok()) << s.error();
  return std::move(s.value());
}

// Through the codec and back, as the peer would see it.
Message over_the_wire(const Message& m) {
  wire::DecodeResult r = wire::decode_frame(wire::encode_frame({1, m}));
  EXPECT_TRUE(r.status.ok()) << r.status.message();
  return r.frame.message;
}

// Runs the handshake between a (initiator) and b (responder) until neither
// has anything left to send; returns how many messages travelled.
int run_handshake(AuthSession& a, AuthSession& b) {
  std::deque<Message> to_a, to_b;
  for (auto& m : a.start()) to_b.push_back(m);
  for (auto& m : b.start()) to_a.push_back(m);
  int moved = 0;
  // Alternate one message each way, like two streams in flight at once.
  while (!to_a.empty() || !to_b.empty()) {
    if (!to_b.empty()) {
      for (auto& m : b.on_message(over_the_wire(to_b.front())).to_send) to_a.push_back(m);
      to_b.pop_front();
      ++moved;
    }
    if (!to_a.empty()) {
      for (auto& m : a.on_message(over_the_wire(to_a.front())).to_send) to_b.push_back(m);
      to_a.pop_front();
      ++moved;
    }
  }
  return moved;
}

wire::Data some_data() { return wire::Data{0, 0, std::vector<uint8_t>(512, 0xEE)}; }

TEST(AuthSession, SameSecretAuthenticatesBothSides) {
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  AuthSession b = make(AuthRole::kResponder, "s3cret", hello(2, "beta"), 0x22);
  EXPECT_EQ(run_handshake(a, b), 8);  // Hello, Challenge, Response, Result each way
  EXPECT_EQ(a.state(), AuthState::kAuthenticated) << a.reason();
  EXPECT_EQ(b.state(), AuthState::kAuthenticated) << b.reason();
  EXPECT_EQ(a.peer_hello(), hello(2, "beta"));
  EXPECT_EQ(b.peer_hello(), hello(1, "alpha"));
  EXPECT_EQ(a.agreed_version(), wire::kMaxProtocolVersion);
  // Only now does the engine get data frames.
  AuthSession::Step step = b.on_message(some_data());
  EXPECT_TRUE(step.deliver);
  EXPECT_TRUE(step.to_send.empty());
}

TEST(AuthSession, DifferentSecretsRefuseOnBothSidesAndAcceptNoData) {
  AuthSession a = make(AuthRole::kInitiator, "secret-one", hello(1, "alpha"), 0x11);
  AuthSession b = make(AuthRole::kResponder, "secret-two", hello(2, "beta"), 0x22);
  run_handshake(a, b);
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(b.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "peer's response does not match: wrong shared secret?");
  EXPECT_EQ(b.reason(), "peer's response does not match: wrong shared secret?");
  EXPECT_FALSE(a.on_message(some_data()).deliver);
  EXPECT_FALSE(b.on_message(some_data()).deliver);
}

TEST(AuthSession, RefusalIsSentToThePeerWithAReasonItCanLog) {
  AuthSession a = make(AuthRole::kInitiator, "secret-one", hello(1, "alpha"), 0x11);
  AuthSession b = make(AuthRole::kResponder, "secret-two", hello(2, "beta"), 0x22);
  a.start();
  auto b_start = b.start();
  a.on_message(b_start[0]);                       // b's Hello
  auto a_resp = a.on_message(b_start[1]).to_send;  // b's Challenge -> a's response
  ASSERT_EQ(a_resp.size(), 1u);
  // b refuses a's response and tells a why.
  b.on_message(hello(1, "alpha"));
  b.on_message(wire::AuthChallenge{nonce(0x11)});
  auto refusal = b.on_message(a_resp[0]).to_send;
  ASSERT_EQ(refusal.size(), 1u);
  auto* r = std::get_if<wire::AuthResult>(&refusal[0]);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->ok);
  a.on_message(refusal[0]);
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "peer refused us: your AuthResponse does not match: wrong shared secret?");
}

TEST(AuthSession, DataBeforeAuthenticationIsRefusedNotDelivered) {
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  a.start();
  a.on_message(hello(2, "beta"));
  AuthSession::Step step = a.on_message(some_data());
  EXPECT_FALSE(step.deliver);
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "expected AuthChallenge, got Data before authentication");
  ASSERT_EQ(step.to_send.size(), 1u);
  EXPECT_FALSE(std::get<wire::AuthResult>(step.to_send[0]).ok);
}

TEST(AuthSession, PeerAcceptingUsIsNotEnoughWithoutItsResponse) {
  // A forged AuthResult(ok) in place of the AuthResponse must not authenticate.
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  a.start();
  a.on_message(hello(2, "beta"));
  a.on_message(wire::AuthChallenge{nonce(0x22)});
  a.on_message(wire::AuthResult{true, ""});
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "expected AuthResponse, got AuthResult before authentication");
}

TEST(AuthSession, ReplayedResponseFromAnEarlierConnectionIsRefused) {
  // Record b's response in a genuine handshake with a.
  AuthSession a1 = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  AuthSession b1 = make(AuthRole::kResponder, "s3cret", hello(2, "beta"), 0x22);
  a1.start();
  auto b_start = b1.start();
  b1.on_message(hello(1, "alpha"));
  auto recorded = b1.on_message(wire::AuthChallenge{nonce(0x11)}).to_send;
  ASSERT_EQ(recorded.size(), 1u);
  // An attacker replays b's Hello, challenge and response to a's next
  // connection, which has a fresh nonce.
  AuthSession a2 = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x33);
  a2.start();
  a2.on_message(b_start[0]);
  a2.on_message(b_start[1]);
  a2.on_message(recorded[0]);
  EXPECT_EQ(a2.state(), AuthState::kRefused);
  EXPECT_EQ(a2.reason(), "peer's response does not match: wrong shared secret?");
}

TEST(AuthSession, ReflectedChallengeIsRefused) {
  // The attacker sends a's own nonce back, hoping a answers its own challenge.
  AuthSession a = make(AuthRole::kResponder, "s3cret", hello(1, "alpha"), 0x11);
  a.start();
  a.on_message(hello(2, "mallory"));
  AuthSession::Step step = a.on_message(wire::AuthChallenge{nonce(0x11)});
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "peer's challenge is our own nonce: reflection attempt?");
  // And a did not answer it.
  for (const Message& m : step.to_send) EXPECT_FALSE(std::holds_alternative<wire::AuthResponse>(m));
}

TEST(AuthSession, ReflectedResponseIsRefused) {
  // The attacker opens two connections to a. On the first it uses a's
  // nonce from the second as its own challenge; on the second it sends a's
  // challenge from the first; a answers there. Reflecting that answer back on
  // the first connection leaves only the answering node id and role to tell
  // the two apart, and the MAC binds them.
  AuthSession a1 = make(AuthRole::kResponder, "s3cret", hello(1, "alpha"), 0x11);
  AuthSession a2 = make(AuthRole::kResponder, "s3cret", hello(1, "alpha"), 0x44);
  a1.start();
  a2.start();
  a1.on_message(hello(2, "mallory"));
  a1.on_message(wire::AuthChallenge{nonce(0x44)});  // a2's nonce
  a2.on_message(hello(2, "mallory"));
  auto answer = a2.on_message(wire::AuthChallenge{nonce(0x11)}).to_send;  // a1's nonce
  ASSERT_EQ(answer.size(), 1u);
  a1.on_message(answer[0]);
  EXPECT_EQ(a1.state(), AuthState::kRefused);
  EXPECT_EQ(a1.reason(), "peer's response does not match: wrong shared secret?");
}

TEST(AuthSession, HelloAlteredInTransitIsDetected) {
  // A man in the middle lowers b's generations on the way to a, e.g. to make
  // a believe it holds the newer data. The MAC covers both Hellos.
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  AuthSession b = make(AuthRole::kResponder, "s3cret", hello(2, "beta"), 0x22);
  auto a_start = a.start();
  auto b_start = b.start();
  auto forged = std::get<wire::Hello>(b_start[0]);
  forged.generations.current = 4;
  a.on_message(forged);
  auto a_resp = a.on_message(b_start[1]).to_send;
  b.on_message(a_start[0]);
  auto b_resp = b.on_message(a_start[1]).to_send;
  a.on_message(b_resp.at(0));
  b.on_message(a_resp.at(0));
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(b.state(), AuthState::kRefused);
}

TEST(AuthSession, EmptySecretIsAConfigurationError) {
  auto s = AuthSession::create(AuthRole::kInitiator, "", hello(1, "alpha"), nonce(1));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("shared-secret is empty"), std::string::npos) << s.error();
}

TEST(AuthSession, VersionMismatchNamesBothRanges) {
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  a.start();
  wire::Hello newer = hello(2, "beta");
  newer.min_version = wire::kMaxProtocolVersion + 1;
  newer.max_version = wire::kMaxProtocolVersion + 2;
  AuthSession::Step step = a.on_message(over_the_wire(newer));
  EXPECT_EQ(a.state(), AuthState::kRefused);
  const std::string newer_range = std::to_string(wire::kMaxProtocolVersion + 1) + ".." +
                                  std::to_string(wire::kMaxProtocolVersion + 2);
  EXPECT_EQ(a.reason(), "peer speaks replication protocol " + newer_range + ", this node 1.." +
                            std::to_string(wire::kMaxProtocolVersion));
  ASSERT_EQ(step.to_send.size(), 1u);
  EXPECT_EQ(std::get<wire::AuthResult>(step.to_send[0]).reason,
            "no common replication protocol version: this node speaks 1.." + std::to_string(wire::kMaxProtocolVersion));
}

TEST(AuthSession, AVersionOnePeerAgreesOnVersionOne) {
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  a.start();
  wire::Hello older = hello(2, "beta");
  older.min_version = 1;
  older.max_version = 1;
  a.on_message(over_the_wire(older));
  EXPECT_EQ(a.state(), AuthState::kInProgress) << a.reason();
  EXPECT_EQ(a.agreed_version(), 1);
}

TEST(AuthSession, OverlappingVersionRangesAgreeOnTheHighestCommon) {
  wire::Hello mine = hello(1, "alpha");
  mine.max_version = 3;  // as a future node would announce
  AuthSession a = make(AuthRole::kInitiator, "s3cret", mine, 0x11);
  a.start();
  wire::Hello theirs = hello(2, "beta");
  theirs.min_version = 2;
  theirs.max_version = 4;
  a.on_message(theirs);
  EXPECT_EQ(a.state(), AuthState::kInProgress) << a.reason();
  EXPECT_EQ(a.agreed_version(), 3);
}

TEST(AuthSession, SameNodeIdIsRefused) {
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  a.start();
  a.on_message(hello(1, "alpha-clone"));
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "peer has the same node id 1 as this node: node ids must differ");
}

TEST(AuthSession, SecondHandshakeAfterAuthenticationIsAProtocolError) {
  AuthSession a = make(AuthRole::kInitiator, "s3cret", hello(1, "alpha"), 0x11);
  AuthSession b = make(AuthRole::kResponder, "s3cret", hello(2, "beta"), 0x22);
  run_handshake(a, b);
  ASSERT_EQ(a.state(), AuthState::kAuthenticated);
  AuthSession::Step step = a.on_message(wire::AuthChallenge{nonce(0x66)});
  EXPECT_FALSE(step.deliver);
  EXPECT_EQ(a.state(), AuthState::kRefused);
  EXPECT_EQ(a.reason(), "unexpected AuthChallenge after authentication");
}

TEST(AuthSession, MacIsTheDocumentedHmacInput) {
  // Rebuilds the MAC input exactly as PROTOCOL.md describes it, so the
  // document and the code cannot drift apart.
  const std::string secret = "s3cret";
  wire::Digest transcript;
  transcript.fill(0x77);
  const char ctx[] = "vrrpd-replication-auth-v1";
  std::vector<uint8_t> msg;
  msg.reserve(256);  // also keeps GCC 12's -Wstringop-overflow false positive quiet
  msg.insert(msg.end(), ctx, ctx + sizeof ctx);  // with the NUL
  msg.push_back(2);                              // responder answers
  for (uint8_t b : {0, 0, 0, 2, 0, 0, 0, 1}) msg.push_back(b);  // answering, challenger
  for (int i = 0; i < 32; ++i) msg.push_back(0x11);  // challenge
  for (int i = 0; i < 32; ++i) msg.push_back(0x22);  // answering side's nonce
  msg.insert(msg.end(), transcript.begin(), transcript.end());
  Mac want{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), msg.data(), msg.size(),
       want.data(), &len);
  std::vector<uint8_t> key(secret.begin(), secret.end());
  EXPECT_EQ(auth_response_mac(key, AuthRole::kResponder, 2, 1, nonce(0x11), nonce(0x22), transcript),
            want);
}

TEST(AuthSession, RandomNoncesDiffer) {
  auto n1 = random_nonce();
  auto n2 = random_nonce();
  ASSERT_TRUE(n1.ok() && n2.ok());
  EXPECT_NE(n1.value(), n2.value());
}

}  // namespace
}  // namespace vrrpd::replication
