// Logging: syslog (LOG_DAEMON) and/or stderr. Messages are queued and written
// by a background thread so that a slow syslog daemon never blocks the VRRP
// loop. Operator-facing messages have stable texts listed in README.md.
#pragma once

#include <string>
#include <string_view>

namespace vrrpd::log {

enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

struct Options {
  bool to_console = false;  // -l: also write to stderr
  bool to_syslog = true;
  bool detail = false;      // -D: include debug messages
  std::string ident = "vrrpd";
};

// Starts the writer thread. Without init() messages go to stderr synchronously
// (tests, vrrpctl).
void init(const Options& opts);
// Flushes the queue and stops the writer thread.
void shutdown();

void write(Level level, std::string_view message);
inline void error(std::string_view m) { write(Level::kError, m); }
inline void warning(std::string_view m) { write(Level::kWarning, m); }
inline void notice(std::string_view m) { write(Level::kNotice, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void debug(std::string_view m) { write(Level::kDebug, m); }

}  // namespace vrrpd::log
