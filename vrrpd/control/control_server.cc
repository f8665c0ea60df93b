#include "vrrpd/control/control_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "vrrpd/base/log.h"
#include "vrrpd/control/protocol.h"

namespace vrrpd::control {
namespace {

constexpr auto kClientTimeout = std::chrono::seconds(5);

}  // namespace

ControlServer::ControlServer(EventLoop& loop, std::string path, Handler handler)
    : ControlServer(loop, std::move(path),
                    AsyncHandler([h = std::move(handler)](const std::string& command, const nlohmann::json& args,
                                                          Respond respond) { respond(h(command, args)); })) {}

ControlServer::ControlServer(EventLoop& loop, std::string path, AsyncHandler handler)
    : loop_(loop), path_(std::move(path)), handler_(std::move(handler)) {
  sockaddr_un addr{};
  if (path_.size() >= sizeof addr.sun_path)
    throw std::runtime_error("control socket path too long: " + path_);
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("control socket: ") + std::strerror(errno));
  unlink(path_.c_str());  // a stale socket from a crash; the pid file guards against a live daemon
  // Created with 0600 directly: no window in which others could connect.
  mode_t old = umask(0177);
  int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc < 0 || listen(listen_fd_, 16) < 0) {
    std::string err = std::strerror(errno);
    close(listen_fd_);
    throw std::runtime_error("control socket " + path_ + ": " + err);
  }
  loop_.watch_fd(listen_fd_, EPOLLIN, [this](std::uint32_t) { on_accept(); });
}

ControlServer::~ControlServer() {
  for (auto& [fd, c] : connections_) {
    loop_.unwatch_fd(fd);
    close(fd);
  }
  connections_.clear();
  if (listen_fd_ >= 0) {
    loop_.unwatch_fd(listen_fd_);
    close(listen_fd_);
    unlink(path_.c_str());
  }
}

void ControlServer::on_accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    Connection& c = connections_[fd];
    c.fd = fd;
    c.id = next_connection_id_++;
    c.deadline = std::make_unique<Timer>(loop_, [this, fd] { close_connection(fd); });
    c.deadline->arm_in(kClientTimeout);
    loop_.watch_fd(fd, EPOLLIN, [this, fd](std::uint32_t ev) { on_io(fd, ev); });
  }
}

nlohmann::json ControlServer::handle_line(const std::string& line) {
  nlohmann::json out;
  dispatch_line(line, [&out](nlohmann::json r) { out = std::move(r); });
  if (out.is_null()) return make_response(ResultCode::kError, "command did not answer at once");
  return out;
}

void ControlServer::dispatch_line(const std::string& line, Respond respond) {
  nlohmann::json req = nlohmann::json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object())
    return respond(make_response(ResultCode::kBadRequest, "request is not a JSON object"));
  // Compared as JSON numbers, not through get<int>(), which narrows:
  // 4294967297 (2^32 + 1) would come out as 1 and pass as version 1.
  if (!req.contains("version") || !req["version"].is_number_integer() ||
      req["version"] != kProtocolVersion)
    return respond(make_response(ResultCode::kVersionMismatch,
                                 "this daemon speaks control protocol version " + std::to_string(kProtocolVersion)));
  if (!req.contains("command") || !req["command"].is_string())
    return respond(make_response(ResultCode::kBadRequest, "request has no \"command\" string"));
  nlohmann::json args = req.value("args", nlohmann::json::object());
  if (!args.is_object()) return respond(make_response(ResultCode::kBadRequest, "\"args\" must be an object"));
  try {
    handler_(req["command"].get<std::string>(), args, respond);
  } catch (const std::exception& e) {
    // No exception crosses the event loop. (A handler that throws after
    // answering would answer twice; ours answer last.)
    respond(make_response(ResultCode::kError, e.what()));
  }
}

void ControlServer::respond_to(int fd, uint64_t connection_id, nlohmann::json response) {
  auto it = connections_.find(fd);
  if (it == connections_.end() || it->second.id != connection_id) return;  // the client went away
  Connection& c = it->second;
  c.out = response.dump() + "\n";
  c.deadline->arm_in(kClientTimeout);  // now only the write is left
  loop_.modify_fd(fd, EPOLLOUT);
}

void ControlServer::on_io(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (events & EPOLLIN) {
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (c.in.size() > kMaxRequestBytes) break;
        continue;
      }
      if (n == 0 && c.in.find('\n') == std::string::npos && c.out.empty()) {
        if (c.in.empty()) return close_connection(fd);
        c.in.push_back('\n');  // EOF without newline: take what we have
      }
      break;
    }
    if (c.out.empty() && !c.dispatched) {
      auto nl = c.in.find('\n');
      if (c.in.size() > kMaxRequestBytes) {
        c.out = make_response(ResultCode::kBadRequest, "request larger than 64 KiB").dump() + "\n";
        loop_.modify_fd(fd, EPOLLOUT);
      } else if (nl != std::string::npos) {
        c.dispatched = true;
        // The handler may answer now or later; until then, wait for nothing
        // but a hang-up, and give a slow command its own deadline.
        loop_.modify_fd(fd, 0);
        c.deadline->arm_in(kAsyncResponseTimeout);
        const uint64_t id = c.id;
        dispatch_line(c.in.substr(0, nl),
                      [this, fd, id](nlohmann::json r) { respond_to(fd, id, std::move(r)); });
      }
    }
  }
  if ((events & EPOLLOUT) && !c.out.empty()) {
    while (c.written < c.out.size()) {
      ssize_t n = write(fd, c.out.data() + c.written, c.out.size() - c.written);
      if (n < 0) {
        if (errno == EAGAIN) return;
        break;
      }
      c.written += static_cast<std::size_t>(n);
    }
    return close_connection(fd);
  }
  if (events & (EPOLLHUP | EPOLLERR)) close_connection(fd);
}

void ControlServer::close_connection(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  loop_.unwatch_fd(fd);
  close(fd);
  connections_.erase(it);
}

}  // namespace vrrpd::control
