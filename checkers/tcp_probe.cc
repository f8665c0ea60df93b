#include "checkers/tcp_probe.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vrrpd::checkers {

TcpProbe::TcpProbe(EventLoop& loop, const config::Check& check)
    : loop_(loop),
      address_(check.address.value_or(IpAddress{})),
      port_(static_cast<int>(check.port)),
      send_(check.send),
      expect_(check.expect) {}

TcpProbe::~TcpProbe() { close_socket(); }

std::string TcpProbe::target() const {
  return (address_.is_v6() ? "[" + address_.to_string() + "]" : address_.to_string()) + ":" +
         std::to_string(port_);
}

void TcpProbe::close_socket() {
  if (fd_ >= 0) {
    loop_.unwatch_fd(fd_);
    close(fd_);
    fd_ = -1;
  }
}

void TcpProbe::cancel() {
  close_socket();
  done_ = nullptr;
}

void TcpProbe::complete(bool healthy, std::string reason) {
  close_socket();
  if (!done_) return;
  // Never call back from inside start(): post to the loop.
  loop_.post([done = std::move(done_), r = ProbeResult{healthy, std::move(reason)}] { done(r); });
  done_ = nullptr;
}

void TcpProbe::start(Done done) {
  close_socket();
  done_ = std::move(done);
  connected_ = false;
  sent_ = 0;
  received_.clear();
  sockaddr_storage ss{};
  socklen_t len;
  if (address_.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<std::uint16_t>(port_));
    sin->sin_addr = address_.to_in_addr();
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<std::uint16_t>(port_));
    sin6->sin6_addr = address_.to_in6_addr();
    len = sizeof(sockaddr_in6);
  }
  fd_ = socket(address_.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return complete(false, std::string("socket: ") + std::strerror(errno));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS)
    return complete(false, std::string("connect: ") + std::strerror(errno));
  loop_.watch_fd(fd_, EPOLLOUT, [this](std::uint32_t ev) { on_event(ev); });
}

void TcpProbe::on_event(std::uint32_t events) {
  if (!connected_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return complete(false, std::string("connect: ") + std::strerror(err));
    if (!(events & EPOLLOUT)) return;
    connected_ = true;
    if (send_.empty() && expect_.empty()) return complete(true, "connected");
  }
  if (sent_ < send_.size()) {
    ssize_t n = write(fd_, send_.data() + sent_, send_.size() - sent_);
    if (n < 0 && errno != EAGAIN) return complete(false, std::string("send: ") + std::strerror(errno));
    if (n > 0) sent_ += static_cast<std::size_t>(n);
    if (sent_ < send_.size()) return;
    if (expect_.empty()) return complete(true, "connected, sent " + std::to_string(sent_) + " bytes");
    loop_.modify_fd(fd_, EPOLLIN);
    return;
  }
  if (expect_.empty()) return complete(true, "connected");
  if (sent_ == send_.size() && !(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
    loop_.modify_fd(fd_, EPOLLIN);
    return;
  }
  char buf[512];
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n > 0) {
      received_.append(buf, static_cast<std::size_t>(n));
      if (received_.size() >= expect_.size()) break;
      continue;
    }
    if (n < 0 && errno == EAGAIN) return;  // wait for more
    break;                                 // EOF or error
  }
  auto shown = received_.substr(0, 40);
  for (auto& c : shown)
    if (c < 32 || c > 126) c = '.';
  if (received_.compare(0, expect_.size(), expect_) == 0 && received_.size() >= expect_.size())
    return complete(true, "reply starts with the expected text");
  complete(false, received_.empty() ? "connection closed without a reply"
                                    : "unexpected reply \"" + shown + "\"");
}

}  // namespace vrrpd::checkers
