// Front end for keepalived.conf syntax, the VRRP subset. keepalived
// compatibility means accepting what keepalived accepts: unknown or
// unsupported keywords and blocks are Warnings (with file:line), never
// errors; but a bad value of a keyword we do support (priority 300, a broken
// address, a missing value) is an error, because running with a different
// value than the user wrote is worse than not starting.
//
// keepalived values are in seconds (advert_int 0.1), the model in ms.
// keepalived's default VRRP version is 2 (native format: 3); `vrrp_version`
// in global_defs changes it, `version` in an instance overrides it.
//
// vrrp_script blocks become health checks of kind "exec" and track_script
// their use by an instance; vrrpd also takes decimal seconds for a script's
// interval and timeout (keepalived: whole seconds).
//
// vrrpd's own blocks, which keepalived does not have (replication_resource,
// service, witness and witness_server in global_defs), take the native
// format's keys with the same names and units (fields.h); since they are
// ours, an unknown keyword or an extra word in them is an error, not a
// warning: a typo must not silently drop a safety setting.
#include <glob.h>
#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "vrrpd/config/config.h"
#include "vrrpd/config/fields.h"

namespace vrrpd::config {
namespace {

constexpr int kMaxIncludeDepth = 16;  // deeper is almost surely an include loop

// One file's lines with comments removed; tokens point into it.
struct SourceFile {
  std::string name;
  std::vector<std::string> lines;
};

struct Token {
  std::string text;
  bool quoted = false;  // was "...": never a brace or a keyword
  const SourceFile* file = nullptr;
  int line = 0;
  std::size_t begin = 0, end = 0;  // columns in the decommented line
  SourceLocation where() const { return {file->name, line}; }
  bool is(std::string_view s) const { return !quoted && text == s; }
  bool same_line(const Token& o) const { return file == o.file && line == o.line; }
};

std::string dir_of(const std::string& file) {
  auto slash = file.rfind('/');
  return slash == std::string::npos ? "." : file.substr(0, slash == 0 ? 1 : slash);
}

// Splits files into tokens: blanks separate words, { and } are words of their
// own, "..." is one word; '#' or '!' outside quotes starts a comment (as in
// keepalived, "\#" and "\!" are literal); `include GLOB` lines are expanded.
class Lexer {
 public:
  Lexer(std::vector<ConfigIssue>& issues, std::vector<Warning>& warnings)
      : issues_(issues), warnings_(warnings) {}

  void lex(std::string_view text, const std::string& name, int depth) {
    files_.push_back({name, {}});
    SourceFile& file = files_.back();
    std::size_t pos = 0;
    while (pos <= text.size()) {
      auto nl = text.find('\n', pos);
      std::string_view raw = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
      file.lines.push_back(decomment(raw, {name, static_cast<int>(file.lines.size()) + 1}));
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    for (std::size_t i = 0; i < file.lines.size(); ++i) lex_line(file, static_cast<int>(i) + 1, depth);
  }

  std::vector<Token>& tokens() { return tokens_; }

 private:
  std::string decomment(std::string_view raw, const SourceLocation& where) {
    std::string out;
    bool quote = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (c == '\\' && i + 1 < raw.size()) {
        // As keepalived: "\#" and "\!" outside quotes are literal; any other
        // escape (such as \" inside quotes) is kept for split_command().
        if (quote || (raw[i + 1] != '#' && raw[i + 1] != '!')) out += c;
        out += raw[++i];
        continue;
      }
      if (c == '"') quote = !quote;
      if (!quote && (c == '#' || c == '!')) break;
      out += c;
    }
    if (quote) issues_.push_back({where, "", "", "unterminated double quote; valid: \"...\" on one line"});
    return out;
  }

  void lex_line(const SourceFile& file, int line_no, int depth) {
    const std::string& line = file.lines[line_no - 1];
    std::vector<Token> words;
    std::size_t i = 0;
    while (i < line.size()) {
      char c = line[i];
      if (c == ' ' || c == '\t') {
        ++i;
      } else if (c == '{' || c == '}') {
        words.push_back({std::string(1, c), false, &file, line_no, i, i + 1});
        ++i;
      } else if (c == '"') {
        auto close = i + 1;
        while (close < line.size() && line[close] != '"') close += line[close] == '\\' ? 2 : 1;
        close = std::min(close, line.size());  // unterminated: reported by decomment()
        words.push_back({line.substr(i + 1, close - i - 1), true, &file, line_no, i, close + 1});
        i = close + 1;
      } else {
        auto stop = line.find_first_of(" \t{}\"", i);
        if (stop == std::string::npos) stop = line.size();
        words.push_back({line.substr(i, stop - i), false, &file, line_no, i, stop});
        i = stop;
      }
    }
    if (!words.empty() && words[0].is("include")) return include(words, depth);
    tokens_.insert(tokens_.end(), words.begin(), words.end());
  }

  void include(const std::vector<Token>& words, int depth) {
    const Token& kw = words[0];
    if (words.size() != 2) {
      issues_.push_back({kw.where(), "include", "", "expects one file name or glob pattern"});
      return;
    }
    if (depth >= kMaxIncludeDepth) {
      issues_.push_back({kw.where(), "include", words[1].text,
                         "includes nested more than 16 deep (an include loop?)"});
      return;
    }
    std::string pattern = words[1].text;
    if (pattern.empty() || pattern[0] != '/') pattern = dir_of(kw.file->name) + "/" + pattern;
    glob_t g{};
    int rc = ::glob(pattern.c_str(), GLOB_MARK | GLOB_BRACE, nullptr, &g);
    if (rc != 0) {
      // keepalived only logs this, so it is a warning here too.
      warnings_.push_back({kw.where(), "include '" + words[1].text + "' matched no file; ignored"});
      globfree(&g);
      return;
    }
    std::vector<std::string> paths(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    for (const auto& path : paths) {
      if (path.back() == '/') continue;  // GLOB_MARK: a directory
      std::ifstream in(path, std::ios::binary);
      std::ostringstream buf;
      if (in) buf << in.rdbuf();
      if (!in) {
        issues_.push_back({kw.where(), "include", path, std::string("cannot read: ") + std::strerror(errno)});
        continue;
      }
      lex(normalize_text(buf.str()), path, depth + 1);
    }
  }

  std::deque<SourceFile> files_;  // deque: tokens keep pointers to its elements
  std::vector<Token> tokens_;
  std::vector<ConfigIssue>& issues_;
  std::vector<Warning>& warnings_;
};

using Args = std::vector<Token>;
using Handler = std::function<void(const Token& kw, const Args& args)>;
using KeywordTable = std::map<std::string, Handler, std::less<>>;

class KeepalivedParser {
 public:
  KeepalivedParser(const std::vector<Token>& tokens, Config& config,
                   std::vector<ConfigIssue>& issues)
      : t_(tokens), config_(config), issues_(issues) {}

  void parse() {
    while (!at_end()) {
      Token kw = next();
      if (kw.is("}")) {
        error(kw, "", "", "unexpected '}' (no block is open)");
        continue;
      }
      Args a = args(kw);
      if (kw.is("global_defs")) global_defs(kw);
      else if (kw.is("vrrp_instance")) vrrp_instance(kw, a);
      else if (kw.is("vrrp_sync_group")) vrrp_sync_group(kw, a);
      else if (kw.is("vrrp_script")) vrrp_script(kw, a);
      else if (kw.is("replication_resource")) named_block(kw, a, "resource", resource_fields(), config_.resources);
      else if (kw.is("service")) named_block(kw, a, "service", service_fields(), config_.services);
      else if (kw.is("witness") || kw.is("witness_server")) misplaced(kw, "global_defs { " + kw.text + " { ... } }");
      else ignore(kw, "block '" + kw.text + "' is not supported by vrrpd yet; ignored",
                  "keyword '" + kw.text + "' is not supported by vrrpd; ignored");
    }
    finish();
  }

 private:
  // ---- token stream ----
  bool at_end() const { return pos_ >= t_.size(); }
  const Token& peek() const { return t_[pos_]; }
  Token next() { return t_[pos_++]; }

  // The rest of kw's line up to a brace (not consumed).
  Args args(const Token& kw) {
    Args out;
    while (!at_end() && peek().same_line(kw) && !peek().is("{") && !peek().is("}")) out.push_back(next());
    return out;
  }

  void error(const Token& at, std::string key, std::string value, std::string problem) {
    issues_.push_back({at.where(), std::move(key), std::move(value), std::move(problem)});
  }
  void warn(const Token& at, std::string message) {
    config_.warnings.push_back({at.where(), std::move(message)});
  }

  // Consumes '{' (keepalived allows it on the next line); false if missing.
  bool open_block(const Token& kw) {
    if (!at_end() && peek().is("{")) {
      next();
      return true;
    }
    error(kw, kw.text, "", "expects a block: " + kw.text + " { ... }");
    return false;
  }

  // After '{': skips to the matching '}'.
  void skip_block(const Token& kw) {
    for (int depth = 1; depth > 0;) {
      if (at_end()) return error(kw, kw.text, "", "missing '}' for the block opened here");
      Token tok = next();
      depth += tok.is("{") ? 1 : tok.is("}") ? -1 : 0;
    }
  }

  // Skips the block that follows kw, if one does; true if it did.
  bool skip_optional_block(const Token& kw) {
    if (at_end() || !peek().is("{")) return false;
    next();
    skip_block(kw);
    return true;
  }

  // An ignored keyword: its line's words are consumed already; skip its block too.
  void ignore(const Token& kw, const std::string& block_message, const std::string& keyword_message) {
    warn(kw, skip_optional_block(kw) ? block_message : keyword_message);
  }

  // A keyword of vrrpd's written where it does not belong: an error (never
  // ignored: it would drop the setting), its block skipped.
  void misplaced(const Token& kw, const std::string& valid) {
    error(kw, kw.text, "", "not valid here; valid: " + valid);
    skip_optional_block(kw);
  }

  // The words of a line from a[from] on, as written (quotes kept).
  static std::string text_of(const Token& kw, const Args& a, std::size_t from = 0) {
    if (a.size() <= from) return "";
    const std::string& line = kw.file->lines[kw.line - 1];
    return line.substr(a[from].begin, a.back().end - a[from].begin);
  }

  // The statements of a block, each dispatched through `table`. An unknown
  // keyword is a warning in keepalived's blocks; in vrrpd's own (`strict`
  // names the block for the message, e.g. "replication_resource r0") it is
  // an error listing the valid keywords, as is an extra word after a value.
  void statements(const Token& opener, const KeywordTable& table, const std::string& strict = "") {
    if (!open_block(opener)) return;
    const bool outer = strict_;
    strict_ = !strict.empty();
    for (;;) {
      if (at_end()) {
        error(opener, opener.text, "", "missing '}' for the block opened here");
        break;
      }
      Token kw = next();
      if (kw.is("}")) break;
      if (kw.is("{")) {
        if (strict_) error(kw, "", "", "unexpected '{' in " + strict + "; valid: KEYWORD VALUE lines");
        else warn(kw, "unexpected '{'; block skipped");
        skip_block(kw);
        continue;
      }
      Args a = args(kw);
      auto it = table.find(kw.text);
      if (it != table.end() && !kw.quoted) it->second(kw, a);
      else if (strict_) unknown(kw, strict, table);
      else ignore(kw, "keyword '" + kw.text + "' is not supported by vrrpd; ignored",
                  "keyword '" + kw.text + "' is not supported by vrrpd; ignored");
    }
    strict_ = outer;
  }

  // The value is not echoed: a misspelt shared_secret's would be the secret.
  void unknown(const Token& kw, const std::string& block, const KeywordTable& table) {
    std::string valid;
    for (const auto& entry : table) valid += (valid.empty() ? "" : ", ") + entry.first;
    error(kw, kw.text, "", "unknown keyword in " + block + "; valid: " + valid);
    skip_optional_block(kw);
  }

  // A block of values (addresses, names): fn gets each line's words.
  void value_lines(const Token& opener, const std::function<void(const Args&)>& fn) {
    if (!open_block(opener)) return;
    for (;;) {
      if (at_end()) return error(opener, opener.text, "", "missing '}' for the block opened here");
      Token first = next();
      if (first.is("}")) return;
      if (first.is("{")) {
        warn(first, "unexpected '{'; block skipped");
        skip_block(first);
        continue;
      }
      Args line{first};
      for (auto& a : args(first)) line.push_back(a);
      fn(line);
    }
  }

  // ---- values ----
  // The single value of kw; extra words are a warning (in vrrpd's own
  // blocks an error, which does not echo the value: it may be a secret),
  // none an error.
  const Token* one(const Token& kw, const Args& a, const std::string& valid) {
    if (a.empty()) {
      error(kw, kw.text, "", "missing value; valid: " + valid);
      return nullptr;
    }
    if (a.size() > 1 && strict_)
      error(a[1], kw.text, "", "extra words after the value; valid: " + valid + " (quoted if it has blanks)");
    else if (a.size() > 1)
      warn(a[1], "extra words after '" + kw.text + " " + a[0].text + "' ignored");
    return &a[0];
  }

  std::optional<long> integer(const Token& kw, const Token& v, const std::string& valid) {
    const std::string& s = v.text;
    std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    bool ok = i < s.size() && s.size() - i <= 12 &&
              s.find_first_not_of("0123456789", i) == std::string::npos;
    if (!ok) {
      error(v, kw.text, s, "not an integer; valid: " + valid);
      return std::nullopt;
    }
    return std::stol(s);
  }

  // keepalived timers are seconds with a fraction ("0.1"); exact decimal
  // parsing (no double) so 0.01 is exactly 10 ms.
  std::optional<std::chrono::milliseconds> seconds(const Token& kw, const Token& v) {
    const std::string& s = v.text;
    auto dot = s.find('.');
    std::string whole = s.substr(0, dot);
    std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
    bool digits = (!whole.empty() || !frac.empty()) && whole.size() <= 9 &&
                  whole.find_first_not_of("0123456789") == std::string::npos &&
                  frac.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) {
      error(v, kw.text, s, "not a number of seconds; valid: e.g. 1, 0.1, 0.01");
      return std::nullopt;
    }
    if (frac.size() > 3 && frac.find_first_not_of('0', 3) != std::string::npos) {
      error(v, kw.text, s, "finer than a millisecond; valid: at most 3 decimals");
      return std::nullopt;
    }
    frac.resize(3, '0');
    long ms = (whole.empty() ? 0 : std::stol(whole)) * 1000 + std::stol(frac.substr(0, 3));
    return std::chrono::milliseconds(ms);
  }

  // Handlers that store one value and record the canonical key with the
  // user's spelling and text, so validate() quotes "advert_int = 0.015".
  Handler set_string(std::string& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      if (const Token* v = one(kw, a, "a word")) {
        *out_p = v->text;
        keys_p->set(key, kw.where(), kw.text, v->text);
      }
    };
  }
  template <typename T>
  Handler set_integer(T& out, KeyLocations& keys, std::string key, std::string valid) {
    return [this, out_p = &out, keys_p = &keys, key, valid](const Token& kw, const Args& a) {
      const Token* v = one(kw, a, valid);
      if (!v) return;
      if (auto n = integer(kw, *v, valid)) {
        // Saturate so a huge value stays out of range (the validator quotes
        // the text as written) instead of wrapping into range.
        *out_p = static_cast<T>(std::clamp<long>(*n, INT_MIN, INT_MAX));
        keys_p->set(key, kw.where(), kw.text, v->text);
      }
    };
  }
  Handler set_seconds(std::chrono::milliseconds& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      const Token* v = one(kw, a, "seconds, e.g. 1 or 0.1");
      if (!v) return;
      if (auto ms = seconds(kw, *v)) {
        *out_p = *ms;
        keys_p->set(key, kw.where(), kw.text, v->text);
      }
    };
  }

  // notify_* "CMD ARGS": the rest of the line split like a shell word list;
  // a single quoted string is split again (keepalived does the same).
  Handler set_program(std::optional<Program>& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      if (a.empty()) return error(kw, kw.text, "", "missing command; valid: an absolute path and arguments");
      std::string text = text_of(kw, a);
      auto argv = split_command(text);
      if (argv && argv->size() == 1 && (text[0] == '"' || text[0] == '\'')) argv = split_command(argv->front());
      if (!argv) return error(kw, kw.text, text, "unterminated quote; valid: balanced quotes");
      *out_p = Program{std::move(*argv), kw.where()};
      keys_p->set(key, kw.where(), kw.text, text);
    };
  }

  Handler set_address(std::optional<IpAddress>& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      const Token* v = one(kw, a, "an IP address");
      if (!v) return;
      if (auto addr = address(kw, *v)) {
        *out_p = *addr;
        keys_p->set(key, kw.where(), kw.text, v->text);
      }
    };
  }

  // Recorded without its value: messages must not echo a secret.
  Handler set_secret(std::string& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      if (const Token* v = one(kw, a, "8..255 bytes")) {
        *out_p = v->text;
        keys_p->set(key, kw.where(), kw.text, not_shown(v->text));
      }
    };
  }

  // A switch: the keyword alone means true (as keepalived's nopreempt and
  // enable_traps); a value may say it: true/false, yes/no, on/off.
  Handler set_flag(bool& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      bool value = true;
      if (!a.empty()) {
        const Token* v = one(kw, a, "true or false");
        const char* t = v->text.c_str();
        if (strcasecmp(t, "true") == 0 || strcasecmp(t, "yes") == 0 || strcasecmp(t, "on") == 0) value = true;
        else if (strcasecmp(t, "false") == 0 || strcasecmp(t, "no") == 0 || strcasecmp(t, "off") == 0) value = false;
        else return error(*v, kw.text, v->text,
                          "not a boolean; valid: " + kw.text + " alone (true), or followed by true or false (yes/no, on/off)");
      }
      *out_p = value;
      keys_p->set(key, kw.where(), kw.text, a.empty() ? "" : a[0].text);
    };
  }

  // Names, on the keyword's line (`resources r0 r1`) and/or in a block
  // (`resources { r0 r1 }`, as track_interface); repeated keywords add up.
  Handler set_names(std::vector<std::string>& out, KeyLocations& keys, std::string key) {
    return [this, out_p = &out, keys_p = &keys, key](const Token& kw, const Args& a) {
      const bool block = !at_end() && peek().is("{");
      if (a.empty() && !block) return error(kw, kw.text, "", "missing names; valid: " + kw.text + " { NAME ... }");
      keys_p->set(key, kw.where(), kw.text, "");
      for (const auto& name : a) out_p->push_back(name.text);
      if (block)
        value_lines(kw, [&](const Args& line) {
          for (const auto& name : line) out_p->push_back(name.text);
        });
    };
  }

  // The handler for a field of fields.h, by the type of its member.
  Handler field_handler(std::string& out, KeyLocations& keys, const std::string& key, bool secret) {
    return secret ? set_secret(out, keys, key) : set_string(out, keys, key);
  }
  Handler field_handler(long& out, KeyLocations& keys, const std::string& key, bool) {
    return set_integer(out, keys, key, "a whole number");
  }
  Handler field_handler(std::chrono::milliseconds& out, KeyLocations& keys, const std::string& key, bool) {
    return set_integer(out, keys, key, "a whole number of milliseconds");
  }
  Handler field_handler(bool& out, KeyLocations& keys, const std::string& key, bool) {
    return set_flag(out, keys, key);
  }
  Handler field_handler(std::optional<IpAddress>& out, KeyLocations& keys, const std::string& key, bool) {
    return set_address(out, keys, key);
  }
  Handler field_handler(std::optional<Program>& out, KeyLocations& keys, const std::string& key, bool) {
    return set_program(out, keys, key);
  }
  Handler field_handler(std::vector<std::string>& out, KeyLocations& keys, const std::string& key, bool) {
    return set_names(out, keys, key);
  }

  // Adds the keys of `fields` (fields.h), filling `block`, to `table`.
  template <typename Block>
  void add_fields(KeywordTable& table, Block& block, KeyLocations& keys, const std::vector<Field<Block>>& fields) {
    for (const auto& f : fields)
      table[f.key] = std::visit([&](auto member) { return field_handler(block.*member, keys, f.key, f.secret); },
                                f.member);
  }

  void add_notify(KeywordTable& table, NotifyPrograms& n, KeyLocations& keys) {
    table["notify_master"] = set_program(n.master, keys, "notify_master");
    table["notify_backup"] = set_program(n.backup, keys, "notify_backup");
    table["notify_fault"] = set_program(n.fault, keys, "notify_fault");
    table["notify_stop"] = set_program(n.stop, keys, "notify_stop");
    table["notify"] = set_program(n.generic, keys, "notify");
  }

  void add_garp(KeywordTable& table, GarpSettings& g, KeyLocations& keys, const std::string& prefix) {
    table[prefix + "garp_master_delay"] = set_seconds(g.master_delay, keys, "garp_master_delay_ms");
    table[prefix + "garp_master_repeat"] = set_integer(g.master_repeat, keys, "garp_master_repeat", "1..255");
    table[prefix + "garp_master_refresh"] = set_seconds(g.master_refresh, keys, "garp_master_refresh_ms");
    table[prefix + "garp_master_refresh_repeat"] =
        set_integer(g.master_refresh_repeat, keys, "garp_master_refresh_repeat", "1..255");
    table[prefix + "garp_interval"] = set_seconds(g.interval, keys, "garp_interval_ms");
  }

  static Handler accept() {
    return [](const Token&, const Args&) {};
  }

  // ---- blocks ----
  static void set_name(std::string& out, KeyLocations& keys, const Token& kw, const Token& v) {
    out = v.text;
    keys.set("name", v.where(), kw.text, v.text);
  }

  void global_defs(const Token& opener) {
    Global& g = config_.global;
    if (g.where.line == 0) g.where = opener.where();
    KeywordTable table{
        {"router_id", set_string(g.router_id, g.keys, "router_id")},
        {"script_user", [&](const Token& kw, const Args& a) {
           if (a.empty()) return error(kw, kw.text, "", "missing value; valid: USER [GROUP]");
           g.notify_user = a[0].text;
           g.keys.set("notify_user", kw.where(), kw.text, a[0].text);
           if (a.size() > 1) {
             g.notify_group = a[1].text;
             g.keys.set("notify_group", kw.where(), kw.text, a[1].text);
           }
         }},
        {"vrrp_version", [&](const Token& kw, const Args& a) {
           const Token* v = one(kw, a, "2 or 3");
           if (!v) return;
           auto n = integer(kw, *v, "2 or 3");
           if (n && *n != 2 && *n != 3) return error(*v, kw.text, v->text, "unsupported VRRP version; valid: 2 or 3");
           if (n) default_version_ = *n;
         }},
        {"v3_checksum_as_v2", [&](const Token&, const Args&) { checksum_as_v2_ = true; }},
        // Hardening switches of keepalived; vrrpd needs no opt-in for them.
        {"vrrp_check_unicast_src", accept()},
        {"enable_script_security", accept()},
        // SNMP: vrrpd serves VRRPv3-MIB (RFC 6527) and its own VRRPD-MIB
        // over AgentX; keepalived's own KEEPALIVED-MIB and the RFC 2787
        // VRRP-MIB are not served, so those switches enable the agent with a warning.
        {"enable_snmp_vrrp", snmp_switch("VRRPv3-MIB and VRRPD-MIB are served instead of KEEPALIVED-MIB")},
        {"enable_snmp_keepalived", snmp_switch("VRRPv3-MIB and VRRPD-MIB are served instead of KEEPALIVED-MIB")},
        {"enable_snmp_rfc", snmp_switch("")},
        {"enable_snmp_rfcv3", snmp_switch("")},
        {"enable_snmp_rfcv2", snmp_switch("VRRP-MIB (RFC 2787) is not served; VRRPv3-MIB is")},
        {"enable_traps", [&](const Token& kw, const Args&) {
           g.snmp.traps = true;
           g.snmp.keys.set("traps", kw.where(), kw.text, "");
           traps_seen_ = true;
         }},
        {"snmp_socket", [&](const Token& kw, const Args& a) {
           const Token* v = one(kw, a, "unix:/PATH or tcp:HOST:PORT");
           if (!v) return;
           g.snmp.agentx_socket = v->text;
           g.snmp.keys.set("agentx_socket", kw.where(), kw.text, v->text);
         }},
        {"witness", [&](const Token& kw, const Args& a) { witness(kw, a, g.witness); }},
        {"witness_server", [&](const Token& kw, const Args& a) { witness(kw, a, g.witness_server); }}};
    add_garp(table, g.garp, g.keys, "vrrp_");
    statements(opener, table);
  }

  // keepalived's enable_snmp_*: turns the AgentX subagent on. keepalived
  // sends traps only with enable_traps, so without it traps stay off.
  Handler snmp_switch(std::string note) {
    return [this, note](const Token& kw, const Args&) {
      Global& g = config_.global;
      g.snmp.enable = true;
      g.snmp.keys.set("enable", kw.where(), kw.text, "");
      if (!traps_seen_) g.snmp.traps = false;
      if (!note.empty()) warn(kw, "'" + kw.text + "': " + note);
    };
  }

  // global_defs { witness { ... } } and witness_server: the native keys.
  void witness(const Token& kw, const Args& a, WitnessSettings& w) {
    if (!a.empty()) error(a[0], kw.text, text_of(kw, a), "takes no name; valid: " + kw.text + " { address ...; ... }");
    if (w.configured)
      error(kw, kw.text, "", "given twice (first at " + w.where.to_string() + "); valid: one " + kw.text + " block");
    w.where = kw.where();
    w.configured = true;
    KeywordTable table;
    add_fields(table, w, w.keys, witness_fields());
    statements(kw, table, kw.text);
  }

  // replication_resource NAME { ... } and service NAME { ... }: the native
  // keys of a resource or a service, the name in the header.
  template <typename Block>
  void named_block(const Token& kw, const Args& a, const std::string& noun,
                   const std::vector<Field<Block>>& fields, std::vector<Block>& out) {
    Block b;
    b.where = kw.where();
    if (a.empty()) error(kw, kw.text, "", "missing " + noun + " name; valid: " + kw.text + " NAME { ... }");
    else set_name(b.name, b.keys, kw, a[0]);
    if (a.size() > 1)
      error(a[1], kw.text, text_of(kw, a, 1), "extra words after the name; valid: " + kw.text + " NAME { ... }");
    KeywordTable table;
    add_fields(table, b, b.keys, fields);
    statements(kw, table, kw.text + (b.name.empty() ? "" : " " + b.name));
    out.push_back(std::move(b));
  }

  void vip_line(Instance& inst, const Args& line) {
    const Token& addr = line[0];
    VirtualAddress vip{{}, "", "", addr.where()};
    auto p = IpPrefix::parse(addr.text);
    if (!p) {
      auto a = IpAddress::parse(std::string_view(addr.text).substr(0, addr.text.find('/')));
      error(addr, "virtual_ipaddress", addr.text,
            a ? std::string("bad prefix length; valid: /0../") + (a->is_v4() ? "32" : "128")
              : "not an IP address; valid: e.g. 192.0.2.10/24 or 2001:db8::10/64");
    }
    for (std::size_t i = 1; i < line.size(); ++i) {
      const Token& opt = line[i];
      bool has_value = i + 1 < line.size();
      if ((opt.is("dev") || opt.is("label")) && has_value) {
        (opt.is("dev") ? vip.device : vip.label) = line[++i].text;
      } else if ((opt.is("brd") || opt.is("broadcast") || opt.is("scope") || opt.is("peer") ||
                  opt.is("preferred_lft") || opt.is("track_group")) && has_value) {
        warn(opt, "virtual address option '" + opt.text + " " + line[++i].text +
                      "' is not supported by vrrpd; ignored");
      } else {
        warn(opt, "virtual address option '" + opt.text + "' is not supported by vrrpd; ignored");
      }
    }
    if (p) {
      vip.prefix = *p;
      inst.virtual_addresses.push_back(std::move(vip));
    }
  }

  std::optional<IpAddress> address(const Token& kw, const Token& v) {
    auto a = IpAddress::parse(v.text);
    if (!a) error(v, kw.text, v.text, "not an IP address; valid: e.g. 192.0.2.1 or 2001:db8::1");
    return a;
  }

  void authentication(const Token& opener, Instance& inst) {
    std::optional<Token> type, pass;
    KeywordTable table{{"auth_type", [&](const Token& kw, const Args& a) {
                          if (const Token* v = one(kw, a, "PASS")) type = *v;
                        }},
                       {"auth_pass", [&](const Token& kw, const Args& a) {
                          if (const Token* v = one(kw, a, "1..8 characters")) pass = *v;
                        }}};
    statements(opener, table);
    if (type && type->is("AH"))
      return error(*type, "auth_type", "AH", "IPsec AH authentication is not supported; valid: PASS");
    if (type && !type->is("PASS"))
      return error(*type, "auth_type", type->text, "unknown authentication type; valid: PASS");
    if (!pass) return error(opener, "authentication", "", "auth_pass missing; valid: auth_pass of 1..8 characters");
    inst.auth_pass = pass->text;
    inst.keys.set("auth_pass", pass->where(), "auth_pass", "");
  }

  void vrrp_instance(const Token& kw, const Args& a) {
    Instance inst;
    inst.where = kw.where();
    if (a.empty()) error(kw, kw.text, "", "missing instance name; valid: vrrp_instance NAME { ... }");
    else set_name(inst.name, inst.keys, kw, a[0]);
    auto& k = inst.keys;
    KeywordTable table{
        {"interface", set_string(inst.interface, k, "interface")},
        {"virtual_router_id", set_integer(inst.virtual_router_id, k, "virtual_router_id", "1..255")},
        {"priority", set_integer(inst.priority, k, "priority", "1..255")},
        {"version", set_integer(inst.version, k, "version", "2 or 3")},
        {"advert_int", set_seconds(inst.advert_interval, k, "advert_interval_ms")},
        {"preempt_delay", set_seconds(inst.preempt_delay, k, "preempt_delay_ms")},
        {"nopreempt", [&](const Token& w, const Args&) {
           inst.preempt = false;
           k.set("preempt", w.where(), w.text, "");
         }},
        {"preempt", [&](const Token& w, const Args&) {
           inst.preempt = true;
           k.set("preempt", w.where(), w.text, "");
         }},
        {"native_ipv6", [&](const Token& w, const Args&) {
           inst.family = Family::kIPv6;
           k.set("family", w.where(), w.text, "");
         }},
        // Only the initial state: keepalived, too, lets the election decide
        // (state MASTER with priority 255 is the address owner, which
        // validate() leaves alone: priority 255 always wins).
        {"state", [&](const Token& w, const Args& args) {
           const Token* v = one(w, args, "MASTER or BACKUP");
           if (!v) return;
           if (strcasecmp(v->text.c_str(), "MASTER") == 0) inst.initial_state = InitialState::kMaster;
           else if (strcasecmp(v->text.c_str(), "BACKUP") == 0) inst.initial_state = InitialState::kBackup;
           else return error(*v, w.text, v->text, "unknown state; valid: MASTER or BACKUP");
           k.set("state", w.where(), w.text, v->text);
         }},
        {"unicast_src_ip", set_address(inst.unicast_src, k, "unicast_src")},
        {"unicast_peer", [&](const Token& w, const Args&) {
           k.set("unicast_peers", w.where(), w.text, "");
           value_lines(w, [&](const Args& line) {
             for (std::size_t i = 0; i < line.size(); ++i) {
               if ((line[i].is("min_ttl") || line[i].is("max_ttl")) && i + 1 < line.size()) {
                 warn(line[i], "unicast_peer option '" + line[i].text + "' is not supported by vrrpd; ignored");
                 ++i;
               } else if (auto addr = address(w, line[i])) {
                 inst.unicast_peers.push_back(*addr);
               }
             }
           });
         }},
        {"track_interface", [&](const Token& w, const Args&) {
           k.set("track_interfaces", w.where(), w.text, "");
           value_lines(w, [&](const Args& line) {
             for (std::size_t i = 0; i < line.size(); ++i) {
               TrackedInterface t{line[i].text, 0, line[i].where()};
               if (i + 2 < line.size() && line[i + 1].is("weight")) {
                 auto n = integer(line[i + 1], line[i + 2], "-253..253");
                 i += 2;
                 if (!n) continue;
                 t.weight = static_cast<int>(std::clamp<long>(*n, -1000000, 1000000));
               }
               inst.track_interfaces.push_back(std::move(t));
             }
           });
         }},
        {"authentication", [&](const Token& w, const Args&) { authentication(w, inst); }},
        {"track_script", [&](const Token& w, const Args&) {
           k.set("track_checks", w.where(), w.text, "");
           value_lines(w, [&](const Args& line) { track_script_line(inst, line); });
         }}};
    for (const char* name : {"virtual_ipaddress", "virtual_ipaddress_excluded"}) {
      table[name] = [&](const Token& w, const Args&) {
        k.set("virtual_addresses", w.where(), w.text, "");
        value_lines(w, [&](const Args& line) { vip_line(inst, line); });
      };
    }
    add_garp(table, inst.garp, k, "");
    add_notify(table, inst.notify, k);
    add_fields(table, inst, k, failover_fields<Instance>());
    statements(kw, table);
    config_.instances.push_back(std::move(inst));
  }

  void vrrp_sync_group(const Token& kw, const Args& a) {
    SyncGroup group;
    group.where = kw.where();
    if (a.empty()) error(kw, kw.text, "", "missing group name; valid: vrrp_sync_group NAME { ... }");
    else set_name(group.name, group.keys, kw, a[0]);
    KeywordTable table{{"group", [&](const Token& w, const Args&) {
                          group.keys.set("members", w.where(), w.text, "");
                          value_lines(w, [&](const Args& line) {
                            for (const auto& m : line) group.members.push_back(m.text);
                          });
                        }}};
    add_fields(table, group, group.keys, failover_fields<SyncGroup>());
    add_notify(table, group.notify, group.keys);
    statements(kw, table);
    config_.sync_groups.push_back(std::move(group));
  }

  // One line of track_script: NAME [weight N [reverse|noreverse]], possibly
  // several names on a line (as track_interface).
  void track_script_line(Instance& inst, const Args& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      TrackedCheck t{line[i].text, std::nullopt, line[i].where()};
      if (i + 2 < line.size() && line[i + 1].is("weight")) {
        auto n = integer(line[i + 1], line[i + 2], "-253..253");
        i += 2;
        if (!n) continue;
        t.weight = std::clamp<long>(*n, -1000000, 1000000);
        if (i + 1 < line.size() && (line[i + 1].is("reverse") || line[i + 1].is("noreverse"))) {
          // Ignoring 'reverse' would invert the check's effect: refuse it.
          if (line[i + 1].is("reverse"))
            error(line[i + 1], "track_script", "reverse",
                  "option 'reverse' is not supported by vrrpd; valid: weight N [noreverse]");
          ++i;
        }
      }
      inst.track_checks.push_back(std::move(t));
    }
  }

  // vrrp_script NAME { ... }: a check of kind "exec". keepalived's defaults:
  // interval 1 s, timeout = interval, rise/fall 1, weight 0, initially up.
  void vrrp_script(const Token& kw, const Args& a) {
    Check c;
    c.where = kw.where();
    c.kind = "exec";
    c.interval = std::chrono::milliseconds(1000);
    auto& k = c.keys;
    if (a.empty()) error(kw, kw.text, "", "missing script name; valid: vrrp_script NAME { ... }");
    else set_name(c.name, k, kw, a[0]);
    bool have_script = false;  // a bad `script` line is reported by itself
    Handler script = set_program(c.program, k, "program");
    KeywordTable table{
        {"script", [&](const Token& w, const Args& args) {
           have_script = true;
           script(w, args);
         }},
        {"interval", set_seconds(c.interval, k, "interval_ms")},
        {"timeout", set_seconds(c.timeout, k, "timeout_ms")},
        {"rise", set_integer(c.rise, k, "rise", "1..100")},
        {"fall", set_integer(c.fall, k, "fall", "1..100")},
        {"weight", [&](const Token& w, const Args& args) {
           if (args.empty()) return error(w, w.text, "", "missing value; valid: -253..253");
           if (auto n = integer(w, args[0], "-253..253")) {
             c.weight = std::clamp<long>(*n, INT_MIN, INT_MAX);
             k.set("weight", w.where(), w.text, args[0].text);
           }
           // Ignoring 'reverse' would invert the check's effect: refuse it.
           if (args.size() > 1 && args[1].is("reverse"))
             error(args[1], w.text, args[0].text + " reverse",
                   "option 'reverse' is not supported by vrrpd; valid: weight N [noreverse]");
           else if (args.size() > 1 && !args[1].is("noreverse"))
             warn(args[1], "extra words after '" + w.text + " " + args[0].text + "' ignored");
         }},
        {"user", [&](const Token& w, const Args&) {
           warn(w, "per-script user is not supported by vrrpd; ignored (the script runs as "
                   "script_user, or root without it)");
         }},
        {"init_fail", [&](const Token& w, const Args&) {
           c.initially_up = false;
           k.set("initial_state", w.where(), w.text, "");
         }}};
    statements(kw, table);
    if (!k.has("timeout_ms")) c.timeout = c.interval;
    if (!have_script)
      error(kw, "script", "", "missing in vrrp_script " + c.name + "; valid: script \"/path/to/check ARGS\"");
    config_.checks.push_back(std::move(c));
  }

  // Defaults that depend on keywords which may come after the instances.
  void finish() {
    const GarpSettings& g = config_.global.garp;
    for (auto& inst : config_.instances) {
      auto& k = inst.keys;
      if (!k.has("version")) inst.version = default_version_;
      if (checksum_as_v2_) inst.v3_checksum_pseudo_header = false;
      if (!k.has("garp_master_delay_ms")) inst.garp.master_delay = g.master_delay;
      if (!k.has("garp_master_repeat")) inst.garp.master_repeat = g.master_repeat;
      if (!k.has("garp_master_refresh_ms")) inst.garp.master_refresh = g.master_refresh;
      if (!k.has("garp_master_refresh_repeat")) inst.garp.master_refresh_repeat = g.master_refresh_repeat;
      if (!k.has("garp_interval_ms")) inst.garp.interval = g.interval;
    }
  }

  const std::vector<Token>& t_;
  std::size_t pos_ = 0;
  Config& config_;
  std::vector<ConfigIssue>& issues_;
  long default_version_ = 2;  // keepalived's default, unlike the native format's 3
  bool checksum_as_v2_ = false;
  bool traps_seen_ = false;   // enable_traps was given (keepalived sends no traps without it)
  bool strict_ = false;       // in a block of vrrpd's own (see statements())
};

}  // namespace

Config parse_keepalived(std::string_view text, const std::string& file_name) {
  Config config;
  config.file = file_name;
  config.global.where = {file_name, 0};
  std::vector<ConfigIssue> issues;
  Lexer lexer(issues, config.warnings);
  lexer.lex(text, file_name, 0);
  KeepalivedParser(lexer.tokens(), config, issues).parse();
  if (!issues.empty()) throw ConfigError(std::move(issues));
  return config;
}

}  // namespace vrrpd::config
