// Loading configuration: file reading, text normalisation (BOM, CRLF), the
// choice of front end, the notify command splitter both front ends share, and
// the reload comparisons (instances, checks, resources). Parsing is in native_parser.cc
// and keepalived_parser.cc, the rules in validate.cc.
#include "vrrpd/config/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <type_traits>
#include <variant>

#include "vrrpd/config/fields.h"

namespace vrrpd::config {

std::optional<Format> parse_format(std::string_view name) {
  if (name == "native") return Format::kNative;
  if (name == "keepalived") return Format::kKeepalived;
  return std::nullopt;
}

std::string normalize_text(std::string_view text) {
  // Editors on Windows save a BOM and CRLF; keepalived rejects the BOM with an
  // unreadable message, so accept both here once for every front end.
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;  // CRLF -> one LF
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::vector<std::string>> split_command(std::string_view line) {
  enum class Quote { kNone, kSingle, kDouble };
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // distinguishes "" (an empty argument) from no word
  Quote quote = Quote::kNone;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    switch (quote) {
      case Quote::kNone:
        if (c == ' ' || c == '\t' || c == '\n') {
          if (in_word) words.push_back(std::move(word));
          word.clear();
          in_word = false;
        } else if (c == '\'') {
          quote = Quote::kSingle;
          in_word = true;
        } else if (c == '"') {
          quote = Quote::kDouble;
          in_word = true;
        } else if (c == '\\' && i + 1 < line.size()) {
          word += line[++i];
          in_word = true;
        } else {
          word += c;
          in_word = true;
        }
        break;
      case Quote::kSingle:  // no escapes at all inside '...'
        if (c == '\'') quote = Quote::kNone;
        else word += c;
        break;
      case Quote::kDouble:  // POSIX: backslash escapes only \ " $ ` here
        if (c == '"') {
          quote = Quote::kNone;
        } else if (c == '\\' && i + 1 < line.size() &&
                   std::strchr("\\\"$`", line[i + 1]) != nullptr) {
          word += line[++i];
        } else {
          word += c;
        }
        break;
    }
  }
  if (quote != Quote::kNone) return std::nullopt;
  if (in_word) words.push_back(std::move(word));
  return words;
}

Config load_text(std::string_view text, const std::string& file_name, Format format) {
  std::string normalized = normalize_text(text);
  Config config = format == Format::kNative ? parse_native(normalized, file_name)
                                            : parse_keepalived(normalized, file_name);
  validate(config);
  return config;
}

Config load_file(const std::string& path, Format format) {
  // POSIX read rather than iostreams so the message carries the real errno
  // (ENOENT, EACCES, EISDIR for a directory).
  auto fail = [&](int err) {
    return ConfigError({ConfigIssue{SourceLocation{path, 0}, "", "",
                                    std::string("cannot read: ") + std::strerror(err)}});
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(errno);
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw fail(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return load_text(text, path, format);
}

namespace {

bool same_program(const std::optional<Program>& a, const std::optional<Program>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || a->argv == b->argv;
}

bool same_notify(const NotifyPrograms& a, const NotifyPrograms& b) {
  return same_program(a.master, b.master) && same_program(a.backup, b.backup) &&
         same_program(a.fault, b.fault) && same_program(a.stop, b.stop) &&
         same_program(a.generic, b.generic);
}

bool same_garp(const GarpSettings& a, const GarpSettings& b) {
  return a.master_delay == b.master_delay && a.master_repeat == b.master_repeat &&
         a.master_refresh == b.master_refresh &&
         a.master_refresh_repeat == b.master_refresh_repeat && a.interval == b.interval;
}

}  // namespace

bool same_settings(const Instance& a, const Instance& b) {
  // Every behavioural field; `where`, `keys` and the locations of nested items
  // are deliberately left out so that moving a block in the file is no change.
  auto same_vips = [&] {
    if (a.virtual_addresses.size() != b.virtual_addresses.size()) return false;
    for (std::size_t i = 0; i < a.virtual_addresses.size(); ++i) {
      const auto& x = a.virtual_addresses[i];
      const auto& y = b.virtual_addresses[i];
      if (!(x.prefix == y.prefix) || x.device != y.device || x.label != y.label) return false;
    }
    return true;
  };
  auto same_tracks = [&] {
    if (a.track_interfaces.size() != b.track_interfaces.size()) return false;
    for (std::size_t i = 0; i < a.track_interfaces.size(); ++i) {
      const auto& x = a.track_interfaces[i];
      const auto& y = b.track_interfaces[i];
      if (x.name != y.name || x.weight != y.weight) return false;
    }
    return true;
  };
  auto same_checks = [&] {
    if (a.track_checks.size() != b.track_checks.size()) return false;
    for (std::size_t i = 0; i < a.track_checks.size(); ++i) {
      const auto& x = a.track_checks[i];
      const auto& y = b.track_checks[i];
      if (x.name != y.name || x.weight != y.weight) return false;
    }
    return true;
  };
  return a.name == b.name && a.interface == b.interface &&
         a.virtual_router_id == b.virtual_router_id && a.priority == b.priority &&
         a.version == b.version && a.family == b.family &&
         a.advert_interval == b.advert_interval && a.preempt == b.preempt &&
         a.preempt_delay == b.preempt_delay && a.initial_state == b.initial_state &&
         same_vips() && a.unicast_src == b.unicast_src && a.unicast_peers == b.unicast_peers &&
         a.auth_pass == b.auth_pass && same_tracks() && same_checks() &&
         a.v3_checksum_pseudo_header == b.v3_checksum_pseudo_header &&
         same_garp(a.garp, b.garp) && same_notify(a.notify, b.notify) &&
         a.sync_group == b.sync_group && same_ownership(a, b);
}

bool same_settings(const SnmpSettings& a, const SnmpSettings& b) {
  // Every field but `where` and `keys`.
  auto key = [](const SnmpSettings& s) {
    std::vector<std::string> k{s.enable ? "1" : "0", s.traps ? "1" : "0", s.agentx_socket,
                               std::to_string(s.agentx_ping_interval.count())};
    for (const auto& r : s.trap_receivers)
      k.insert(k.end(), {r.address, r.version, r.community, r.user, r.auth, r.auth_pass, r.priv, r.priv_pass,
                         r.inform ? "1" : "0"});
    return k;
  };
  return key(a) == key(b);
}

bool same_ownership(const Ownership& a, const Ownership& b) {
  return a.resources == b.resources && a.services == b.services && a.takeover_timeout == b.takeover_timeout &&
         a.release_timeout == b.release_timeout && a.fault_hold == b.fault_hold;
}

bool same_settings(const Check& a, const Check& b) {
  // Every field but `where`, `keys` and the program's location.
  return a.name == b.name && a.kind == b.kind && a.interval == b.interval &&
         a.timeout == b.timeout && a.rise == b.rise && a.fall == b.fall &&
         a.initially_up == b.initially_up && a.weight == b.weight && a.address == b.address &&
         a.port == b.port && a.send == b.send && a.expect == b.expect &&
         a.query_name == b.query_name && a.query_type == b.query_type &&
         a.query_class == b.query_class && a.recursion_desired == b.recursion_desired &&
         a.expect_rcode == b.expect_rcode && a.expect_answers == b.expect_answers &&
         same_program(a.program, b.program) && a.user == b.user && a.password == b.password &&
         a.database == b.database && a.query == b.query && a.tls == b.tls &&
         a.expect_role == b.expect_role && a.max_replica_lag_s == b.max_replica_lag_s &&
         a.galera == b.galera && a.resource == b.resource && a.require == b.require &&
         same_program(a.notify, b.notify);
}

std::vector<std::string> changed_keys(const Resource& a, const Resource& b) {
  std::vector<std::string> keys;
  for (const auto& f : resource_fields()) {
    const bool same = std::visit(
        [&](auto member) {
          if constexpr (std::is_same_v<decltype(member), std::optional<Program> Resource::*>)
            return same_program(a.*member, b.*member);
          else
            return a.*member == b.*member;
        },
        f.member);
    if (!same) keys.push_back(f.key);
  }
  return keys;
}

}  // namespace vrrpd::config
