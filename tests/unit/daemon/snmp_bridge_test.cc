// SnmpBridge on a fake clock with real Instances and a recording sink: what
// the daemon hands to the SNMP agent on transitions, on error counters that
// grow, and on replication events.
#include <gtest/gtest.h>

#include "tests/unit/daemon/instance_fixture.h"
#include "vrrpd/daemon/snmp_bridge.h"

namespace vrrpd {
namespace {

using namespace test_support;
namespace snmp = notify::snmp;

class RecordingSink : public snmp::SnmpSink {
 public:
  void publish(snmp::Snapshot s) override { snapshots.push_back(std::move(s)); }
  void notify(snmp::Notification n) override { notes.push_back(std::move(n)); }
  std::vector<snmp::Snapshot> snapshots;
  std::vector<snmp::Notification> notes;
};

class SnmpBridgeTest : public InstanceTest {
 protected:
  SnmpBridgeTest() {
    auto s = std::make_unique<RecordingSink>();
    sink = s.get();
    bridge = std::make_unique<SnmpBridge>(loop, std::move(s), SnmpBridge::Sources{&instances, &checks, {}});
  }

  Instance& add(config::Instance c) {
    instances.push_back(make(std::move(c)));
    return *instances.back();
  }
  // Like the daemon: every transition the instance made goes to the bridge.
  void forward_transitions(Instance& i) {
    for (; forwarded < transitions.size(); ++forwarded) bridge->on_transition(i, transitions[forwarded]);
  }
  std::vector<snmp::Notification> notes_of(snmp::NotificationKind k) const {
    std::vector<snmp::Notification> out;
    for (const auto& n : sink->notes)
      if (n.kind == k) out.push_back(n);
    return out;
  }

  std::vector<std::unique_ptr<Instance>> instances;
  std::map<std::string, checkers::CheckStatus> checks;
  RecordingSink* sink = nullptr;
  std::unique_ptr<SnmpBridge> bridge;
  std::size_t forwarded = 0;
};

TEST_F(SnmpBridgeTest, SilentMasterGivesNewMasterWithMasterNoResponse) {
  Instance& i = add(cfg());
  i.start();
  run_for(milliseconds(1000));  // nobody speaks: master down after 3 x 100 ms + skew
  forward_transitions(i);
  ASSERT_EQ(i.state(), vrrp::State::kMaster);
  auto nm = notes_of(snmp::NotificationKind::kNewMaster);
  ASSERT_EQ(nm.size(), 1u);
  EXPECT_EQ(nm[0].instance.if_index, 2);
  EXPECT_EQ(nm[0].instance.master_address, ip("192.0.2.2"));  // our own primary address
  EXPECT_EQ(nm[0].instance.new_master_reason, snmp::NewMasterReason::kMasterNoResponse);
  // The snapshot handed over at the transition says MASTER too.
  ASSERT_FALSE(sink->snapshots.empty());
  ASSERT_EQ(sink->snapshots.back().instances.size(), 1u);
  EXPECT_EQ(sink->snapshots.back().instances[0].state, "MASTER");
  EXPECT_EQ(sink->snapshots.back().instances[0].master_transitions, 1u);
}

TEST_F(SnmpBridgeTest, TakingOverFromASpeakingLowerMasterIsPreempted) {
  config::Instance c = cfg();
  c.priority = 200;
  Instance& i = add(c);
  i.start();
  for (int n = 0; n < 10 && i.state() != vrrp::State::kMaster; ++n) {
    i.on_packet(packet_from("192.0.2.3", 100));  // a lower master keeps advertising
    run_for(milliseconds(100));
  }
  forward_transitions(i);
  ASSERT_EQ(i.state(), vrrp::State::kMaster);
  auto nm = notes_of(snmp::NotificationKind::kNewMaster);
  ASSERT_EQ(nm.size(), 1u);
  EXPECT_EQ(nm[0].instance.new_master_reason, snmp::NewMasterReason::kPreempted);
}

TEST_F(SnmpBridgeTest, GrowingTtlErrorsRaiseOneProtoError) {
  Instance& i = add(cfg());
  i.start();
  i.on_packet(packet_from("192.0.2.3", 150));
  bridge->publish();  // the baseline
  EXPECT_TRUE(notes_of(snmp::NotificationKind::kProtoError).empty());
  i.on_packet(packet_from("192.0.2.3", 150, 64));  // crossed a router: TTL 64
  bridge->publish();
  bridge->publish();  // nothing new: no second notification
  auto pe = notes_of(snmp::NotificationKind::kProtoError);
  ASSERT_EQ(pe.size(), 1u);
  EXPECT_EQ(pe[0].instance.proto_err_reason, snmp::ProtoErrReason::kIpTtlError);
  EXPECT_EQ(sink->snapshots.back().instances[0].proto_err_reason, snmp::ProtoErrReason::kIpTtlError);
  EXPECT_EQ(sink->snapshots.back().instances[0].ttl_errors, 1u);
}

TEST_F(SnmpBridgeTest, LinkDownGivesInstanceFaultWithTheReason) {
  Instance& i = add(cfg());
  i.start();
  links["eth0"].up = false;
  i.on_link_change("eth0");
  forward_transitions(i);
  ASSERT_EQ(i.state(), vrrp::State::kFault);
  auto f = notes_of(snmp::NotificationKind::kInstanceFault);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].instance.state, "FAULT");
  EXPECT_NE(f[0].text.find("eth0"), std::string::npos) << f[0].text;
}

TEST_F(SnmpBridgeTest, ResyncFinishedCarriesTheStateItsEventsAnnounced) {
  // No replication service: the row comes from the change events alone.
  bridge->on_replication_event("r0", "disk", "disk Inconsistent -> UpToDate", {{"from", "Inconsistent"}, {"to", "UpToDate"}});
  bridge->on_replication_event("r0", "replication", "replication SyncTarget -> Established",
                               {{"from", "SyncTarget"}, {"to", "Established"}});
  auto r = notes_of(snmp::NotificationKind::kResyncFinished);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].resource.name, "r0");
  EXPECT_EQ(r[0].resource.disk, "UpToDate");
  EXPECT_EQ(r[0].resource.replication, "Established");
  EXPECT_EQ(r[0].resource.out_of_sync_kib, 0u);
}

TEST_F(SnmpBridgeTest, DownForgetsTheStateOfEarlierEvents) {
  bridge->on_replication_event("r0", "disk", "disk Inconsistent -> UpToDate", {{"from", "Inconsistent"}, {"to", "UpToDate"}});
  bridge->on_replication_event("r0", "down", "r0 is down", {});
  bridge->promotion_refused("r0", "primary refused: r0 is down");
  auto p = notes_of(snmp::NotificationKind::kPromotionRefused);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].resource.disk, "");  // no view and no events: unknown, not the old UpToDate
  EXPECT_EQ(p[0].text, "primary refused: r0 is down");
}

TEST_F(SnmpBridgeTest, DiskErrorCountsFromTheEvent) {
  bridge->on_replication_event("r0", "io-error", "disk I/O error (3 in all; on_io_error passthrough): EIO",
                               {{"io_errors", 3}, {"policy", "passthrough"}});
  auto d = notes_of(snmp::NotificationKind::kDiskError);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].resource.io_errors, 3u);
  EXPECT_NE(d[0].text.find("on_io_error passthrough"), std::string::npos);
  EXPECT_TRUE(notes_of(snmp::NotificationKind::kResyncFinished).empty());
}

}  // namespace
}  // namespace vrrpd
