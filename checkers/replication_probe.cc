#include "checkers/replication_probe.h"

#include <algorithm>

namespace vrrpd::checkers {

using replication::ConnectionState;
using replication::DiskState;
using replication::ReplicationState;

ProbeResult judge_replication(const std::optional<replication::ResourceStatus>& status,
                              const std::string& resource, const std::vector<std::string>& require) {
  if (!status) return {false, "resource " + resource + " is not up"};
  const auto& s = *status;
  auto wants = [&](const char* c) { return std::find(require.begin(), require.end(), c) != require.end(); };
  if (wants("no-split-brain") && s.split_brain)
    return {false, "split brain: " + (s.split_brain_text.empty() ? std::string("unresolved") : s.split_brain_text)};
  if (wants("up-to-date") && s.disk != DiskState::kUpToDate)
    return {false, std::string("disk ") + replication::to_string(s.disk) + ", expected UpToDate"};
  if ((wants("connected") || wants("established")) && s.connection != ConnectionState::kConnected)
    return {false, std::string("connection ") + replication::to_string(s.connection) + ", expected Connected"};
  // Not resyncing: an online verify (VerifyS, VerifyT) replicates as Established does.
  if (wants("established") && s.replication != ReplicationState::kEstablished &&
      s.replication != ReplicationState::kVerifyS && s.replication != ReplicationState::kVerifyT)
    return {false, std::string("replication ") + replication::to_string(s.replication) + ", expected Established"};
  std::string summary = std::string(replication::to_string(s.role)) + " " + replication::to_string(s.disk) + " " +
                        replication::to_string(s.connection);
  if (s.connection == ConnectionState::kConnected) summary += std::string(" ") + replication::to_string(s.replication);
  return {true, summary};
}

ReplicationProbe::ReplicationProbe(EventLoop& loop, const config::Check& check, ReplicationStatusFn status)
    : loop_(loop), resource_(check.resource), require_(check.require), status_(std::move(status)) {}

void ReplicationProbe::start(Done done) {
  // The snapshot is at hand; answer on the next loop turn, as Probe requires.
  ProbeResult r = judge_replication(status_ ? status_(resource_) : std::nullopt, resource_, require_);
  const uint64_t gen = ++*generation_;
  loop_.post([counter = generation_, gen, r = std::move(r), done = std::move(done)] {
    if (gen == *counter) done(r);
  });
}

void ReplicationProbe::cancel() { ++*generation_; }

}  // namespace vrrpd::checkers
