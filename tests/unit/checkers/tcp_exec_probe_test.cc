// tcp and exec probes against real sockets and programs on this host
// (127.0.0.1 only), driven by a real event loop.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "checkers/exec_probe.h"
#include "checkers/tcp_probe.h"
#include "tests/unit/checkers/probe_test_support.h"

namespace vrrpd::checkers {
namespace {

using std::chrono::milliseconds;
using testing::Listener;
using testing::run_once;

config::Check tcp_check(int port) {
  config::Check c;
  c.name = "t";
  c.kind = "tcp";
  c.address = IpAddress::parse("127.0.0.1");
  c.port = port;
  return c;
}

TEST(TcpProbe, ConnectsToListener) {
  MonotonicClock clock;
  EventLoop loop(clock);
  Listener l;
  TcpProbe p(loop, tcp_check(l.port));
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy) << r->reason;
  EXPECT_EQ(p.target(), "127.0.0.1:" + std::to_string(l.port));
}

TEST(TcpProbe, RefusedWhenNobodyListens) {
  MonotonicClock clock;
  EventLoop loop(clock);
  int port;
  {
    Listener l;
    port = l.port;
  }
  TcpProbe p(loop, tcp_check(port));
  auto r = run_once(loop, p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "connect: Connection refused");
}

TEST(TcpProbe, SendAndExpectReplyPrefix) {
  MonotonicClock clock;
  EventLoop loop(clock);
  Listener l;
  std::thread server([&] {
    for (const char* reply : {"+PONG\r\n", "-ERR loading\r\n"}) {
      int c = accept(l.fd, nullptr, nullptr);
      char buf[64];
      ssize_t n = read(c, buf, sizeof buf);
      if (n > 0 && std::string(buf, static_cast<std::size_t>(n)) == "PING\r\n")
        [[maybe_unused]] auto w = write(c, reply, strlen(reply));
      close(c);
    }
  });
  auto c = tcp_check(l.port);
  c.send = "PING\r\n";
  c.expect = "+PONG";
  TcpProbe p(loop, c);
  auto ok = run_once(loop, p);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->healthy) << ok->reason;
  auto bad = run_once(loop, p);
  server.join();
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->healthy);
  EXPECT_EQ(bad->reason, "unexpected reply \"-ERR loading..\"");
}

TEST(TcpProbe, CancelClosesTheSocketAndStaysSilent) {
  MonotonicClock clock;
  EventLoop loop(clock);
  Listener l;
  auto c = tcp_check(l.port);
  c.send = "x";
  c.expect = "never";  // the listener never answers
  TcpProbe p(loop, c);
  bool called = false;
  p.start([&](ProbeResult) { called = true; });
  for (int i = 0; i < 10; ++i) loop.run_once(milliseconds(10));
  p.cancel();
  for (int i = 0; i < 10; ++i) loop.run_once(milliseconds(10));
  EXPECT_FALSE(called);
}

config::Check exec_check(std::vector<std::string> argv, milliseconds timeout = milliseconds(2000)) {
  config::Check c;
  c.name = "e";
  c.kind = "exec";
  c.timeout = timeout;
  c.program = config::Program{std::move(argv), {}};
  return c;
}

TEST(ExecProbe, ExitStatusDecides) {
  MonotonicClock clock;
  EventLoop loop(clock);
  ExecProbe ok(loop, exec_check({"/bin/true"}), {});
  auto r = run_once(loop, ok);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->healthy);
  ExecProbe bad(loop, exec_check({"/bin/sh", "-c", "exit 3"}), {});
  r = run_once(loop, bad);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_EQ(r->reason, "exit status 3");
  ExecProbe missing(loop, exec_check({"/nonexistent/check"}), {});
  r = run_once(loop, missing);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
}

TEST(ExecProbe, HungProgramIsKilledAtTheTimeout) {
  MonotonicClock clock;
  EventLoop loop(clock);
  ExecProbe hung(loop, exec_check({"/bin/sleep", "30"}, milliseconds(200)), {});
  const TimePoint t0 = clock.now();
  auto r = run_once(loop, hung);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->healthy);
  EXPECT_NE(r->reason.find("timed out"), std::string::npos) << r->reason;
  EXPECT_LT(clock.now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace vrrpd::checkers
