#include "vrrpd/base/log.h"

#include <syslog.h>
#include <time.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

namespace vrrpd::log {
namespace {

struct Entry {
  Level level;
  std::string text;
};

// Bounded so a wedged syslog cannot grow memory without limit; the oldest
// entries are dropped and the count is reported once the writer catches up.
constexpr std::size_t kMaxQueued = 10000;

std::mutex g_mutex;  // guards everything below
std::condition_variable g_cv;
std::deque<Entry> g_queue;
std::size_t g_dropped = 0;
bool g_running = false;
bool g_stop = false;
Options g_opts;
std::thread g_writer;

const char* level_name(Level l) {
  switch (l) {
    case Level::kError: return "ERROR";
    case Level::kWarning: return "WARNING";
    case Level::kNotice: return "NOTICE";
    case Level::kInfo: return "INFO";
    case Level::kDebug: return "DEBUG";
  }
  return "?";
}

void emit(const Options& opts, const Entry& e) {
  if (opts.to_syslog) syslog(static_cast<int>(e.level), "%s", e.text.c_str());
  if (opts.to_console) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm tmv{};
    localtime_r(&ts.tv_sec, &tmv);
    std::fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s: %s\n", tmv.tm_hour, tmv.tm_min, tmv.tm_sec,
                 ts.tv_nsec / 1000000, opts.ident.c_str(), level_name(e.level), e.text.c_str());
  }
}

void writer_main() {
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    g_cv.wait(lock, [] { return g_stop || !g_queue.empty(); });
    while (!g_queue.empty()) {
      Entry e = std::move(g_queue.front());
      g_queue.pop_front();
      std::size_t dropped = g_dropped;
      g_dropped = 0;
      Options opts = g_opts;
      lock.unlock();
      if (dropped)
        emit(opts, {Level::kWarning, "log queue overflow: " + std::to_string(dropped) +
                                         " messages dropped"});
      emit(opts, e);
      lock.lock();
    }
    if (g_stop) return;
  }
}

}  // namespace

void init(const Options& opts) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_opts = opts;
  if (opts.to_syslog) openlog(g_opts.ident.c_str(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
  if (!g_running) {
    g_stop = false;
    g_running = true;
    g_writer = std::thread(writer_main);
  }
}

void shutdown() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_running) return;
    g_stop = true;
  }
  g_cv.notify_all();
  g_writer.join();
  std::lock_guard<std::mutex> lock(g_mutex);
  g_running = false;
}

void write(Level level, std::string_view message) {
  std::unique_lock<std::mutex> lock(g_mutex);
  if (level == Level::kDebug && !g_opts.detail) return;
  if (!g_running) {
    Options console;
    console.to_console = true;
    console.to_syslog = false;
    console.ident = g_opts.ident;
    emit(console, {level, std::string(message)});
    return;
  }
  if (g_queue.size() >= kMaxQueued) {
    g_queue.pop_front();
    ++g_dropped;
  }
  g_queue.push_back({level, std::string(message)});
  lock.unlock();
  g_cv.notify_one();
}

}  // namespace vrrpd::log
