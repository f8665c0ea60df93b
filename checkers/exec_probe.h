// exec check (keepalived's vrrp_script): run a program without a shell;
// exit status 0 is healthy. The program runs through notify's ProgramRunner
// (posix_spawn, pidfd reaping, SIGTERM then SIGKILL at the timeout, run as
// notify_user), on the checker loop, never on the VRRP loop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "checkers/probe.h"
#include "notify/program_runner.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

class ExecProbe final : public Probe {
 public:
  // `run_as` gives the user/group (notify_user); the check's timeout is used.
  ExecProbe(EventLoop& loop, const config::Check& check, notify::RunOptions run_as);
  void start(Done done) override;
  void cancel() override;
  std::string target() const override;
  int extra_time_ms() const override;

 private:
  std::vector<std::string> argv_;
  std::string name_;
  notify::RunOptions opts_;
  notify::ProgramRunner runner_;
  std::uint64_t generation_ = 0;
};

}  // namespace vrrpd::checkers
