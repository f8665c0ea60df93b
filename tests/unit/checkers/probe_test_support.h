// What the probe tests against real sockets share: driving a real event loop
// until a condition holds (bounded), one probe attempt with the start()/done
// contract checked, a counter of open descriptors (leak checks), and a TCP
// listener on 127.0.0.1 with an ephemeral port.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <optional>

#include "checkers/probe.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::checkers::testing {

// Runs the loop until cond() holds or `limit` passes; returns cond().
inline bool run_until(EventLoop& loop, const std::function<bool()>& cond,
                      Duration limit = std::chrono::seconds(5)) {
  const TimePoint end = loop.now() + limit;
  while (!cond() && loop.now() < end) loop.run_once(std::chrono::milliseconds(20));
  return cond();
}

inline void run_for(EventLoop& loop, Duration d) { run_until(loop, [] { return false; }, d); }

// Runs one attempt and waits (at most `limit`) for its result.
inline std::optional<ProbeResult> run_once(EventLoop& loop, Probe& probe,
                                           Duration limit = std::chrono::seconds(5)) {
  std::optional<ProbeResult> result;
  probe.start([&](ProbeResult r) { result = std::move(r); });
  EXPECT_FALSE(result.has_value()) << "done must not be called from inside start()";
  run_until(loop, [&] { return result.has_value(); }, limit);
  return result;
}

// Descriptors this process has open now.
inline int open_fd_count() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the DIR's own fd
}

// A listening socket on 127.0.0.1 with an ephemeral port.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int backlog = 8) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd, backlog);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(fd); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
};

}  // namespace vrrpd::checkers::testing
