// The daemon's side of the control socket, on the VRRP event loop: accepts
// connections, reads one request line, calls the handler, writes the
// response and closes. Everything is non-blocking; a client that stalls is
// dropped after a timeout instead of holding the loop.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "vrrpd/base/event_loop.h"

namespace vrrpd::control {

class ControlServer {
 public:
  // Handler: receives a request already checked for version and shape;
  // returns a complete response (make_response()).
  using Handler = std::function<nlohmann::json(const std::string& command, const nlohmann::json& args)>;

  // Creates the socket at `path` (mode 0600: root only), replacing a stale one.
  // Throws std::runtime_error on failure.
  ControlServer(EventLoop& loop, std::string path, Handler handler);
  ~ControlServer();

  const std::string& path() const { return path_; }
  // Validates one request line and dispatches it (also used by tests).
  nlohmann::json handle_line(const std::string& line);

 private:
  struct Connection {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t written = 0;
    std::unique_ptr<Timer> deadline;
  };
  void on_accept();
  void on_io(int fd, std::uint32_t events);
  void close_connection(int fd);

  EventLoop& loop_;
  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  std::map<int, Connection> connections_;
};

}  // namespace vrrpd::control
