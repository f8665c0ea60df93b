// Loading configuration: read a file in either format, normalise it (UTF-8
// BOM, CRLF), parse it into the typed model, validate. Throws ConfigError.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrrpd/config/config_error.h"
#include "vrrpd/config/model.h"

namespace vrrpd::config {

enum class Format { kNative, kKeepalived };

// Parses "native" / "keepalived"; nullopt otherwise.
std::optional<Format> parse_format(std::string_view name);

// Reads, parses and validates `path`. Throws ConfigError (with every issue
// found) or never returns a half-valid Config.
Config load_file(const std::string& path, Format format);

// Same, from text already in memory; `file_name` is used in messages.
Config load_text(std::string_view text, const std::string& file_name, Format format);

// Strips a leading UTF-8 BOM and turns CRLF (and lone CR) into LF.
std::string normalize_text(std::string_view text);

// Splits a notify command line into argv like a POSIX shell word list but
// without any expansion: blanks separate words, '...' and "..." quote, a
// backslash escapes the next character (inside "..." only \ " $ `).
// nullopt when a quote is left open. Shared by both front ends.
std::optional<std::vector<std::string>> split_command(std::string_view line);

// Front ends: syntax and types only; ranges and cross-checks are validate()'s.
Config parse_native(std::string_view text, const std::string& file_name);
Config parse_keepalived(std::string_view text, const std::string& file_name);

// Range checks, defaults that depend on other keys (family from VIPs, a
// dns/mysql check's port from its kind), cross-checks (duplicate VRID per
// interface and family, sync-group members exist and belong to one group,
// tracked checks exist). Adds a Warning per check no instance tracks. Throws
// ConfigError listing every issue.
void validate(Config& config);

// True when two instances would behave identically (locations ignored,
// tracked checks included); a SIGHUP reload leaves such instances untouched.
bool same_settings(const Instance& a, const Instance& b);
// The same resources, services and step timings (an instance's or a sync group's).
bool same_ownership(const Ownership& a, const Ownership& b);

// True when two checks would behave identically (locations ignored); a
// SIGHUP reload keeps such a check running with its current state.
bool same_settings(const Check& a, const Check& b);
// The keys of a replication resource whose values differ between a and b
// (native names, in resource_fields() order); empty when the same.
std::vector<std::string> changed_keys(const Resource& a, const Resource& b);
// The same SNMP agent and receivers (the agent is configured at start only).
bool same_settings(const SnmpSettings& a, const SnmpSettings& b);

}  // namespace vrrpd::config
