#include "vrrpd/control/protocol.h"

#include <cctype>

namespace vrrpd::control {

const char* result_code_name(ResultCode c) {
  switch (c) {
    case ResultCode::kOk: return "ok";
    case ResultCode::kError: return "error";
    case ResultCode::kUnknownCommand: return "unknown command";
    case ResultCode::kNotFound: return "not found";
    case ResultCode::kBadArguments: return "bad arguments";
    case ResultCode::kVersionMismatch: return "version mismatch";
    case ResultCode::kBadRequest: return "bad request";
  }
  return "?";
}

nlohmann::json make_request(const std::string& command, nlohmann::json args) {
  return {{"version", kProtocolVersion}, {"command", command}, {"args", std::move(args)}};
}

nlohmann::json make_response(ResultCode code, const std::string& text, nlohmann::json data) {
  return {{"version", kProtocolVersion},
          {"result", static_cast<int>(code)},
          {"result_text", text.empty() ? result_code_name(code) : text},
          {"data", std::move(data)}};
}

std::optional<uint64_t> parse_size_bytes(std::string_view text) {
  std::size_t i = 0;
  uint64_t value = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  std::string unit;
  for (; i < text.size(); ++i) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  unsigned shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gib") shift = 30;
  else if (unit == "t" || unit == "tib") shift = 40;
  else return std::nullopt;
  if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

}  // namespace vrrpd::control
