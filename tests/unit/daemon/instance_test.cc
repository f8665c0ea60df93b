// The run-time Instance with recording fakes for sockets, netlink and
// GARP/NA, on a fake clock: what actually goes out, when, and which VIPs are
// added or removed.
#include "vrrpd/daemon/instance.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/daemon/instance_fixture.h"

namespace vrrpd {
namespace {

using std::chrono::milliseconds;
using test_support::InstanceTest;
using test_support::ip;

TEST_F(InstanceTest, AloneBecomesMasterAndAdvertisesOnSchedule) {
  auto inst = make(cfg());
  const TimePoint t0 = clock.now();
  inst->start();
  EXPECT_EQ(inst->state(), vrrp::State::kBackup);
  run_for(milliseconds(1000));
  ASSERT_EQ(inst->state(), vrrp::State::kMaster);
  // Became MASTER at the master-down interval: 300 ms + 156/256 x 100 ms.
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].at - t0, std::chrono::microseconds(360937));
  // Then one advert every 100 ms, from the primary address, to the group.
  for (std::size_t i = 1; i < sent.size(); ++i) EXPECT_EQ(sent[i].at - sent[i - 1].at, milliseconds(100));
  EXPECT_EQ(sent.size(), 7u);  // at 361, 461, ..., 961 ms
  EXPECT_EQ(sent[0].src, ip("192.0.2.2"));
  EXPECT_EQ(sent[0].dst, ip("224.0.0.18"));
  EXPECT_EQ(sent[0].advert.priority, 100);
  EXPECT_EQ(sent[0].advert.addresses, std::vector<IpAddress>{ip("192.0.2.100")});
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
  ASSERT_EQ(transitions.size(), 2u);
  EXPECT_EQ(transitions[1].to, vrrp::State::kMaster);
}

TEST_F(InstanceTest, GarpBurstThenSecondBurstAfterDelay) {
  auto c = cfg();
  c.garp.master_repeat = 5;
  c.garp.master_delay = milliseconds(5000);
  auto inst = make(c);
  inst->start();
  run_for(milliseconds(500));
  ASSERT_EQ(inst->state(), vrrp::State::kMaster);
  EXPECT_EQ(announcer.sent.size(), 5u);
  run_for(milliseconds(5000));
  EXPECT_EQ(announcer.sent.size(), 10u);
  EXPECT_EQ(announcer.sent[5].first - announcer.sent[0].first, milliseconds(5000));
  EXPECT_EQ(inst->stats().garp_sent, 10u);
}

TEST_F(InstanceTest, GarpRefreshRepeatsWhileMasterAndStopsOnLeaving) {
  auto c = cfg();
  c.garp.master_repeat = 2;
  c.garp.master_delay = milliseconds(0);
  c.garp.master_refresh = milliseconds(2000);
  c.garp.master_refresh_repeat = 3;
  c.garp.interval = milliseconds(50);
  auto inst = make(c);
  inst->start();
  run_for(milliseconds(500));
  ASSERT_EQ(inst->state(), vrrp::State::kMaster);
  ASSERT_EQ(announcer.sent.size(), 2u);
  EXPECT_EQ(announcer.sent[1].first - announcer.sent[0].first, milliseconds(50));  // garp_interval
  run_for(milliseconds(4200));  // two refreshes of 3 packets each
  ASSERT_EQ(announcer.sent.size(), 8u);
  EXPECT_EQ(announcer.sent[2].first - announcer.sent[0].first, milliseconds(2000));
  // A better master appears and keeps advertising: no refresh for a BACKUP.
  for (int i = 0; i < 100; ++i) {
    inst->on_packet(packet_from("192.0.2.9", 200));
    run_for(milliseconds(100));
  }
  EXPECT_EQ(inst->state(), vrrp::State::kBackup);
  EXPECT_EQ(announcer.sent.size(), 8u);
}

TEST_F(InstanceTest, HigherPriorityAdvertMakesMasterStepDownAndRemoveVips) {
  auto inst = make(cfg());
  inst->start();
  run_for(milliseconds(500));
  ASSERT_EQ(inst->state(), vrrp::State::kMaster);
  inst->on_packet(packet_from("192.0.2.9", 200));
  EXPECT_EQ(inst->state(), vrrp::State::kBackup);
  EXPECT_TRUE(addresses.present.empty());
  EXPECT_EQ(addresses.log.back(), "remove 192.0.2.100/24 eth0");
  // No more adverts from us while the better master speaks.
  const auto before = sent.size();
  for (int i = 0; i < 20; ++i) {
    run_for(milliseconds(100));
    inst->on_packet(packet_from("192.0.2.9", 200));
  }
  EXPECT_EQ(sent.size(), before);
  EXPECT_EQ(inst->stats().adverts_received, 21u);
}

TEST_F(InstanceTest, PacketsFailingChecksAreCountedAndIgnored) {
  auto inst = make(cfg());
  inst->start();
  inst->on_packet(packet_from("192.0.2.9", 200, /*ttl=*/64));
  auto corrupt = packet_from("192.0.2.9", 200);
  corrupt.payload[2] ^= 1;
  inst->on_packet(corrupt);
  EXPECT_EQ(inst->stats().ttl_errors, 1u);
  EXPECT_EQ(inst->stats().checksum_errors, 1u);
  EXPECT_EQ(inst->stats().adverts_received, 0u);
  run_for(milliseconds(500));
  EXPECT_EQ(inst->state(), vrrp::State::kMaster);  // the bad packets did not hold it back
}

TEST_F(InstanceTest, TrackedInterfaceDownFaultsWithPriorityZeroAdvert) {
  auto c = cfg();
  c.track_interfaces.push_back({"eth1", 0, {}});
  auto inst = make(c);
  inst->start();
  run_for(milliseconds(500));
  ASSERT_EQ(inst->state(), vrrp::State::kMaster);
  links["eth1"].up = false;
  inst->on_link_change("eth1");
  EXPECT_EQ(inst->state(), vrrp::State::kFault);
  EXPECT_EQ(sent.back().advert.priority, 0);
  EXPECT_TRUE(addresses.present.empty());
  EXPECT_EQ(transitions.back().reason, "tracked interface eth1 is down");
  links["eth1"].up = true;
  inst->on_link_change("eth1");
  EXPECT_EQ(inst->state(), vrrp::State::kBackup);
}

TEST_F(InstanceTest, TrackedInterfaceWeightChangesAdvertisedPriority) {
  auto c = cfg();
  c.priority = 200;
  c.track_interfaces.push_back({"eth1", -150, {}});
  auto inst = make(c);
  inst->start();
  run_for(milliseconds(500));
  links["eth1"].up = false;
  inst->on_link_change("eth1");
  EXPECT_EQ(inst->priority(), 50);
  EXPECT_EQ(sent.back().advert.priority, 50);  // advertised at once
  EXPECT_EQ(inst->state(), vrrp::State::kMaster);
}

TEST_F(InstanceTest, UnicastSendsToEachPeerAndAcceptsOnlyPeers) {
  auto c = cfg();
  c.unicast_src = ip("192.0.2.2");
  c.unicast_peers = {ip("192.0.2.3"), ip("192.0.2.4")};
  auto inst = make(c);
  inst->start();
  inst->on_packet(packet_from("192.0.2.9", 200));  // not a peer: ignored
  EXPECT_EQ(inst->stats().adverts_received, 0u);
  run_for(milliseconds(400));
  ASSERT_EQ(inst->state(), vrrp::State::kMaster);
  ASSERT_GE(sent.size(), 2u);
  EXPECT_EQ(sent[0].dst, ip("192.0.2.3"));
  EXPECT_EQ(sent[1].dst, ip("192.0.2.4"));
  EXPECT_EQ(sent[0].at, sent[1].at);
}

TEST_F(InstanceTest, V2AdvertCarriesPasswordAndSeconds) {
  auto c = cfg();
  c.version = 2;
  c.advert_interval = milliseconds(1000);
  c.auth_pass = "secret";
  auto inst = make(c);
  inst->start();
  run_for(milliseconds(5000));
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].advert.version, 2);
  EXPECT_EQ(sent[0].advert.auth_type, vrrp::kAuthSimplePassword);
  EXPECT_EQ(sent[0].advert.auth_data, vrrp::auth_data_for("secret"));
  EXPECT_EQ(sent[0].advert.advert_interval, milliseconds(1000));
}

TEST_F(InstanceTest, StopSendsPriorityZeroAndRemovesVips) {
  auto inst = make(cfg());
  inst->start();
  run_for(milliseconds(500));
  inst->stop();
  EXPECT_EQ(sent.back().advert.priority, 0);
  EXPECT_TRUE(addresses.present.empty());
  EXPECT_EQ(inst->state(), vrrp::State::kInit);
  EXPECT_EQ(transitions.back().reason, "shutdown");
  const auto n = sent.size();
  run_for(milliseconds(1000));
  EXPECT_EQ(sent.size(), n);  // timers are gone
}

TEST_F(InstanceTest, MissingInterfaceMeansFaultUntilItAppears) {
  auto c = cfg();
  c.interface = "eth9";
  auto inst = make(c);
  inst->start();
  EXPECT_EQ(inst->state(), vrrp::State::kFault);
  EXPECT_NE(inst->to_json()["fault_reason"].get<std::string>().find("does not exist"), std::string::npos);
  links["eth9"] = iface("eth9", 9, true, {"192.0.2.5/24"});
  inst->on_link_change("eth9");
  EXPECT_EQ(inst->state(), vrrp::State::kBackup);
}

}  // namespace
}  // namespace vrrpd
