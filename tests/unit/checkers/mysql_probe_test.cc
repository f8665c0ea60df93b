// MysqlProbe against sockets on 127.0.0.1, driven by a real event loop:
// a closed port, a listener that never speaks, one that sends garbage, and a
// small scripted server speaking enough of the MySQL protocol (handshake,
// COM_QUERY with text result sets and errors, COM_QUIT) to walk every step
// of an attempt. The real-server tests are in tests/system/test_mysql_check.py.
#include "checkers/mysql_probe.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "checkers/check_runner.h"
#include "tests/unit/checkers/probe_test_support.h"

namespace vrrpd::checkers {
namespace {

using std::chrono::milliseconds;
using Cell = std::optional<std::string>;
using testing::Listener;
using testing::open_fd_count;
using testing::run_for;
using testing::run_once;
using testing::run_until;

config::Check mysql_check(int port) {
  config::Check c;
  c.name = "db";
  c.kind = "mysql";
  c.address = IpAddress::parse("127.0.0.1");
  c.port = port;
  c.user = "vrrpd";
  c.password = "secret";
  c.timeout = milliseconds(2000);
  return c;
}

// --- a scripted MySQL server -------------------------------------------------

std::string le(std::uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

std::string lenenc(const std::string& s) {
  if (s.size() < 251) return std::string(1, static_cast<char>(s.size())) + s;
  return "\xfc" + le(s.size(), 2) + s;
}

// One result set of text columns; a nullopt cell is SQL NULL.
struct ResultSet {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

// What the server does with one COM_QUERY.
struct Reply {
  enum Kind { kResults, kOk, kError, kHang } kind = kOk;
  std::vector<ResultSet> sets;  // kResults: more than one is a procedure's answer
  int error = 0;
  std::string message;
  static Reply rows(std::vector<std::string> columns, std::vector<std::vector<Cell>> rows) {
    Reply r;
    r.kind = kResults;
    r.sets.push_back({std::move(columns), std::move(rows)});
    return r;
  }
  static Reply fail(int error, std::string message) {
    Reply r;
    r.kind = kError;
    r.error = error;
    r.message = std::move(message);
    return r;
  }
  static Reply hang() {
    Reply r;
    r.kind = kHang;
    return r;
  }
};

// Speaks protocol 4.1 with classic EOF packets (no CLIENT_DEPRECATE_EOF),
// accepts any password, answers each statement through `script`, on its own
// thread with blocking sockets. Records the statements and COM_QUITs seen.
class FakeMysqlServer {
 public:
  using Script = std::function<Reply(const std::string& sql)>;

  // `announce_tls`: offer TLS, then stall once the client asks for it (the
  // handshake never completes).
  explicit FakeMysqlServer(Script script, bool announce_tls = false)
      : script_(std::move(script)), announce_tls_(announce_tls) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeMysqlServer() {
    shutdown(listener_.fd, SHUT_RDWR);  // wakes accept()
    thread_.join();
  }
  int port() const { return listener_.port; }
  std::vector<std::string> statements() {
    std::lock_guard<std::mutex> lock(mutex_);
    return statements_;
  }
  int quits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return quits_;
  }
  int closed_connections() {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
  }
  int tls_requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return tls_requests_;
  }

 private:
  static constexpr std::uint32_t kCapabilities =
      0x1 /* LONG_PASSWORD, i.e. not MariaDB-extended */ | 0x4 /* LONG_FLAG */ | 0x8 /* CONNECT_WITH_DB */ |
      0x200 /* PROTOCOL_41 */ | 0x2000 /* TRANSACTIONS */ | 0x8000 /* SECURE_CONNECTION */ |
      0x20000 /* MULTI_RESULTS */ | 0x80000 /* PLUGIN_AUTH */;

  void serve() {
    for (;;) {
      const int c = accept(listener_.fd, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{5, 0};  // never hang the test binary
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const int one = 1;  // one packet per send(), no 40 ms delayed-ACK stalls
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      session(c);
      close(c);
      std::lock_guard<std::mutex> lock(mutex_);
      ++closed_;
    }
  }

  void session(int c) {
    std::string greeting = "\x0a";
    greeting += std::string("5.5.5-10.11.99-MariaDB-fake") + '\0';
    greeting += le(7, 4) + "abcdefgh" + '\0';
    const std::uint32_t caps = kCapabilities | (announce_tls_ ? 0x800 /* SSL */ : 0);
    greeting += le(caps & 0xffff, 2) + "\x21" + le(2, 2) + le(caps >> 16, 2);
    greeting += static_cast<char>(21);
    greeting += std::string(10, '\0');
    greeting += std::string("ijklmnopqrst") + '\0';
    greeting += std::string("mysql_native_password") + '\0';
    if (!send_packet(c, 0, greeting)) return;
    std::string login;
    std::uint8_t seq = 0;
    if (!read_packet(c, &login, &seq)) return;
    if (announce_tls_ && login.size() == 32) {  // an SSL request; a ClientHello follows
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++tls_requests_;
      }
      char ignored[512];
      while (::recv(c, ignored, sizeof ignored, 0) > 0) {
      }
      return;
    }
    if (!send_packet(c, seq + 1, ok_packet())) return;
    for (;;) {
      std::string command;
      if (!read_packet(c, &command, &seq) || command.empty()) return;
      if (command[0] == 0x01) {  // COM_QUIT
        std::lock_guard<std::mutex> lock(mutex_);
        ++quits_;
        return;
      }
      if (command[0] != 0x03) return;  // only COM_QUERY is scripted
      const std::string sql = command.substr(1);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        statements_.push_back(sql);
      }
      const Reply reply = script_(sql);
      if (reply.kind == Reply::kHang) {
        std::string ignored;
        read_packet(c, &ignored, &seq);  // until the client goes away
        return;
      }
      if (!answer(c, reply)) return;
    }
  }

  bool answer(int c, const Reply& reply) {
    std::uint8_t seq = 1;
    auto send = [&](const std::string& payload) { return send_packet(c, seq++, payload); };
    if (reply.kind == Reply::kOk) return send(ok_packet());
    if (reply.kind == Reply::kError)
      return send("\xff" + le(static_cast<std::uint64_t>(reply.error), 2) + "#42000" + reply.message);
    for (std::size_t i = 0; i < reply.sets.size(); ++i) {
      const ResultSet& set = reply.sets[i];
      const bool more = reply.sets.size() > 1;  // a procedure: an OK packet ends the sequence
      if (!send(std::string(1, static_cast<char>(set.columns.size())))) return false;
      for (const auto& name : set.columns) {
        std::string def = lenenc("def") + lenenc("") + lenenc("") + lenenc("") + lenenc(name) + lenenc(name);
        def += "\x0c" + le(33, 2) + le(255, 4) + "\xfd" + le(0, 2) + std::string(1, '\0') + le(0, 2);
        if (!send(def)) return false;
      }
      const std::uint16_t status = 2 | (more ? 8 : 0);  // AUTOCOMMIT | MORE_RESULTS_EXIST
      if (!send("\xfe" + le(0, 2) + le(status, 2))) return false;
      for (const auto& row : set.rows) {
        std::string r;
        for (const auto& cell : row) r += cell ? lenenc(*cell) : std::string("\xfb");
        if (!send(r)) return false;
      }
      if (!send("\xfe" + le(0, 2) + le(status, 2))) return false;
    }
    if (reply.sets.size() > 1) return send(ok_packet());
    return true;
  }

  static std::string ok_packet() { return std::string("\x00\x00\x00\x02\x00\x00\x00", 7); }

  static bool send_packet(int c, std::uint8_t seq, const std::string& payload) {
    const std::string p = le(payload.size(), 3) + static_cast<char>(seq) + payload;
    return ::send(c, p.data(), p.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(p.size());
  }

  static bool read_exact(int c, char* buf, std::size_t n) {
    while (n > 0) {
      const ssize_t r = ::recv(c, buf, n, 0);
      if (r <= 0) return false;
      buf += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }

  static bool read_packet(int c, std::string* payload, std::uint8_t* seq) {
    unsigned char header[4];
    if (!read_exact(c, reinterpret_cast<char*>(header), 4)) return false;
    const std::size_t len = header[0] | (header[1] << 8) | (header[2] << 16);
    *seq = header[3];
    payload->assign(len, '\0');
    return len == 0 || read_exact(c, payload->data(), len);
  }

  Listener listener_;
  Script script_;
  bool announce_tls_;
  std::thread thread_;
  std::mutex mutex_;  // guards the records below
  std::vector<std::string> statements_;
  int quits_ = 0;
  int closed_ = 0;
  int tls_requests_ = 0;
};

// A server that answers SELECT 1 and the role/replica/Galera statements
// as a healthy writable MariaDB replica in a synced Galera cluster.
Reply healthy_server(const std::string& sql) {
  if (sql == "SELECT 1") return Reply::rows({"1"}, {{"1"}});
  if (sql == "SELECT @@global.read_only") return Reply::rows({"@@global.read_only"}, {{"0"}});
  if (sql == "SHOW ALL SLAVES STATUS")
    return Reply::rows({"Connection_name", "Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master",
                        "Last_IO_Error", "Last_SQL_Error"},
                       {{"", "Yes", "Yes", "0", "", ""}});
  if (sql.rfind("SHOW GLOBAL STATUS WHERE", 0) == 0)
    return Reply::rows({"Variable_name", "Value"},
                       {{"wsrep_local_state_comment", "Synced"}, {"wsrep_ready", "ON"}});
  return Reply::fail(1064, "You have an error in your SQL syntax near '" + sql + "'");
}

// --- without a MySQL server --------------------------------------------------

TEST(MysqlProbe, ClosedPortIsUnhealthyWithConnectReason) {
  MonotonicClock clock;
  EventLoop loop(clock);
  int port;
  {
    Listener l;
    port = l.port;
  }
  MysqlProbe p(loop, mysql_check(port));
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason.rfind("connect: ", 0), 0u) << r->reason;
  EXPECT_NE(r->reason.find("Can't connect"), std::string::npos) << r->reason;
}

TEST(MysqlProbe, SilentListenerGivesNoResultUntilCancelledAndLeaksNoFd) {
  MonotonicClock clock;
  EventLoop loop(clock);
  Listener l;  // the kernel accepts; nobody ever sends the greeting
  MysqlProbe p(loop, mysql_check(l.port));
  const int fds_before = open_fd_count();
  bool called = false;
  p.start([&](ProbeResult) { called = true; });
  run_for(loop, milliseconds(300));
  EXPECT_FALSE(called);
  EXPECT_EQ(open_fd_count(), fds_before + 1);  // the client's socket
  p.cancel();
  EXPECT_EQ(open_fd_count(), fds_before);
  run_for(loop, milliseconds(100));
  EXPECT_FALSE(called);
}

TEST(MysqlProbe, RunnerTimeoutCancelsSilentServer) {
  MonotonicClock clock;
  EventLoop loop(clock);
  Listener l;
  auto c = mysql_check(l.port);
  c.timeout = milliseconds(200);
  c.interval = milliseconds(10000);
  const int fds_before = open_fd_count();
  std::optional<CheckStatus> last;
  CheckRunner runner(loop, c, std::make_unique<MysqlProbe>(loop, c),
                     [&](const CheckStatus& s, bool) { last = s; });
  runner.start();
  ASSERT_TRUE(run_until(loop, [&] { return last.has_value(); }));
  EXPECT_EQ(last->last.reason, "timed out after 200 ms");
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(MysqlProbe, GarbageInsteadOfGreetingIsUnhealthy) {
  MonotonicClock clock;
  EventLoop loop(clock);
  Listener l;
  std::thread server([&] {
    const int c = accept(l.fd, nullptr, nullptr);
    const std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    [[maybe_unused]] auto n = write(c, reply.data(), reply.size());
    close(c);
  });
  MysqlProbe p(loop, mysql_check(l.port));
  auto r = run_once(loop, p);
  server.join();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason.rfind("connect: ", 0), 0u) << r->reason;
  EXPECT_NE(r->reason.find("Lost connection"), std::string::npos) << r->reason;
}

TEST(MysqlProbe, TargetNamesAccountEndpointAndJudgements) {
  MonotonicClock clock;
  EventLoop loop(clock);
  auto c = mysql_check(3306);
  EXPECT_EQ(MysqlProbe(loop, c).target(), "vrrpd@127.0.0.1:3306");
  c.address = IpAddress::parse("2001:db8::11");
  c.port = 0;  // the default
  c.database = "app";
  c.tls = true;
  c.expect_role = "writable";
  c.max_replica_lag_s = 10;
  c.galera = true;
  EXPECT_EQ(MysqlProbe(loop, c).target(), "vrrpd@[2001:db8::11]:3306/app tls writable lag<=10s galera");
}

TEST(MysqlProbe, MissingAddressFailsEachAttempt) {
  MonotonicClock clock;
  EventLoop loop(clock);
  auto c = mysql_check(3306);
  c.address.reset();
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "no server address configured");
}

// --- against the scripted server ---------------------------------------------

TEST(MysqlProbe, QuerySucceedsAndSaysGoodbye) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server(healthy_server);
  MysqlProbe p(loop, mysql_check(server.port()));
  for (int attempt = 0; attempt < 2; ++attempt) {  // a fresh connection each time
    auto r = run_once(loop, p);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->healthy) << r->reason;
    EXPECT_EQ(r->reason, "SELECT 1 ok");
  }
  EXPECT_TRUE(run_until(loop, [&] { return server.quits() == 2; }));
  EXPECT_EQ(server.statements(), (std::vector<std::string>{"SELECT 1", "SELECT 1"}));
}

TEST(MysqlProbe, QueryErrorQuotesTheServer) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server([](const std::string&) { return Reply::fail(1146, "Table 'app.t' doesn't exist"); });
  auto c = mysql_check(server.port());
  c.query = "SELECT count(*) FROM t";
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "query failed: Table 'app.t' doesn't exist");
  EXPECT_TRUE(run_until(loop, [&] { return server.quits() == 1; }));
}

TEST(MysqlProbe, StatementWithoutResultSetIsFine) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server([](const std::string&) { return Reply{}; });  // an OK packet
  auto c = mysql_check(server.port());
  c.query = "DO 1";
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy) << r->reason;
  EXPECT_EQ(r->reason, "DO 1 ok");
}

TEST(MysqlProbe, ExpectWritableAgainstReadOnlyServer) {
  MonotonicClock clock;
  EventLoop loop(clock);
  std::atomic<bool> read_only{true};
  FakeMysqlServer server([&](const std::string& sql) {
    if (sql == "SELECT @@global.read_only") return Reply::rows({"@@global.read_only"}, {{read_only ? "1" : "0"}});
    return healthy_server(sql);
  });
  auto c = mysql_check(server.port());
  c.expect_role = "writable";
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "read_only is ON, expected writable");
  read_only = false;  // read by the server thread only while the probe waits for it
  r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy) << r->reason;
  EXPECT_EQ(r->reason, "SELECT 1 ok, writable");
}

TEST(MysqlProbe, EveryStepHealthyNamesEachOne) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server(healthy_server);
  auto c = mysql_check(server.port());
  c.expect_role = "writable";
  c.max_replica_lag_s = 10;
  c.galera = true;
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy) << r->reason;
  EXPECT_EQ(r->reason, "SELECT 1 ok, writable, replica lag 0 s, galera Synced");
  ASSERT_EQ(server.statements().size(), 4u);
}

TEST(MysqlProbe, ReplicaStatusFallsBackOnSyntaxError) {
  MonotonicClock clock;
  EventLoop loop(clock);
  // MySQL 8: no SHOW ALL SLAVES STATUS, Replica_* column names.
  FakeMysqlServer server([](const std::string& sql) {
    if (sql == "SHOW REPLICA STATUS")
      return Reply::rows({"Replica_IO_Running", "Replica_SQL_Running", "Seconds_Behind_Source", "Last_IO_Error"},
                         {{"Connecting", "Yes", std::nullopt, "error connecting to source"}});
    if (sql == "SELECT 1") return healthy_server(sql);
    return Reply::fail(1064, "You have an error in your SQL syntax");
  });
  auto c = mysql_check(server.port());
  c.max_replica_lag_s = 10;
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "replica IO thread not running (Connecting): error connecting to source");
  EXPECT_EQ(server.statements(),
            (std::vector<std::string>{"SELECT 1", "SHOW ALL SLAVES STATUS", "SHOW REPLICA STATUS"}));
}

TEST(MysqlProbe, ReplicaStatusDeniedIsReportedWithoutFallback) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server([](const std::string& sql) {
    if (sql == "SHOW ALL SLAVES STATUS")
      return Reply::fail(1227, "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s)");
    return healthy_server(sql);
  });
  auto c = mysql_check(server.port());
  c.max_replica_lag_s = 10;
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason,
            "SHOW ALL SLAVES STATUS failed: Access denied; you need (at least one of) the SUPER, SLAVE MONITOR "
            "privilege(s)");
  EXPECT_EQ(server.statements().size(), 2u);
}

TEST(MysqlProbe, GaleraDonorIsUnhealthy) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server([](const std::string& sql) {
    if (sql.rfind("SHOW GLOBAL STATUS", 0) == 0)
      return Reply::rows({"Variable_name", "Value"},
                         {{"wsrep_local_state_comment", "Donor/Desynced"}, {"wsrep_ready", "ON"}});
    return healthy_server(sql);
  });
  auto c = mysql_check(server.port());
  c.galera = true;
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "galera state is Donor/Desynced, expected Synced");
}

TEST(MysqlProbe, ProcedureResultsAreReadToTheEnd) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server([](const std::string& sql) {
    if (sql == "CALL health()") {
      Reply r = Reply::rows({"a"}, {{"1"}});
      r.sets.push_back({{"b"}, {{"2"}, {"3"}}});
      return r;
    }
    return healthy_server(sql);
  });
  auto c = mysql_check(server.port());
  c.query = "CALL health()";
  c.expect_role = "writable";  // the next statement fails "out of sync" unless all were read
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy) << r->reason;
  EXPECT_EQ(r->reason, "CALL health() ok, writable");
}

TEST(MysqlProbe, TlsRequiredButNotOfferedIsUnhealthy) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server(healthy_server);  // does not announce CLIENT_SSL
  auto c = mysql_check(server.port());
  c.tls = true;
  MysqlProbe p(loop, c);
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "connect: TLS required, but the server does not offer it");
  EXPECT_TRUE(server.statements().empty());
}

// Connector/C 3.3 does the TLS handshake in blocking mode; a server that
// stalls there must hold up only the attempt's helper thread.
TEST(MysqlProbe, StalledTlsHandshakeNeverBlocksTheLoop) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server(healthy_server, /*announce_tls=*/true);
  auto c = mysql_check(server.port());
  c.tls = true;
  c.timeout = milliseconds(3000);  // the library would block up to 3 s per read
  const int fds_before = open_fd_count();
  auto p = std::make_unique<MysqlProbe>(loop, c);
  bool called = false;
  p->start([&](ProbeResult) { called = true; });
  ASSERT_TRUE(run_until(loop, [&] { return server.tls_requests() == 1; }));
  // The loop keeps turning: 10 turns of 20 ms take about 200 ms, not 3 s.
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) loop.run_once(milliseconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, milliseconds(1000));
  EXPECT_FALSE(called);
  // Cancel ends the blocked read at once; destroying the probe joins its helper.
  const auto cancel_begin = std::chrono::steady_clock::now();
  p->cancel();
  p.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - cancel_begin, milliseconds(1000));
  EXPECT_TRUE(run_until(loop, [&] { return server.closed_connections() == 1; }));
  run_for(loop, milliseconds(50));  // the helper's post, now orphaned
  EXPECT_FALSE(called);
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(MysqlProbe, TlsAttemptsRunOneAfterAnother) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server(healthy_server, /*announce_tls=*/true);
  auto c = mysql_check(server.port());
  c.tls = true;
  MysqlProbe p(loop, c);
  bool first_called = false;
  p.start([&](ProbeResult) { first_called = true; });
  ASSERT_TRUE(run_until(loop, [&] { return server.tls_requests() == 1; }));
  p.cancel();  // the helper ends on its own and is joined when it reports
  p.start([&](ProbeResult) { first_called = true; });
  ASSERT_TRUE(run_until(loop, [&] { return server.tls_requests() == 2; }));
  const int fds_during = open_fd_count();
  p.cancel();
  EXPECT_TRUE(run_until(loop, [&] { return server.closed_connections() == 2; }));
  run_for(loop, milliseconds(50));
  EXPECT_FALSE(first_called);
  EXPECT_LT(open_fd_count(), fds_during);  // both helpers joined, their loops closed
}

TEST(MysqlProbe, CancelDuringHungQueryClosesTheConnection) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server([](const std::string&) { return Reply::hang(); });
  MysqlProbe p(loop, mysql_check(server.port()));
  const int fds_before = open_fd_count();
  bool called = false;
  p.start([&](ProbeResult) { called = true; });
  ASSERT_TRUE(run_until(loop, [&] { return server.statements().size() == 1; }));
  run_for(loop, milliseconds(100));
  EXPECT_FALSE(called);
  p.cancel();
  // The server sees the end of the connection, and once it has closed its
  // own end (an fd of this process too) no descriptor is left over.
  EXPECT_TRUE(run_until(loop, [&] { return server.closed_connections() == 1; }));
  EXPECT_EQ(open_fd_count(), fds_before);
  run_for(loop, milliseconds(100));
  EXPECT_FALSE(called);
}

TEST(MysqlProbe, StartAgainAbandonsTheAttemptInFlight) {
  MonotonicClock clock;
  EventLoop loop(clock);
  int calls = 0;
  FakeMysqlServer server([&](const std::string& sql) {
    return ++calls == 1 ? Reply::hang() : healthy_server(sql);
  });
  MysqlProbe p(loop, mysql_check(server.port()));
  int first_called = 0;
  p.start([&](ProbeResult) { ++first_called; });
  ASSERT_TRUE(run_until(loop, [&] { return server.statements().size() == 1; }));
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy) << r->reason;
  EXPECT_EQ(first_called, 0);
}

TEST(MysqlProbe, ProbeMayBeDestroyedInsideDone) {
  MonotonicClock clock;
  EventLoop loop(clock);
  FakeMysqlServer server(healthy_server);
  auto p = std::make_unique<MysqlProbe>(loop, mysql_check(server.port()));
  std::optional<ProbeResult> result;
  p->start([&](ProbeResult r) {
    result = std::move(r);
    p.reset();
  });
  ASSERT_TRUE(run_until(loop, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->healthy) << result->reason;
  EXPECT_FALSE(p);
}

}  // namespace
}  // namespace vrrpd::checkers
