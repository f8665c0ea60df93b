// One attempt of a health check, run on the checker loop. Every kind (tcp,
// dns, exec, mysql) implements Probe; CheckRunner schedules attempts, applies
// the timeout and the rise/fall counting. A probe never blocks its loop.
#pragma once

#include <functional>
#include <string>

namespace vrrpd::checkers {

struct ProbeResult {
  bool healthy = false;
  // Why, in words an operator can act on: "connected", "connect: Connection
  // refused", "rcode SERVFAIL, expected NOERROR", "exit status 1".
  std::string reason;
};

class Probe {
 public:
  using Done = std::function<void(ProbeResult)>;
  virtual ~Probe() = default;
  // Starts one attempt. `done` is called exactly once, later, on the checker
  // loop (never from inside start()), unless cancel() is called first.
  virtual void start(Done done) = 0;
  // Abandons the attempt in flight (timeout, shutdown); releases its sockets
  // or kills its program. `done` is not called afterwards.
  virtual void cancel() = 0;
  // What is checked, for display: "192.0.2.53:53 example.com A", "/usr/bin/check".
  virtual std::string target() const = 0;
  // Time the probe needs beyond the check's timeout to report a timeout
  // itself (an exec probe kills its program and reaps it), in ms.
  virtual int extra_time_ms() const { return 0; }
};

}  // namespace vrrpd::checkers
