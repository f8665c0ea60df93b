// vrrpctl's side of the control socket: send one request, read one response.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace vrrpd::control {

// Throws std::runtime_error with a readable message (socket missing, daemon
// not running, permission denied, timeout, malformed response).
nlohmann::json call(const std::string& socket_path, const nlohmann::json& request,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace vrrpd::control
