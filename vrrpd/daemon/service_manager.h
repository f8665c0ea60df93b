// Services that move with the data (issue 5): the daemon starts them on the
// node that becomes MASTER, after its resources are promoted and mounted and
// before the VIPs go up, and stops them before the file system is unmounted.
//
// A service is a program with start, stop and (optional) status commands,
// run without a shell through a ProgramRunner of its own, like an init
// script or `systemctl start` would be:
//   start  must exit 0 within start_timeout; it may leave a daemon behind
//          (which should put itself in its own session);
//   status exit 0 means running and ready. When given, the start is only
//          done once status says so, polled every status_interval, all
//          within the same start_timeout (the readiness wait);
//   stop   must exit 0 within stop_timeout.
// A program still running at its timeout gets SIGTERM, then SIGKILL, with
// its whole process group. Everything runs on the VRRP loop without
// blocking it; the orchestrator serialises the operations of one service.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/daemon/orchestrator.h"
#include "notify/program_runner.h"

namespace vrrpd {

struct ServiceSpec {
  std::string name;
  std::vector<std::string> start;   // argv; argv[0] absolute
  std::vector<std::string> stop;    // argv
  std::vector<std::string> status;  // argv; empty: no readiness wait
  Duration start_timeout = std::chrono::seconds(60);    // start program plus readiness
  Duration stop_timeout = std::chrono::seconds(60);
  Duration status_interval = std::chrono::milliseconds(500);  // between readiness polls
};

class ServiceManager final : public ServiceCommands {
 public:
  // Programs run with `opts` (user, group, kill grace); the timeouts are the
  // services' own.
  ServiceManager(EventLoop& loop, notify::RunOptions opts);
  ~ServiceManager() override;

  // The services known from now on (a reload); operations in flight finish
  // with the spec they started with.
  void configure(std::vector<ServiceSpec> specs);

  // op "start" or "stop". `done` runs later on the loop, never inside.
  void run(const std::string& service, const std::string& op, Done done) override;

  // Ends whatever runs (SIGTERM, then SIGKILL after `grace`); for shutdown
  // after the orchestrators released, so normally nothing is left.
  void shutdown(Duration grace);

  // For vrrpctl status: every service's state ("stopped", "starting",
  // "waiting-ready", "running", "stopping", "failed") and last result.
  nlohmann::json to_json() const;

 private:
  struct Op;  // one start or stop in flight
  struct State {
    std::string state = "stopped";
    std::string last_result;  // "started in 120 ms", "stop exited with status 1 after 0.1 s"
  };

  void begin_stage(const std::shared_ptr<Op>& op);
  void run_status(const std::shared_ptr<Op>& op);
  void finish(const std::shared_ptr<Op>& op, bool ok, std::string text);

  EventLoop& loop_;
  notify::ProgramRunner runner_;
  std::map<std::string, ServiceSpec> specs_;
  std::map<std::string, State> states_;
  std::vector<std::shared_ptr<Op>> in_flight_;  // a status poll waiting on a timer holds its Op here
};

}  // namespace vrrpd
