#include "notify/snmp_mib.h"

#include <algorithm>
#include <charconv>

namespace vrrpd::notify::snmp {

Oid parse_oid(const std::string& text) {
  Oid out;
  std::size_t i = text.rfind('.', 0) == 0 ? 1 : 0;
  while (i < text.size()) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v);
    if (ec != std::errc() || (end != text.data() + text.size() && *end != '.')) return {};
    out.push_back(v);
    i = static_cast<std::size_t>(end - text.data()) + 1;
  }
  return out;
}

std::string oid_string(const Oid& oid) {
  std::string s;
  for (auto v : oid) s += (s.empty() ? "" : ".") + std::to_string(v);
  return s;
}

const Oid kVrrpv3Mib = {1, 3, 6, 1, 2, 1, 207};
const Oid kVrrpdMib = {1, 3, 6, 1, 4, 1, 99999};
const Oid kSnmpTrapOid = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};

namespace {

Oid operator+(Oid a, const Oid& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// VRRPv3-MIB (RFC 6527).
const Oid kOpsEntry = kVrrpv3Mib + Oid{1, 1, 1, 1};        // vrrpv3OperationsEntry
const Oid kAssocEntry = kVrrpv3Mib + Oid{1, 1, 2, 1};      // vrrpv3AssociatedIpAddrEntry
const Oid kRouterStats = kVrrpv3Mib + Oid{1, 2};           // vrrpv3Statistics
const Oid kStatsEntry = kVrrpv3Mib + Oid{1, 2, 5, 1};      // vrrpv3StatisticsEntry
const Oid kVrrpv3Notifications = kVrrpv3Mib + Oid{0};
// VRRPD-MIB (etc/VRRPD-MIB.txt).
const Oid kInstanceEntry = kVrrpdMib + Oid{1, 1, 1};       // vrrpdInstanceEntry
const Oid kResourceEntry = kVrrpdMib + Oid{1, 2, 1};       // vrrpdResourceEntry
const Oid kCheckEntry = kVrrpdMib + Oid{1, 3, 1};          // vrrpdCheckEntry
const Oid kNotificationText = kVrrpdMib + Oid{1, 4, 1, 0};  // vrrpdNotificationText.0
const Oid kVrrpdNotifications = kVrrpdMib + Oid{0};

enum OpsColumn : std::uint32_t {
  kMasterIpAddr = 3, kPrimaryIpAddr = 4, kVirtualMacAddr = 5, kStatus = 6, kPriority = 7, kAddrCount = 8,
  kAdvInterval = 9, kPreemptMode = 10, kAcceptMode = 11, kUpTime = 12, kRowStatus = 13,
};
enum StatsColumn : std::uint32_t {
  kMasterTransitions = 1, kNewMasterReason = 2, kRcvdAdvertisements = 3, kAdvIntervalErrors = 4,
  kIpTtlErrors = 5, kProtoErrReason = 6, kRcvdPriZeroPackets = 7, kSentPriZeroPackets = 8,
  // 9 vrrpv3StatisticsRcvdInvalidTypePackets: not counted separately (a bad
  // type is a decode error counted with the length errors), so not served.
  kAddressListErrors = 10, kPacketLengthErrors = 11, kRowDiscontinuityTime = 12, kRefreshRate = 13,
};
enum InstanceColumn : std::uint32_t {
  kInstState = 2, kInstIfIndex = 3, kInstVrId = 4, kInstPriority = 5, kInstBasePriority = 6,
  kInstLastReason = 7, kInstFaultReason = 8, kInstTransitions = 9, kInstVersion = 10,
};
enum ResourceColumn : std::uint32_t {
  kResUp = 2, kResRole = 3, kResDisk = 4, kResPeerRole = 5, kResPeerDisk = 6, kResConnection = 7,
  kResReplication = 8, kResOutOfSyncKib = 9, kResIoErrors = 10, kResSplitBrain = 11, kResLastError = 12,
};
enum CheckColumn : std::uint32_t { kCheckKind = 2, kCheckState = 3, kCheckReason = 4 };

constexpr std::uint32_t kInetIpv4 = 1, kInetIpv6 = 2;  // InetAddressType

// INDEX { ifIndex, vrrpv3OperationsVrId, vrrpv3OperationsInetAddrType }
Oid vrrpv3_index(const InstanceRow& r) {
  return {static_cast<std::uint32_t>(r.if_index), static_cast<std::uint32_t>(r.vrid), r.ipv6 ? kInetIpv6 : kInetIpv4};
}

// A string index (not IMPLIED): its length, then one sub-identifier per byte.
Oid name_index(const std::string& name) {
  Oid o{static_cast<std::uint32_t>(name.size())};
  for (unsigned char c : name) o.push_back(c);
  return o;
}

std::string address_octets(const std::optional<IpAddress>& a, bool ipv6) {
  if (!a) return std::string(ipv6 ? 16 : 4, '\0');
  return std::string(reinterpret_cast<const char*>(a->bytes()), a->size());
}

// RFC 5798 7.3: 00-00-5E-00-01-{VRID} (IPv4), 00-00-5E-00-02-{VRID} (IPv6).
std::string virtual_mac(const InstanceRow& r) {
  return std::string{'\x00', '\x00', '\x5e', '\x00', static_cast<char>(r.ipv6 ? 2 : 1), static_cast<char>(r.vrid)};
}

// vrrpv3OperationsStatus: initialize(1), backup(2), master(3). FAULT is not
// in RFC 6527: a faulted router takes no part, which is initialize(1);
// VRRPD-MIB's vrrpdInstanceState tells fault(4) apart.
std::int64_t rfc_status(const std::string& state) {
  if (state == "MASTER") return 3;
  if (state == "BACKUP") return 2;
  return 1;
}

std::int64_t vrrpd_state(const std::string& state) {
  if (state == "BACKUP") return 2;
  if (state == "MASTER") return 3;
  if (state == "FAULT") return 4;
  return 1;  // init
}

// TimeTicks (centiseconds) since the agent's zero; 0 before it.
std::uint64_t ticks_since(TimePoint t, TimePoint zero) {
  if (t <= zero) return 0;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t - zero).count() / 10);
}

std::uint64_t saturate32(std::uint64_t v) { return std::min<std::uint64_t>(v, 0xffffffffu); }

void add_instance(MibView& v, const InstanceRow& r, TimePoint zero, long refresh_ms) {
  if (r.if_index > 0) {
    const Oid idx = vrrpv3_index(r);
    auto ops = [&](std::uint32_t col, Value val) { v[kOpsEntry + Oid{col} + idx] = std::move(val); };
    // vrrpv3OperationsMasterIpAddr: RFC 6527 starts it at the primary address.
    ops(kMasterIpAddr, Value::string(address_octets(r.master_address ? r.master_address : r.primary_address, r.ipv6)));
    ops(kPrimaryIpAddr, Value::string(address_octets(r.primary_address, r.ipv6)));
    ops(kVirtualMacAddr, Value::string(virtual_mac(r)));
    ops(kStatus, Value::integer32(rfc_status(r.state)));
    ops(kPriority, Value::unsigned32(static_cast<std::uint64_t>(std::clamp(r.priority, 0, 255))));
    ops(kAddrCount, Value::integer32(static_cast<std::int64_t>(r.addresses.size())));
    ops(kAdvInterval, Value::integer32(r.advert_interval_ms / 10));  // TimeInterval: centiseconds
    ops(kPreemptMode, Value::truth(r.preempt));
    // Accept mode: vrrpd never filters traffic to the VIPs it holds, so a
    // MASTER accepts packets addressed to them (RFC 5798 Accept_Mode true).
    ops(kAcceptMode, Value::truth(true));
    ops(kUpTime, Value::time_ticks(r.up_since ? ticks_since(*r.up_since, zero) : 0));
    ops(kRowStatus, Value::integer32(1));  // active
    for (const auto& a : r.addresses) {
      Oid aidx = idx + Oid{static_cast<std::uint32_t>(a.size())};
      for (std::size_t i = 0; i < a.size(); ++i) aidx.push_back(a.bytes()[i]);
      v[kAssocEntry + Oid{2} + aidx] = Value::integer32(1);  // vrrpv3AssociatedIpAddrRowStatus: active
    }
    auto stats = [&](std::uint32_t col, Value val) { v[kStatsEntry + Oid{col} + idx] = std::move(val); };
    stats(kMasterTransitions, Value::counter32(r.master_transitions));
    stats(kNewMasterReason, Value::integer32(static_cast<std::int64_t>(r.new_master_reason)));
    stats(kRcvdAdvertisements, Value::counter64(r.adverts_received));
    stats(kAdvIntervalErrors, Value::counter64(r.interval_errors));
    stats(kIpTtlErrors, Value::counter64(r.ttl_errors));
    stats(kProtoErrReason, Value::integer32(static_cast<std::int64_t>(r.proto_err_reason)));
    stats(kRcvdPriZeroPackets, Value::counter64(r.priority_zero_received));
    stats(kSentPriZeroPackets, Value::counter64(r.priority_zero_sent));
    stats(kAddressListErrors, Value::counter64(r.address_list_errors));
    stats(kPacketLengthErrors, Value::counter64(r.length_errors));
    stats(kRowDiscontinuityTime, Value::time_ticks(ticks_since(r.created, zero)));
    stats(kRefreshRate, Value::unsigned32(static_cast<std::uint64_t>(refresh_ms)));
  }
  const Oid nidx = name_index(r.name);
  auto inst = [&](std::uint32_t col, Value val) { v[kInstanceEntry + Oid{col} + nidx] = std::move(val); };
  inst(kInstState, Value::integer32(vrrpd_state(r.state)));
  inst(kInstIfIndex, Value::integer32(r.if_index));
  inst(kInstVrId, Value::integer32(r.vrid));
  inst(kInstPriority, Value::integer32(r.priority));
  inst(kInstBasePriority, Value::integer32(r.base_priority));
  inst(kInstLastReason, Value::string(r.last_reason));
  inst(kInstFaultReason, Value::string(r.fault_reason));
  inst(kInstTransitions, Value::counter32(r.transitions));
  inst(kInstVersion, Value::integer32(r.version));
}

void add_resource(MibView& v, const ResourceRow& r) {
  const Oid idx = name_index(r.name);
  auto col = [&](std::uint32_t c, Value val) { v[kResourceEntry + Oid{c} + idx] = std::move(val); };
  col(kResUp, Value::truth(r.up));
  col(kResRole, Value::string(r.role));
  col(kResDisk, Value::string(r.disk));
  col(kResPeerRole, Value::string(r.peer_role));
  col(kResPeerDisk, Value::string(r.peer_disk));
  col(kResConnection, Value::string(r.connection));
  col(kResReplication, Value::string(r.replication));
  col(kResOutOfSyncKib, Value::unsigned32(saturate32(r.out_of_sync_kib)));
  col(kResIoErrors, Value::counter32(r.io_errors));
  col(kResSplitBrain, Value::truth(r.split_brain));
  col(kResLastError, Value::string(r.last_error));
}

void add_check(MibView& v, const CheckRow& c) {
  const Oid idx = name_index(c.name);
  v[kCheckEntry + Oid{kCheckKind} + idx] = Value::string(c.kind);
  v[kCheckEntry + Oid{kCheckState} + idx] = Value::integer32(c.up ? 1 : 2);
  v[kCheckEntry + Oid{kCheckReason} + idx] = Value::string(c.reason);
}

}  // namespace

MibView build_view(const Snapshot& s, TimePoint agent_start) {
  MibView v;
  std::uint64_t checksum_errors = 0, version_errors = 0;
  for (const auto& r : s.instances) {
    add_instance(v, r, agent_start, s.refresh_ms);
    checksum_errors += r.checksum_errors;
    version_errors += r.version_errors;
  }
  v[kRouterStats + Oid{1, 0}] = Value::counter64(checksum_errors);  // vrrpv3RouterChecksumErrors
  v[kRouterStats + Oid{2, 0}] = Value::counter64(version_errors);   // vrrpv3RouterVersionErrors
  v[kRouterStats + Oid{3, 0}] = Value::counter64(s.vrid_errors);    // vrrpv3RouterVrIdErrors
  // vrrpv3GlobalStatisticsDiscontinuityTime: the counters start with the agent.
  v[kRouterStats + Oid{4, 0}] = Value::time_ticks(0);
  for (const auto& r : s.resources) add_resource(v, r);
  for (const auto& c : s.checks) add_check(v, c);
  return v;
}

const std::pair<const Oid, Value>* next_in_view(const MibView& view, const Oid& oid) {
  auto it = view.upper_bound(oid);
  return it == view.end() ? nullptr : &*it;
}

const char* notification_name(NotificationKind k) {
  switch (k) {
    case NotificationKind::kNewMaster: return "vrrpv3NewMaster";
    case NotificationKind::kProtoError: return "vrrpv3ProtoError";
    case NotificationKind::kInstanceFault: return "vrrpdInstanceFault";
    case NotificationKind::kPromotionRefused: return "vrrpdPromotionRefused";
    case NotificationKind::kSplitBrain: return "vrrpdSplitBrain";
    case NotificationKind::kResyncFinished: return "vrrpdResyncFinished";
    case NotificationKind::kDiskError: return "vrrpdDiskError";
  }
  return "?";
}

std::vector<VarBind> notification_varbinds(const Notification& n) {
  std::vector<VarBind> out;
  auto trap = [&](const Oid& oid) { out.push_back({kSnmpTrapOid, Value::object_id(oid)}); };
  // The objects come from the same mapping as the tables, so a varbind and
  // a walk always agree.
  MibView row;
  const InstanceRow& i = n.instance;
  const ResourceRow& r = n.resource;
  auto from_row = [&](const Oid& entry, std::uint32_t col, const Oid& idx) {
    const Oid oid = entry + Oid{col} + idx;
    auto it = row.find(oid);
    if (it != row.end()) out.push_back({oid, it->second});
  };
  auto text = [&] { out.push_back({kNotificationText, Value::string(n.text)}); };
  switch (n.kind) {
    case NotificationKind::kNewMaster:
      add_instance(row, i, TimePoint{}, 0);
      trap(kVrrpv3Notifications + Oid{1});
      from_row(kOpsEntry, kMasterIpAddr, vrrpv3_index(i));
      from_row(kStatsEntry, kNewMasterReason, vrrpv3_index(i));
      break;
    case NotificationKind::kProtoError:
      add_instance(row, i, TimePoint{}, 0);
      trap(kVrrpv3Notifications + Oid{2});
      from_row(kStatsEntry, kProtoErrReason, vrrpv3_index(i));
      break;
    case NotificationKind::kInstanceFault:
      add_instance(row, i, TimePoint{}, 0);
      trap(kVrrpdNotifications + Oid{1});
      from_row(kInstanceEntry, kInstState, name_index(i.name));
      from_row(kInstanceEntry, kInstFaultReason, name_index(i.name));
      break;
    case NotificationKind::kPromotionRefused:
      add_resource(row, r);
      trap(kVrrpdNotifications + Oid{2});
      from_row(kResourceEntry, kResDisk, name_index(r.name));
      from_row(kResourceEntry, kResPeerRole, name_index(r.name));
      text();
      break;
    case NotificationKind::kSplitBrain:
      add_resource(row, r);
      trap(kVrrpdNotifications + Oid{3});
      from_row(kResourceEntry, kResConnection, name_index(r.name));
      text();
      break;
    case NotificationKind::kResyncFinished:
      add_resource(row, r);
      trap(kVrrpdNotifications + Oid{4});
      from_row(kResourceEntry, kResDisk, name_index(r.name));
      from_row(kResourceEntry, kResPeerDisk, name_index(r.name));
      from_row(kResourceEntry, kResOutOfSyncKib, name_index(r.name));
      break;
    case NotificationKind::kDiskError:
      add_resource(row, r);
      trap(kVrrpdNotifications + Oid{5});
      from_row(kResourceEntry, kResDisk, name_index(r.name));
      from_row(kResourceEntry, kResIoErrors, name_index(r.name));
      text();
      break;
  }
  return out;
}

NewMasterReason new_master_reason(const std::string& reason, bool master_still_speaking) {
  if (reason.find("preempt") != std::string::npos) return NewMasterReason::kPreempted;
  if (reason.find("master down timer expired") != std::string::npos)
    return master_still_speaking ? NewMasterReason::kPreempted : NewMasterReason::kMasterNoResponse;
  if (reason.find("skew time expired") != std::string::npos) return NewMasterReason::kMasterNoResponse;
  // Address owner, "state MASTER" at start-up, a sync group pulling the
  // member, maintenance off: MASTER by its own priority or configuration.
  return NewMasterReason::kPriority;
}

ProtoErrReason proto_error_between(const InstanceRow& before, const InstanceRow& now) {
  if (now.checksum_errors > before.checksum_errors) return ProtoErrReason::kChecksumError;
  if (now.version_errors > before.version_errors) return ProtoErrReason::kVersionError;
  if (now.ttl_errors > before.ttl_errors) return ProtoErrReason::kIpTtlError;
  return ProtoErrReason::kNoError;
}

std::optional<NotificationKind> replication_notification(const std::string& what, const std::string& from,
                                                         const std::string& to) {
  if (what == "split-brain") return NotificationKind::kSplitBrain;
  if (what == "io-error") return NotificationKind::kDiskError;
  if (what == "replication" && (from == "SyncSource" || from == "SyncTarget") && to == "Established")
    return NotificationKind::kResyncFinished;
  return std::nullopt;
}

}  // namespace vrrpd::notify::snmp
