// Kea-style one-line tests of rejected configs: expectInvalid() asserts that
// loading a text fails with an issue at test.conf:LINE whose message contains
// the expected words (key, value and what would be valid).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "vrrpd/config/config.h"

namespace vrrpd::config {

inline void expectInvalid(Format format, const std::string& text, int line, const std::string& expected) {
  SCOPED_TRACE(text);
  try {
    load_text(text, "test.conf", format);
    ADD_FAILURE() << "config was accepted; expected: " << expected;
  } catch (const ConfigError& e) {
    std::string at = "test.conf:" + std::to_string(line) + ": ";
    for (const auto& issue : e.issues()) {
      std::string s = issue.to_string();
      if (s.rfind(at, 0) == 0 && s.find(expected) != std::string::npos) return;
    }
    ADD_FAILURE() << "no issue at " << at << " containing '" << expected << "' in:\n" << e.what();
  }
}

}  // namespace vrrpd::config
