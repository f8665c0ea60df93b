// The checker thread: its own event loop running every configured check, so
// that no check (a hung server, a slow DNS reply, a program) can delay VRRP
// adverts. Results leave through a sink that the daemon points at the VRRP
// loop's post().
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "checkers/check_runner.h"
#include "checkers/replication_probe.h"
#include "notify/program_runner.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

// Builds the probe for a check's kind. Throws std::invalid_argument for a kind
// this build does not have.
// `replication_status` serves the "replication" kind.
std::unique_ptr<Probe> make_probe(EventLoop& loop, const config::Check& check, const notify::RunOptions& run_as,
                                  const ReplicationStatusFn& replication_status = {});

class CheckerService {
 public:
  // Called on the checker thread after every attempt of every check.
  using Sink = std::function<void(CheckStatus status, bool changed)>;

  // `replication_status` answers "replication" checks; it is called on the
  // checker thread and must be thread-safe.
  CheckerService(notify::RunOptions run_as, Sink sink, ReplicationStatusFn replication_status = {});
  ~CheckerService();

  // Creates the probes (throws std::invalid_argument for an unknown kind)
  // and starts the thread. Call once.
  void start(const std::vector<config::Check>& checks);
  // Reload: checks whose settings are unchanged keep running (and keep their
  // up/down state); others are stopped, new ones started.
  void replace(const std::vector<config::Check>& checks);
  // Stops every check and joins the thread.
  void stop();

 private:
  void apply(std::vector<config::Check> checks);

  notify::RunOptions run_as_;
  Sink sink_;
  ReplicationStatusFn replication_status_;
  MonotonicClock clock_;
  EventLoop loop_;
  std::thread thread_;
  // Owned and touched only on the checker thread (after start()).
  std::vector<std::unique_ptr<CheckRunner>> runners_;
};

}  // namespace vrrpd::checkers
