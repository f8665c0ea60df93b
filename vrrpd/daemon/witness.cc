// Quorum with a witness; see witness.h.
#include "vrrpd/daemon/witness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "replication/signed_text.h"
#include "replication/tcp_transport.h"
#include "vrrpd/base/log.h"

namespace vrrpd::witness {
namespace {

constexpr std::string_view kMagic = "vrrpd-witness/1";
constexpr Duration kRetransmit = std::chrono::milliseconds(100);

long long to_ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

int open_udp(Family family) {
  int fd = socket(family == Family::kIPv4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("witness: socket: ") + std::strerror(errno));
  return fd;
}

}  // namespace

std::string encode(const Message& m, std::string_view secret) {
  std::string text = std::string(kMagic) + " " + m.kind + " node=" + m.node + " lock=" + m.lock +
                     " boot=" + std::to_string(m.boot) + " seq=" + std::to_string(m.seq);
  if (m.kind == "granted" || m.kind == "refused")
    text += " holder=" + (m.holder.empty() ? std::string("-") : m.holder) +
            " remaining_ms=" + std::to_string(m.remaining_ms);
  return replication::sign_text(std::move(text), secret);
}

std::optional<Message> decode(std::string_view d, std::string_view secret, std::string* error) {
  auto bad = [&](std::string why) -> std::optional<Message> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  auto parsed = replication::parse_signed_text(d, kMagic, secret, error);
  if (!parsed) return std::nullopt;
  Message m;
  m.kind = parsed->kind;
  const auto& fields = parsed->fields;
  if (m.kind != "claim" && m.kind != "renew" && m.kind != "release" && m.kind != "granted" && m.kind != "refused")
    return bad("unknown kind " + m.kind);
  try {
    m.node = fields.at("node");
    m.lock = fields.at("lock");
    m.boot = std::stoull(fields.at("boot"));
    m.seq = std::stoull(fields.at("seq"));
    if (m.kind == "granted" || m.kind == "refused") {
      m.holder = fields.at("holder") == "-" ? "" : fields.at("holder");
      m.remaining_ms = std::stoull(fields.at("remaining_ms"));
    }
  } catch (const std::exception&) {
    return bad("missing or malformed field");
  }
  if (!replication::plain_word(m.node) || !replication::plain_word(m.lock))
    return bad("malformed node or lock name");
  return m;
}

// ---- LeaseTable ----

LeaseTable::Answer LeaseTable::claim(const std::string& lock, const std::string& node, TimePoint now,
                                     bool renewal) {
  if (started_ && now < *started_ + 2 * lease_ && leases_.count(lock) == 0 && !renewal) {
    // Restarted: whoever held the lock before may still hold it; give it a
    // chance to renew first.
    return {false, "", *started_ + 2 * lease_ - now};
  }
  Lease& l = leases_[lock];
  // Free, ours, or the old holder has had a whole lease past its expiry to step down.
  if (l.holder.empty() || l.holder == node || now >= l.expires + lease_) {
    l.holder = node;
    l.expires = now + lease_;
    return {true, node, lease_};
  }
  return {false, l.holder, l.expires + lease_ - now};
}

void LeaseTable::release(const std::string& lock, const std::string& node) {
  auto it = leases_.find(lock);
  if (it != leases_.end() && it->second.holder == node) leases_.erase(it);
}

// ---- Server ----

Server::Server(EventLoop& loop, const IpAddress& address, uint16_t port, std::string secret, Duration lease,
               bool restart_wait)
    : loop_(loop),
      secret_(std::move(secret)),
      table_(lease, restart_wait ? std::optional<TimePoint>(loop.now()) : std::nullopt) {
  fd_ = open_udp(address.family());
  const replication::SocketAddress sa = replication::socket_address(address, port);
  if (bind(fd_, sa.get(), sa.length) != 0) {
    const int e = errno;
    close(fd_);
    throw std::runtime_error("witness: cannot listen on " + address.to_string() + " port " + std::to_string(port) +
                             ": " + std::strerror(e));
  }
  loop_.watch_fd(fd_, EPOLLIN, [this](std::uint32_t) { on_readable(); });
  log::notice("witness: answering lease claims on " + address.to_string() + " port " + std::to_string(port) +
              " (lease " + std::to_string(to_ms(lease)) + " ms)");
}

Server::~Server() {
  loop_.unwatch_fd(fd_);
  close(fd_);
}

uint16_t Server::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

void Server::on_readable() {
  char buf[1024];
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN: drained
    std::string error;
    auto m = decode(std::string_view(buf, static_cast<std::size_t>(n)), secret_, &error);
    if (!m || (m->kind != "claim" && m->kind != "renew" && m->kind != "release")) {
      log::warning("witness: dropped a datagram: " + (m ? "unexpected " + m->kind : error));
      continue;
    }
    // Replays: within one boot of a node, sequence numbers only grow; the
    // latest one repeated (a retransmit) gets the answer it got.
    auto& seen = last_seen_[m->node];
    if (seen.boot == m->boot && m->seq < seen.seq) continue;
    if (seen.boot == m->boot && m->seq == seen.seq) {
      if (!seen.answer.empty())
        sendto(fd_, seen.answer.data(), seen.answer.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
      continue;
    }
    seen = {m->boot, m->seq, ""};
    Message reply{"granted", m->node, m->lock, m->boot, m->seq, m->node, 0};
    if (m->kind == "release") {
      table_.release(m->lock, m->node);
      log::info("witness: " + m->node + " released " + m->lock);
      continue;
    }
    const auto answer = table_.claim(m->lock, m->node, loop_.now(), m->kind == "renew");
    if (!answer.granted) {
      reply.kind = "refused";
      reply.holder = answer.holder;
      reply.remaining_ms = static_cast<uint64_t>(to_ms(answer.remaining));
      log::info("witness: " + m->lock + " refused to " + m->node + ": " +
                (answer.holder.empty() ? std::string("restarted, waiting for an old holder to renew")
                                       : "held by " + answer.holder));
    }
    seen.answer = encode(reply, secret_);
    sendto(fd_, seen.answer.data(), seen.answer.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

// ---- Client ----

struct Client::Pending {
  Pending(EventLoop& loop, std::function<void()> on_retransmit) : retransmit(loop, std::move(on_retransmit)) {}
  std::string kind;      // "claim" or "renew"
  std::string lock;
  Done done;             // empty for a renewal
  TimePoint first_sent{};  // the lease counts from here (the earliest possible arrival)
  Timer retransmit;
};

struct Client::Held {
  Held(EventLoop& loop, std::function<void()> on_renew) : renew(loop, std::move(on_renew)) {}
  TimePoint valid_until{};  // send time of the last granted claim + lease
  Timer renew;
};

Client::Client(EventLoop& loop, Options opts) : loop_(loop), opts_(std::move(opts)) {
  fd_ = open_udp(opts_.address.family());
  loop_.watch_fd(fd_, EPOLLIN, [this](std::uint32_t) { on_readable(); });
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&boot_), sizeof boot_) != 1)
    boot_ = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

Client::~Client() {
  loop_.unwatch_fd(fd_);
  close(fd_);
}

void Client::send(const std::string& kind, const std::string& lock, uint64_t seq) {
  Message m{kind, opts_.node, lock, boot_, seq, "", 0};
  const std::string out = encode(m, opts_.secret);
  const replication::SocketAddress to = replication::socket_address(opts_.address, opts_.port);
  sendto(fd_, out.data(), out.size(), 0, to.get(), to.length);  // loss = a retransmit
}

void Client::claim(const std::string& lock, Done done) { ask("claim", lock, std::move(done)); }

void Client::ask(const std::string& kind, const std::string& lock, Done done) {
  const uint64_t seq = next_seq_++;
  auto p = std::make_unique<Pending>(loop_, [this, seq] { retransmit(seq); });
  p->kind = kind;
  p->lock = lock;
  p->done = std::move(done);
  p->first_sent = loop_.now();
  p->retransmit.arm_in(kRetransmit);
  pending_.emplace(seq, std::move(p));
  send(kind, lock, seq);
}

void Client::retransmit(uint64_t seq) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  if (loop_.now() - p.first_sent >= opts_.answer_timeout) {
    std::unique_ptr<Pending> gone = std::move(it->second);
    pending_.erase(it);
    if (gone->done)
      gone->done(Result::kUnreachable, "the witness at " + opts_.address.to_string() + " port " +
                                           std::to_string(opts_.port) + " did not answer within " +
                                           std::to_string(to_ms(opts_.answer_timeout)) + " ms");
    return;
  }
  // The same seq: the witness answers a repeat with the answer it gave.
  send(p.kind, p.lock, seq);
  p.retransmit.arm_in(kRetransmit);
}

void Client::on_readable() {
  char buf[1024];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return;
    std::string error;
    auto m = decode(std::string_view(buf, static_cast<std::size_t>(n)), opts_.secret, &error);
    if (!m || m->node != opts_.node || m->boot != boot_ || (m->kind != "granted" && m->kind != "refused"))
      continue;  // not an answer to us (our own datagram reflected back is not one either)
    auto it = pending_.find(m->seq);
    if (it == pending_.end()) continue;  // late or duplicate
    std::unique_ptr<Pending> p = std::move(it->second);
    pending_.erase(it);
    if (m->kind == "granted") {
      auto& held = held_[p->lock];
      if (!held) {
        const std::string lock = p->lock;
        held = std::make_unique<Held>(loop_, [this, lock] { renew(lock); });
      }
      held->valid_until = p->first_sent + opts_.lease;
      held->renew.arm_in(opts_.lease / 3);
      if (p->done) p->done(Result::kGranted, "the witness granted " + p->lock + " for " +
                                                 std::to_string(to_ms(opts_.lease)) + " ms");
    } else if (p->done) {
      p->done(Result::kRefused, m->holder.empty()
                                    ? "the witness gives " + p->lock + " to nobody yet: it restarted and waits " +
                                          std::to_string(m->remaining_ms) + " ms for an old holder to renew"
                                    : "the witness gives " + p->lock + " to " + m->holder + " (" +
                                          std::to_string(m->remaining_ms) + " ms more at least)");
    } else {
      // A renewal refused: someone else holds it now; our lease runs out.
      log::warning("witness: renewal of " + p->lock + " refused: held by " + m->holder);
    }
  }
}

void Client::renew(const std::string& lock) {
  auto it = held_.find(lock);
  if (it == held_.end()) return;
  it->second->renew.arm_in(opts_.lease / 3);  // the next renewal, whatever becomes of this one
  ask("renew", lock, {});
}

void Client::release(const std::string& lock) {
  if (held_.erase(lock) == 0) return;
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->second->lock == lock ? pending_.erase(it) : std::next(it);
  send("release", lock, next_seq_++);
}

bool Client::holds(const std::string& lock) const {
  auto it = held_.find(lock);
  return it != held_.end() && loop_.now() < it->second->valid_until;
}

}  // namespace vrrpd::witness
