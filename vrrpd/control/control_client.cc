#include "vrrpd/control/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vrrpd::control {

nlohmann::json call(const std::string& socket_path, const nlohmann::json& request,
                    std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    std::string hint = err == ENOENT || err == ECONNREFUSED ? " (is vrrpd running?)"
                       : err == EACCES                      ? " (the control socket is root-only)"
                                                            : "";
    throw std::runtime_error("cannot connect to " + socket_path + ": " + std::strerror(err) + hint);
  }
  std::string out = request.dump() + "\n";
  std::size_t off = 0;
  while (off < out.size()) {
    ssize_t n = write(fd, out.data() + off, out.size() - off);
    if (n < 0) {
      close(fd);
      throw std::runtime_error(std::string("write: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string in;
  char buf[8192];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      close(fd);
      throw std::runtime_error("no answer from vrrpd within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  auto resp = nlohmann::json::parse(in, nullptr, false);
  if (resp.is_discarded() || !resp.is_object()) throw std::runtime_error("malformed response from vrrpd");
  return resp;
}

}  // namespace vrrpd::control
