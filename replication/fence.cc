// The fence path; see fence.h.
#include "replication/fence.h"

#include <netinet/in.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdio>

#include "replication/signed_text.h"
#include "replication/tcp_transport.h"
#include "vrrpd/base/log.h"

namespace vrrpd::replication::fence {
namespace {

constexpr std::string_view kMagic = "vrrpd-fence/1";
constexpr std::size_t kMaxDatagram = 1024;
constexpr std::size_t kMaxChallenges = 16;  // outstanding at once; the oldest goes first
constexpr std::size_t kMaxResults = 16;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::optional<uint64_t> parse_hex64(const std::string& s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

bool known_kind(std::string_view k) { return k == "ask" || k == "challenge" || k == "outdate" || k == "result"; }

}  // namespace

std::optional<FenceAnswer> answer_from(std::string_view word) {
  for (FenceAnswer a : {FenceAnswer::kOutdated, FenceAnswer::kInconsistent, FenceAnswer::kPrimary,
                        FenceAnswer::kConnected, FenceAnswer::kRefused})
    if (word == to_string(a)) return a;
  return std::nullopt;
}

std::string encode(const Message& m, std::string_view secret) {
  std::string text = std::string(kMagic) + " " + m.kind + " resource=" + m.resource + " node=" + m.node +
                     " cnonce=" + hex64(m.cnonce);
  if (m.kind == "challenge" || m.kind == "outdate") text += " snonce=" + hex64(m.snonce);
  if (m.kind == "outdate") text += " generation=" + hex64(m.generation);
  if (m.kind == "result") {
    text += " answer=" + m.answer;
    // Free text last (it may hold spaces); no " mac=" inside it.
    std::string t = m.text.substr(0, 300);
    for (char& c : t)
      if (c < ' ' || c > '~') c = '?';
    for (auto at = t.find(" mac="); at != std::string::npos; at = t.find(" mac=")) t[at] = '_';
    text += " text=" + t;
  }
  return sign_text(std::move(text), secret);
}

std::optional<Message> decode(std::string_view d, std::string_view secret, std::string* error) {
  auto bad = [&](std::string why) -> std::optional<Message> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  auto parsed = parse_signed_text(d, kMagic, secret, error, "text");
  if (!parsed) return std::nullopt;
  auto& fields = parsed->fields;
  Message m;
  m.kind = parsed->kind;
  m.text = parsed->tail;
  if (!known_kind(m.kind)) return bad("unknown kind " + m.kind);
  auto hex_field = [&](const char* name, uint64_t& out) {
    auto it = fields.find(name);
    if (it == fields.end()) return false;
    auto v = parse_hex64(it->second);
    if (!v) return false;
    out = *v;
    return true;
  };
  m.resource = fields["resource"];
  m.node = fields["node"];
  if (!plain_word(m.resource) || !plain_word(m.node)) return bad("missing or malformed resource or node");
  if (!hex_field("cnonce", m.cnonce)) return bad("missing or malformed cnonce");
  if ((m.kind == "challenge" || m.kind == "outdate") && !hex_field("snonce", m.snonce))
    return bad("missing or malformed snonce");
  if (m.kind == "outdate" && !hex_field("generation", m.generation)) return bad("missing or malformed generation");
  if (m.kind == "result") {
    m.answer = fields["answer"];
    if (!answer_from(m.answer)) return bad("unknown answer " + m.answer);
  }
  return m;
}

// ---- FencePath ----

Result<std::unique_ptr<FencePath>> FencePath::open(EventLoop& loop, Resource& resource, FencePathOptions options) {
  using R = Result<std::unique_ptr<FencePath>>;
  const std::string where = options.local.to_string() + " port " + std::to_string(options.port);
  if (options.local.family() != options.peer.family())
    return R::failure("fence path: " + options.local.to_string() + " and " + options.peer.to_string() +
                      " are of different address families");
  int fd = ::socket(options.local.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return R::failure(std::string("fence path: socket: ") + std::strerror(errno));
  const SocketAddress sa = socket_address(options.local, options.port);
  bool not_local = false;
  int rc = ::bind(fd, sa.get(), sa.length);
  if (rc != 0 && errno == EADDRNOTAVAIL) {
    // Not (yet) an address of this host: at boot the second network may
    // come up after the daemon. Bind anyway (IP_FREEBIND, which Linux
    // honours for IPv6 sockets too); the path works once the address is
    // there, as the replication listener is retried until its own is.
    not_local = true;
    const int on = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof on);
    rc = ::bind(fd, sa.get(), sa.length);
  }
  if (rc != 0) {
    const int e = errno;
    ::close(fd);
    return R::failure("fence path: cannot listen on " + where + " (UDP): " + std::strerror(e));
  }
  auto path = std::unique_ptr<FencePath>(new FencePath(loop, resource, std::move(options), fd));
  if (not_local)
    log::warning("replication " + path->options_.resource + ": fence path: fence_address " + path->options_.local.to_string() +
                 " is not an address of this host (yet); bound anyway, the fence path works once it is");
  path->stats_.address_was_missing = not_local;
  return path;
}

FencePath::FencePath(EventLoop& loop, Resource& resource, FencePathOptions options, int fd)
    : loop_(loop),
      resource_(resource),
      options_(std::move(options)),
      fd_(fd),
      retransmit_timer_(loop, [this] { transmit(); }),
      retry_timer_(loop, [this] { poke(); }) {
  loop_.watch_fd(fd_, EPOLLIN, [this](std::uint32_t) { on_readable(); });
  log("fence path: answering on " + options_.local.to_string() + " port " + std::to_string(port()) +
      ", the peer's is " + options_.peer.to_string() + " port " + std::to_string(options_.peer_port));
}

FencePath::~FencePath() {
  loop_.unwatch_fd(fd_);
  ::close(fd_);
}

uint16_t FencePath::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return endpoint_of(ss).port;
}

void FencePath::log(const std::string& message) const {
  log::notice("replication " + options_.resource + ": " + message);
}

uint64_t FencePath::random_u64() const {
  uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<uint8_t*>(&v), sizeof v) != 1) {
    // Without a random nonce, replays could not be told apart: use the
    // clock and a counter instead, which are at least never repeated here.
    static uint64_t counter = 0;
    v = static_cast<uint64_t>(loop_.now().time_since_epoch().count()) ^ (++counter << 48);
  }
  return v;
}

void FencePath::send_to(const Message& m, const sockaddr* to, socklen_t to_len) {
  const std::string d = encode(m, options_.secret);
  // Best effort: a lost datagram is sent again (attempts) or asked again (answers).
  [[maybe_unused]] ssize_t n = ::sendto(fd_, d.data(), d.size(), MSG_DONTWAIT, to, to_len);
}

void FencePath::send_to_peer(const Message& m) {
  const SocketAddress sa = socket_address(options_.peer, options_.peer_port);
  send_to(m, sa.get(), sa.length);
}

void FencePath::poke() {
  if (attempt_ || !resource_.wants_peer_fenced()) return;
  retry_timer_.disarm();
  start_attempt();
}

void FencePath::start_attempt() {
  ++stats_.attempts;
  attempt_ = Attempt{random_u64(), std::nullopt, loop_.now() + options_.attempt_timeout};
  log("fence path: asking the peer (" + options_.peer.to_string() +
      ") to outdate itself: this node is Primary without a replication link to it");
  transmit();
}

void FencePath::transmit() {
  if (!attempt_) return;
  if (loop_.now() >= attempt_->deadline) {
    ++stats_.unanswered;
    return end_attempt("the peer did not answer on the fence path within " +
                           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              options_.attempt_timeout)
                                              .count()) +
                           " ms (down, or that path is cut too); not outdated",
                       true, true);
  }
  Message m;
  m.resource = options_.resource;
  m.node = options_.node;
  m.cnonce = attempt_->cnonce;
  if (attempt_->snonce) {
    m.kind = "outdate";
    m.snonce = *attempt_->snonce;
    m.generation = resource_.generations().current;
  } else {
    m.kind = "ask";
  }
  send_to_peer(m);
  retransmit_timer_.arm_in(options_.retransmit);
}

void FencePath::end_attempt(const std::string& outcome, bool retry, bool warn) {
  attempt_.reset();
  retransmit_timer_.disarm();
  // Once per outcome, not at every retry.
  if (outcome != stats_.last) {
    if (warn) log::warning("replication " + options_.resource + ": fence path: " + outcome);
    else log("fence path: " + outcome);
  }
  stats_.last = outcome;
  if (retry && resource_.wants_peer_fenced()) retry_timer_.arm_in(options_.retry_interval);
}

void FencePath::on_readable() {
  char buf[kMaxDatagram];
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN: drained
    std::string error;
    auto m = decode(std::string_view(buf, static_cast<std::size_t>(n)), options_.secret, &error);
    if (!m) {
      log("fence path: dropped a datagram from " + endpoint_of(from).to_string() + ": " + error);
      continue;
    }
    if (m->resource != options_.resource) {
      log("fence path: dropped a datagram from " + endpoint_of(from).to_string() + " for resource " + m->resource);
      continue;
    }
    on_message(*m, from, from_len);
  }
}

void FencePath::on_message(const Message& m, const sockaddr_storage& from, socklen_t from_len) {
  const auto* to = reinterpret_cast<const sockaddr*>(&from);
  Message reply;
  reply.resource = options_.resource;
  reply.node = options_.node;
  reply.cnonce = m.cnonce;
  if (m.kind == "ask") {
    // A fresh single-use challenge; the oldest goes when too many are open.
    const TimePoint now = loop_.now();
    std::erase_if(challenges_, [&](const auto& c) { return c.second <= now; });
    while (challenges_.size() >= kMaxChallenges) challenges_.erase(challenges_.begin());
    reply.kind = "challenge";
    reply.snonce = random_u64();
    challenges_[reply.snonce] = now + options_.challenge_lifetime;
    return send_to(reply, to, from_len);
  }
  if (m.kind == "outdate") {
    reply.kind = "result";
    for (const auto& [snonce, encoded] : results_) {
      if (snonce == m.snonce) {  // a retransmission: the same answer again
        ::sendto(fd_, encoded.data(), encoded.size(), MSG_DONTWAIT, to, from_len);
        return;
      }
    }
    auto it = challenges_.find(m.snonce);
    if (it == challenges_.end() || it->second <= loop_.now()) {
      log("fence path: dropped an outdate request from " + m.node + ": not answering a challenge of ours (a replay?)");
      return;
    }
    challenges_.erase(it);
    std::string text;
    const FenceAnswer a = resource_.answer_fence_request(m.generation, &text);
    ++stats_.requests_answered;
    reply.answer = to_string(a);
    reply.text = text;
    log("fence path: " + m.node + " (Primary, without our replication link) asked us to outdate ourselves: " +
        reply.answer + " (" + text + ")");
    const std::string encoded = encode(reply, options_.secret);
    results_.emplace_back(m.snonce, encoded);
    if (results_.size() > kMaxResults) results_.pop_front();
    ::sendto(fd_, encoded.data(), encoded.size(), MSG_DONTWAIT, to, from_len);
    return;
  }
  // challenge / result: answers to our attempt.
  if (!attempt_ || m.cnonce != attempt_->cnonce) return;  // stale or not ours
  if (m.kind == "challenge") {
    if (attempt_->snonce) return;  // a duplicate challenge; we answer the first
    attempt_->snonce = m.snonce;
    return transmit();
  }
  const FenceAnswer a = *answer_from(m.answer);
  const std::string said = m.node + " answered " + m.answer + " (" + m.text + ")";
  switch (a) {
    case FenceAnswer::kOutdated:
    case FenceAnswer::kInconsistent:
      resource_.note_peer_fenced(a, said);
      return end_attempt("peer fenced: " + said, false);
    case FenceAnswer::kPrimary:
      return end_attempt("peer not fenced: " + said +
                             ": both nodes are Primary; their data diverge (split brain at the next connect)",
                         true, true);
    case FenceAnswer::kConnected:
      return end_attempt("peer not fenced: " + said, true);
    case FenceAnswer::kRefused:
      return end_attempt("peer not fenced: " + said, true);
  }
}

}  // namespace vrrpd::replication::fence
