// The node's event journal: one timeline of what happened (VRRP transitions,
// health-check changes, operator actions, reloads; replication and failover
// steps as they arrive), kept in memory for `vrrpctl events` and optionally
// appended to a file as JSON lines. It is the incident timeline an operator
// otherwise rebuilds by hand from several logs.
//
// record() is cheap and never blocks on I/O: the file is written by a
// background thread from a bounded queue, so a slow or full disk costs
// journal lines (counted and reported), never VRRP timing. Thread-safe; in
// the daemon everything records from the VRRP loop.
//
// File format, version 1: one JSON object per line,
//   {"v":1,"seq":7,"time":"2026-11-30T04:27:26.123Z","source":"vrrp",
//    "subject":"VI_1","what":"transition","text":"BACKUP -> MASTER (...)",
//    "detail":{...}}
// Keys are never renamed within a version; new keys may be added.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace vrrpd::notify {

using WallTime = std::chrono::system_clock::time_point;

struct Event {
  uint64_t seq = 0;       // 1, 2, ... within one daemon run
  WallTime time;          // wall clock (what people and other logs use)
  std::string source;     // "daemon", "vrrp", "check", "replication", "failover"
  std::string subject;    // instance, check or resource name; empty for the daemon
  std::string what;       // stable event type: "transition", "check-up", "reload", ...
  std::string text;       // one line for people
  nlohmann::json detail = nlohmann::json::object();  // structured fields, units in the names
};

// "2026-11-30T04:27:26.123Z" (UTC, milliseconds).
std::string format_utc(WallTime t);
// "2026-11-30 05:27:26.123" in the local time zone, for tables.
std::string format_local(WallTime t);

// The JSON object of one event (file format version 1, also on the control
// socket).
nlohmann::json to_json(const Event& e);

// Parses what `vrrpctl events --since` accepts: a duration back from `now`
// ("90s", "15m", "2h", "1d"), a local time of today ("04:27" or
// "04:27:26"), a local date and time ("2026-11-30 04:27[:26]" or with a
// 'T'), or UTC ("2026-11-30T04:27:26Z"). nullopt when it is none of these.
std::optional<WallTime> parse_since(std::string_view text, WallTime now);

class EventJournal {
 public:
  struct Options {
    std::size_t capacity = 10000;          // events kept in memory; the oldest go first
    std::string file;                      // empty: memory only
    uint64_t file_max_bytes = 16u << 20;   // then FILE is renamed FILE.1 and a new one begun
    std::size_t file_queue_max = 10000;    // lines waiting for the writer before new ones are dropped
  };
  using WallClock = std::function<WallTime()>;

  explicit EventJournal(Options opts, WallClock clock = [] { return std::chrono::system_clock::now(); });
  // Writes what is queued, then stops the writer thread.
  ~EventJournal();
  EventJournal(const EventJournal&) = delete;
  EventJournal& operator=(const EventJournal&) = delete;

  // Appends an event stamped with the wall clock; returns its seq.
  uint64_t record(std::string source, std::string subject, std::string what, std::string text,
                  nlohmann::json detail = nlohmann::json::object());

  // Events at or after `from` (all when nullopt), oldest first, at most the
  // newest `limit` of them.
  std::vector<Event> events(std::optional<WallTime> from = std::nullopt,
                            std::size_t limit = SIZE_MAX) const;
  // Events with a seq above `seq`, oldest first, at most the oldest `limit`
  // of them (a follower asks again after the last one it got).
  std::vector<Event> events_after(uint64_t seq, std::size_t limit = SIZE_MAX) const;
  // The seq of the newest event recorded (0: none yet).
  uint64_t last_seq() const;
  // When this journal (this daemon run) began: seqs start again at 1 in the
  // next run, so a follower that sees another value starts over.
  WallTime started() const { return started_; }

  // Events evicted from memory because the capacity was reached.
  uint64_t evicted() const;
  // File lines dropped because the writer was behind or the file failed.
  uint64_t file_lines_dropped() const;
  // The last file error ("cannot open /var/lib/vrrpd/events.jsonl: ..."),
  // empty when writing works or there is no file.
  std::string file_error() const;
  // Blocks until the writer has written (or dropped) every queued line.
  // For tests and shutdown; never called on the VRRP loop.
  void flush_file();

 private:
  void writer_main();
  void write_line(int& fd, uint64_t& size, const std::string& line);

  const Options opts_;
  const WallClock clock_;
  const WallTime started_;

  mutable std::mutex mutex_;  // guards everything below
  std::deque<Event> events_;
  uint64_t next_seq_ = 1;
  uint64_t evicted_ = 0;
  std::deque<std::string> file_queue_;
  bool writer_busy_ = false;  // a line taken from the queue is being written
  bool stopping_ = false;
  uint64_t file_lines_dropped_ = 0;
  std::string file_error_;
  std::condition_variable wake_writer_;
  std::condition_variable writer_idle_;

  std::thread writer_;  // only when opts_.file is set; last member: starts after the rest
};

}  // namespace vrrpd::notify
