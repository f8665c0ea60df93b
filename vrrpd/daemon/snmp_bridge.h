// The daemon's side of SNMP: turns Instances, check statuses and
// replication views into snapshots for the agent thread (notify/snmp_agent.h)
// and daemon events into notifications. Lives on the VRRP loop; it only
// copies data and hands it over under the agent's mutex, so it never blocks.
// The snapshot is re-published every refresh period (counters move without
// events) and at once on every transition.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkers/check_runner.h"
#include "notify/snmp_agent.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/daemon/instance.h"
#include "vrrpd/daemon/replication_service.h"

namespace vrrpd {

class SnmpBridge {
 public:
  // What the bridge reads on each publish (all owned by the Daemon, VRRP loop).
  struct Sources {
    const std::vector<std::unique_ptr<Instance>>* instances = nullptr;
    const std::map<std::string, checkers::CheckStatus>* checks = nullptr;
    std::function<ReplicationService*()> replication;  // may return nullptr
  };

  static constexpr std::chrono::milliseconds kRefresh{1000};

  // `sink`: the agent (notify::snmp::SnmpAgent), or a recording fake.
  SnmpBridge(EventLoop& loop, std::unique_ptr<notify::snmp::SnmpSink> sink, Sources sources);
  ~SnmpBridge();

  // Starts the agent thread and the refresh timer (signals already blocked).
  void start();
  void stop();
  // Builds and hands over a snapshot now (the refresh timer calls it every
  // kRefresh); raises vrrpv3ProtoError for error counters that grew.
  void publish();

  // An instance changed state (after the Instance logged it).
  void on_transition(const Instance& instance, const Transition& t);
  // A replication event as the journal gets it (ReplicationService::EventSink).
  void on_replication_event(const std::string& resource, const std::string& what, const std::string& text,
                            const nlohmann::json& detail);
  // `primary` was refused for a resource (vrrpctl or a takeover).
  void promotion_refused(const std::string& resource, const std::string& text);
  // An advert arrived for a VRID no instance on that interface has.
  void count_vrid_error() { ++vrid_errors_; }

 private:
  // What SNMP remembers per instance beyond what Instance keeps.
  struct InstanceMemory {
    std::optional<TimePoint> up_since;
    TimePoint created{};
    notify::snmp::NewMasterReason new_master_reason = notify::snmp::NewMasterReason::kNotMaster;
    notify::snmp::ProtoErrReason proto_err_reason = notify::snmp::ProtoErrReason::kNoError;
    std::optional<notify::snmp::InstanceRow> last_row;  // for the error counters' growth
  };

  notify::snmp::InstanceRow row(const Instance& i);
  std::optional<notify::snmp::ResourceRow> resource_row(const std::string& name) const;
  // resource_row() with the newest values from change events.
  notify::snmp::ResourceRow resource_row_now(const std::string& name) const;

  EventLoop& loop_;
  Sources sources_;
  std::unique_ptr<notify::snmp::SnmpSink> sink_;
  Timer refresh_;
  std::map<std::string, InstanceMemory> memory_;  // by instance name
  // The newest role/disk/peer-disk/connection/replication of each resource
  // as its change events said. ReplicationService emits an event before it
  // publishes its view, so a notification overlays these on the view.
  std::map<std::string, std::map<std::string, std::string>> resource_events_;
  std::uint64_t vrid_errors_ = 0;
};

}  // namespace vrrpd
