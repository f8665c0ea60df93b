// FakeNetwork: an in-memory link between two replication endpoints on one
// EventLoop, for deterministic engine tests. Each side has a FakeConnector;
// when both are started (or have reported connection_lost()) and the link is
// up, the network hands each side one end of a new in-memory Connection.
//
// Bytes are delivered by timers on the loop at now + latency (0 by
// default), so EventLoop::run_fake_until() moves them, in order, with no
// threads and no real time. cut() ends both connections (each side gets
// on_closed); set_link_up(false) also keeps them from reconnecting;
// set_stalled(true) holds every byte in flight (a link that stops passing
// traffic without a reset) until set_stalled(false); what a side has held
// counts as its Connection's queued_bytes(). Frames sent are counted
// by type and can be observed or dropped (drop_if), which assumes one frame
// per send() call, as the engine sends.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "replication/protocol.h"
#include "replication/transport.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::replication::testing {

class FakeNetwork {
 public:
  struct TypeStats {
    uint64_t frames = 0;
    uint64_t bytes = 0;  // whole frames, headers included
  };

  explicit FakeNetwork(EventLoop& loop) : loop_(loop), connectors_{Side(*this, 0), Side(*this, 1)} {}
  FakeNetwork(const FakeNetwork&) = delete;
  FakeNetwork& operator=(const FakeNetwork&) = delete;

  // The connector of side 0 or 1.
  Connector& connector(int side) { return connectors_[side]; }

  // Ends both current connections; each side gets on_closed(reason).
  void cut(const std::string& reason = "link cut") {
    if (!pipe_) return;
    auto pipe = std::move(pipe_);
    pipe->broken = true;
    held_.clear();
    for (int side = 0; side < 2; ++side) schedule_closed(pipe, side, reason);
  }
  // Down: cut, and no new connection until up again.
  void set_link_up(bool up) {
    link_up_ = up;
    if (!up)
      cut("link down");
    else
      maybe_connect();
  }
  // Holds (true) or releases (false) every byte in flight.
  void set_stalled(bool stalled) {
    stalled_ = stalled;
    if (stalled) return;
    auto held = std::move(held_);
    held_.clear();
    for (Held& h : held) schedule_bytes(h.pipe, h.to, std::move(h.bytes));
    // The senders' queues are empty again (a copy: the callback may close).
    for (Held& h : held) {
      const int from = 1 - h.to;
      if (h.pipe->open[from] && h.pipe->cb[from].on_drained) {
        auto drained = h.pipe->cb[from].on_drained;
        drained();
      }
    }
  }
  void set_latency(Duration d) { latency_ = d; }
  // A real connector waits its retry interval (connect-int) before it offers
  // the next connection; 0 (the default) reconnects at once.
  void set_reconnect_delay(Duration d) { reconnect_delay_ = d; }

  // Frames sent from side `from` of this type so far (all connections).
  TypeStats sent(int from, wire::FrameType type) const {
    auto it = stats_[from].find(type);
    return it == stats_[from].end() ? TypeStats{} : it->second;
  }
  void reset_stats() {
    stats_[0].clear();
    stats_[1].clear();
  }
  // Called for every frame sent; return true from drop_if to lose it.
  std::function<void(int from, const wire::Frame&)> on_frame;
  std::function<bool(int from, const wire::Frame&)> drop_if;
  // Connections established so far.
  int connections() const { return connections_; }
  // What side `side` of the current connection last said it expects to
  // read (Connection::expect_bytes); 0 without a connection.
  size_t expected_bytes(int side) const { return pipe_ ? pipe_->expected[side] : 0; }
  // Bytes side `from` sent borrowed (Connection::send_borrowed), all connections.
  uint64_t borrowed_bytes(int from) const { return borrowed_bytes_[from]; }

 private:
  // Both ends of one connection.
  struct Pipe {
    Connection::Callbacks cb[2];
    bool open[2] = {true, true};  // false after close() or on_closed
    bool broken = false;          // cut: nothing is delivered any more
    // When the last bytes towards each side arrive: a stream keeps its
    // order when the latency shrinks (set_latency) with bytes in flight.
    TimePoint last_arrival[2] = {};
    size_t expected[2] = {1, 1};  // each side's last Connection::expect_bytes()
  };
  // Arrival time of what is sent now towards `to`, in stream order.
  TimePoint arrival(Pipe& pipe, int to) {
    pipe.last_arrival[to] = std::max(pipe.last_arrival[to], loop_.now() + latency_);
    return pipe.last_arrival[to];
  }

  class FakeConnection final : public Connection {
   public:
    FakeConnection(FakeNetwork& net, std::shared_ptr<Pipe> pipe, int side)
        : net_(net), pipe_(std::move(pipe)), side_(side) {}
    ~FakeConnection() override { close(); }
    void start(Callbacks cb) override { pipe_->cb[side_] = std::move(cb); }
    void send(std::vector<uint8_t> bytes) override {
      if (!pipe_->open[side_] || pipe_->broken) return;
      net_.transmit(pipe_, side_, std::move(bytes));
    }
    // What a stalled link holds from this side (a socket that cannot send).
    size_t queued_bytes() const override { return net_.held_bytes(pipe_.get(), 1 - side_); }
    void close() override {
      if (!pipe_->open[side_]) return;
      pipe_->open[side_] = false;
      pipe_->cb[side_] = {};
      // The peer sees the end of the stream after what was already sent.
      if (!pipe_->broken) net_.schedule_closed(pipe_, 1 - side_, "peer closed the connection");
    }
    std::string peer_description() const override { return "fake:side" + std::to_string(1 - side_); }
    // Recorded only: this network delivers whole sends.
    void expect_bytes(size_t bytes) override { pipe_->expected[side_] = bytes; }
    // Counted, then sent as one copy (as the default does).
    void send_borrowed(std::vector<uint8_t> head, std::span<const uint8_t> body,
                       std::shared_ptr<const void> keep) override {
      if (!pipe_->open[side_] || pipe_->broken) return;
      net_.borrowed_bytes_[side_] += body.size();
      Connection::send_borrowed(std::move(head), body, std::move(keep));
    }

   private:
    FakeNetwork& net_;
    std::shared_ptr<Pipe> pipe_;
    int side_;
  };

  class Side final : public Connector {
   public:
    Side(FakeNetwork& net, int side) : net_(net), side_(side) {}
    bool start(Callbacks cb, std::string&) override {
      cb_ = std::move(cb);
      started_ = true;
      wants_ = true;
      net_.maybe_connect();
      return true;
    }
    void stop() override { started_ = wants_ = false; }
    void connection_lost() override {
      wants_ = true;
      net_.maybe_connect();
    }
    FakeNetwork& net_;
    int side_;
    Callbacks cb_;
    bool started_ = false;
    bool wants_ = false;  // has no connection and would take one
  };

  void maybe_connect() {
    for (Side& s : connectors_)
      if (!s.started_ || !s.wants_) return;
    if (!link_up_ || connect_pending_) return;
    connect_pending_ = true;
    loop_.add_timer(loop_.now() + latency_ + (connections_ > 0 ? reconnect_delay_ : Duration{0}), [this] {
      connect_pending_ = false;
      for (Side& s : connectors_)
        if (!s.started_ || !s.wants_) return;
      if (!link_up_) return;
      auto pipe = std::make_shared<Pipe>();
      pipe_ = pipe;
      ++connections_;
      for (Side& s : connectors_) s.wants_ = false;
      for (int side = 0; side < 2; ++side) {
        if (connectors_[side].started_)
          connectors_[side].cb_.on_connected(std::make_unique<FakeConnection>(*this, pipe, side));
      }
    });
  }

  void transmit(const std::shared_ptr<Pipe>& pipe, int from, std::vector<uint8_t> bytes) {
    // The header names the type; the whole frame (payload CRC over up to
    // 1 MiB) is decoded only for an observer, which keeps big syncs fast.
    wire::FrameHeader h;
    if (wire::decode_header(bytes, h).ok()) {
      TypeStats& s = stats_[from][static_cast<wire::FrameType>(h.type)];
      ++s.frames;
      s.bytes += bytes.size();
      if (on_frame || drop_if) {
        wire::DecodeResult d = wire::decode_frame(bytes);
        if (d.status.ok() && on_frame) on_frame(from, d.frame);
        if (d.status.ok() && drop_if && drop_if(from, d.frame)) return;
      }
    }
    if (stalled_) {
      held_.push_back(Held{pipe, 1 - from, std::move(bytes)});
      return;
    }
    schedule_bytes(pipe, 1 - from, std::move(bytes));
  }

  void schedule_bytes(const std::shared_ptr<Pipe>& pipe, int to, std::vector<uint8_t> bytes) {
    loop_.add_timer(arrival(*pipe, to), [pipe, to, bytes = std::move(bytes)] {
      if (pipe->broken || !pipe->open[to]) return;
      if (pipe->cb[to].receive_space) {
        // As TcpConnection reads: into the receiver's memory, as much as
        // it offers each time. Copies: the receiver may close inside.
        auto receive_space = pipe->cb[to].receive_space;
        auto on_received = pipe->cb[to].on_received;
        for (std::span<const uint8_t> rest(bytes); !rest.empty();) {
          const std::span<uint8_t> into = receive_space();
          if (into.empty()) throw std::logic_error("receive_space() offered no room");
          const size_t n = std::min(into.size(), rest.size());
          std::copy_n(rest.begin(), n, into.begin());
          rest = rest.subspan(n);
          on_received(n);
          if (pipe->broken || !pipe->open[to]) return;
        }
        return;
      }
      if (!pipe->cb[to].on_bytes) return;
      auto on_bytes = pipe->cb[to].on_bytes;  // the receiver may close inside
      on_bytes(bytes);
    });
  }

  void schedule_closed(const std::shared_ptr<Pipe>& pipe, int to, std::string reason) {
    loop_.add_timer(arrival(*pipe, to), [pipe, to, reason = std::move(reason)] {
      if (!pipe->open[to]) return;
      pipe->open[to] = false;
      auto on_closed = std::move(pipe->cb[to].on_closed);
      pipe->cb[to] = {};
      if (on_closed) on_closed(reason);
    });
  }

  EventLoop& loop_;
  Side connectors_[2];
  std::shared_ptr<Pipe> pipe_;  // the current connection, if any
  uint64_t borrowed_bytes_[2] = {0, 0};
  bool link_up_ = true;
  bool stalled_ = false;
  bool connect_pending_ = false;
  Duration latency_{0};
  Duration reconnect_delay_{0};
  struct Held {
    std::shared_ptr<Pipe> pipe;
    int to;
    std::vector<uint8_t> bytes;
  };
  std::vector<Held> held_;  // in flight while stalled
  size_t held_bytes(const Pipe* pipe, int to) const {
    size_t n = 0;
    for (const Held& h : held_)
      if (h.pipe.get() == pipe && h.to == to) n += h.bytes.size();
    return n;
  }
  std::map<wire::FrameType, TypeStats> stats_[2];
  int connections_ = 0;
};

}  // namespace vrrpd::replication::testing
