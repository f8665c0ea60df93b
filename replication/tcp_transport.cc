// TcpConnector and TcpConnection on the EventLoop: non-blocking sockets only,
// and every readiness event is confirmed by a syscall before it is acted on
// (an fd number can be reused by a new socket within one epoll batch, so an
// event may be stale).
#include "replication/tcp_transport.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <fstream>
#include <span>
#include <utility>

namespace vrrpd::replication {
namespace {

// 256 KiB per read(2): a 1 MiB Data frame in four system calls, not sixteen.
constexpr size_t kReadChunkBytes = 256 * 1024;
// Up to 1 MiB per readiness event, then other fds get the loop; epoll is
// level-triggered, so the rest is read on the next pass. Into a receiver's
// own memory (receive_space) reads are as big as the space it offers, so
// the count is capped too.
constexpr size_t kMaxReadBytesPerEvent = 1u << 20;
constexpr int kMaxReadsPerEvent = 64;
// Largest SO_RCVLOWAT asked for, bytes: above one maximal frame. (The
// kernel grows an unlocked receive buffer to fit the mark, and wakes a
// reader below the mark when the receive window is nearly closed or memory
// is short, so a large mark cannot stall the stream.)
constexpr size_t kMaxReceiveLowWater = 2u << 20;
constexpr int kMaxIovecs = 64;  // queued vectors handed to one sendmsg()
constexpr int kMaxAcceptsPerEvent = 16;
constexpr int kListenBacklog = 8;  // only one peer ever connects
// TCP keepalive is a backstop for an idle engine: a peer that vanished
// without a FIN or RST is noticed after 30 s + 3 × 10 s. The engine's own
// pings notice it sooner while it is active.
constexpr int kKeepAliveIdleSeconds = 30;
constexpr int kKeepAliveIntervalSeconds = 10;
constexpr int kKeepAliveProbes = 3;

// strerror text with a lower-case first letter, to sit after a colon.
std::string errno_text(int e) {
  std::string text = std::strerror(e);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// Why an established stream ended, for on_closed.
std::string closed_reason(int e) {
  switch (e) {
    case ECONNRESET:
    case EPIPE:  // a write after the peer's RST
      return "connection reset by peer";
    case ETIMEDOUT:
      return "connection timed out (the peer stopped answering)";
    default:
      return errno_text(e);
  }
}

// "150 ms" or "10 s".
std::string duration_text(Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

int socket_family(const IpAddress& address) { return address.is_v4() ? AF_INET : AF_INET6; }

void set_int_option(int fd, int level, int name, int value) {
  // Best effort: a failure leaves a working, merely less tuned, socket.
  [[maybe_unused]] int r = ::setsockopt(fd, level, name, &value, sizeof value);
}

// EventLoop::watch_fd throws (epoll_ctl failed: ENOMEM, max_user_watches);
// no exception may cross the loop, so it becomes an error text here.
bool watch(EventLoop& loop, int fd, uint32_t events, std::string& error, EventLoop::FdCallback cb) {
  try {
    loop.watch_fd(fd, events, std::move(cb));
    return true;
  } catch (const std::exception& e) {
    error = std::string("cannot watch the socket: ") + e.what();
    return false;
  }
}

}  // namespace

SocketAddress socket_address(const IpAddress& address, uint16_t port) {
  SocketAddress sa;
  if (address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&sa.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = address.to_in_addr();
    sa.length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&sa.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = address.to_in6_addr();
    sa.length = sizeof(sockaddr_in6);
  }
  return sa;
}

TcpEndpoint endpoint_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    return {IpAddress::v4(sin->sin_addr), ntohs(sin->sin_port)};
  }
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  return {IpAddress::v6(sin6->sin6_addr), ntohs(sin6->sin6_port)};
}

// ---------------------------------------------------------------------------
// TcpEndpoint

Result<TcpEndpoint> TcpEndpoint::parse(std::string_view text) {
  auto failure = [&](const std::string& why) {
    return Result<TcpEndpoint>::failure("'" + std::string(text) +
                                        "' is not address:port (e.g. 192.0.2.1:7789 or "
                                        "[2001:db8::1]:7789): " +
                                        why);
  };
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return failure("missing ']:' after the IPv6 address");
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return failure("missing ':port'");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return failure("an IPv6 address needs brackets: [2001:db8::1]:7789");
  }
  const auto address = IpAddress::parse(host);
  if (!address)
    return failure("'" + std::string(host) +
                   "' is not a literal IP address (names are not looked up)");
  if (text.front() == '[' && !address->is_v6())
    return failure("brackets are for IPv6 addresses only");
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535)
    return failure("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
  return TcpEndpoint{*address, static_cast<uint16_t>(port)};
}

std::string TcpEndpoint::to_string() const {
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------
// RepeatedMessageFilter

std::optional<std::string> RepeatedMessageFilter::filter(const std::string& text, TimePoint now) {
  if (!last_text_ || *last_text_ != text) {
    last_text_ = text;
    last_passed_ = now;
    suppressed_ = 0;
    return text;
  }
  if (now - last_passed_ < repeat_interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  std::string passed = text;
  if (suppressed_ > 0)
    passed += " (repeated " + (suppressed_ == 1 ? "once" : std::to_string(suppressed_) + " times") +
              " since last reported)";
  last_passed_ = now;
  suppressed_ = 0;
  return passed;
}

void RepeatedMessageFilter::reset() {
  last_text_.reset();
  suppressed_ = 0;
}

// ---------------------------------------------------------------------------
// TcpConnection

TcpConnection::TcpConnection(EventLoop& loop, int fd, std::string peer_description)
    : loop_(loop),
      fd_(fd),
      peer_description_(std::move(peer_description)),
      deferred_failure_(loop, [this] { fail(std::exchange(deferred_reason_, {})); }) {
  // The socket may come from anywhere (accept, connect, a test's socketpair):
  // make sure it cannot block the loop or leak into spawned programs.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  // Protocol headers and acks are small and latency-bound (protocol C waits
  // for the peer's ack of every write): Nagle would hold them back an RTT.
  set_int_option(fd_, IPPROTO_TCP, TCP_NODELAY, 1);
  set_int_option(fd_, SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int_option(fd_, IPPROTO_TCP, TCP_KEEPIDLE, kKeepAliveIdleSeconds);
  set_int_option(fd_, IPPROTO_TCP, TCP_KEEPINTVL, kKeepAliveIntervalSeconds);
  set_int_option(fd_, IPPROTO_TCP, TCP_KEEPCNT, kKeepAliveProbes);
}

std::string TcpConnection::congestion_control() const {
  char name[32] = {};
  socklen_t len = sizeof name - 1;
  if (fd_ < 0 || ::getsockopt(fd_, IPPROTO_TCP, TCP_CONGESTION, name, &len) < 0) return "";
  return std::string(name, ::strnlen(name, len));
}

TcpConnection::~TcpConnection() {
  *alive_ = false;
  release_socket();
}

void TcpConnection::start(Callbacks cb) {
  assert(!started_ && "Connection::start() is called once");
  cb_ = std::move(cb);
  assert(!cb_.receive_space == !cb_.on_received);
  started_ = true;
  // Only a receiver that takes bytes as on_bytes needs a buffer of ours.
  if (!cb_.receive_space) read_buffer_ = std::make_shared<std::vector<uint8_t>>(kReadChunkBytes);
  if (fd_ < 0) return;  // closed before it was started
  interest_ = EPOLLIN | (send_queue_.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
  std::string error;
  watching_ =
      watch(loop_, fd_, interest_, error, [this](uint32_t events) { on_socket_events(events); });
  if (!watching_) fail_later(error);
}

void TcpConnection::send(std::vector<uint8_t> bytes) {
  if (!can_queue()) return;
  const bool was_idle = send_queue_.empty();
  enqueue(Outgoing{std::move(bytes), {}, nullptr});
  write_if(was_idle);
}

void TcpConnection::send_borrowed(std::vector<uint8_t> head, std::span<const uint8_t> body,
                                  std::shared_ptr<const void> keep) {
  if (!can_queue()) return;
  const bool was_idle = send_queue_.empty();
  enqueue(Outgoing{std::move(head), {}, nullptr});
  enqueue(Outgoing{{}, body, std::move(keep)});
  write_if(was_idle);  // both in one sendmsg(): the head is not a packet of its own
}

bool TcpConnection::can_queue() const { return fd_ >= 0 && deferred_reason_.empty(); }

void TcpConnection::enqueue(Outgoing out) {
  if (!out.owned.empty()) out.bytes = out.owned;  // a moved vector keeps its buffer
  if (out.bytes.empty()) return;
  queued_bytes_ += out.bytes.size();
  send_queue_.push_back(std::move(out));
}

void TcpConnection::write_if(bool was_idle) {
  if (!watching_ || !was_idle) return;  // not started yet, or EPOLLOUT is already awaited
  // Write at once what the kernel takes: saves a loop pass and two
  // epoll_ctl calls per message while the socket keeps up.
  if (const int e = write_queued(); e != 0) return fail_later(closed_reason(e));
  update_interest();
}

void TcpConnection::expect_bytes(size_t bytes) {
  // SO_RCVLOWAT: epoll reports the socket readable once that many bytes are
  // queued (or the stream ended, or an error): the kernel then wakes this
  // loop once per frame rather than per segment. Best effort.
  if (fd_ < 0) return;
  const int want = static_cast<int>(std::clamp<size_t>(bytes, 1, kMaxReceiveLowWater));
  if (want == receive_low_water_) return;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0) receive_low_water_ = want;
}

void TcpConnection::close() { release_socket(); }

void TcpConnection::release_socket() {
  deferred_failure_.disarm();
  if (fd_ < 0) return;
  if (watching_) loop_.unwatch_fd(fd_);
  watching_ = false;
  ::close(fd_);
  fd_ = -1;
  send_queue_.clear();
  front_written_ = 0;
  queued_bytes_ = 0;
  // cb_ is kept: close() may be called from inside one of the callbacks.
}

void TcpConnection::fail_later(std::string reason) {
  deferred_reason_ = std::move(reason);
  deferred_failure_.arm_in(Duration::zero());
}

void TcpConnection::fail(const std::string& reason) {
  if (fd_ < 0) return;
  release_socket();
  auto on_closed = std::exchange(cb_.on_closed, nullptr);  // at most once
  if (on_closed) on_closed(reason);
}

void TcpConnection::on_socket_events(uint32_t epoll_events) {
  // EPOLLHUP/EPOLLERR are confirmed by read(): it returns the data still
  // buffered first, then 0 (FIN) or the socket error.
  if ((epoll_events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !read_available()) return;
  if (!(epoll_events & EPOLLOUT)) return;
  if (const int e = write_queued(); e != 0) return fail(closed_reason(e));
  update_interest();
}

bool TcpConnection::read_available() {
  // Copies: the engine may close() or destroy this connection inside a
  // callback.
  const auto alive = alive_;
  const auto buffer = read_buffer_;
  const auto on_bytes = cb_.on_bytes;
  const auto receive_space = cb_.receive_space;
  const auto on_received = cb_.on_received;
  size_t read_bytes = 0;
  for (int i = 0; i < kMaxReadsPerEvent && read_bytes < kMaxReadBytesPerEvent; ++i) {
    const std::span<uint8_t> into = receive_space ? receive_space() : std::span<uint8_t>(*buffer);
    assert(!into.empty() && "the receiver makes room inside on_received");
    if (into.empty()) return true;
    const ssize_t n = ::read(fd_, into.data(), into.size());
    if (n > 0) {
      const auto got = static_cast<size_t>(n);
      read_bytes += got;
      if (receive_space) {
        on_received(got);
      } else if (on_bytes) {
        on_bytes(into.first(got));
      }
      if (!*alive || fd_ < 0) return false;
      // A short read emptied the socket: the next would only say EAGAIN
      // (and level-triggered epoll reports anything that arrives later).
      if (got < into.size()) return true;
      continue;
    }
    if (n == 0) {
      fail("peer closed the connection");
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    fail(closed_reason(errno));
    return false;
  }
  return true;
}

int TcpConnection::write_queued() {
  const size_t queued_before = queued_bytes_;
  const int e = write_queued_once();
  if (e == 0 && queued_bytes_ < queued_before && cb_.on_drained) cb_.on_drained();
  return e;
}

int TcpConnection::write_queued_once() {
  while (!send_queue_.empty()) {
    iovec iov[kMaxIovecs];
    int count = 0;
    for (auto it = send_queue_.begin(); it != send_queue_.end() && count < kMaxIovecs;
         ++it, ++count) {
      const size_t skip = count == 0 ? front_written_ : 0;
      iov[count].iov_base = const_cast<uint8_t*>(it->bytes.data()) + skip;  // sendmsg only reads it
      iov[count].iov_len = it->bytes.size() - skip;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    // MSG_NOSIGNAL: a peer's reset must come back as EPIPE, not kill the daemon.
    const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return errno;
    }
    size_t left = static_cast<size_t>(sent);
    queued_bytes_ -= left;
    while (left > 0) {
      const size_t front_left = send_queue_.front().bytes.size() - front_written_;
      if (left < front_left) {
        front_written_ += left;
        break;
      }
      left -= front_left;
      send_queue_.pop_front();
      front_written_ = 0;
    }
  }
  return 0;
}

void TcpConnection::update_interest() {
  if (!watching_) return;
  const uint32_t wanted = EPOLLIN | (send_queue_.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
  if (wanted == interest_) return;
  loop_.modify_fd(fd_, wanted);
  interest_ = wanted;
}

// ---------------------------------------------------------------------------
// TcpConnector

TcpConnector::TcpConnector(EventLoop& loop, TcpConnectorOptions options)
    : loop_(loop),
      options_(std::move(options)),
      retry_timer_(loop, [this] { attempt_connect(); }),
      connect_timeout_(loop,
                       [this] {
                         // No pause after a timeout: the wait already spaced
                         // the attempts, and a fresh SYN finds a link that has
                         // just come back sooner than the kernel's backed-off
                         // SYN retransmit (1 s, 3 s, 7 s ... after the first).
                         connect_failed("no answer within " + duration_text(options_.connect_timeout) +
                                            " (connect timeout)",
                                        Duration::zero());
                       }),
      resume_accepting_(loop,
                        [this] {
                          if (listen_fd_ >= 0) loop_.modify_fd(listen_fd_, EPOLLIN);
                        }),
      connect_errors_(options_.error_repeat_interval),
      accept_errors_(options_.error_repeat_interval) {}

TcpConnector::~TcpConnector() {
  *alive_ = false;
  stop();
}

std::string TcpConnector::validate_options() const {
  const TcpEndpoint& local = options_.local;
  const TcpEndpoint& peer = options_.peer;
  if (local.port == 0 || peer.port == 0) return "port 0 is not valid (1 to 65535)";
  if (local.address.family() != peer.address.family())
    return "local address " + local.address.to_string() + " and peer address " +
           peer.address.to_string() + " are not of one family (both IPv4 or both IPv6)";
  if (local == peer) return "local and peer endpoints are both " + local.to_string();
  for (const IpAddress* a : {&local.address, &peer.address}) {
    if (a->is_unspecified() || a->is_multicast())
      return a->to_string() + " is not a unicast address of one host";
    if (a->is_link_local())
      return "link-local address " + a->to_string() +
             " would need an interface; use a global or unique-local address";
  }
  if (options_.connect_interval <= Duration::zero() || options_.connect_timeout <= Duration::zero())
    return "connect interval and connect timeout must be positive";
  return {};
}

bool TcpConnector::start(Callbacks cb, std::string& error) {
  if (started_) {
    error = "transport to " + options_.peer.to_string() + " already started";
    return false;
  }
  if (!cb.on_connected) {
    error = "no on_connected callback";
    return false;
  }
  error = validate_options();
  if (!error.empty() || !open_listener(error)) return false;
  cb_ = std::move(cb);
  started_ = true;
  offered_ = false;
  connect_errors_.reset();
  accept_errors_.reset();
  if (connects()) retry_timer_.arm_at(loop_.now());
  return true;
}

bool TcpConnector::open_listener(std::string& error) {
  const std::string where = "cannot listen on " + options_.local.to_string() + ": ";
  listen_fd_ = ::socket(socket_family(options_.local.address),
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    error = where + errno_text(errno);
    return false;
  }
  // A restart must not wait for the old connection's TIME_WAIT to expire;
  // another socket listening on the port still makes bind() fail.
  set_int_option(listen_fd_, SOL_SOCKET, SO_REUSEADDR, 1);
  // Exactly the configured address: no IPv4-mapped peers on an IPv6 socket.
  if (options_.local.address.is_v6()) set_int_option(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  if (!set_congestion_control(listen_fd_, error)) {
    error = where + error;
    close_fd(listen_fd_);
    return false;
  }
  const SocketAddress local = socket_address(options_.local.address, options_.local.port);
  if (::bind(listen_fd_, local.get(), local.length) < 0 ||
      ::listen(listen_fd_, kListenBacklog) < 0) {
    const int e = errno;
    if (e == EADDRINUSE)
      error = where + "address already in use";
    else if (e == EADDRNOTAVAIL)
      error = where + "address not available (" + options_.local.address.to_string() +
              " is not an address of this host)";
    else
      error = where + errno_text(e);
    close_fd(listen_fd_);
    return false;
  }
  if (!watch(loop_, listen_fd_, EPOLLIN, error, [this](uint32_t) { on_listener_readable(); })) {
    error = where + error;
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  return true;
}

bool TcpConnector::set_congestion_control(int fd, std::string& error) const {
  const std::string& name = options_.congestion_control;
  if (name.empty()) return true;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name.data(), static_cast<socklen_t>(name.size())) == 0)
    return true;
  const int e = errno;
  error = "TCP congestion control \"" + name + "\": " + errno_text(e);
  if (e == ENOENT) {
    // Not built in and no module of that name: say what there is.
    std::ifstream in("/proc/sys/net/ipv4/tcp_available_congestion_control");
    std::string available;
    std::getline(in, available);
    if (!available.empty()) error += " (available here: " + available + ")";
  }
  return false;
}

void TcpConnector::stop() {
  started_ = false;
  offered_ = false;
  close_fd(listen_fd_);
  close_fd(connect_fd_);
  retry_timer_.disarm();
  connect_timeout_.disarm();
  resume_accepting_.disarm();
}

void TcpConnector::connection_lost() {
  if (!started_ || !offered_) return;
  offered_ = false;
  if (connects()) retry_timer_.arm_in(options_.connect_interval);
}

void TcpConnector::close_fd(int& fd) {
  if (fd < 0) return;
  loop_.unwatch_fd(fd);  // harmless for an fd that was never watched
  ::close(fd);
  fd = -1;
}

void TcpConnector::attempt_connect() {
  if (!started_ || offered_ || connect_fd_ >= 0) return;
  connect_fd_ = ::socket(socket_family(options_.local.address),
                         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (connect_fd_ < 0) return connect_failed(errno_text(errno));
  // From the local address, which is what the peer accepts. Port 0 with
  // IP_BIND_ADDRESS_NO_PORT: connect() picks the port, knowing the
  // destination, instead of bind() reserving one for any destination.
  set_int_option(connect_fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
  if (std::string error; !set_congestion_control(connect_fd_, error)) return connect_failed(error);
  const SocketAddress local = socket_address(options_.local.address, 0);
  if (::bind(connect_fd_, local.get(), local.length) < 0)
    return connect_failed("cannot use local address " + options_.local.address.to_string() + ": " +
                          errno_text(errno));
  const SocketAddress peer = socket_address(options_.peer.address, options_.peer.port);
  if (::connect(connect_fd_, peer.get(), peer.length) == 0) return connect_established();
  if (errno != EINPROGRESS) return connect_failed(errno_text(errno));
  std::string error;
  if (!watch(loop_, connect_fd_, EPOLLOUT, error, [this](uint32_t) { on_connect_events(); }))
    return connect_failed(error);
  connect_timeout_.arm_in(options_.connect_timeout);
}

void TcpConnector::on_connect_events() {
  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(connect_fd_, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0) err = errno;
  if (err != 0) return connect_failed(errno_text(err));
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  // Not connected yet (a stale event for a reused fd number): keep waiting;
  // the connect timeout bounds the wait.
  if (::getpeername(connect_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len) < 0) return;
  connect_established();
}

void TcpConnector::connect_failed(const std::string& why) { connect_failed(why, options_.connect_interval); }

void TcpConnector::connect_failed(const std::string& why, Duration retry_in) {
  close_fd(connect_fd_);
  connect_timeout_.disarm();
  retry_timer_.arm_in(retry_in);
  // Last: the callback may stop or destroy the connector.
  report(connect_errors_, "cannot connect to " + options_.peer.to_string() + ": " + why);
}

void TcpConnector::connect_established() {
  loop_.unwatch_fd(connect_fd_);
  connect_timeout_.disarm();
  const int fd = std::exchange(connect_fd_, -1);
  connect_errors_.reset();
  offer(fd, options_.peer.to_string());
}

void TcpConnector::offer(int fd, std::string peer_description) {
  offered_ = true;
  auto connection = std::make_unique<TcpConnection>(loop_, fd, std::move(peer_description));
  const auto on_connected = cb_.on_connected;  // a copy: the callback may call start() again
  on_connected(std::move(connection));
}

void TcpConnector::on_listener_readable() {
  for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from), &from_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      const TcpEndpoint remote = endpoint_of(from);
      if (!take_accepted(fd, remote.address, remote.to_string())) return;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    // EMFILE, ENFILE, ENOBUFS: the pending connection stays readable, so
    // level-triggered epoll would spin; pause accepting instead.
    const int e = errno;
    loop_.modify_fd(listen_fd_, 0);
    resume_accepting_.arm_in(options_.connect_interval);
    return report(accept_errors_, "cannot accept connections on " + options_.local.to_string() +
                                      ": " + errno_text(e) + "; trying again in " +
                                      duration_text(options_.connect_interval));
  }
}

bool TcpConnector::take_accepted(int fd, const IpAddress& from, std::string description) {
  const auto alive = alive_;
  // Only the address is checked: the peer's source port is ephemeral.
  std::string refusal;
  if (from != options_.peer.address)
    refusal = "connection from " + from.to_string() + " refused: not the configured peer " +
              options_.peer.address.to_string();
  else if (connects())
    refusal = "connection from " + from.to_string() + " refused: this node connects (" +
              options_.local.to_string() + " compares lower than " + options_.peer.to_string() +
              ") and the peer should only accept; do both nodes name the same two endpoints?";
  else if (offered_)
    refusal = "connection from " + from.to_string() + " closed: already connected to the peer";
  if (refusal.empty()) {
    accept_errors_.reset();
    offer(fd, std::move(description));
  } else {
    ::close(fd);
    report(accept_errors_, refusal);
  }
  return *alive && started_;
}

void TcpConnector::report(RepeatedMessageFilter& filter, const std::string& text) {
  const auto message = filter.filter(text, loop_.now());
  if (!message) return;
  const auto on_error = cb_.on_error;  // a copy, as in offer()
  if (on_error) on_error(*message);
}

}  // namespace vrrpd::replication
