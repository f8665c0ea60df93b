// The "replication" check: judges the local state of a replication resource
// (disk UpToDate, connected, established, no split brain), so that a node
// whose data is outdated never becomes MASTER. The state comes from the
// ReplicationService's status snapshot through a function, so the probe
// needs no lock of its own and the judgement is a pure function.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkers/probe.h"
#include "replication/status.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

// The resource's status, or nullopt when it is not up (or unknown).
using ReplicationStatusFn = std::function<std::optional<replication::ResourceStatus>(const std::string& resource)>;

// Healthy when every condition holds: "up-to-date" (disk UpToDate),
// "connected" (connection Connected), "established" (connected and not
// resyncing or verifying), "no-split-brain". The reason names the first
// condition that failed, or sums up the state when healthy.
ProbeResult judge_replication(const std::optional<replication::ResourceStatus>& status,
                              const std::string& resource, const std::vector<std::string>& require);

class ReplicationProbe final : public Probe {
 public:
  ReplicationProbe(EventLoop& loop, const config::Check& check, ReplicationStatusFn status);
  ~ReplicationProbe() override { ++*generation_; }
  void start(Done done) override;
  void cancel() override;
  std::string target() const override { return "resource " + resource_; }

 private:
  EventLoop& loop_;
  std::string resource_;
  std::vector<std::string> require_;
  ReplicationStatusFn status_;
  // Bumped by cancel() and the destructor: a posted result of an older
  // attempt is dropped. Shared, so the posted task never touches `this`.
  std::shared_ptr<uint64_t> generation_ = std::make_shared<uint64_t>(0);
};

}  // namespace vrrpd::checkers
