// Configuration errors: each names file, line, key, value and what is valid.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "vrrpd/config/model.h"

namespace vrrpd::config {

struct ConfigIssue {
  SourceLocation where;
  std::string key;    // may be empty for syntax errors
  std::string value;  // the offending value as written (may be empty)
  std::string problem;  // what is wrong and what would be valid
  // "FILE:LINE: KEY = VALUE: PROBLEM" (parts omitted when empty).
  std::string to_string() const;
};

// Thrown by the parsers and the validator; carries every issue found so the
// user can fix them all in one go.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

}  // namespace vrrpd::config
