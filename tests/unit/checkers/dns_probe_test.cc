// DnsProbe against a tiny scriptable DNS server on 127.0.0.1 that runs on the
// probe's own EventLoop (watch_fd), so each test is one thread and a real
// MonotonicClock bounded by a 5 s limit: healthy answer, SERVFAIL, silence
// then cancel (no callback, no leaked fd), stray replies, TC then TCP,
// refused port, and the start()/done contract.
#include "checkers/dns_probe.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/checkers/probe_test_support.h"

namespace vrrpd::checkers {
namespace {

using testing::open_fd_count;
using testing::run_for;
using testing::run_until;

using Bytes = std::vector<std::uint8_t>;
using std::chrono::milliseconds;

std::uint16_t local_port(int fd) {
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  return ntohs(sin.sin_port);
}

int bound_socket(int type, std::uint16_t port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// What the fake server does with each UDP query.
enum class Script {
  kAnswer,           // NOERROR with the addresses
  kServFail,         // SERVFAIL, no answers
  kSilent,           // never answers
  kStraysFirst,      // a reply with another id, one for another name, then the real one
  kTruncate,         // TC over UDP; the full answer over TCP, in two pieces
  kTruncateNoTcp,    // TC over UDP, and nothing listens on TCP
  kTruncateTcpCut,   // TC over UDP; over TCP part of the answer, then close
  kGarbageWithOurId, // our id followed by noise
};

// A DNS server that answers A queries by copying the query's header and
// question and appending A records that point back at the question name.
class FakeDnsServer {
 public:
  FakeDnsServer(EventLoop& loop, Script script) : loop_(loop), script_(script) {
    // TCP must share the UDP port number; retry in the rare case it is taken.
    for (int attempt = 0; attempt < 20 && tcp_fd_ < 0; ++attempt) {
      if (udp_fd_ >= 0) close(udp_fd_);
      udp_fd_ = bound_socket(SOCK_DGRAM, 0);
      port_ = local_port(udp_fd_);
      if (script_ != Script::kTruncate && script_ != Script::kTruncateTcpCut) break;
      tcp_fd_ = bound_socket(SOCK_STREAM, port_);
    }
    loop_.watch_fd(udp_fd_, EPOLLIN, [this](std::uint32_t) { on_udp(); });
    if (tcp_fd_ >= 0) {
      listen(tcp_fd_, 4);
      loop_.watch_fd(tcp_fd_, EPOLLIN, [this](std::uint32_t) { on_accept(); });
    }
  }
  ~FakeDnsServer() {
    for (int fd : {udp_fd_, tcp_fd_, conn_fd_}) {
      if (fd < 0) continue;
      loop_.unwatch_fd(fd);
      close(fd);
    }
  }

  std::uint16_t port() const { return port_; }
  int udp_queries = 0;
  int tcp_queries = 0;
  Bytes last_query;
  std::vector<Bytes> udp_answers = {{192, 0, 2, 1}};
  std::vector<Bytes> tcp_answers = {{192, 0, 2, 1}, {192, 0, 2, 2}, {192, 0, 2, 3}};

 private:
  // Header + question of `query` turned into a response with `answers`.
  static Bytes reply(const Bytes& query, unsigned rcode, bool tc,
                     const std::vector<Bytes>& answers) {
    Bytes r = query;                          // header + one question, no EDNS
    // QR; RD copied from the query; TC when asked.
    r[2] = static_cast<std::uint8_t>(0x80 | (query[2] & 0x01) | (tc ? 0x02 : 0));
    r[3] = static_cast<std::uint8_t>(0x80 | rcode);  // RA, RCODE
    ns_put16(static_cast<unsigned>(answers.size()), &r[6]);  // ANCOUNT
    for (const Bytes& addr : answers) {
      // NAME -> QNAME, TYPE A, CLASS IN, TTL 60, RDLENGTH 4.
      r.insert(r.end(), {0xc0, 0x0c, 0, ns_t_a, 0, ns_c_in, 0, 0, 0, 60, 0, 4});
      r.insert(r.end(), addr.begin(), addr.end());
    }
    return r;
  }

  void on_udp() {
    Bytes q(512);
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(udp_fd_, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 12) return;
    q.resize(static_cast<std::size_t>(n));
    ++udp_queries;
    last_query = q;
    auto send = [&](const Bytes& r) {
      sendto(udp_fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    };
    switch (script_) {
      case Script::kAnswer: return send(reply(q, ns_r_noerror, false, udp_answers));
      case Script::kServFail: return send(reply(q, ns_r_servfail, false, {}));
      case Script::kSilent: return;
      case Script::kStraysFirst: {
        Bytes wrong_id = reply(q, ns_r_noerror, false, {{198, 51, 100, 9}});
        wrong_id[1] ^= 0xff;
        send(wrong_id);
        Bytes other_name = reply(q, ns_r_noerror, false, {{198, 51, 100, 9}});
        other_name[14] = 'z';  // QNAME "example.com" -> "ezample.com"
        send(other_name);
        return send(reply(q, ns_r_noerror, false, udp_answers));
      }
      case Script::kTruncate:
      case Script::kTruncateNoTcp:
      case Script::kTruncateTcpCut: return send(reply(q, ns_r_noerror, true, {}));
      case Script::kGarbageWithOurId: {
        Bytes g = {q[0], q[1], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        return send(g);
      }
    }
  }

  void on_accept() {
    conn_fd_ = accept4(tcp_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn_fd_ < 0) return;
    loop_.watch_fd(conn_fd_, EPOLLIN, [this](std::uint32_t) { on_conn(); });
  }

  void on_conn() {
    std::uint8_t buf[1024];
    ssize_t n = recv(conn_fd_, buf, sizeof buf, 0);
    if (n <= 0) return;
    tcp_in_.insert(tcp_in_.end(), buf, buf + n);
    if (tcp_in_.size() < 2 || tcp_in_.size() < 2u + ns_get16(tcp_in_.data())) return;
    ++tcp_queries;
    const Bytes q(tcp_in_.begin() + 2, tcp_in_.end());
    const Bytes r = reply(q, ns_r_noerror, false, tcp_answers);
    Bytes framed = {static_cast<std::uint8_t>(r.size() >> 8), static_cast<std::uint8_t>(r.size())};
    framed.insert(framed.end(), r.begin(), r.end());
    if (script_ == Script::kTruncateTcpCut) {
      ::send(conn_fd_, framed.data(), 2 + 5, MSG_NOSIGNAL);  // length + 5 bytes
      loop_.unwatch_fd(conn_fd_);
      close(conn_fd_);
      conn_fd_ = -1;
      return;
    }
    // Half the length prefix now, the rest 30 ms later: the probe must
    // reassemble across reads.
    ::send(conn_fd_, framed.data(), 1, MSG_NOSIGNAL);
    rest_ = Bytes(framed.begin() + 1, framed.end());
    loop_.add_timer(loop_.now() + milliseconds(30), [this] {
      ::send(conn_fd_, rest_.data(), rest_.size(), MSG_NOSIGNAL);
    });
  }

  EventLoop& loop_;
  Script script_;
  int udp_fd_ = -1;
  int tcp_fd_ = -1;
  int conn_fd_ = -1;
  std::uint16_t port_ = 0;
  Bytes tcp_in_;
  Bytes rest_;
};

config::Check dns_check(std::uint16_t port, std::vector<std::string> expect_answers = {}) {
  config::Check c;
  c.name = "dns1";
  c.kind = "dns";
  c.address = IpAddress::parse("127.0.0.1");
  c.port = port;
  c.query_name = "example.com";
  c.expect_answers = std::move(expect_answers);
  return c;
}

class DnsProbeTest : public ::testing::Test {
 protected:
  // Starts the probe and runs the loop until done (or 5 s).
  void run_probe(DnsProbe& probe) {
    probe.start([this](ProbeResult r) {
      ++calls_;
      result_ = std::move(r);
    });
    EXPECT_EQ(calls_, 0) << "done was called from inside start()";
    EXPECT_TRUE(run_until(loop_, [this] { return calls_ > 0; })) << "no result within 5 s";
    run_for(loop_, milliseconds(50));  // a second call would show up here
    EXPECT_EQ(calls_, 1);
  }

  MonotonicClock clock_;
  EventLoop loop_{clock_};
  int calls_ = 0;
  ProbeResult result_;
};

TEST_F(DnsProbeTest, HealthyWhenTheServerAnswersTheExpectedAddress) {
  FakeDnsServer server(loop_, Script::kAnswer);
  DnsProbe probe(loop_, dns_check(server.port(), {"192.0.2.1"}));
  run_probe(probe);
  EXPECT_TRUE(result_.healthy);
  EXPECT_EQ(result_.reason, "NOERROR, answers: 192.0.2.1");
  ASSERT_EQ(server.udp_queries, 1);
  EXPECT_EQ(server.last_query[2] & 0x01, 0x01);  // RD set by default
}

TEST_F(DnsProbeTest, ServFailIsUnhealthy) {
  FakeDnsServer server(loop_, Script::kServFail);
  DnsProbe probe(loop_, dns_check(server.port()));
  run_probe(probe);
  EXPECT_FALSE(result_.healthy);
  EXPECT_EQ(result_.reason, "rcode SERVFAIL, expected NOERROR");
}

TEST_F(DnsProbeTest, SilentServerGetsNoCallbackAndCancelReleasesTheSocket) {
  FakeDnsServer server(loop_, Script::kSilent);
  const int fds_before = open_fd_count();
  DnsProbe probe(loop_, dns_check(server.port()));
  probe.start([this](ProbeResult) { ++calls_; });
  EXPECT_TRUE(run_until(loop_, [&] { return server.udp_queries == 1; }));
  run_for(loop_, milliseconds(200));
  EXPECT_EQ(calls_, 0);  // waiting is the runner's timeout to end, not ours
  EXPECT_EQ(open_fd_count(), fds_before + 1);  // the UDP socket
  probe.cancel();        // what the runner does on timeout
  EXPECT_EQ(open_fd_count(), fds_before);
  run_for(loop_, milliseconds(100));
  EXPECT_EQ(calls_, 0);
}

TEST_F(DnsProbeTest, StrayRepliesAreIgnoredUntilTheRealOne) {
  // A reply with another id and one for another name arrive first; taking
  // either would fail the check (198.51.100.9 lacks the expected address).
  FakeDnsServer server(loop_, Script::kStraysFirst);
  DnsProbe probe(loop_, dns_check(server.port(), {"192.0.2.1"}));
  run_probe(probe);
  EXPECT_TRUE(result_.healthy) << result_.reason;
  EXPECT_EQ(result_.reason, "NOERROR, answers: 192.0.2.1");
}

TEST_F(DnsProbeTest, TruncatedAnswerIsAskedAgainOverTcp) {
  FakeDnsServer server(loop_, Script::kTruncate);
  const int fds_before = open_fd_count();
  DnsProbe probe(loop_, dns_check(server.port(), {"192.0.2.3"}));
  run_probe(probe);
  EXPECT_TRUE(result_.healthy) << result_.reason;
  EXPECT_EQ(result_.reason, "NOERROR, answers: 192.0.2.1, 192.0.2.2, 192.0.2.3");
  EXPECT_EQ(server.udp_queries, 1);
  EXPECT_EQ(server.tcp_queries, 1);
  EXPECT_EQ(open_fd_count(), fds_before + 1);  // only the server's accepted connection
}

TEST_F(DnsProbeTest, TruncatedAnswerWithoutTcpServiceSaysSo) {
  FakeDnsServer server(loop_, Script::kTruncateNoTcp);
  DnsProbe probe(loop_, dns_check(server.port()));
  run_probe(probe);
  EXPECT_FALSE(result_.healthy);
  EXPECT_EQ(result_.reason, "answer truncated over UDP; TCP connect to 127.0.0.1:" +
                                std::to_string(server.port()) + ": Connection refused");
}

TEST_F(DnsProbeTest, TcpConnectionClosedMidAnswerSaysHowFarItGot) {
  FakeDnsServer server(loop_, Script::kTruncateTcpCut);
  DnsProbe probe(loop_, dns_check(server.port()));
  run_probe(probe);
  EXPECT_FALSE(result_.healthy);
  // 77 = header 12 + question 17 + three A records of 16 bytes.
  EXPECT_EQ(result_.reason, "TCP: 127.0.0.1:" + std::to_string(server.port()) +
                                " closed the connection after 5 of 77 bytes of the answer");
}

TEST_F(DnsProbeTest, ClosedPortIsConnectionRefused) {
  // Take a free port and free it again: nothing listens there.
  int fd = bound_socket(SOCK_DGRAM, 0);
  const std::uint16_t port = local_port(fd);
  close(fd);
  DnsProbe probe(loop_, dns_check(port));
  run_probe(probe);
  EXPECT_FALSE(result_.healthy);
  EXPECT_EQ(result_.reason,
            "connection refused (no DNS server on 127.0.0.1:" + std::to_string(port) + ")");
}

TEST_F(DnsProbeTest, GarbageCarryingOurIdIsUnhealthy) {
  FakeDnsServer server(loop_, Script::kGarbageWithOurId);
  DnsProbe probe(loop_, dns_check(server.port()));
  run_probe(probe);
  EXPECT_FALSE(result_.healthy);
  EXPECT_EQ(result_.reason.rfind("malformed reply from 127.0.0.1:", 0), 0u) << result_.reason;
}

TEST_F(DnsProbeTest, ConfigErrorsAreReportedLaterNotThrown) {
  config::Check no_address = dns_check(53);
  no_address.address.reset();
  DnsProbe a(loop_, no_address);
  run_probe(a);  // also checks that done is not called inside start()
  EXPECT_FALSE(result_.healthy);
  EXPECT_EQ(result_.reason, "no server address configured");

  calls_ = 0;
  config::Check bad_type = dns_check(53);
  bad_type.query_type = "BOGUS";
  DnsProbe b(loop_, bad_type);
  run_probe(b);
  EXPECT_FALSE(result_.healthy);
  EXPECT_EQ(result_.reason.rfind("unknown DNS type \"BOGUS\"", 0), 0u) << result_.reason;
}

TEST_F(DnsProbeTest, DoneMayDestroyTheProbe) {
  FakeDnsServer server(loop_, Script::kAnswer);
  auto probe = std::make_unique<DnsProbe>(loop_, dns_check(server.port()));
  probe->start([&](ProbeResult r) {
    result_ = std::move(r);
    probe.reset();  // the runner may drop a probe from its callback
  });
  EXPECT_TRUE(run_until(loop_, [&] { return probe == nullptr; }));
  EXPECT_TRUE(result_.healthy);
}

TEST_F(DnsProbeTest, CanBeStartedAgainAfterEachResult) {
  FakeDnsServer server(loop_, Script::kAnswer);
  DnsProbe probe(loop_, dns_check(server.port()));
  run_probe(probe);
  calls_ = 0;
  run_probe(probe);
  EXPECT_TRUE(result_.healthy);
  EXPECT_EQ(server.udp_queries, 2);
}

TEST(DnsProbeTarget, NamesServerQuestionAndNonInternetClass) {
  MonotonicClock clock;
  EventLoop loop(clock);
  EXPECT_EQ(DnsProbe(loop, dns_check(0)).target(), "127.0.0.1:53 example.com A");
  config::Check chaos = dns_check(5353);
  chaos.address = IpAddress::parse("2001:db8::53");
  chaos.query_name = "version.bind";
  chaos.query_type = "TXT";
  chaos.query_class = "CH";
  EXPECT_EQ(DnsProbe(loop, chaos).target(), "[2001:db8::53]:5353 version.bind TXT CH");
}

}  // namespace
}  // namespace vrrpd::checkers
