// Small result types of the replication engine: IoStatus (errno-style status
// of one storage operation, used on the data path where no exception may be
// thrown) and Result<T> (a value or an operator-readable error message, used
// by set-up code such as reading metadata).
#pragma once

#include <cassert>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace vrrpd::replication {

// Outcome of a storage operation: success, or one errno value (EIO, ENOSPC...).
class [[nodiscard]] IoStatus {
 public:
  IoStatus() = default;  // success
  static IoStatus error(int errno_value) {
    assert(errno_value != 0);
    IoStatus s;
    s.errno_ = errno_value;
    return s;
  }
  bool ok() const { return errno_ == 0; }
  // 0 on success, else the errno value.
  int errno_value() const { return errno_; }
  // strerror() text, "ok" on success.
  std::string message() const { return ok() ? "ok" : std::strerror(errno_); }

 private:
  int errno_ = 0;
};

// A value or an error message that names what was wrong (for logs and vrrpctl).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  static Result failure(std::string message) {
    Result r;
    r.error_ = std::move(message);
    return r;
  }
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Only valid when ok().
  T& value() {
    assert(ok());
    return *value_;
  }
  const T& value() const {
    assert(ok());
    return *value_;
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Only meaningful when !ok().
  const std::string& error() const { return error_; }

 private:
  Result() = default;
  std::optional<T> value_;
  std::string error_;
};

}  // namespace vrrpd::replication
