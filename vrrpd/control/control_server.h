// The daemon's side of the control socket, on the VRRP event loop: accepts
// connections, reads one request line, calls the handler, writes the
// response and closes. Everything is non-blocking; a client that stalls is
// dropped after a timeout instead of holding the loop.
#pragma once

#include <chrono>
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
  // For commands that finish later (a mount, a promotion): `respond` must be
  // called exactly once, on the loop thread, with the complete response. If
  // the client has gone by then, the response is dropped.
  using Respond = std::function<void(nlohmann::json response)>;
  using AsyncHandler =
      std::function<void(const std::string& command, const nlohmann::json& args, Respond respond)>;
  // How long a client may wait for an asynchronous response before the server
  // gives up on it (the command itself has its own timeouts).
  static constexpr std::chrono::seconds kAsyncResponseTimeout{300};

  // Creates the socket at `path` (mode 0600: root only), replacing a stale one.
  // Throws std::runtime_error on failure.
  ControlServer(EventLoop& loop, std::string path, Handler handler);
  ControlServer(EventLoop& loop, std::string path, AsyncHandler handler);
  ~ControlServer();

  const std::string& path() const { return path_; }
  // Validates one request line and dispatches it (also used by tests); for
  // the synchronous handler only.
  nlohmann::json handle_line(const std::string& line);
  // Same for either handler: `respond` gets the response, maybe later.
  void dispatch_line(const std::string& line, Respond respond);

 private:
  struct Connection {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t written = 0;
    std::unique_ptr<Timer> deadline;
    uint64_t id = 0;
    bool dispatched = false;  // the request went to the handler
  };
  void on_accept();
  void on_io(int fd, std::uint32_t events);
  void close_connection(int fd);

  void respond_to(int fd, uint64_t connection_id, nlohmann::json response);

  EventLoop& loop_;
  std::string path_;
  AsyncHandler handler_;
  uint64_t next_connection_id_ = 1;  // tells a late response from a reused fd
  int listen_fd_ = -1;
  std::map<int, Connection> connections_;
};

}  // namespace vrrpd::control
