// The real transport of the replication engine: TcpConnector keeps one TCP
// connection to the peer established (listening on the local address, and
// connecting to the peer or accepting from it) and hands it to the engine as
// a TcpConnection, a non-blocking socket with a send queue. Everything runs on
// the engine's EventLoop and nothing blocks: connects are non-blocking with a
// timeout, addresses are literals (no DNS lookups, which block).
//
// Who connects: both nodes listen on their local address:port, but only the
// node whose (address, port) compares lower connects; the other only accepts.
// If both connected, two crossing connections would come up at about the same
// time and the nodes would have to agree which to keep (DRBD needs a race
// resolution dance for this). Each node's local endpoint is the other's peer
// endpoint, so both compute the same answer from their configurations with
// no negotiation, and exactly one connection can exist. The lower node still
// listens: the port is reserved and checked at start() on both nodes alike,
// and a connection the peer should never make (the two configurations
// disagree) is reported instead of going unnoticed.
//
// Operator messages (on_error, rate-limited; start() errors), for the README:
//   cannot listen on L: address already in use   another program or resource
//       has the port: pick another port or stop it
//   cannot listen on L: address not available (X is not an address of this
//       host)   the local address is wrong or not configured yet
//   cannot connect to P: connection refused | no answer within N (connect
//       timeout) | network is unreachable ...   the peer is down, not
//       listening, or unreachable; retried every connect_interval (at
//       once after a connect timeout)
//   connection from A refused: not the configured peer P   something else
//       connects to the replication port: firewall it
//   connection from A refused: this node connects (...)   the two nodes'
//       configurations do not name the same two endpoints
//   connection from A closed: already connected to the peer   the peer
//       reconnected while the engine still holds the old connection; it
//       ends when the engine notices the old one is dead
#pragma once

#include <sys/socket.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replication/result.h"
#include "replication/transport.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/base/ip_address.h"

namespace vrrpd::replication {

// A literal IPv4 or IPv6 address with a TCP port.
struct TcpEndpoint {
  IpAddress address;
  uint16_t port = 0;

  // Parses "192.0.2.1:7789" or "[2001:db8::1]:7789". Literal addresses only:
  // a host name would need a (blocking) DNS lookup.
  static Result<TcpEndpoint> parse(std::string_view text);
  // The same notation: "192.0.2.1:7789", "[2001:db8::1]:7789".
  std::string to_string() const;

  // Address first (family, then bytes in network order), then port: the
  // order that decides which node connects.
  auto operator<=>(const TcpEndpoint&) const = default;
};

// A socket address for bind/connect/sendto, and back (also the fence path's UDP).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};
SocketAddress socket_address(const IpAddress& address, uint16_t port);
TcpEndpoint endpoint_of(const sockaddr_storage& ss);

struct TcpConnectorOptions {
  TcpEndpoint local;  // listened on; outgoing connections come from its address
  TcpEndpoint peer;
  // Pause after a failed attempt, or after the engine dropped a connection,
  // before the next attempt (DRBD's connect-int, default 10 s). Also paces
  // an engine that drops every connection at once (refused handshake).
  Duration connect_interval = std::chrono::seconds(10);
  // How long a connect may stay unanswered; the next attempt then starts at
  // once (a refused one waits connect_interval).
  Duration connect_timeout = std::chrono::seconds(10);
  // An unchanged error text is passed to on_error again after this long.
  Duration error_repeat_interval = std::chrono::minutes(1);
  // TCP congestion control of the link's sockets (TCP_CONGESTION: "cubic",
  // "reno", ...); empty keeps the system's default. Set on the listener
  // (accepted sockets inherit it) and on every outgoing socket.
  std::string congestion_control;
};

// Passes an operator message on when its text differs from the previous one,
// or when the same text was last passed `repeat_interval` ago or longer; the
// repeats swallowed in between are counted in the text passed next.
class RepeatedMessageFilter {
 public:
  explicit RepeatedMessageFilter(Duration repeat_interval) : repeat_interval_(repeat_interval) {}
  // The text to report now, or nullopt to stay quiet. A passed repeat reads
  // "<text> (repeated N times since last reported)" or "(repeated once ...)".
  std::optional<std::string> filter(const std::string& text, TimePoint now);
  // Forgets the last text: the situation changed (say, a connection came up),
  // so the next error is news even if it reads as before.
  void reset();

 private:
  Duration repeat_interval_;
  std::optional<std::string> last_text_;
  TimePoint last_passed_{};
  int suppressed_ = 0;  // repeats of last_text_ swallowed since last_passed_
};

// One connected socket (TCP_NODELAY, SO_KEEPALIVE, CLOEXEC) on the loop.
// Reads go straight into the receiver's memory (receive_space), or arrive in
// chunks of up to 256 KiB through on_bytes; send() writes at once what the
// kernel takes and queues the rest for EPOLLOUT. The engine may close() it or
// destroy it from inside any of its callbacks.
class TcpConnection final : public Connection {
 public:
  // Takes ownership of `fd`, a connected non-blocking stream socket. The TCP
  // options are best effort, so a socketpair works too.
  TcpConnection(EventLoop& loop, int fd, std::string peer_description);
  ~TcpConnection() override;
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  void start(Callbacks cb) override;
  void send(std::vector<uint8_t> bytes) override;
  // The body goes from where it lies into the socket (sendmsg's iovec).
  void send_borrowed(std::vector<uint8_t> head, std::span<const uint8_t> body,
                     std::shared_ptr<const void> keep) override;
  size_t queued_bytes() const override { return queued_bytes_; }
  void close() override;
  std::string peer_description() const override { return peer_description_; }
  void expect_bytes(size_t bytes) override;
  // The socket's TCP congestion control ("cubic"), or "" if unknown.
  std::string congestion_control() const;

 private:
  void on_socket_events(uint32_t epoll_events);
  // Reads until the kernel has no more (or a per-event cap), delivering each
  // chunk. False when the connection ended or was closed meanwhile.
  bool read_available();
  // Hands queued bytes to the kernel until it takes no more (then tells
  // on_drained if that shrank the queue). 0 or an errno.
  int write_queued();
  int write_queued_once();
  // Watches for EPOLLOUT only while bytes are queued (level-triggered epoll
  // would otherwise wake the loop for every writable moment).
  void update_interest();
  void release_socket();
  void fail_later(std::string reason);
  // The stream ended: release the socket, then call on_closed (last thing,
  // since the callback may destroy this object).
  void fail(const std::string& reason);

  EventLoop& loop_;
  int fd_;
  const std::string peer_description_;
  Callbacks cb_;
  bool started_ = false;
  bool watching_ = false;
  uint32_t interest_ = 0;  // epoll events currently registered
  int receive_low_water_ = 1;  // the socket's SO_RCVLOWAT
  // Bytes to send, in order: a buffer of its own or a borrowed one (kept
  // alive by `keep`). `bytes` points into `owned` or the borrowed buffer.
  struct Outgoing {
    std::vector<uint8_t> owned;
    std::span<const uint8_t> bytes;
    std::shared_ptr<const void> keep;
  };
  bool can_queue() const;
  // Appends to send_queue_ (nothing if empty).
  void enqueue(Outgoing out);
  // After enqueue(): writes now if the queue was empty before (otherwise
  // EPOLLOUT is awaited already).
  void write_if(bool was_idle);
  std::deque<Outgoing> send_queue_;
  size_t front_written_ = 0;  // bytes of send_queue_.front() already sent
  size_t queued_bytes_ = 0;   // unsent bytes in send_queue_
  // An error met inside send() or start(), which may not call back: reported
  // as on_closed from this zero-delay timer on the next loop pass.
  std::string deferred_reason_;
  Timer deferred_failure_;
  // For on_bytes only (made by start()). Shared with a dispatch in
  // progress, so the span given to on_bytes stays valid even if the engine
  // destroys the connection inside the callback.
  std::shared_ptr<std::vector<uint8_t>> read_buffer_;
  // Cleared by the destructor; a dispatch holding a copy notices that a
  // callback destroyed the connection and stops touching members.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Keeps one connection to the peer on offer, as described at the top.
class TcpConnector final : public Connector {
 public:
  TcpConnector(EventLoop& loop, TcpConnectorOptions options);
  ~TcpConnector() override;
  TcpConnector(const TcpConnector&) = delete;
  TcpConnector& operator=(const TcpConnector&) = delete;

  // Fails (address not local, port in use, inconsistent options) with an
  // operator-readable `error`. The first connect attempt is made on the next
  // loop pass, so no callback comes from inside start().
  bool start(Callbacks cb, std::string& error) override;
  // Also forgets the connection it offered: a later start() offers a new
  // one, so the engine should drop the old one when it stops the connector.
  void stop() override;
  // Required after the engine dropped the connection it was given: until
  // then no other is offered. The connecting node retries after
  // connect_interval; the accepting node takes the next connection at once.
  void connection_lost() override;

  // True on the node that connects (its local endpoint compares lower).
  bool connects() const { return options_.local < options_.peer; }

 private:
  std::string validate_options() const;
  bool open_listener(std::string& error);
  // Applies options_.congestion_control to `fd`; false with `error` set.
  bool set_congestion_control(int fd, std::string& error) const;
  void close_fd(int& fd);
  void attempt_connect();
  void on_connect_events();
  // Closes the attempt, reports `why` and tries again after connect_interval
  // (or `retry_in`).
  void connect_failed(const std::string& why);
  void connect_failed(const std::string& why, Duration retry_in);
  void connect_established();
  void on_listener_readable();
  // Judges one accepted socket: offered to the engine or closed. False when
  // a callback stopped or destroyed the connector.
  bool take_accepted(int fd, const IpAddress& from, std::string description);
  void offer(int fd, std::string peer_description);
  void report(RepeatedMessageFilter& filter, const std::string& text);

  EventLoop& loop_;
  const TcpConnectorOptions options_;
  Callbacks cb_;
  bool started_ = false;
  bool offered_ = false;  // the engine holds a connection from us
  int listen_fd_ = -1;
  int connect_fd_ = -1;  // the outgoing attempt in progress
  Timer retry_timer_;
  Timer connect_timeout_;
  Timer resume_accepting_;  // after accept() ran out of file descriptors
  // Outgoing attempts and incoming refusals are filtered separately, so a
  // stray client does not make every retry error look new.
  RepeatedMessageFilter connect_errors_;
  RepeatedMessageFilter accept_errors_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // as in TcpConnection
};

}  // namespace vrrpd::replication
