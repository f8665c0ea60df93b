// systemd units over D-Bus; see systemd_units.h.
#include "vrrpd/daemon/systemd_units.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <map>

#include "vrrpd/base/log.h"

namespace vrrpd {
namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

long long to_ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// JobRemoved(u id, o job, s unit, s result): job path -> result.
int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
  uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  (*static_cast<std::map<std::string, std::string>*>(userdata))[job] = result;
  return 0;
}

std::string error_text(const sd_bus_error& e, int rc) {
  if (e.message != nullptr) return e.message;
  return std::strerror(-rc);
}

}  // namespace

SystemdUnits::SystemdUnits(EventLoop& loop) : loop_(loop), thread_([this] { worker(); }) {}

SystemdUnits::~SystemdUnits() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  thread_.join();
  if (bus_ != nullptr) sd_bus_flush_close_unref(static_cast<sd_bus*>(bus_));
}

void SystemdUnits::run(const std::string& unit, const std::string& op, Duration timeout, Done done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({unit, op, timeout, std::move(done)});
  }
  wake_.notify_one();
}

void SystemdUnits::worker() {
  for (;;) {
    Request r;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    auto [ok, text] = execute(r);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;  // the loop may be going away: no answer
    }
    loop_.post([done = std::move(r.done), ok, text = std::move(text)] { done(ok, text); });
  }
}

std::pair<bool, std::string> SystemdUnits::execute(const Request& r) {
  const auto began = std::chrono::steady_clock::now();
  const auto deadline = began + r.timeout;
  if (bus_ == nullptr) {
    sd_bus* bus = nullptr;
    int rc = sd_bus_open_system(&bus);
    if (rc < 0) return {false, std::string("cannot connect to the system bus: ") + std::strerror(-rc)};
    bus_ = bus;
  }
  auto* bus = static_cast<sd_bus*>(bus_);
  // Any failure below may be a broken connection: open a fresh one next time.
  auto fail = [this, bus](std::string text) {
    sd_bus_flush_close_unref(bus);
    bus_ = nullptr;
    return std::make_pair(false, std::move(text));
  };

  // Watch for the job's end before asking, so that a quick job is not missed.
  std::map<std::string, std::string> removed;
  sd_bus_slot* slot = nullptr;
  int rc = sd_bus_match_signal(bus, &slot, nullptr, kManagerPath, kManager, "JobRemoved", on_job_removed, &removed);
  if (rc < 0) return fail(std::string("cannot watch systemd jobs: ") + std::strerror(-rc));
  struct SlotGuard {
    sd_bus_slot* s;
    ~SlotGuard() { sd_bus_slot_unref(s); }
  } guard{slot};
  // systemd sends job signals only to clients that subscribed.
  sd_bus_error error = SD_BUS_ERROR_NULL;
  rc = sd_bus_call_method(bus, kDestination, kManagerPath, kManager, "Subscribe", &error, nullptr, "");
  sd_bus_error_free(&error);  // "already subscribed" is fine

  const char* method = r.op == "start" ? "StartUnit" : "StopUnit";
  sd_bus_message* reply = nullptr;
  error = SD_BUS_ERROR_NULL;
  rc = sd_bus_call_method(bus, kDestination, kManagerPath, kManager, method, &error, &reply, "ss", r.unit.c_str(),
                          "replace");
  if (rc < 0) {
    std::string text = "systemd refused to " + r.op + " " + r.unit + ": " + error_text(error, rc);
    const bool remote_error = sd_bus_error_is_set(&error);
    sd_bus_error_free(&error);
    if (remote_error) return {false, text};  // systemd answered: the connection is fine
    return fail(text);
  }
  const char* job = nullptr;
  rc = sd_bus_message_read(reply, "o", &job);
  std::string job_path = rc >= 0 && job != nullptr ? job : "";
  sd_bus_message_unref(reply);
  if (job_path.empty()) return fail("unexpected answer to " + std::string(method) + " " + r.unit);

  while (removed.count(job_path) == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return {false, "timed out after " + std::to_string(to_ms(r.timeout)) + " ms waiting for systemd to " + r.op +
                         " " + r.unit + " (job " + job_path + ")"};
    rc = sd_bus_process(bus, nullptr);
    if (rc < 0) return fail("lost the system bus while waiting for " + r.unit + ": " + std::strerror(-rc));
    if (rc > 0) continue;
    sd_bus_wait(bus, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count()));
  }
  const std::string& result = removed[job_path];
  const long long took = to_ms(std::chrono::steady_clock::now() - began);
  if (result != "done")
    return {false, "systemd job to " + r.op + " " + r.unit + " ended with result " + result + " after " +
                       std::to_string(took) + " ms"};
  return {true, std::string(r.op == "start" ? "started " : "stopped ") + r.unit + " in " + std::to_string(took) +
                    " ms"};
}

}  // namespace vrrpd
