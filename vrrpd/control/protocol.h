// The control protocol between vrrpctl and vrrpd (version 1): one JSON object
// per line over a Unix stream socket; one request, one response, then the
// server closes. Result codes are fixed and never renumbered (README.md,
// "Control protocol").
//   request:  {"version":1,"command":"status","args":{...}}
//   response: {"version":1,"result":0,"result_text":"ok","data":{...}}
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace vrrpd::control {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
inline constexpr const char* kDefaultSocketPath = "/run/vrrpd/vrrpd.sock";

enum class ResultCode : int {
  kOk = 0,
  kError = 1,            // the command failed; result_text says why
  kUnknownCommand = 2,
  kNotFound = 3,         // no such instance (or resource)
  kBadArguments = 4,
  kVersionMismatch = 5,  // request version not supported
  kBadRequest = 6,       // not JSON, not an object, too large
};

const char* result_code_name(ResultCode c);

nlohmann::json make_request(const std::string& command, nlohmann::json args = nlohmann::json::object());
nlohmann::json make_response(ResultCode code, const std::string& text,
                             nlohmann::json data = nlohmann::json::object());

// vrrpctl's sizes (replication resize --size): a whole number of bytes,
// or with a binary unit as drbdadm takes them: K, M, G, T (also KiB, MiB,
// GiB, TiB; any case) = 2^10, 2^20, 2^30, 2^40 bytes. "10G" is
// 10737418240. nullopt for anything else (empty, a sign, a fraction,
// spaces, an unknown unit, more than 2^64-1 bytes).
std::optional<uint64_t> parse_size_bytes(std::string_view text);

}  // namespace vrrpd::control
