// The dns health check: one query to one server, judged by its RCODE and
// answers (the native replacement for `dig @server name type` scripts). UDP
// first; a truncated answer (TC) is asked again over TCP, as dig does. All
// I/O is non-blocking on the checker loop; the runner owns the timeout and
// calls cancel() when it expires.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "checkers/dns_message.h"
#include "checkers/probe.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

class DnsProbe final : public Probe {
 public:
  // Port 0 in the check means 53. Never throws for a bad check: an unknown
  // type, a bad name or a missing address is reported by each attempt as
  // unhealthy with the reason (the validator should have caught it).
  DnsProbe(EventLoop& loop, const config::Check& check);
  ~DnsProbe() override;
  DnsProbe(const DnsProbe&) = delete;
  DnsProbe& operator=(const DnsProbe&) = delete;

  // Sends the query; `done` runs later from a loop timer, never inside
  // start(). Starting while an attempt is in flight abandons that attempt.
  void start(Done done) override;
  // Closes the sockets, unwatches them and drops `done`. Safe at any time,
  // also from inside `done`.
  void cancel() override;
  // "192.0.2.53:53 example.com A", "[2001:db8::53]:53 version.bind TXT CH".
  std::string target() const override;

 private:
  enum class Phase {
    kIdle,        // no attempt, or cancelled
    kUdp,         // query sent over UDP, waiting for the reply
    kTcpConnect,  // truncated over UDP; non-blocking connect in progress
    kTcpSend,     // connected; writing the length-prefixed query
    kTcpReceive,  // reassembling the length-prefixed reply
    kReporting,   // result decided; `done` is due from the report timer
  };

  void begin();
  void on_udp_readable();
  void start_tcp();
  void on_tcp_event();
  void send_tcp();
  void receive_tcp();
  // Handles one whole message from the server. Returns true when the attempt
  // moved on (finished, or switched to TCP) and the caller must stop reading.
  bool handle_message(std::span<const std::uint8_t> message, bool over_tcp);
  bool matches_question(const DnsAnswer& answer) const;
  // Runs one I/O step, turning any exception into an unhealthy result so
  // that nothing is thrown into the loop.
  template <typename Step>
  void guarded(Step step);
  // Ends the attempt: closes the sockets now, calls `done` from a zero timer.
  void finish(ProbeResult result);
  void fail(std::string reason) { finish({false, std::move(reason)}); }
  // "what: strerror(err)". Callers copy errno into a local before building
  // `what`, since allocation may change errno.
  void fail_errno(const std::string& what, int err);
  void report();
  void close_sockets();

  EventLoop& loop_;
  const config::Check check_;
  std::uint16_t port_ = 53;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;   // 0: no usable address in the check
  std::string endpoint_;       // "127.0.0.1:53", "[::1]:53" for reasons

  Phase phase_ = Phase::kIdle;
  Done done_;
  std::uint16_t id_ = 0;       // random per attempt; replies must carry it
  std::vector<std::uint8_t> query_;
  int udp_fd_ = -1;
  int tcp_fd_ = -1;
  std::vector<std::uint8_t> rx_;      // one UDP datagram (up to 64 KiB)
  std::vector<std::uint8_t> tcp_out_;  // 2-byte length + query
  std::size_t tcp_sent_ = 0;
  std::vector<std::uint8_t> tcp_in_;   // bytes read, not yet a whole message
  ProbeResult result_;
  EventLoop::TimerId report_timer_ = 0;  // 0: none pending
};

}  // namespace vrrpd::checkers
