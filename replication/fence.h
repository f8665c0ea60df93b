// The fence path: DRBD's "fencing resource-only" without a cluster manager.
//
// Why: a Secondary that merely loses the replication link stays UpToDate
// (a failover survivor needs no force). If the link fails while both nodes
// live, the Primary goes on writing, and if it then dies the Secondary
// would be promoted with stale data: every write since the link failed is
// lost to the service, and comes back only as a split brain. DRBD closes
// this with a fence-peer handler that outdates the peer over the cluster
// manager's network. Here the daemons do it themselves over a second path
// between them (in practice the VRRP network): the Primary that finds itself
// without an established link asks the peer there to outdate itself; the
// peer persists "outdated" and refuses to promote without force, also after
// a restart. The Primary persists peer_outdated (so that, restarted alone,
// it may promote: nobody has newer data). Both are cleared by the next
// handshake. If the fence path is down too, nothing is outdated (resource-
// only fencing cannot do more; that double failure is what the witness is for).
//
// Wire format, version 1 (stable; README "Fence path"): one UDP datagram of
// ASCII per message, to and from the resource's replication port number on
// the fence addresses:
//   vrrpd-fence/1 KIND resource=NAME node=ID cnonce=HEX [snonce=HEX]
//                 [generation=HEX] [answer=WORD] [text=FREE TEXT] mac=HEX
// A fencing node sends `ask` (cnonce fresh per attempt); the peer answers
// `challenge` with a fresh single-use snonce; the fencing node sends
// `outdate` (both nonces and its current generation); the peer acts and
// answers `result` (answer = outdated, inconsistent, primary, connected or
// refused, echoing cnonce). mac is HMAC-SHA256 with the resource's shared
// secret over every byte before " mac=". The peer acts only on an outdate
// carrying a snonce it issued in the last few seconds and never used, so a
// recorded request cannot be replayed; the fencing node accepts only a
// result echoing its own cnonce. `node` is the sender's node name and
// `resource` must be the receiver's resource name.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "replication/resource.h"
#include "replication/result.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/base/ip_address.h"

namespace vrrpd::replication::fence {

struct Message {
  std::string kind;  // "ask", "challenge", "outdate", "result"
  std::string resource;
  std::string node;
  uint64_t cnonce = 0;
  uint64_t snonce = 0;      // challenge, outdate
  uint64_t generation = 0;  // outdate: the sender's current generation
  std::string answer;       // result: to_string(FenceAnswer)
  std::string text;         // result: what the answering node did, for the log
  bool operator==(const Message&) const = default;
};

std::string encode(const Message& m, std::string_view secret);
// nullopt with `error` set for anything malformed or with a wrong mac.
std::optional<Message> decode(std::string_view datagram, std::string_view secret, std::string* error);
// The answer word of a result; nullopt for an unknown word.
std::optional<FenceAnswer> answer_from(std::string_view word);

struct FencePathOptions {
  std::string resource;  // the resource's name (both nodes use the same)
  std::string node;      // this node's name, for the peer's log
  IpAddress local;       // this node's fence address; answered on local:port (UDP)
  uint16_t port = 7789;
  IpAddress peer;        // the peer's fence address
  uint16_t peer_port = 7789;
  std::string secret;    // the resource's shared secret
  // One attempt: `ask`, then `outdate`, each sent again every `retransmit`
  // until answered; given up after `attempt_timeout` (peer unreachable).
  Duration retransmit = std::chrono::milliseconds(100);
  Duration attempt_timeout = std::chrono::seconds(1);
  // While the resource still wants its peer fenced: the next attempt.
  Duration retry_interval = std::chrono::seconds(2);
  // How long an issued snonce stays valid.
  Duration challenge_lifetime = std::chrono::seconds(5);
};

// One per resource with fencing, on the resource's (engine) loop. Answers
// the peer's requests with Resource::answer_fence_request(), and whenever
// Resource::wants_peer_fenced() outdates the peer (poke() after every state
// change; it retries by itself while the resource still wants it).
class FencePath {
 public:
  // Binds local:port (UDP); an address that is not (yet) local is bound
  // anyway, with a warning. The error names the address and port.
  static Result<std::unique_ptr<FencePath>> open(EventLoop& loop, Resource& resource, FencePathOptions options);
  ~FencePath();
  FencePath(const FencePath&) = delete;
  FencePath& operator=(const FencePath&) = delete;

  // Starts an attempt now if the resource wants its peer fenced and none runs.
  void poke();

  struct Stats {
    uint64_t attempts = 0;    // attempts started
    uint64_t unanswered = 0;  // attempts the peer did not answer in time
    uint64_t requests_answered = 0;  // outdate requests of the peer acted on
    std::string last;         // the last outcome, for status and logs
    bool address_was_missing = false;  // fence_address was not local at open (bound anyway)
  };
  const Stats& stats() const { return stats_; }
  uint16_t port() const;  // the bound port (the kernel's choice when 0)

 private:
  FencePath(EventLoop& loop, Resource& resource, FencePathOptions options, int fd);
  void on_readable();
  void on_message(const Message& m, const sockaddr_storage& from, socklen_t from_len);
  void send_to(const Message& m, const sockaddr* to, socklen_t to_len);
  void send_to_peer(const Message& m);
  void start_attempt();
  void transmit();       // (re)sends the attempt's current message
  // `warn`: logged as a warning (the peer could not be fenced).
  void end_attempt(const std::string& outcome, bool retry, bool warn = false);
  void log(const std::string& message) const;
  uint64_t random_u64() const;

  EventLoop& loop_;
  Resource& resource_;
  FencePathOptions options_;
  int fd_ = -1;
  Stats stats_;

  // The attempt in progress (fencing the peer).
  struct Attempt {
    uint64_t cnonce = 0;
    std::optional<uint64_t> snonce;  // set once challenged: we are sending `outdate`
    TimePoint deadline{};
  };
  std::optional<Attempt> attempt_;
  Timer retransmit_timer_;
  Timer retry_timer_;

  // Challenges issued (answering the peer): snonce -> when it expires.
  std::map<uint64_t, TimePoint> challenges_;
  // Results given, by snonce, so that a retransmitted outdate gets the same
  // answer without acting twice (the last few).
  std::deque<std::pair<uint64_t, std::string>> results_;
};

}  // namespace vrrpd::replication::fence
