#include "checkers/checker_service.h"

#include <signal.h>

#include <algorithm>
#include <stdexcept>

#include "checkers/dns_probe.h"
#include "checkers/exec_probe.h"
#include "checkers/mysql_probe.h"
#include "checkers/replication_probe.h"
#include "checkers/tcp_probe.h"
#include "vrrpd/config/config.h"

namespace vrrpd::checkers {

std::unique_ptr<Probe> make_probe(EventLoop& loop, const config::Check& check, const notify::RunOptions& run_as,
                                  const ReplicationStatusFn& replication_status) {
  if (check.kind == "tcp") return std::make_unique<TcpProbe>(loop, check);
  if (check.kind == "dns") return std::make_unique<DnsProbe>(loop, check);
  if (check.kind == "exec") return std::make_unique<ExecProbe>(loop, check, run_as);
  if (check.kind == "mysql") return std::make_unique<MysqlProbe>(loop, check);
  if (check.kind == "replication") return std::make_unique<ReplicationProbe>(loop, check, replication_status);
  throw std::invalid_argument("check '" + check.name + "': kind '" + check.kind +
                              "' is not available in this build; available: tcp, dns, exec, mysql, replication");
}

CheckerService::CheckerService(notify::RunOptions run_as, Sink sink, ReplicationStatusFn replication_status)
    : run_as_(std::move(run_as)),
      sink_(std::move(sink)),
      replication_status_(std::move(replication_status)),
      loop_(clock_) {}

CheckerService::~CheckerService() { stop(); }

void CheckerService::start(const std::vector<config::Check>& checks) {
  // Probe construction errors surface here, on the caller's thread.
  for (const auto& c : checks) make_probe(loop_, c, run_as_, replication_status_);
  thread_ = std::thread([this, checks] {
    // The daemon takes its signals through signalfd on the VRRP thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    apply(checks);
    loop_.run();
    runners_.clear();
  });
}

void CheckerService::replace(const std::vector<config::Check>& checks) {
  for (const auto& c : checks) make_probe(loop_, c, run_as_, replication_status_);
  loop_.post([this, checks] { apply(checks); });
}

void CheckerService::apply(std::vector<config::Check> checks) {
  std::vector<std::unique_ptr<CheckRunner>> kept;
  for (auto& r : runners_) {
    auto it = std::find_if(checks.begin(), checks.end(),
                           [&](const config::Check& c) { return config::same_settings(c, r->config()); });
    if (it != checks.end()) {
      kept.push_back(std::move(r));
      checks.erase(it);
    } else {
      r->stop();
    }
  }
  runners_ = std::move(kept);
  for (const auto& c : checks) {
    auto runner = std::make_unique<CheckRunner>(loop_, c, make_probe(loop_, c, run_as_, replication_status_),
                                                [this](const CheckStatus& s, bool changed) { sink_(s, changed); });
    runner->start();
    runners_.push_back(std::move(runner));
  }
}

void CheckerService::stop() {
  if (!thread_.joinable()) return;
  loop_.stop();
  thread_.join();
}

}  // namespace vrrpd::checkers
