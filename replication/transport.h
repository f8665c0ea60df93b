// How the engine reaches its peer: a Connector that (re)establishes one byte
// stream to the peer and hands it over as a Connection. The engine speaks the
// wire protocol (protocol.h) over the Connection; it never touches sockets.
//
// Everything here runs on the engine's EventLoop thread: callbacks are made
// there, and methods are called there. Nothing blocks: send() queues.
// Implementations: TcpConnector (tcp_transport.*, real sockets on the loop)
// and the in-memory pair in tests/unit/replication/fake_transport.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace vrrpd::replication {

// One established, ordered, reliable byte stream to the peer.
class Connection {
 public:
  struct Callbacks {
    // Bytes arrived, in order. The span is valid only during the call.
    std::function<void(std::span<const uint8_t>)> on_bytes;
    // Optional, and used instead of on_bytes when set: the receiver lends
    // the memory the next bytes go to, so a transport can read from the
    // socket straight into it (no copy of a big payload in user space).
    // receive_space() says where (not empty); the transport writes 1..size
    // bytes at its start and then calls on_received() with the count. The
    // receiver must make room again inside on_received().
    std::function<std::span<uint8_t>()> receive_space;
    std::function<void(size_t)> on_received;
    // The stream ended (peer closed, reset, error). Called at most once and
    // never after close(); the Connection may be destroyed from inside it.
    std::function<void(const std::string& reason)> on_closed;
    // Optional: queued_bytes() went down (queued bytes were handed to the
    // kernel). May be called from inside send(); keep it short (arm a timer).
    std::function<void()> on_drained;
  };
  virtual ~Connection() = default;
  // Must be called once, before any bytes are delivered.
  virtual void start(Callbacks cb) = 0;
  // Queues bytes; they go out in order. Never blocks, never fails: an error
  // shows up later as on_closed.
  virtual void send(std::vector<uint8_t> bytes) = 0;
  // Queues `head` and then `body` (in order, as one send() of both), with
  // `body` borrowed rather than copied: it must stay unchanged while
  // `keep` is held, and the connection holds `keep` until it has handed
  // `body` on or dropped it. For a payload that is already in memory (a
  // write's data): the default copies both into one send().
  virtual void send_borrowed(std::vector<uint8_t> head, std::span<const uint8_t> body,
                             std::shared_ptr<const void> keep) {
    (void)keep;
    head.insert(head.end(), body.begin(), body.end());
    send(std::move(head));
  }
  // Bytes queued by send() and not yet handed to the kernel: what protocol A
  // and the resync rate controller use as back-pressure.
  virtual size_t queued_bytes() const = 0;
  // Closes at once; queued bytes may be dropped. No callback follows.
  virtual void close() = 0;
  // "192.0.2.1:7789" or similar, for logs.
  virtual std::string peer_description() const = 0;
  // A hint: the reader can do nothing with fewer than `bytes` more bytes
  // (the rest of the frame it is assembling). A transport may hold back
  // on_bytes until that many have arrived, to save wake-ups; it must still
  // deliver whatever it has when the stream ends. Default: ignored.
  virtual void expect_bytes(size_t /*bytes*/) {}
};

// Keeps trying to establish a connection to the peer until stopped.
class Connector {
 public:
  struct Callbacks {
    // A new connection to the peer. While the engine holds one, the
    // connector does not offer another; after the engine drops it (close()
    // or on_closed), the connector retries by itself.
    std::function<void(std::unique_ptr<Connection>)> on_connected;
    // A set-up problem worth telling the operator (port in use, connection
    // refused...). Repeats of the same text are the connector's to rate-limit.
    std::function<void(const std::string& message)> on_error;
  };
  virtual ~Connector() = default;
  // Starts listening and/or connecting. False with `error` set when it cannot
  // start at all (address not local, port already in use).
  virtual bool start(Callbacks cb, std::string& error) = 0;
  // Stops listening and connecting; no callback follows.
  virtual void stop() = 0;
  // Tells the connector the engine dropped its connection, so it may offer a
  // new one (after its retry interval).
  virtual void connection_lost() = 0;
};

}  // namespace vrrpd::replication
