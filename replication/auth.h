// Peer authentication of a replication connection: the connect handshake
// (Hello, then an HMAC-SHA256 challenge-response over the shared secret) as a
// pure state machine per side. It reads no socket, clock or random source:
// the caller passes this side's nonce in (random_nonce() in production) and
// moves messages between AuthSession and the connection.
//
// Both sides send, at once and in this order: Hello, AuthChallenge. Each then
// expects from its peer, in order: Hello, AuthChallenge, AuthResponse,
// AuthResult. Each answers the peer's challenge and checks the peer's answer
// to its own. Authenticated = we checked the peer's answer AND the peer said
// it accepted ours (so neither side sends data the other would refuse). Until
// then every other frame is refused: no data from an unauthenticated peer.
//
// What the MAC covers (auth_response_mac) and why: the challenge answered
// (freshness: a recorded response is useless against a new nonce), the
// answering side's own nonce, its connection role and node id and the
// challenger's node id (a response cannot be reflected back to the node that
// made it, nor replayed on a second connection), and a SHA-256 of both Hello
// payloads (a man in the middle cannot alter generations or sizes unnoticed).
// It does NOT protect the frames after the handshake (no per-frame MAC, no
// encryption): run replication on a private link or over IPsec/WireGuard.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replication/protocol.h"
#include "replication/result.h"

namespace vrrpd::replication {

// Which end of the TCP connection this side is: the one that called
// connect() is the initiator. Both peers must agree (it is in the MAC).
enum class AuthRole : uint8_t { kInitiator = 1, kResponder = 2 };

enum class AuthState { kInProgress, kAuthenticated, kRefused };
// "in-progress", "authenticated", "refused".
const char* to_string(AuthState s);

using Nonce = std::array<uint8_t, wire::kNonceSize>;
using Mac = std::array<uint8_t, wire::kMacSize>;

// A fresh nonce from OpenSSL's CSPRNG (RAND_bytes); fails only if the RNG does.
Result<Nonce> random_nonce();

// SHA-256 of the initiator's Hello payload followed by the responder's.
wire::Digest hello_transcript(const wire::Hello& initiator, const wire::Hello& responder);

// HMAC-SHA256(secret, "vrrpd-replication-auth-v1\0" || role(u8) ||
//   answering_node(u32 BE) || challenger_node(u32 BE) || challenge ||
//   answering_nonce || transcript): the AuthResponse the side with
// `answering_role`/`answering_node` sends to answer `challenge`.
Mac auth_response_mac(std::span<const uint8_t> secret, AuthRole answering_role,
                      uint32_t answering_node, uint32_t challenger_node, const Nonce& challenge,
                      const Nonce& answering_nonce, const wire::Digest& transcript);

class AuthSession {
 public:
  // `my_hello` is sent as is (its node_id is this node's id, its version range
  // what this node speaks). Fails on an empty secret: that is a configuration
  // error, never "no authentication".
  static Result<AuthSession> create(AuthRole role, std::string_view secret, wire::Hello my_hello,
                                    const Nonce& my_nonce);
  AuthSession(AuthSession&&) = default;
  AuthSession& operator=(AuthSession&&) = default;
  AuthSession(const AuthSession&) = delete;
  AuthSession& operator=(const AuthSession&) = delete;
  ~AuthSession();  // wipes the secret

  // The first frames to send: Hello, AuthChallenge. Call once, before
  // on_message().
  std::vector<wire::Message> start();

  struct Step {
    std::vector<wire::Message> to_send;  // send these, in order
    // The message is an authenticated non-handshake frame: hand it to the
    // engine. Always false before kAuthenticated.
    bool deliver = false;
  };
  // Consumes one message received from the peer. On refusal, to_send holds an
  // AuthResult(refused) for the peer (unless the peer refused first); the
  // caller sends it and closes the connection. Messages after a refusal are
  // ignored.
  Step on_message(const wire::Message& m);

  AuthState state() const { return state_; }
  // Why the session was refused, for the log ("peer's response does not
  // match: wrong shared secret?"); empty otherwise.
  const std::string& reason() const { return reason_; }
  // The peer's Hello; meaningful once received (always when authenticated).
  const wire::Hello& peer_hello() const { return peer_hello_; }
  // Highest protocol version both sides speak; 0 until the peer's Hello.
  uint16_t agreed_version() const { return agreed_version_; }

 private:
  AuthSession(AuthRole role, std::vector<uint8_t> secret, wire::Hello my_hello,
              const Nonce& my_nonce);
  AuthRole peer_role() const;
  wire::Digest transcript() const;
  Step on_hello(const wire::Hello& h);
  Step on_challenge(const wire::AuthChallenge& c);
  Step on_response(const wire::AuthResponse& r);
  // The only state change: records the new state and, for a refusal, the
  // reason for our log; returns AuthResult(refused, *tell_peer) to send when
  // tell_peer is set (the peer's log shows "peer refused us: <tell_peer>").
  Step transition(AuthState to, std::string reason, std::optional<std::string> tell_peer);

  // Next handshake message expected from the peer.
  enum class Expect { kHello, kChallenge, kResponse, kResult, kNothing };

  AuthRole role_;
  std::vector<uint8_t> secret_;  // a vector, so a move never leaves a copy behind
  wire::Hello my_hello_;
  Nonce my_nonce_;
  bool started_ = false;
  Expect expect_ = Expect::kHello;
  wire::Hello peer_hello_;
  Nonce peer_nonce_{};
  uint16_t agreed_version_ = 0;
  AuthState state_ = AuthState::kInProgress;
  std::string reason_;
};

}  // namespace vrrpd::replication
