// The mapping from daemon snapshots to VRRPv3-MIB (RFC 6527) and VRRPD-MIB
// objects, the varbinds of every notification, the classification of daemon
// events, and the net-snmp session arguments of trap receivers. Pure: no
// agent thread, no sockets.
#include <gtest/gtest.h>

#include "notify/snmp_agent.h"
#include "notify/snmp_mib.h"

namespace vrrpd::notify::snmp {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint(std::chrono::seconds(1000));

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Oid oid(const std::string& s) { return parse_oid(s); }

InstanceRow backup_row() {
  InstanceRow r;
  r.name = "VI_1";
  r.if_index = 3;
  r.vrid = 51;
  r.state = "BACKUP";
  r.priority = 100;
  r.base_priority = 100;
  r.master_address = ip("192.0.2.2");
  r.primary_address = ip("192.0.2.1");
  r.addresses = {ip("192.0.2.100"), ip("192.0.2.101")};
  r.advert_interval_ms = 1000;
  r.preempt = false;
  r.up_since = kStart + 12345ms;
  r.created = kStart;
  r.last_reason = "startup";
  r.master_transitions = 4;
  r.transitions = 9;
  r.adverts_received = 1234;
  r.interval_errors = 1;
  r.ttl_errors = 2;
  r.checksum_errors = 3;
  r.version_errors = 5;
  r.priority_zero_received = 6;
  r.priority_zero_sent = 7;
  r.address_list_errors = 8;
  r.length_errors = 9;
  return r;
}

const Value& at(const MibView& v, const std::string& o) {
  auto it = v.find(oid(o));
  if (it == v.end()) throw std::runtime_error("not served: " + o);
  return it->second;
}

const std::string kOps = "1.3.6.1.2.1.207.1.1.1.1.";
const std::string kStats = "1.3.6.1.2.1.207.1.2.5.1.";
const std::string kIdx = ".3.51.1";  // ifIndex 3, VRID 51, ipv4(1)

TEST(SnmpMib, OidTextRoundTrips) {
  EXPECT_EQ(oid_string(parse_oid(".1.3.6.1.4.1.99999")), "1.3.6.1.4.1.99999");
  EXPECT_TRUE(parse_oid("1.3.x").empty());
  EXPECT_TRUE(parse_oid("1..3").empty());
}

TEST(SnmpMib, OperationsRowOfABackup) {
  Snapshot s{{backup_row()}, {}, {}, 0, 1000};
  const MibView v = build_view(s, kStart);
  EXPECT_EQ(at(v, kOps + "3" + kIdx), Value::string(std::string("\xc0\x00\x02\x02", 4)));  // master heard
  EXPECT_EQ(at(v, kOps + "4" + kIdx), Value::string(std::string("\xc0\x00\x02\x01", 4)));  // our primary
  EXPECT_EQ(at(v, kOps + "5" + kIdx), Value::string(std::string("\x00\x00\x5e\x00\x01\x33", 6)));
  EXPECT_EQ(at(v, kOps + "6" + kIdx), Value::integer32(2));  // backup(2)
  EXPECT_EQ(at(v, kOps + "7" + kIdx), Value::unsigned32(100));
  EXPECT_EQ(at(v, kOps + "8" + kIdx), Value::integer32(2));
  EXPECT_EQ(at(v, kOps + "9" + kIdx), Value::integer32(100));  // centiseconds
  EXPECT_EQ(at(v, kOps + "10" + kIdx), Value::truth(false));
  EXPECT_EQ(at(v, kOps + "11" + kIdx), Value::truth(true));
  EXPECT_EQ(at(v, kOps + "12" + kIdx), Value::time_ticks(1234));  // 12.345 s after the agent started
  EXPECT_EQ(at(v, kOps + "13" + kIdx), Value::integer32(1));
  // The index columns are not-accessible in RFC 6527.
  EXPECT_EQ(v.count(oid(kOps + "1" + kIdx)), 0u);
  EXPECT_EQ(v.count(oid(kOps + "2" + kIdx)), 0u);
}

TEST(SnmpMib, AssociatedAddressesAreIndexedByLengthAndBytes) {
  Snapshot s{{backup_row()}, {}, {}, 0, 1000};
  const MibView v = build_view(s, kStart);
  EXPECT_EQ(at(v, "1.3.6.1.2.1.207.1.1.2.1.2.3.51.1.4.192.0.2.100"), Value::integer32(1));
  EXPECT_EQ(at(v, "1.3.6.1.2.1.207.1.1.2.1.2.3.51.1.4.192.0.2.101"), Value::integer32(1));
}

TEST(SnmpMib, MasterReportsItselfAndFaultIsInitialize) {
  InstanceRow m = backup_row();
  m.state = "MASTER";
  m.master_address = m.primary_address;
  InstanceRow f = backup_row();
  f.name = "VI_2";
  f.vrid = 52;
  f.state = "FAULT";
  f.master_address.reset();
  f.up_since.reset();
  f.fault_reason = "interface eth0 is down";
  const MibView v = build_view(Snapshot{{m, f}, {}, {}, 0, 1000}, kStart);
  EXPECT_EQ(at(v, kOps + "6" + kIdx), Value::integer32(3));
  EXPECT_EQ(at(v, kOps + "3" + kIdx), Value::string(std::string("\xc0\x00\x02\x01", 4)));
  EXPECT_EQ(at(v, kOps + "6.3.52.1"), Value::integer32(1));  // FAULT is not in RFC 6527
  EXPECT_EQ(at(v, kOps + "12.3.52.1"), Value::time_ticks(0));
  // VRRPD-MIB tells FAULT apart, with the reason: index = length, bytes of "VI_2".
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.1.1.2.4.86.73.95.50"), Value::integer32(4));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.1.1.8.4.86.73.95.50"), Value::string("interface eth0 is down"));
}

TEST(SnmpMib, StatisticsComeFromTheCounters) {
  InstanceRow r = backup_row();
  r.new_master_reason = NewMasterReason::kMasterNoResponse;
  r.proto_err_reason = ProtoErrReason::kIpTtlError;
  const MibView v = build_view(Snapshot{{r}, {}, {}, 0, 1000}, kStart);
  EXPECT_EQ(at(v, kStats + "1" + kIdx), Value::counter32(4));
  EXPECT_EQ(at(v, kStats + "2" + kIdx), Value::integer32(3));
  EXPECT_EQ(at(v, kStats + "3" + kIdx), Value::counter64(1234));
  EXPECT_EQ(at(v, kStats + "4" + kIdx), Value::counter64(1));
  EXPECT_EQ(at(v, kStats + "5" + kIdx), Value::counter64(2));
  EXPECT_EQ(at(v, kStats + "6" + kIdx), Value::integer32(1));
  EXPECT_EQ(at(v, kStats + "7" + kIdx), Value::counter64(6));
  EXPECT_EQ(at(v, kStats + "8" + kIdx), Value::counter64(7));
  EXPECT_EQ(v.count(oid(kStats + "9" + kIdx)), 0u);  // invalid type packets: not counted, not served
  EXPECT_EQ(at(v, kStats + "10" + kIdx), Value::counter64(8));
  EXPECT_EQ(at(v, kStats + "11" + kIdx), Value::counter64(9));
  EXPECT_EQ(at(v, kStats + "12" + kIdx), Value::time_ticks(0));
  EXPECT_EQ(at(v, kStats + "13" + kIdx), Value::unsigned32(1000));
}

TEST(SnmpMib, RouterStatisticsSumTheInstances) {
  InstanceRow b = backup_row();
  b.vrid = 52;
  b.checksum_errors = 10;
  b.version_errors = 20;
  const MibView v = build_view(Snapshot{{backup_row(), b}, {}, {}, 77, 1000}, kStart);
  EXPECT_EQ(at(v, "1.3.6.1.2.1.207.1.2.1.0"), Value::counter64(13));
  EXPECT_EQ(at(v, "1.3.6.1.2.1.207.1.2.2.0"), Value::counter64(25));
  EXPECT_EQ(at(v, "1.3.6.1.2.1.207.1.2.3.0"), Value::counter64(77));
}

TEST(SnmpMib, WalkFollowsNumericOidOrder) {
  InstanceRow a = backup_row();
  a.if_index = 10;
  InstanceRow b = backup_row();
  b.name = "VI_2";
  b.if_index = 2;
  const MibView v = build_view(Snapshot{{a, b}, {}, {}, 0, 1000}, kStart);
  const auto* first = next_in_view(v, kVrrpv3Mib);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(oid_string(first->first), kOps + "3.2.51.1");  // ifIndex 2 before 10
  const auto* second = next_in_view(v, first->first);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(oid_string(second->first), kOps + "3.10.51.1");
  EXPECT_EQ(next_in_view(v, oid("1.3.6.1.4.1.99999.9")), nullptr);
}

TEST(SnmpMib, InstanceWithoutInterfaceIsOnlyInTheProjectMib) {
  InstanceRow r = backup_row();
  r.if_index = 0;
  const MibView v = build_view(Snapshot{{r}, {}, {}, 0, 1000}, kStart);
  for (const auto& [o, val] : v)
    EXPECT_FALSE(oid_string(o).rfind(kOps, 0) == 0 || oid_string(o).rfind(kStats, 0) == 0) << oid_string(o);
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.1.1.3.4.86.73.95.49"), Value::integer32(0));
}

ResourceRow resource() {
  ResourceRow r;
  r.name = "r0";
  r.up = true;
  r.role = "Secondary";
  r.disk = "Inconsistent";
  r.peer_role = "Primary";
  r.peer_disk = "UpToDate";
  r.connection = "Connected";
  r.replication = "SyncTarget";
  r.out_of_sync_kib = 5ull << 32;  // saturates in Unsigned32
  r.io_errors = 3;
  return r;
}

TEST(SnmpMib, ResourceAndCheckRows) {
  const MibView v = build_view(Snapshot{{}, {resource()}, {{"web", "tcp", false, "connect: refused"}}, 0, 1000}, kStart);
  const std::string r0 = ".2.114.48";  // "r0"
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.2" + r0), Value::truth(true));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.3" + r0), Value::string("Secondary"));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.4" + r0), Value::string("Inconsistent"));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.6" + r0), Value::string("UpToDate"));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.8" + r0), Value::string("SyncTarget"));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.9" + r0), Value::unsigned32(0xffffffffu));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.2.1.10" + r0), Value::counter32(3));
  const std::string web = ".3.119.101.98";
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.3.1.2" + web), Value::string("tcp"));
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.3.1.3" + web), Value::integer32(2));  // down(2)
  EXPECT_EQ(at(v, "1.3.6.1.4.1.99999.1.3.1.4" + web), Value::string("connect: refused"));
}

TEST(SnmpNotification, NewMasterCarriesMasterAddressAndReason) {
  Notification n;
  n.kind = NotificationKind::kNewMaster;
  n.instance = backup_row();
  n.instance.state = "MASTER";
  n.instance.master_address = ip("192.0.2.1");
  n.instance.new_master_reason = NewMasterReason::kMasterNoResponse;
  const auto vbs = notification_varbinds(n);
  ASSERT_EQ(vbs.size(), 3u);
  EXPECT_EQ(oid_string(vbs[0].oid), "1.3.6.1.6.3.1.1.4.1.0");
  EXPECT_EQ(vbs[0].value, Value::object_id(oid("1.3.6.1.2.1.207.0.1")));
  EXPECT_EQ(oid_string(vbs[1].oid), kOps + "3" + kIdx);
  EXPECT_EQ(vbs[1].value, Value::string(std::string("\xc0\x00\x02\x01", 4)));
  EXPECT_EQ(oid_string(vbs[2].oid), kStats + "2" + kIdx);
  EXPECT_EQ(vbs[2].value, Value::integer32(3));
}

TEST(SnmpNotification, ProtoErrorCarriesTheReason) {
  Notification n;
  n.kind = NotificationKind::kProtoError;
  n.instance = backup_row();
  n.instance.proto_err_reason = ProtoErrReason::kChecksumError;
  const auto vbs = notification_varbinds(n);
  ASSERT_EQ(vbs.size(), 2u);
  EXPECT_EQ(vbs[0].value, Value::object_id(oid("1.3.6.1.2.1.207.0.2")));
  EXPECT_EQ(oid_string(vbs[1].oid), kStats + "6" + kIdx);
  EXPECT_EQ(vbs[1].value, Value::integer32(3));
}

TEST(SnmpNotification, InstanceFaultCarriesStateAndReason) {
  Notification n;
  n.kind = NotificationKind::kInstanceFault;
  n.instance = backup_row();
  n.instance.state = "FAULT";
  n.instance.fault_reason = "check db is down";
  const auto vbs = notification_varbinds(n);
  ASSERT_EQ(vbs.size(), 3u);
  EXPECT_EQ(vbs[0].value, Value::object_id(oid("1.3.6.1.4.1.99999.0.1")));
  EXPECT_EQ(vbs[1].value, Value::integer32(4));
  EXPECT_EQ(vbs[2].value, Value::string("check db is down"));
}

TEST(SnmpNotification, ReplicationNotificationsCarryResourceObjectsAndText) {
  struct Case {
    NotificationKind kind;
    std::string trap;
    std::vector<std::string> columns;  // VRRPD-MIB resource columns, then the text if any
    bool text;
  };
  const std::vector<Case> cases{
      {NotificationKind::kPromotionRefused, "1.3.6.1.4.1.99999.0.2", {"4", "5"}, true},
      {NotificationKind::kSplitBrain, "1.3.6.1.4.1.99999.0.3", {"7"}, true},
      {NotificationKind::kResyncFinished, "1.3.6.1.4.1.99999.0.4", {"4", "6", "9"}, false},
      {NotificationKind::kDiskError, "1.3.6.1.4.1.99999.0.5", {"4", "10"}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(notification_name(c.kind));
    Notification n{c.kind, {}, resource(), "primary r0 refused: disk is Inconsistent"};
    const auto vbs = notification_varbinds(n);
    ASSERT_EQ(vbs.size(), 1 + c.columns.size() + (c.text ? 1 : 0));
    EXPECT_EQ(vbs[0].value, Value::object_id(oid(c.trap)));
    for (std::size_t i = 0; i < c.columns.size(); ++i)
      EXPECT_EQ(oid_string(vbs[1 + i].oid), "1.3.6.1.4.1.99999.1.2.1." + c.columns[i] + ".2.114.48");
    if (c.text) {
      EXPECT_EQ(oid_string(vbs.back().oid), "1.3.6.1.4.1.99999.1.4.1.0");
      EXPECT_EQ(vbs.back().value, Value::string("primary r0 refused: disk is Inconsistent"));
    }
  }
}

TEST(SnmpClassify, NewMasterReasonFromTransitionReason) {
  EXPECT_EQ(new_master_reason("master down timer expired", false), NewMasterReason::kMasterNoResponse);
  EXPECT_EQ(new_master_reason("master left (priority 0 advert), skew time expired", false),
            NewMasterReason::kMasterNoResponse);
  EXPECT_EQ(new_master_reason("address owner (priority 255)", false), NewMasterReason::kPriority);
  EXPECT_EQ(new_master_reason("sync group G: VI_2 went MASTER", false), NewMasterReason::kPriority);
}

TEST(SnmpClassify, MasterDownWhileTheOldMasterStillSpeaksIsAPreemption) {
  EXPECT_EQ(new_master_reason("master down timer expired", true), NewMasterReason::kPreempted);
  // The owner does not preempt anybody by timer; it is MASTER by priority.
  EXPECT_EQ(new_master_reason("address owner (priority 255)", true), NewMasterReason::kPriority);
}

TEST(SnmpClassify, ProtoErrorFromGrowingCounters) {
  InstanceRow a = backup_row(), b = backup_row();
  EXPECT_EQ(proto_error_between(a, b), ProtoErrReason::kNoError);
  b.ttl_errors++;
  EXPECT_EQ(proto_error_between(a, b), ProtoErrReason::kIpTtlError);
  b.version_errors++;
  EXPECT_EQ(proto_error_between(a, b), ProtoErrReason::kVersionError);
  b.checksum_errors++;
  EXPECT_EQ(proto_error_between(a, b), ProtoErrReason::kChecksumError);
}

TEST(SnmpClassify, ReplicationEvents) {
  EXPECT_EQ(replication_notification("split-brain", "", ""), NotificationKind::kSplitBrain);
  EXPECT_EQ(replication_notification("io-error", "", ""), NotificationKind::kDiskError);
  EXPECT_EQ(replication_notification("replication", "SyncTarget", "Established"), NotificationKind::kResyncFinished);
  EXPECT_EQ(replication_notification("replication", "SyncSource", "Established"), NotificationKind::kResyncFinished);
  EXPECT_EQ(replication_notification("replication", "SyncTarget", "Off"), std::nullopt);  // cut, not finished
  EXPECT_EQ(replication_notification("disk", "UpToDate", "Failed"), std::nullopt);
}

TEST(SnmpReceiver, V2cArguments) {
  config::TrapReceiver r;
  r.host = "192.0.2.1";
  r.port = 10162;
  r.community = "nms";
  EXPECT_EQ(SnmpAgent::receiver_args(r), (std::vector<std::string>{"-v", "2c", "-c", "nms", "udp:192.0.2.1:10162"}));
}

TEST(SnmpReceiver, V3InformArgumentsOverIpv6) {
  config::TrapReceiver r;
  r.host = "2001:db8::9";
  r.version = "3";
  r.user = "vrrpd";
  r.auth = "SHA";
  r.auth_pass = "authpass1";
  r.priv = "AES";
  r.priv_pass = "privpass1";
  r.inform = true;
  EXPECT_EQ(SnmpAgent::receiver_args(r),
            (std::vector<std::string>{"-v", "3", "-u", "vrrpd", "-l", "authPriv", "-a", "SHA", "-A", "authpass1", "-x",
                                      "AES", "-X", "privpass1", "udp6:[2001:db8::9]:162"}));
  r.priv.clear();
  EXPECT_EQ(SnmpAgent::receiver_args(r)[5], "authNoPriv");
}

TEST(SnmpAgentQueue, DropsTheOldestBeyondTheLimitWithoutAThread) {
  config::SnmpSettings s;
  SnmpAgent agent(s);  // not started: notify() only queues
  for (std::size_t i = 0; i < SnmpAgent::kQueueLimit + 5; ++i) agent.notify(Notification{});
  EXPECT_EQ(agent.dropped(), 5u);
}

TEST(SnmpAgentQueue, NothingIsQueuedWithTrapsOff) {
  config::SnmpSettings s;
  s.traps = false;
  SnmpAgent agent(s);
  for (std::size_t i = 0; i < SnmpAgent::kQueueLimit + 5; ++i) agent.notify(Notification{});
  EXPECT_EQ(agent.dropped(), 0u);
}

}  // namespace
}  // namespace vrrpd::notify::snmp
