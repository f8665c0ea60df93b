#include "notify/event_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

namespace vrrpd::notify {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string format(WallTime t, bool utc) {
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int frac = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  tm parts{};
  if (utc) gmtime_r(&secs, &parts);
  else localtime_r(&secs, &parts);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &parts);
  std::snprintf(buf + n, sizeof buf - n, ".%03d%s", frac, utc ? "Z" : "");
  return buf;
}

// Reads exactly `digits` decimal digits at text[pos]; advances pos.
std::optional<int> number(std::string_view text, std::size_t& pos, std::size_t digits) {
  if (pos + digits > text.size()) return std::nullopt;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + digits, v);
  if (ec != std::errc() || end != text.data() + pos + digits) return std::nullopt;
  pos += digits;
  return v;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// "HH:MM" or "HH:MM:SS" at pos, to the end of text.
bool clock_time(std::string_view text, std::size_t pos, tm& out) {
  auto h = number(text, pos, 2);
  if (!h || !expect(text, pos, ':')) return false;
  auto m = number(text, pos, 2);
  if (!m) return false;
  int s = 0;
  if (pos < text.size() && text[pos] != 'Z') {
    if (!expect(text, pos, ':')) return false;
    auto sv = number(text, pos, 2);
    if (!sv) return false;
    s = *sv;
  }
  if (pos != text.size() && !(pos + 1 == text.size() && text[pos] == 'Z')) return false;
  if (*h > 23 || *m > 59 || s > 60) return false;
  out.tm_hour = *h;
  out.tm_min = *m;
  out.tm_sec = s;
  return true;
}

}  // namespace

std::string format_utc(WallTime t) { return format(t, true); }
std::string format_local(WallTime t) { return format(t, false); }

nlohmann::json to_json(const Event& e) {
  return {{"v", 1},           {"seq", e.seq},         {"time", format_utc(e.time)},
          {"source", e.source}, {"subject", e.subject}, {"what", e.what},
          {"text", e.text},     {"detail", e.detail}};
}

std::optional<WallTime> parse_since(std::string_view text, WallTime now) {
  if (text.empty()) return std::nullopt;
  // A duration back from now: digits and one unit.
  if (char unit = text.back(); unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') {
    long long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
    if (ec == std::errc() && end == text.data() + text.size() - 1 && n >= 0) {
      const long long unit_s = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
      return now - seconds(n * unit_s);
    }
  }
  tm parts{};
  parts.tm_isdst = -1;  // let mktime decide for local times
  bool utc = text.back() == 'Z';
  if (text.size() >= 10 && text[4] == '-') {
    std::size_t pos = 0;
    auto y = number(text, pos, 4);
    if (!y || !expect(text, pos, '-')) return std::nullopt;
    auto mo = number(text, pos, 2);
    if (!mo || !expect(text, pos, '-')) return std::nullopt;
    auto d = number(text, pos, 2);
    if (!d || *mo < 1 || *mo > 12 || *d < 1 || *d > 31) return std::nullopt;
    parts.tm_year = *y - 1900;
    parts.tm_mon = *mo - 1;
    parts.tm_mday = *d;
    if (pos != text.size()) {
      if (text[pos] != ' ' && text[pos] != 'T') return std::nullopt;
      if (!clock_time(text, pos + 1, parts)) return std::nullopt;
    }
  } else {
    if (utc) return std::nullopt;  // a bare time is local
    const time_t t = std::chrono::system_clock::to_time_t(now);
    localtime_r(&t, &parts);
    parts.tm_isdst = -1;
    if (!clock_time(text, 0, parts)) return std::nullopt;
  }
  const time_t when = utc ? timegm(&parts) : mktime(&parts);
  if (when == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(when);
}

EventJournal::EventJournal(Options opts, WallClock clock)
    : opts_(std::move(opts)), clock_(std::move(clock)), started_(clock_()) {
  if (!opts_.file.empty()) writer_ = std::thread([this] { writer_main(); });
}

EventJournal::~EventJournal() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_all();
  if (writer_.joinable()) writer_.join();
}

uint64_t EventJournal::record(std::string source, std::string subject, std::string what,
                              std::string text, nlohmann::json detail) {
  Event e{0, clock_(), std::move(source), std::move(subject), std::move(what), std::move(text),
          detail.is_null() ? nlohmann::json::object() : std::move(detail)};
  std::lock_guard lock(mutex_);
  e.seq = next_seq_++;
  if (!opts_.file.empty()) {
    if (file_queue_.size() < opts_.file_queue_max) {
      file_queue_.push_back(to_json(e).dump() + "\n");
      wake_writer_.notify_one();
    } else {
      ++file_lines_dropped_;
    }
  }
  events_.push_back(std::move(e));
  while (events_.size() > std::max<std::size_t>(opts_.capacity, 1)) {
    events_.pop_front();
    ++evicted_;
  }
  return next_seq_ - 1;
}

std::vector<Event> EventJournal::events(std::optional<WallTime> from, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<Event> out;
  for (const auto& e : events_)
    if (!from || e.time >= *from) out.push_back(e);
  if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  return out;
}

std::vector<Event> EventJournal::events_after(uint64_t seq, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  // Seqs rise by one along the deque: the first one above `seq` is found
  // without a scan.
  std::vector<Event> out;
  if (events_.empty() || events_.back().seq <= seq) return out;
  const uint64_t first = events_.front().seq;
  auto it = events_.begin() + static_cast<std::ptrdiff_t>(seq >= first ? seq - first + 1 : 0);
  for (; it != events_.end() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

uint64_t EventJournal::last_seq() const {
  std::lock_guard lock(mutex_);
  return next_seq_ - 1;
}

uint64_t EventJournal::evicted() const {
  std::lock_guard lock(mutex_);
  return evicted_;
}

uint64_t EventJournal::file_lines_dropped() const {
  std::lock_guard lock(mutex_);
  return file_lines_dropped_;
}

std::string EventJournal::file_error() const {
  std::lock_guard lock(mutex_);
  return file_error_;
}

void EventJournal::flush_file() {
  std::unique_lock lock(mutex_);
  writer_idle_.wait(lock, [this] { return file_queue_.empty() && !writer_busy_; });
}

void EventJournal::writer_main() {
  int fd = -1;
  uint64_t size = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_writer_.wait(lock, [this] { return stopping_ || !file_queue_.empty(); });
    if (file_queue_.empty()) break;  // stopping with nothing left
    std::string line = std::move(file_queue_.front());
    file_queue_.pop_front();
    writer_busy_ = true;
    lock.unlock();
    write_line(fd, size, line);  // may block on a slow disk: only this thread waits
    lock.lock();
    writer_busy_ = false;
    if (file_queue_.empty()) writer_idle_.notify_all();
  }
  writer_idle_.notify_all();
  if (fd >= 0) close(fd);
}

// On the writer thread, without the lock.
void EventJournal::write_line(int& fd, uint64_t& size, const std::string& line) {
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(mutex_);
    ++file_lines_dropped_;
    file_error_ = what + " " + opts_.file + ": " + std::strerror(errno);
  };
  if (fd >= 0 && size + line.size() > opts_.file_max_bytes) {
    close(fd);
    fd = -1;
    if (rename(opts_.file.c_str(), (opts_.file + ".1").c_str()) != 0) return fail("cannot rotate");
  }
  if (fd < 0) {
    fd = open(opts_.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return fail("cannot open");
    struct stat st{};
    size = fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      fd = -1;  // reopen on the next line (the disk may come back)
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  size += line.size();
  std::lock_guard lock(mutex_);
  file_error_.clear();
}

}  // namespace vrrpd::notify
