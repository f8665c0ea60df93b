// DnsProbe: a connected non-blocking UDP socket for the query, a TCP retry
// when the answer is truncated, everything driven by EventLoop readiness
// callbacks. `done` is always delivered from a zero-delay loop timer so that
// start() never calls it and the probe may be destroyed inside it.
#include "checkers/dns_probe.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <system_error>

namespace vrrpd::checkers {
namespace {

constexpr std::uint16_t kDefaultDnsPort = 53;
constexpr std::size_t kMaxUdpDatagram = 65535;
// Reads per readiness callback. A server flooding us with strays must not
// keep the loop (and the runner's timeout timer) waiting; epoll is
// level-triggered, so what is left is reported again on the next pass.
constexpr int kMaxReadsPerWakeup = 16;

// strerror() is not thread-safe; generic_category() uses strerror_r.
std::string errno_text(int err) { return std::generic_category().message(err); }

// A fresh id per attempt so that a late reply to an earlier attempt, or a
// blind spoofer, is not taken for the answer. GRND_NONBLOCK: early at boot
// the entropy pool may not be ready, and the loop must not wait for it.
std::uint16_t random_query_id() {
  std::uint16_t id = 0;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof id)) return id;
  // Not secret, but different on each attempt: the socket is connected to the
  // server, so only the server or an on-path attacker can answer anyway.
  static std::atomic<std::uint32_t> counter{0};
  const auto t = static_cast<std::uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  const std::uint64_t n = counter++;
  return static_cast<std::uint16_t>(t ^ (t >> 16) ^ (t >> 32) ^ (n * 0x9e37u));
}

// Query and reply names compare without case and without a trailing dot.
std::string name_key(std::string name) {
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

DnsProbe::DnsProbe(EventLoop& loop, const config::Check& check) : loop_(loop), check_(check) {
  if (check_.port > 0 && check_.port <= 65535) port_ = static_cast<std::uint16_t>(check_.port);
  else port_ = kDefaultDnsPort;  // 0, or out of range (reported by begin())
  if (!check_.address) {
    endpoint_ = "?:" + std::to_string(port_);
    return;
  }
  const IpAddress& a = *check_.address;
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&server_);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port_);
    sin->sin_addr = a.to_in_addr();
    server_len_ = sizeof(sockaddr_in);
    endpoint_ = a.to_string() + ":" + std::to_string(port_);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&server_);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port_);
    sin6->sin6_addr = a.to_in6_addr();
    server_len_ = sizeof(sockaddr_in6);
    endpoint_ = "[" + a.to_string() + "]:" + std::to_string(port_);
  }
}

DnsProbe::~DnsProbe() { cancel(); }

std::string DnsProbe::target() const {
  std::string t = endpoint_ + " " + check_.query_name + " " + check_.query_type;
  if (name_key(check_.query_class) != "in") t += " " + check_.query_class;
  return t;
}

void DnsProbe::start(Done done) {
  cancel();  // an attempt still in flight is abandoned, never reported
  done_ = std::move(done);
  guarded([this] { begin(); });
}

void DnsProbe::cancel() {
  close_sockets();
  if (report_timer_ != 0) loop_.cancel_timer(report_timer_);
  report_timer_ = 0;
  done_ = nullptr;
  phase_ = Phase::kIdle;
}

template <typename Step>
void DnsProbe::guarded(Step step) {
  try {
    step();
  } catch (const std::exception& e) {
    fail(std::string("dns probe error: ") + e.what());
  } catch (...) {
    fail("dns probe error: unknown exception");
  }
}

void DnsProbe::begin() {
  if (server_len_ == 0) return fail("no server address configured");
  if (check_.port < 0 || check_.port > 65535)
    return fail("port " + std::to_string(check_.port) + " out of range 1..65535");
  id_ = random_query_id();
  try {
    query_ = build_query(id_, check_.query_name, check_.query_type, check_.query_class,
                         check_.recursion_desired);
  } catch (const std::invalid_argument& e) {
    return fail(e.what());  // already names the bad type, class or name
  }

  const int family = server_.ss_family;
  udp_fd_ = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // Each failure copies errno before building a message: allocation may change it.
  if (udp_fd_ < 0) {
    const int err = errno;
    return fail_errno("UDP socket", err);
  }
  // Connected: the kernel drops datagrams from anyone but the server and
  // reports its ICMP port unreachable to us as ECONNREFUSED.
  if (connect(udp_fd_, reinterpret_cast<const sockaddr*>(&server_), server_len_) < 0) {
    const int err = errno;
    return fail_errno("connect to " + endpoint_, err);
  }
  loop_.watch_fd(udp_fd_, EPOLLIN,
                 [this](std::uint32_t) { guarded([this] { on_udp_readable(); }); });
  if (send(udp_fd_, query_.data(), query_.size(), 0) < 0) {
    const int err = errno;
    return fail_errno("send to " + endpoint_, err);
  }
  phase_ = Phase::kUdp;
}

void DnsProbe::on_udp_readable() {
  if (phase_ != Phase::kUdp) return;
  rx_.resize(kMaxUdpDatagram);
  // Read queued datagrams: strays are skipped, the first match ends it.
  for (int reads = 0; reads < kMaxReadsPerWakeup; ++reads) {
    const ssize_t n = recv(udp_fd_, rx_.data(), rx_.size(), 0);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;  // wait for the next one
      if (err == EINTR) continue;
      if (err == ECONNREFUSED)
        return fail("connection refused (no DNS server on " + endpoint_ + ")");
      return fail_errno("receive from " + endpoint_, err);
    }
    if (handle_message({rx_.data(), static_cast<std::size_t>(n)}, /*over_tcp=*/false)) return;
  }
}

bool DnsProbe::handle_message(std::span<const std::uint8_t> message, bool over_tcp) {
  std::string error;
  auto answer = parse_response(message, &error);
  if (!answer) {
    // Garbage that carries our id is the server's reply and it is broken;
    // garbage without it is a stray and we keep waiting.
    if (message.size() >= 2 && ns_get16(message.data()) == id_) {
      fail("malformed reply from " + endpoint_ + ": " + error);
      return true;
    }
    return false;
  }
  if (answer->id != id_ || !matches_question(*answer)) return false;  // stray
  // Over TCP a TC bit is taken as final (dig does the same): there is no
  // larger transport to try.
  if (answer->truncated && !over_tcp) {
    start_tcp();
    return true;
  }
  finish(judge(*answer, check_));
  return true;
}

bool DnsProbe::matches_question(const DnsAnswer& answer) const {
  // Some servers send no question back with FORMERR/NOTIMP; the id has matched.
  if (answer.question_name.empty() && answer.question_type == 0) return true;
  return name_key(answer.question_name) == name_key(check_.query_name) &&
         answer.question_type == dns_type_code(check_.query_type) &&
         answer.question_class == dns_class_code(check_.query_class);
}

void DnsProbe::start_tcp() {
  close_sockets();  // the UDP socket is done with
  phase_ = Phase::kTcpConnect;
  // RFC 1035 4.2.2: over TCP each message is preceded by its 2-byte length.
  tcp_out_.assign(2, 0);
  ns_put16(static_cast<unsigned>(query_.size()), tcp_out_.data());
  tcp_out_.insert(tcp_out_.end(), query_.begin(), query_.end());
  tcp_sent_ = 0;
  tcp_in_.clear();

  tcp_fd_ = socket(server_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (tcp_fd_ < 0) {
    const int err = errno;
    return fail_errno("TCP socket", err);
  }
  if (connect(tcp_fd_, reinterpret_cast<const sockaddr*>(&server_), server_len_) < 0 &&
      errno != EINPROGRESS) {
    const int err = errno;
    return fail_errno("answer truncated over UDP; TCP connect to " + endpoint_, err);
  }
  // Writable means connected or failed; SO_ERROR tells which.
  loop_.watch_fd(tcp_fd_, EPOLLOUT,
                 [this](std::uint32_t) { guarded([this] { on_tcp_event(); }); });
}

void DnsProbe::on_tcp_event() {
  if (phase_ == Phase::kTcpConnect) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(tcp_fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == EINPROGRESS || err == EALREADY) return;  // not decided yet
    if (err != 0) return fail_errno("answer truncated over UDP; TCP connect to " + endpoint_, err);
    phase_ = Phase::kTcpSend;
  }
  if (phase_ == Phase::kTcpSend) return send_tcp();
  if (phase_ == Phase::kTcpReceive) return receive_tcp();
}

void DnsProbe::send_tcp() {
  while (tcp_sent_ < tcp_out_.size()) {
    // MSG_NOSIGNAL: a server that resets the connection must not SIGPIPE us.
    const ssize_t n =
        send(tcp_fd_, tcp_out_.data() + tcp_sent_, tcp_out_.size() - tcp_sent_, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;  // EPOLLOUT again later
      if (err == EINTR) continue;
      return fail_errno("TCP send to " + endpoint_, err);
    }
    tcp_sent_ += static_cast<std::size_t>(n);
  }
  phase_ = Phase::kTcpReceive;
  loop_.modify_fd(tcp_fd_, EPOLLIN);
}

void DnsProbe::receive_tcp() {
  std::uint8_t chunk[4096];
  for (int reads = 0; reads < kMaxReadsPerWakeup; ++reads) {
    const ssize_t n = recv(tcp_fd_, chunk, sizeof chunk, 0);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;  // the rest comes later
      if (err == EINTR) continue;
      return fail_errno("TCP receive from " + endpoint_, err);
    }
    if (n == 0) {
      std::string got = "without answering";
      if (tcp_in_.size() == 1) got = "in the middle of the length prefix";
      if (tcp_in_.size() >= 2)
        got = "after " + std::to_string(tcp_in_.size() - 2) + " of " +
              std::to_string(ns_get16(tcp_in_.data())) + " bytes of the answer";
      return fail("TCP: " + endpoint_ + " closed the connection " + got);
    }
    tcp_in_.insert(tcp_in_.end(), chunk, chunk + n);
    // Reassemble: a message may arrive in pieces, the length prefix included.
    while (tcp_in_.size() >= 2) {
      const auto len = static_cast<std::ptrdiff_t>(ns_get16(tcp_in_.data()));
      if (static_cast<std::ptrdiff_t>(tcp_in_.size()) < 2 + len) break;
      const std::vector<std::uint8_t> message(tcp_in_.begin() + 2, tcp_in_.begin() + 2 + len);
      tcp_in_.erase(tcp_in_.begin(), tcp_in_.begin() + 2 + len);
      if (handle_message(message, /*over_tcp=*/true)) return;
    }
  }
}

void DnsProbe::finish(ProbeResult result) {
  if (phase_ == Phase::kReporting) return;  // decided already; keep the first reason
  close_sockets();
  result_ = std::move(result);
  report_timer_ = loop_.add_timer(loop_.now(), [this] { report(); });
  phase_ = Phase::kReporting;
}

void DnsProbe::fail_errno(const std::string& what, int err) {
  fail(what + ": " + errno_text(err));
}

void DnsProbe::report() {
  report_timer_ = 0;
  phase_ = Phase::kIdle;
  Done done = std::move(done_);
  done_ = nullptr;
  ProbeResult result = std::move(result_);
  // Last: `done` may start the next attempt or destroy this probe. The loop
  // holds its own copy of this timer callback, so that is safe.
  if (done) done(std::move(result));
}

void DnsProbe::close_sockets() {
  for (int* fd : {&udp_fd_, &tcp_fd_}) {
    if (*fd < 0) continue;
    loop_.unwatch_fd(*fd);  // before close: the loop must not keep a callback for a reused number
    ::close(*fd);
    *fd = -1;
  }
}

}  // namespace vrrpd::checkers
