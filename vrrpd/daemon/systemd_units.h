// Starts and stops systemd units over D-Bus for the services an instance
// owns (service key `systemd_unit`): the Manager's StartUnit/StopUnit with
// mode "replace", then the job's JobRemoved signal, whose result ("done",
// "failed", "timeout", "canceled", "dependency", "skipped") is the answer.
// A unit of Type=notify or forking is "done" only once systemd considers it
// started, so no status polling is needed.
//
// sd-bus calls block, so they run on a thread of their own, one request at
// a time (the orchestrator already serialises the steps of an instance);
// answers are posted to the VRRP loop. The bus is the system bus
// (DBUS_SYSTEM_BUS_ADDRESS when set, which is how the tests point it at a
// private bus), opened at the first request and again after an error.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd {

class SystemdUnits {
 public:
  using Done = std::function<void(bool ok, std::string text)>;

  explicit SystemdUnits(EventLoop& loop);
  // Abandons queued requests (their `done` is not called) and joins the
  // thread after the request in flight, which is bounded by its timeout.
  ~SystemdUnits();
  SystemdUnits(const SystemdUnits&) = delete;
  SystemdUnits& operator=(const SystemdUnits&) = delete;

  // op "start" or "stop" on `unit` ("mariadb.service"). `done` runs on the
  // loop with ok and a one-line result ("started mariadb.service in 812 ms",
  // "systemd job for mariadb.service ended with result failed", "timed out
  // after 60000 ms waiting for ...", "cannot connect to the system bus: ...").
  void run(const std::string& unit, const std::string& op, Duration timeout, Done done);

 private:
  struct Request {
    std::string unit, op;
    Duration timeout;
    Done done;
  };
  void worker();
  // Runs one request on the worker thread; returns (ok, text).
  std::pair<bool, std::string> execute(const Request& r);

  EventLoop& loop_;
  std::mutex mutex_;  // guards queue_ and stopping_
  std::condition_variable wake_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  void* bus_ = nullptr;  // sd_bus*, worker thread only
  std::thread thread_;   // last: starts after the rest
};

}  // namespace vrrpd
