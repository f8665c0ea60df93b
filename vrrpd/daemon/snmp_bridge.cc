#include "vrrpd/daemon/snmp_bridge.h"

#include <algorithm>

namespace vrrpd {

namespace snmp = notify::snmp;
using vrrp::State;

SnmpBridge::SnmpBridge(EventLoop& loop, std::unique_ptr<snmp::SnmpSink> sink, Sources sources)
    : loop_(loop), sources_(std::move(sources)), sink_(std::move(sink)), refresh_(loop, [this] {
        publish();
        refresh_.arm_in(kRefresh);
      }) {}

SnmpBridge::~SnmpBridge() { stop(); }

void SnmpBridge::start() {
  sink_->start();
  publish();
  refresh_.arm_in(kRefresh);
}

void SnmpBridge::stop() {
  refresh_.disarm();
  sink_->stop();
}

snmp::InstanceRow SnmpBridge::row(const Instance& i) {
  const config::Instance& c = i.config();
  InstanceMemory& m = memory_[i.name()];
  if (m.created == TimePoint{}) m.created = loop_.now();
  snmp::InstanceRow r;
  r.name = i.name();
  r.if_index = i.if_index();  // 0 while the interface is missing
  r.vrid = static_cast<int>(c.virtual_router_id);
  r.ipv6 = i.family() == Family::kIPv6;
  r.version = static_cast<int>(c.version);
  r.state = vrrp::state_name(i.state());
  r.priority = i.priority();
  r.base_priority = i.base_priority();
  r.primary_address = i.primary_address();
  r.master_address = i.state() == State::kMaster ? r.primary_address : i.heard_master();
  for (const auto& v : c.virtual_addresses)
    if (v.prefix.address.is_v4() != r.ipv6) r.addresses.push_back(v.prefix.address);
  r.advert_interval_ms = static_cast<long>(c.advert_interval.count());
  r.preempt = c.preempt;
  r.up_since = m.up_since;
  r.created = m.created;
  r.last_reason = i.last_transition().reason;
  r.fault_reason = i.fault_reason();
  r.new_master_reason = m.new_master_reason;
  r.proto_err_reason = m.proto_err_reason;
  const InstanceStats& s = i.stats();
  r.master_transitions = s.became_master;
  r.transitions = s.transitions;
  r.adverts_received = s.adverts_received;
  r.interval_errors = s.interval_errors;
  r.ttl_errors = s.ttl_errors;
  r.checksum_errors = s.checksum_errors;
  r.version_errors = s.version_errors;
  r.priority_zero_received = s.priority_zero_received;
  r.priority_zero_sent = s.priority_zero_sent;
  r.address_list_errors = s.address_list_mismatches;
  r.length_errors = s.length_errors;
  return r;
}

std::optional<snmp::ResourceRow> SnmpBridge::resource_row(const std::string& name) const {
  ReplicationService* service = sources_.replication ? sources_.replication() : nullptr;
  if (!service) return std::nullopt;
  auto v = service->view(name);  // takes the service's own lock for a copy
  if (!v) return std::nullopt;
  const auto& s = v->status;
  snmp::ResourceRow r;
  r.name = v->name.empty() ? name : v->name;
  r.up = v->up;
  r.role = replication::to_string(s.role);
  r.disk = replication::to_string(s.disk);
  r.peer_role = replication::to_string(s.peer_role);
  r.peer_disk = replication::to_string(s.peer_disk);
  r.connection = replication::to_string(s.connection);
  r.replication = replication::to_string(s.replication);
  r.out_of_sync_kib = s.out_of_sync_bytes / 1024;
  r.io_errors = s.io_errors;
  r.split_brain = s.split_brain;
  r.last_error = !v->problem.empty() ? v->problem : s.last_error;
  return r;
}

snmp::ResourceRow SnmpBridge::resource_row_now(const std::string& name) const {
  snmp::ResourceRow r = resource_row(name).value_or(snmp::ResourceRow{.name = name});
  auto it = resource_events_.find(name);
  if (it == resource_events_.end()) return r;
  for (const auto& [what, to] : it->second) {
    if (what == "role") r.role = to;
    else if (what == "disk") r.disk = to;
    else if (what == "peer-disk") r.peer_disk = to;
    else if (what == "connection") r.connection = to;
    else if (what == "replication") r.replication = to;
  }
  return r;
}

void SnmpBridge::publish() {
  snmp::Snapshot snap;
  snap.refresh_ms = kRefresh.count();
  snap.vrid_errors = vrid_errors_;
  if (sources_.instances) {
    // Forget instances a reload removed.
    std::erase_if(memory_, [&](const auto& e) {
      return std::none_of(sources_.instances->begin(), sources_.instances->end(),
                          [&](const auto& i) { return i->name() == e.first; });
    });
    for (const auto& i : *sources_.instances) {
      snmp::InstanceRow r = row(*i);
      InstanceMemory& m = memory_[i->name()];
      // RFC 6527 has no per-packet hook here: an error counter that grew
      // since the last publish is the protocol error to report.
      if (m.last_row) {
        const auto err = snmp::proto_error_between(*m.last_row, r);
        if (err != snmp::ProtoErrReason::kNoError && r.if_index > 0) {
          m.proto_err_reason = r.proto_err_reason = err;
          sink_->notify({snmp::NotificationKind::kProtoError, r, {}, ""});
        }
      }
      m.last_row = r;
      snap.instances.push_back(std::move(r));
    }
  }
  if (sources_.checks)
    for (const auto& [name, st] : *sources_.checks) snap.checks.push_back({name, st.kind, st.up, st.last.reason});
  if (ReplicationService* service = sources_.replication ? sources_.replication() : nullptr)
    for (const auto& v : service->views())
      if (auto r = resource_row(v.name)) snap.resources.push_back(std::move(*r));
  sink_->publish(std::move(snap));
}

void SnmpBridge::on_transition(const Instance& instance, const Transition& t) {
  InstanceMemory& m = memory_[instance.name()];
  if (t.from == State::kInit && t.to != State::kInit) {
    // A (re)started Instance (a reload re-creates a changed one): its
    // counters start again from zero (vrrpv3StatisticsRowDiscontinuityTime).
    m = InstanceMemory{};
    m.created = loop_.now();
  }
  if (t.to == State::kInit) m.up_since.reset();
  else if (t.from == State::kInit || !m.up_since) m.up_since = loop_.now();
  if (t.to == State::kMaster) {
    const auto heard = instance.last_advert_received();
    const bool speaking = heard && loop_.now() - *heard < instance.master_down_interval();
    m.new_master_reason = snmp::new_master_reason(t.reason, speaking);
  }
  snmp::InstanceRow r = row(instance);
  if (t.to == State::kMaster && r.if_index > 0) sink_->notify({snmp::NotificationKind::kNewMaster, r, {}, ""});
  if (t.to == State::kFault) sink_->notify({snmp::NotificationKind::kInstanceFault, r, {}, t.reason});
  publish();
}

void SnmpBridge::on_replication_event(const std::string& resource, const std::string& what, const std::string& text,
                                      const nlohmann::json& detail) {
  auto field = [&](const char* k) {
    return detail.is_object() && detail.contains(k) && detail[k].is_string() ? detail[k].get<std::string>()
                                                                              : std::string();
  };
  if (what == "role" || what == "disk" || what == "peer-disk" || what == "connection" || what == "replication")
    resource_events_[resource][what] = field("to");
  else if (what == "up" || what == "down")
    resource_events_.erase(resource);  // the view starts afresh without change events
  auto kind = snmp::replication_notification(what, field("from"), field("to"));
  if (!kind) return;
  snmp::ResourceRow r = resource_row_now(resource);
  // The event is emitted before the service publishes its view: take the
  // new values from the events themselves.
  if (detail.is_object() && detail.contains("io_errors") && detail["io_errors"].is_number_integer() &&
      detail["io_errors"].get<std::int64_t>() >= 0)
    r.io_errors = std::max(r.io_errors, detail["io_errors"].get<std::uint64_t>());
  if (*kind == snmp::NotificationKind::kResyncFinished) r.out_of_sync_kib = 0;  // what a finished resync means
  sink_->notify({*kind, {}, std::move(r), text});
}

void SnmpBridge::promotion_refused(const std::string& resource, const std::string& text) {
  sink_->notify({snmp::NotificationKind::kPromotionRefused, {}, resource_row_now(resource), text});
}

}  // namespace vrrpd
