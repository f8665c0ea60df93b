// tcp check: connect to address:port within the timeout; optionally send a
// string and require the reply to start with an expected prefix.
#pragma once

#include <string>

#include "checkers/probe.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

class TcpProbe final : public Probe {
 public:
  TcpProbe(EventLoop& loop, const config::Check& check);
  ~TcpProbe() override;
  void start(Done done) override;
  void cancel() override;
  std::string target() const override;

 private:
  void on_event(std::uint32_t events);
  void complete(bool healthy, std::string reason);
  void close_socket();

  EventLoop& loop_;
  IpAddress address_;
  int port_;
  std::string send_;
  std::string expect_;
  int fd_ = -1;
  bool connected_ = false;
  std::size_t sent_ = 0;
  std::string received_;
  Done done_;
};

}  // namespace vrrpd::checkers
