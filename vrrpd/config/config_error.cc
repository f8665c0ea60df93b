#include "vrrpd/config/config_error.h"

namespace vrrpd::config {
namespace {

std::string join(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const auto& i : issues) {
    if (!out.empty()) out += "\n";
    out += i.to_string();
  }
  return out;
}

}  // namespace

std::string ConfigIssue::to_string() const {
  std::string out = where.to_string() + ": ";
  if (!key.empty()) {
    out += key;
    if (!value.empty()) out += " = " + value;
    out += ": ";
  }
  return out + problem;
}

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(join(issues)), issues_(std::move(issues)) {}

}  // namespace vrrpd::config
