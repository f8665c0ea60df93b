// What the SNMP agent serves and sends, as pure data: the daemon's snapshot
// types (filled on the VRRP loop), the mapping from a snapshot to every
// object of VRRPv3-MIB (RFC 6527) and VRRPD-MIB (etc/VRRPD-MIB.txt) in OID
// order, and the varbind list of each notification. No net-snmp here, so
// the mapping is unit-tested on its own (tests/unit/notify/snmp_mib_test.cc);
// notify/snmp_agent.cc only copies these values into net-snmp's types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/ip_address.h"

namespace vrrpd::notify::snmp {

using Oid = std::vector<std::uint32_t>;

// "1.3.6.1.2.1.207" -> Oid; "" for a malformed text.
Oid parse_oid(const std::string& text);
std::string oid_string(const Oid& oid);

// The OIDs everything hangs from (hard to undo: see README "SNMP").
extern const Oid kVrrpv3Mib;  // 1.3.6.1.2.1.207 (mib-2 207, RFC 6527)
extern const Oid kVrrpdMib;   // 1.3.6.1.4.1.99999 (enterprises 99999, not registered)
extern const Oid kSnmpTrapOid;  // snmpTrapOID.0

// An SNMP value with its SMI type.
struct Value {
  enum class Type { kInteger, kUnsigned32, kCounter32, kCounter64, kTimeTicks, kOctets };
  Type type = Type::kInteger;
  std::int64_t integer = 0;    // kInteger
  std::uint64_t number = 0;    // kUnsigned32, kCounter32, kCounter64, kTimeTicks
  std::string octets;          // kOctets (DisplayString, InetAddress, MacAddress)
  std::optional<Oid> oid;      // set instead for an OBJECT IDENTIFIER value

  static Value integer32(std::int64_t v) { return {Type::kInteger, v, 0, {}, {}}; }
  static Value unsigned32(std::uint64_t v) { return {Type::kUnsigned32, 0, v, {}, {}}; }
  static Value counter32(std::uint64_t v) { return {Type::kCounter32, 0, v & 0xffffffffu, {}, {}}; }
  static Value counter64(std::uint64_t v) { return {Type::kCounter64, 0, v, {}, {}}; }
  static Value time_ticks(std::uint64_t v) { return {Type::kTimeTicks, 0, v & 0xffffffffu, {}, {}}; }
  static Value string(std::string v) { return {Type::kOctets, 0, 0, std::move(v), {}}; }
  static Value object_id(Oid v) { return {Type::kOctets, 0, 0, {}, std::move(v)}; }
  static Value truth(bool v) { return integer32(v ? 1 : 2); }  // TruthValue: true(1), false(2)
  bool operator==(const Value&) const = default;
};

struct VarBind {
  Oid oid;
  Value value;
  bool operator==(const VarBind&) const = default;
};

// ---- snapshots: plain copies of daemon state, published to the agent ----

// RFC 6527 vrrpv3StatisticsNewMasterReason / ProtoErrReason values.
enum class NewMasterReason { kNotMaster = 0, kPriority = 1, kPreempted = 2, kMasterNoResponse = 3 };
enum class ProtoErrReason { kNoError = 0, kIpTtlError = 1, kVersionError = 2, kChecksumError = 3, kVrIdError = 4 };

struct InstanceRow {
  std::string name;
  int if_index = 0;  // 0: the interface does not exist (the row is not served)
  int vrid = 0;
  bool ipv6 = false;
  int version = 3;
  std::string state;  // "INIT", "BACKUP", "MASTER", "FAULT"
  int priority = 0;   // effective
  int base_priority = 0;
  std::optional<IpAddress> master_address;   // the master heard, or our own primary address as MASTER
  std::optional<IpAddress> primary_address;  // the source address of our adverts
  std::vector<IpAddress> addresses;          // the VIPs of the row's family (vrrpv3AssociatedIpAddrTable)
  long advert_interval_ms = 1000;            // configured
  bool preempt = true;
  std::optional<TimePoint> up_since;  // when the row last left INIT (RFC: vrrpv3OperationsUpTime)
  TimePoint created{};                // counters start here (vrrpv3StatisticsRowDiscontinuityTime)
  std::string last_reason;            // of the last transition
  std::string fault_reason;
  NewMasterReason new_master_reason = NewMasterReason::kNotMaster;
  ProtoErrReason proto_err_reason = ProtoErrReason::kNoError;
  std::uint64_t master_transitions = 0;
  std::uint64_t transitions = 0;
  std::uint64_t adverts_received = 0;
  std::uint64_t interval_errors = 0;
  std::uint64_t ttl_errors = 0;
  std::uint64_t checksum_errors = 0;
  std::uint64_t version_errors = 0;
  std::uint64_t priority_zero_received = 0;
  std::uint64_t priority_zero_sent = 0;
  std::uint64_t address_list_errors = 0;
  std::uint64_t length_errors = 0;
};

struct ResourceRow {
  std::string name;
  bool up = false;
  std::string role, disk, peer_role, peer_disk, connection, replication;  // DRBD's names
  std::uint64_t out_of_sync_kib = 0;
  std::uint64_t io_errors = 0;
  bool split_brain = false;
  std::string last_error;
};

struct CheckRow {
  std::string name;
  std::string kind;
  bool up = true;
  std::string reason;
};

struct Snapshot {
  std::vector<InstanceRow> instances;
  std::vector<ResourceRow> resources;
  std::vector<CheckRow> checks;
  std::uint64_t vrid_errors = 0;  // adverts for a VRID no instance has, all interfaces
  long refresh_ms = 1000;         // how often the daemon publishes (vrrpv3StatisticsRefreshRate)
};

// Every object served, by OID, in lexicographic OID order (std::map on the
// vector compares sub-identifiers like SNMP does). `agent_start`: the time
// base of TimeTicks/TimeStamp values (the agent's own sysUpTime zero).
using MibView = std::map<Oid, Value>;
MibView build_view(const Snapshot& s, TimePoint agent_start);

// GETNEXT on a view: the first entry after `oid`, or nullptr.
const std::pair<const Oid, Value>* next_in_view(const MibView& view, const Oid& oid);

// ---- notifications ----

enum class NotificationKind {
  kNewMaster,         // VRRPv3-MIB vrrpv3NewMaster
  kProtoError,        // VRRPv3-MIB vrrpv3ProtoError
  kInstanceFault,     // VRRPD-MIB vrrpdInstanceFault
  kPromotionRefused,  // VRRPD-MIB vrrpdPromotionRefused
  kSplitBrain,        // VRRPD-MIB vrrpdSplitBrain
  kResyncFinished,    // VRRPD-MIB vrrpdResyncFinished
  kDiskError,         // VRRPD-MIB vrrpdDiskError
};
const char* notification_name(NotificationKind k);

struct Notification {
  NotificationKind kind = NotificationKind::kNewMaster;
  InstanceRow instance;  // the instance ones
  ResourceRow resource;  // the replication ones
  std::string text;      // vrrpdNotificationText: what happened, for the operator
};

// snmpTrapOID.0 first, then the notification's OBJECTS with their instance
// suffixes (net-snmp puts sysUpTime.0 in front when it sends).
std::vector<VarBind> notification_varbinds(const Notification& n);

// ---- classification of daemon events (pure, unit-tested) ----

// A transition reason of vrrp::VirtualRouter -> why this router became MASTER.
// `master_still_speaking`: an advert (priority > 0) arrived within the last
// Master_Down_Interval, so the timer ran out because we preempted a
// lower-priority master (RFC 5798 6.4.2), not because the master went silent.
NewMasterReason new_master_reason(const std::string& transition_reason, bool master_still_speaking);
// The error counters that grew between two snapshots of one instance,
// as ProtoErrReason (the most specific first: checksum, version, TTL).
ProtoErrReason proto_error_between(const InstanceRow& before, const InstanceRow& now);
// A replication event (ReplicationService "what" and its detail fields
// "from"/"to") -> the notification it raises, if any.
std::optional<NotificationKind> replication_notification(const std::string& what, const std::string& from,
                                                         const std::string& to);

}  // namespace vrrpd::notify::snmp
