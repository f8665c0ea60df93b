#include "vrrpd/control/protocol.h"

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

}  // namespace vrrpd::control
