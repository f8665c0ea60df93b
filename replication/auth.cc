// Peer authentication handshake; see auth.h. OpenSSL provides HMAC-SHA256,
// SHA-256, the constant-time compare and the CSPRNG.
#include "replication/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cassert>
#include <variant>

namespace vrrpd::replication {
namespace {

// Domain separation: a MAC made for this handshake can never be mistaken for
// one made by another use of the same secret (or a later handshake version).
// The terminating NUL is part of the MAC input.
constexpr char kAuthContext[] = "vrrpd-replication-auth-v1";

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool is_handshake(const wire::Message& m) {
  return std::holds_alternative<wire::Hello>(m) || std::holds_alternative<wire::AuthChallenge>(m) ||
         std::holds_alternative<wire::AuthResponse>(m) ||
         std::holds_alternative<wire::AuthResult>(m);
}

const char* expected_name(int expect) {
  static constexpr const char* kNames[] = {"Hello", "AuthChallenge", "AuthResponse", "AuthResult",
                                           "nothing"};
  return kNames[expect];
}

std::string range(uint16_t lo, uint16_t hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

}  // namespace

const char* to_string(AuthState s) {
  switch (s) {
    case AuthState::kInProgress: return "in-progress";
    case AuthState::kAuthenticated: return "authenticated";
    case AuthState::kRefused: return "refused";
  }
  return "unknown";
}

Result<Nonce> random_nonce() {
  Nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1)
    return Result<Nonce>::failure("RAND_bytes failed: no random nonce for the auth challenge");
  return n;
}

wire::Digest hello_transcript(const wire::Hello& initiator, const wire::Hello& responder) {
  // Hello payloads are self-delimiting (the name has a length prefix) and
  // decode strictly, so this re-encoding equals the bytes on the wire.
  std::vector<uint8_t> both = wire::encode_payload(initiator);
  std::vector<uint8_t> second = wire::encode_payload(responder);
  both.insert(both.end(), second.begin(), second.end());
  wire::Digest d{};
  unsigned int len = 0;
  int ok = EVP_Digest(both.data(), both.size(), d.data(), &len, EVP_sha256(), nullptr);
  assert(ok == 1 && len == d.size());
  (void)ok;
  return d;
}

Mac auth_response_mac(std::span<const uint8_t> secret, AuthRole answering_role,
                      uint32_t answering_node, uint32_t challenger_node, const Nonce& challenge,
                      const Nonce& answering_nonce, const wire::Digest& transcript) {
  std::vector<uint8_t> msg(kAuthContext, kAuthContext + sizeof kAuthContext);
  msg.push_back(static_cast<uint8_t>(answering_role));
  put_be32(msg, answering_node);
  put_be32(msg, challenger_node);
  msg.insert(msg.end(), challenge.begin(), challenge.end());
  msg.insert(msg.end(), answering_nonce.begin(), answering_nonce.end());
  msg.insert(msg.end(), transcript.begin(), transcript.end());
  Mac mac{};
  unsigned int len = 0;
  // The one-shot HMAC() is not deprecated in OpenSSL 3 (only HMAC_CTX is).
  uint8_t* ok = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), msg.data(),
                     msg.size(), mac.data(), &len);
  assert(ok != nullptr && len == mac.size());
  (void)ok;
  return mac;
}

Result<AuthSession> AuthSession::create(AuthRole role, std::string_view secret,
                                        wire::Hello my_hello, const Nonce& my_nonce) {
  if (secret.empty())
    return Result<AuthSession>::failure(
        "shared-secret is empty: set a secret for the replication peers (authentication is "
        "mandatory)");
  return AuthSession(role, std::vector<uint8_t>(secret.begin(), secret.end()),
                     std::move(my_hello), my_nonce);
}

AuthSession::AuthSession(AuthRole role, std::vector<uint8_t> secret, wire::Hello my_hello,
                         const Nonce& my_nonce)
    : role_(role), secret_(std::move(secret)), my_hello_(std::move(my_hello)), my_nonce_(my_nonce) {}

AuthSession::~AuthSession() {
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

AuthRole AuthSession::peer_role() const {
  return role_ == AuthRole::kInitiator ? AuthRole::kResponder : AuthRole::kInitiator;
}

wire::Digest AuthSession::transcript() const {
  return role_ == AuthRole::kInitiator ? hello_transcript(my_hello_, peer_hello_)
                                       : hello_transcript(peer_hello_, my_hello_);
}

std::vector<wire::Message> AuthSession::start() {
  assert(!started_);
  started_ = true;
  return {my_hello_, wire::AuthChallenge{my_nonce_}};
}

AuthSession::Step AuthSession::transition(AuthState to, std::string reason,
                                          std::optional<std::string> tell_peer) {
  Step step;
  if (state_ == AuthState::kRefused) return step;  // refusal is final
  state_ = to;
  if (to == AuthState::kRefused) {
    if (tell_peer) {
      tell_peer->resize(std::min(tell_peer->size(), wire::kMaxReasonBytes));
      step.to_send.push_back(wire::AuthResult{false, std::move(*tell_peer)});
    }
    reason_ = std::move(reason);
  }
  expect_ = Expect::kNothing;
  return step;
}

AuthSession::Step AuthSession::on_message(const wire::Message& m) {
  assert(started_);
  if (state_ == AuthState::kRefused) return {};
  if (state_ == AuthState::kAuthenticated) {
    if (!is_handshake(m)) return {{}, true};
    // A second handshake on an authenticated stream is a protocol violation.
    std::string why = std::string("unexpected ") + wire::to_string(wire::type_of(m)) +
                      " after authentication";
    return transition(AuthState::kRefused, why, why);
  }
  // The peer may refuse us at any point (e.g. on our Hello's versions).
  if (const auto* r = std::get_if<wire::AuthResult>(&m); r && !r->ok)
    return transition(AuthState::kRefused, "peer refused us: " + r->reason, std::nullopt);

  static constexpr wire::FrameType kExpectedType[] = {
      wire::FrameType::kHello, wire::FrameType::kAuthChallenge, wire::FrameType::kAuthResponse,
      wire::FrameType::kAuthResult};
  int e = static_cast<int>(expect_);
  if (expect_ == Expect::kNothing || wire::type_of(m) != kExpectedType[e]) {
    std::string why = std::string("expected ") + expected_name(e) + ", got " +
                      wire::to_string(wire::type_of(m)) + " before authentication";
    return transition(AuthState::kRefused, why, why);
  }
  switch (expect_) {
    case Expect::kHello: return on_hello(std::get<wire::Hello>(m));
    case Expect::kChallenge: return on_challenge(std::get<wire::AuthChallenge>(m));
    case Expect::kResponse: return on_response(std::get<wire::AuthResponse>(m));
    case Expect::kResult: return transition(AuthState::kAuthenticated, "", std::nullopt);
    case Expect::kNothing: break;
  }
  return {};
}

AuthSession::Step AuthSession::on_hello(const wire::Hello& h) {
  uint16_t lo = std::max(h.min_version, my_hello_.min_version);
  uint16_t hi = std::min(h.max_version, my_hello_.max_version);
  if (lo > hi) {
    // Tell the peer our range too, so both logs say what to upgrade.
    return transition(AuthState::kRefused,
                      "peer speaks replication protocol " + range(h.min_version, h.max_version) +
                          ", this node " + range(my_hello_.min_version, my_hello_.max_version),
                      "no common replication protocol version: this node speaks " +
                          range(my_hello_.min_version, my_hello_.max_version));
  }
  // Equal ids would also make the MAC inputs of both directions alike.
  if (h.node_id == my_hello_.node_id) {
    std::string why = "peer has the same node id " + std::to_string(h.node_id) +
                      " as this node: node ids must differ";
    return transition(AuthState::kRefused, why, why);
  }
  peer_hello_ = h;
  agreed_version_ = hi;
  expect_ = Expect::kChallenge;
  return {};
}

AuthSession::Step AuthSession::on_challenge(const wire::AuthChallenge& c) {
  // Our own nonce coming back means someone is trying to make us answer our
  // own challenge (reflection); a real peer's random nonce never collides.
  if (CRYPTO_memcmp(c.nonce.data(), my_nonce_.data(), my_nonce_.size()) == 0)
    return transition(AuthState::kRefused, "peer's challenge is our own nonce: reflection attempt?",
                      "challenge refused");
  peer_nonce_ = c.nonce;
  expect_ = Expect::kResponse;
  Step step;
  step.to_send.push_back(wire::AuthResponse{auth_response_mac(
      secret_, role_, my_hello_.node_id, peer_hello_.node_id, peer_nonce_, my_nonce_,
      transcript())});
  return step;
}

AuthSession::Step AuthSession::on_response(const wire::AuthResponse& r) {
  Mac want = auth_response_mac(secret_, peer_role(), peer_hello_.node_id, my_hello_.node_id,
                               my_nonce_, peer_nonce_, transcript());
  // Constant time, so the comparison leaks nothing about how much matched.
  if (CRYPTO_memcmp(want.data(), r.mac.data(), want.size()) != 0)
    return transition(AuthState::kRefused, "peer's response does not match: wrong shared secret?",
                      "your AuthResponse does not match: wrong shared secret?");
  expect_ = Expect::kResult;
  Step step;
  step.to_send.push_back(wire::AuthResult{true, ""});
  return step;
}

}  // namespace vrrpd::replication
