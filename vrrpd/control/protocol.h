// The control protocol between vrrpctl and vrrpd (version 1): one JSON object
// per line over a Unix stream socket; one request, one response, then the
// server closes. Result codes are fixed and never renumbered (README.md,
// "Control protocol").
//   request:  {"version":1,"command":"status","args":{...}}
//   response: {"version":1,"result":0,"result_text":"ok","data":{...}}
#pragma once

#include <nlohmann/json.hpp>
#include <string>

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

}  // namespace vrrpd::control
