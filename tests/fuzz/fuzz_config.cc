// libFuzzer target for the configuration front ends (vrrpd/config/config.h):
// the native libconfig syntax, keepalived.conf syntax, and the notify
// command-line splitter both share. Through load_text(), the string entry
// point that load_file() uses after reading the file.
//
// Input: one control byte, then text.
//   bits 0-1 = 0: native format; 1: keepalived format;
//              2: split_command(); 3: normalize_text().
// Inputs that mention "include" are skipped: both syntaxes read the named
// files (an absolute glob such as /dev/zero would read forever), which is
// the operator's business, not the parser's.
// Properties: parse and validate throw nothing but ConfigError, and a
// ConfigError lists issues with a problem text; a config that loads loads
// the same once more after normalize_text() (which is idempotent but for a second BOM);
// split_command's words, quoted back with '...', split to the same words.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.h"
#include "vrrpd/config/config.h"

namespace {

using namespace vrrpd::config;

// A file name in a directory that does not exist, for the messages.
const std::string kFileName = "/nonexistent/vrrpd-fuzz/fuzz.conf";

// Loads; nullopt on ConfigError (checked to carry its issues). Any other
// exception escapes, and libFuzzer reports it as a crash.
std::optional<Config> load(std::string_view text, Format format) {
  try {
    return load_text(text, kFileName, format);
  } catch (const ConfigError& e) {
    FUZZ_CHECK(!e.issues().empty(), "ConfigError without issues");
    for (const ConfigIssue& issue : e.issues()) FUZZ_CHECK(!issue.problem.empty(), "issue without a problem text");
    FUZZ_CHECK(*e.what() != '\0', "ConfigError without a message");
    return std::nullopt;
  }
}

void load_mode(std::string_view text, Format format) {
  const std::optional<Config> first = load(text, format);
  if (!first) return;
  const std::optional<Config> again = load(normalize_text(text), format);
  FUZZ_CHECK(again.has_value(), "normalized config no longer loads");
  FUZZ_CHECK(again->instances.size() == first->instances.size() && again->checks.size() == first->checks.size() &&
                 again->resources.size() == first->resources.size() &&
                 again->sync_groups.size() == first->sync_groups.size(),
             "normalized config has other contents");
  for (std::size_t i = 0; i < first->instances.size(); ++i)
    FUZZ_CHECK(same_settings(first->instances[i], again->instances[i]), "normalized instance differs");
  for (std::size_t i = 0; i < first->checks.size(); ++i)
    FUZZ_CHECK(same_settings(first->checks[i], again->checks[i]), "normalized check differs");
  for (std::size_t i = 0; i < first->resources.size(); ++i)
    FUZZ_CHECK(changed_keys(first->resources[i], again->resources[i]).empty(), "normalized resource differs");
}

// POSIX single quoting: everything literal, a ' as '\''.
std::string quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

void split_mode(std::string_view text) {
  const auto words = split_command(text);
  if (!words) return;
  std::string line;
  for (const std::string& w : *words) line += (line.empty() ? "" : " ") + quote(w);
  const auto again = split_command(line);
  FUZZ_CHECK(again.has_value() && *again == *words, "quoted words split differently");
}

void normalize_mode(std::string_view text) {
  const std::string once = normalize_text(text);
  // Only one BOM is stripped: a second one is text (and a syntax error).
  if (once.rfind("\xEF\xBB\xBF", 0) != 0)
    FUZZ_CHECK(normalize_text(once) == once, "normalize_text is not idempotent");
  FUZZ_CHECK(once.find('\r') == std::string::npos, "CR left after normalize_text");
}

}  // namespace

// libconfig 1.5 (Debian 12) leaks the text of a string token when the
// grammar rejects it (the native text `""` leaks 1 byte, through
// libconfig_yylex and strbuf_append); found by this target in its first
// seconds. The leak is the library's, a few bytes per rejected config (at
// start, -t or reload), so it is suppressed here instead of hiding leaks of
// our own code behind -detect_leaks=0.
extern "C" const char* __lsan_default_suppressions() { return "leak:libconfig++.so\nleak:libconfig.so\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] & 3) {
    case 0:
    case 1:
      if (text.find("include") != std::string_view::npos) return 0;
      load_mode(text, (data[0] & 3) == 0 ? Format::kNative : Format::kKeepalived);
      break;
    case 2: split_mode(text); break;
    case 3: normalize_mode(text); break;
  }
  return 0;
}
