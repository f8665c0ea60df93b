// The VRRP state machine on a fake clock: timing formulas, every state x
// event pair (Kea-style grid with SCOPED_TRACE), preemption, sync-group
// forcing and maintenance.
#include "vrrpd/vrrp/virtual_router.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vrrpd::vrrp {
namespace {

using std::chrono::milliseconds;
using std::chrono::microseconds;
using Kind = Action::Kind;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

const TimePoint kT0 = TimePoint(std::chrono::hours(1000));

RouterParams params(int priority = 100, milliseconds interval = milliseconds(1000)) {
  RouterParams p;
  p.vrid = 51;
  p.base_priority = priority;
  p.advert_interval = interval;
  return p;
}

bool has(const std::vector<Action>& actions, Kind k) {
  return std::any_of(actions.begin(), actions.end(), [k](const Action& a) { return a.kind == k; });
}

int advert_priority(const std::vector<Action>& actions) {
  for (const auto& a : actions)
    if (a.kind == Kind::kSendAdvert) return a.priority;
  return -1;
}

ReceivedAdvert from(const char* src, int prio, milliseconds interval = milliseconds(1000)) {
  return ReceivedAdvert{ip(src), prio, interval};
}

// Puts a fresh router into `s` the way a running daemon gets there.
VirtualRouter router_in(State s, RouterParams p = params()) {
  VirtualRouter r(p);
  r.set_local_address(ip("192.0.2.2"));
  if (s == State::kInit) return r;
  r.startup(kT0);
  if (s == State::kMaster) r.on_timer(kT0 + r.master_down_interval());
  if (s == State::kFault) r.set_fault(kT0, true, "link down");
  EXPECT_EQ(r.state(), s);
  return r;
}

TEST(VirtualRouterTiming, SkewAndMasterDownFollowRfc5798) {
  VirtualRouter r(params(100, milliseconds(1000)));
  // (256-100)*1 s/256 = 609.375 ms; 3 s + skew.
  EXPECT_EQ(r.skew_time(), microseconds(609375));
  EXPECT_EQ(r.master_down_interval(), microseconds(3609375));
  VirtualRouter fast(params(100, milliseconds(10)));
  EXPECT_EQ(fast.master_down_interval(), microseconds(30000 + 6093));
}

TEST(VirtualRouterTiming, V2SkewIgnoresInterval) {
  auto p = params(100, milliseconds(3000));
  p.version = 2;
  VirtualRouter r(p);
  EXPECT_EQ(r.skew_time(), microseconds(609375));
  EXPECT_EQ(r.master_down_interval(), microseconds(9609375));
}

TEST(VirtualRouter, StartsAsBackupAndTakesOverExactlyAtMasterDown) {
  VirtualRouter r(params());
  auto a = r.startup(kT0);
  EXPECT_EQ(r.state(), State::kBackup);
  EXPECT_FALSE(has(a, Kind::kSendAdvert));
  ASSERT_TRUE(r.master_down_deadline());
  EXPECT_EQ(*r.master_down_deadline(), kT0 + r.master_down_interval());
  EXPECT_TRUE(r.on_timer(kT0 + r.master_down_interval() - microseconds(1)).empty());
  auto b = r.on_timer(kT0 + r.master_down_interval());
  EXPECT_EQ(r.state(), State::kMaster);
  // Advert first, then VIPs, then gratuitous ARP, then the state change.
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].kind, Kind::kSendAdvert);
  EXPECT_EQ(b[0].priority, 100);
  EXPECT_EQ(b[1].kind, Kind::kAddVips);
  EXPECT_EQ(b[2].kind, Kind::kSendGarp);
  EXPECT_EQ(b[3].kind, Kind::kStateChange);
  EXPECT_EQ(b[3].from, State::kBackup);
  EXPECT_EQ(b[3].to, State::kMaster);
}

TEST(VirtualRouter, AddressOwnerBecomesMasterAtOnce) {
  VirtualRouter r(params(255));
  auto a = r.startup(kT0);
  EXPECT_EQ(r.state(), State::kMaster);
  EXPECT_EQ(advert_priority(a), 255);
  EXPECT_TRUE(has(a, Kind::kSendGarp));
}

TEST(VirtualRouter, StartAsMasterSkipsTheWait) {
  auto p = params();
  p.start_as_master = true;
  VirtualRouter r(p);
  r.startup(kT0);
  r.on_timer(kT0);
  EXPECT_EQ(r.state(), State::kMaster);
}

TEST(VirtualRouter, MasterAdvertisesEveryIntervalWithoutDrift) {
  auto r = router_in(State::kMaster, params(100, milliseconds(10)));
  TimePoint deadline = *r.advert_deadline();
  for (int i = 0; i < 100; ++i) {
    auto a = r.on_timer(deadline + microseconds(300));  // each wake-up 0.3 ms late
    ASSERT_EQ(advert_priority(a), 100);
    EXPECT_EQ(*r.advert_deadline(), deadline + milliseconds(10));
    deadline = *r.advert_deadline();
  }
}

TEST(VirtualRouter, MasterDoesNotBurstAfterAStall) {
  auto r = router_in(State::kMaster);
  TimePoint late = *r.advert_deadline() + milliseconds(5500);
  auto a = r.on_timer(late);
  EXPECT_EQ(advert_priority(a), 100);
  EXPECT_EQ(*r.advert_deadline(), late + milliseconds(1000));
}

TEST(VirtualRouter, BackupHearingHigherPriorityStaysSilent) {
  auto r = router_in(State::kBackup);
  TimePoint t = kT0;
  for (int i = 0; i < 10; ++i) {
    t += milliseconds(1000);
    EXPECT_TRUE(r.on_timer(t).empty());
    EXPECT_TRUE(r.advert_received(t, from("192.0.2.1", 200)).empty());
  }
  EXPECT_EQ(r.state(), State::kBackup);
  EXPECT_EQ(r.master_address(), ip("192.0.2.1"));
  EXPECT_EQ(r.master_priority(), 200);
}

TEST(VirtualRouter, PriorityZeroMakesBackupTakeOverAfterSkewOnly) {
  auto r = router_in(State::kBackup);
  r.advert_received(kT0, from("192.0.2.1", 200));
  r.advert_received(kT0 + milliseconds(100), from("192.0.2.1", 0));
  EXPECT_EQ(*r.master_down_deadline(), kT0 + milliseconds(100) + r.skew_time());
  auto a = r.on_timer(kT0 + milliseconds(100) + r.skew_time());
  EXPECT_EQ(r.state(), State::kMaster);
  EXPECT_NE(a.back().reason.find("priority 0"), std::string::npos);
}

TEST(VirtualRouter, V3BackupAdoptsMasterInterval) {
  auto r = router_in(State::kBackup);
  r.advert_received(kT0, from("192.0.2.1", 200, milliseconds(100)));
  EXPECT_EQ(r.master_advert_interval(), milliseconds(100));
  // 3 x 100 ms + (256-100)/256 x 100 ms.
  EXPECT_EQ(*r.master_down_deadline(), kT0 + microseconds(300000 + 60937));
}

TEST(VirtualRouter, PreemptingBackupIgnoresLowerPriorityMaster) {
  auto r = router_in(State::kBackup, params(150));
  TimePoint t = kT0;
  r.advert_received(t, from("192.0.2.1", 100));  // does not reset the timer
  EXPECT_EQ(*r.master_down_deadline(), kT0 + r.master_down_interval());
  r.on_timer(kT0 + r.master_down_interval());
  EXPECT_EQ(r.state(), State::kMaster);
}

TEST(VirtualRouter, NopreemptBackupRespectsLowerPriorityMaster) {
  auto p = params(150);
  p.preempt = false;
  auto r = router_in(State::kBackup, p);
  for (int i = 1; i <= 10; ++i) {
    TimePoint t = kT0 + milliseconds(1000 * i);
    r.on_timer(t);
    r.advert_received(t, from("192.0.2.1", 100));
  }
  EXPECT_EQ(r.state(), State::kBackup);
}

TEST(VirtualRouter, PreemptDelayHoldsOffThenPreempts) {
  auto p = params(150);
  p.preempt_delay = milliseconds(5000);
  auto r = router_in(State::kBackup, p);
  TimePoint t = kT0;
  for (int i = 1; i <= 5; ++i) {  // within the delay: behave as nopreempt
    t = kT0 + milliseconds(1000 * i) - milliseconds(1);
    r.on_timer(t);
    r.advert_received(t, from("192.0.2.1", 100));
  }
  EXPECT_EQ(r.state(), State::kBackup);
  // After the delay, lower-priority adverts no longer reset the timer.
  for (int i = 6; i <= 10; ++i) {
    t = kT0 + milliseconds(1000 * i);
    r.on_timer(t);
    if (r.state() == State::kMaster) break;
    r.advert_received(t, from("192.0.2.1", 100));
  }
  EXPECT_EQ(r.state(), State::kMaster);
}

TEST(VirtualRouter, MasterStepsDownForHigherPriority) {
  auto r = router_in(State::kMaster);
  TimePoint t = kT0 + milliseconds(5000);
  auto a = r.advert_received(t, from("192.0.2.9", 200));
  EXPECT_EQ(r.state(), State::kBackup);
  EXPECT_TRUE(has(a, Kind::kRemoveVips));
  EXPECT_FALSE(has(a, Kind::kSendAdvert));  // no priority-0: the new master is there
  EXPECT_FALSE(r.advert_deadline());
  EXPECT_EQ(*r.master_down_deadline(), t + r.master_down_interval());
}

TEST(VirtualRouter, MasterIgnoresLowerPriority) {
  auto r = router_in(State::kMaster);
  EXPECT_TRUE(r.advert_received(kT0, from("192.0.2.9", 50)).empty());
  EXPECT_EQ(r.state(), State::kMaster);
}

TEST(VirtualRouter, EqualPriorityTieBrokenByHigherAddress) {
  auto r = router_in(State::kMaster);  // local 192.0.2.2
  EXPECT_TRUE(r.advert_received(kT0, from("192.0.2.1", 100)).empty());
  EXPECT_EQ(r.state(), State::kMaster);
  r.advert_received(kT0, from("192.0.2.3", 100));
  EXPECT_EQ(r.state(), State::kBackup);
}

TEST(VirtualRouter, MasterAnswersPriorityZeroWithAdvert) {
  auto r = router_in(State::kMaster);
  auto a = r.advert_received(kT0 + milliseconds(300), from("192.0.2.9", 0));
  EXPECT_EQ(advert_priority(a), 100);
  EXPECT_EQ(*r.advert_deadline(), kT0 + milliseconds(1300));
}

TEST(VirtualRouter, ShutdownOfMasterSendsPriorityZeroAndRemovesVips) {
  auto r = router_in(State::kMaster);
  auto a = r.shutdown(kT0);
  EXPECT_EQ(advert_priority(a), 0);
  EXPECT_TRUE(has(a, Kind::kRemoveVips));
  EXPECT_EQ(r.state(), State::kInit);
  EXPECT_EQ(r.next_deadline(), TimePoint::max());
}

TEST(VirtualRouter, PriorityChangeIsAdvertisedAtOnceByMaster) {
  auto r = router_in(State::kMaster);
  auto a = r.set_priority(kT0 + milliseconds(10), 50);
  EXPECT_EQ(advert_priority(a), 50);
  EXPECT_EQ(r.priority(), 50);
  auto b = router_in(State::kBackup);
  EXPECT_TRUE(b.set_priority(kT0, 50).empty());
}

TEST(VirtualRouter, PriorityIsClampedToValidRange) {
  auto r = router_in(State::kBackup);
  r.set_priority(kT0, -20);
  EXPECT_EQ(r.priority(), 1);
  r.set_priority(kT0, 400);
  EXPECT_EQ(r.priority(), 255);
}

TEST(VirtualRouter, MaintenanceHandsMastershipAwayAndHoldsOff) {
  auto r = router_in(State::kMaster);
  auto a = r.set_maintenance(kT0, true);
  EXPECT_EQ(advert_priority(a), 0);
  EXPECT_EQ(r.state(), State::kBackup);
  EXPECT_TRUE(r.on_timer(kT0 + std::chrono::hours(1)).empty());
  EXPECT_EQ(r.state(), State::kBackup);
  TimePoint t = kT0 + std::chrono::hours(1);
  r.set_maintenance(t, false);
  r.on_timer(t + r.master_down_interval());
  EXPECT_EQ(r.state(), State::kMaster);
}

// The grid: every state x every event, with the state it must end in.
struct GridCase {
  State start;
  const char* event;
  State expected;
};

std::vector<Action> apply(VirtualRouter& r, const std::string& event) {
  const TimePoint t = kT0 + milliseconds(100);
  if (event == "startup") return r.startup(t);
  if (event == "shutdown") return r.shutdown(t);
  if (event == "advert-higher") return r.advert_received(t, from("192.0.2.1", 200));
  if (event == "advert-lower") return r.advert_received(t, from("192.0.2.1", 50));
  if (event == "advert-zero") return r.advert_received(t, from("192.0.2.1", 0));
  if (event == "timer-far") return r.on_timer(t + std::chrono::hours(1));
  if (event == "fault-on") return r.set_fault(t, true, "link down");
  if (event == "fault-off") return r.set_fault(t, false, "link up");
  if (event == "maintenance-on") return r.set_maintenance(t, true);
  if (event == "force-master") return r.force_state(t, State::kMaster, "group");
  if (event == "force-backup") return r.force_state(t, State::kBackup, "group");
  if (event == "force-fault") return r.force_state(t, State::kFault, "group");
  ADD_FAILURE() << "unknown event " << event;
  return {};
}

TEST(VirtualRouterGrid, EveryStateAndEvent) {
  const std::vector<GridCase> cases = {
      {State::kInit, "startup", State::kBackup},
      {State::kInit, "shutdown", State::kInit},
      {State::kInit, "advert-higher", State::kInit},
      {State::kInit, "advert-zero", State::kInit},
      {State::kInit, "timer-far", State::kInit},
      {State::kInit, "fault-on", State::kInit},
      {State::kInit, "force-master", State::kInit},
      {State::kBackup, "startup", State::kBackup},
      {State::kBackup, "shutdown", State::kInit},
      {State::kBackup, "advert-higher", State::kBackup},
      {State::kBackup, "advert-lower", State::kBackup},
      {State::kBackup, "advert-zero", State::kBackup},
      {State::kBackup, "timer-far", State::kMaster},
      {State::kBackup, "fault-on", State::kFault},
      {State::kBackup, "fault-off", State::kBackup},
      {State::kBackup, "maintenance-on", State::kBackup},
      {State::kBackup, "force-master", State::kMaster},
      {State::kBackup, "force-backup", State::kBackup},
      {State::kBackup, "force-fault", State::kFault},
      {State::kMaster, "startup", State::kMaster},
      {State::kMaster, "shutdown", State::kInit},
      {State::kMaster, "advert-higher", State::kBackup},
      {State::kMaster, "advert-lower", State::kMaster},
      {State::kMaster, "advert-zero", State::kMaster},
      {State::kMaster, "timer-far", State::kMaster},
      {State::kMaster, "fault-on", State::kFault},
      {State::kMaster, "fault-off", State::kMaster},
      {State::kMaster, "maintenance-on", State::kBackup},
      {State::kMaster, "force-master", State::kMaster},
      {State::kMaster, "force-backup", State::kBackup},
      {State::kMaster, "force-fault", State::kFault},
      {State::kFault, "startup", State::kFault},
      {State::kFault, "shutdown", State::kInit},
      {State::kFault, "advert-higher", State::kFault},
      {State::kFault, "advert-zero", State::kFault},
      {State::kFault, "timer-far", State::kFault},
      {State::kFault, "fault-on", State::kFault},
      {State::kFault, "fault-off", State::kBackup},
      {State::kFault, "maintenance-on", State::kFault},
      {State::kFault, "force-master", State::kFault},  // own fault wins over the group
      {State::kFault, "force-backup", State::kFault},
      {State::kFault, "force-fault", State::kFault},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(state_name(c.start)) + " + " + c.event);
    auto r = router_in(c.start);
    auto actions = apply(r, c.event);
    EXPECT_EQ(r.state(), c.expected);
    // A state change is reported exactly when the state changed.
    auto changes = std::count_if(actions.begin(), actions.end(),
                                 [](const Action& a) { return a.kind == Kind::kStateChange; });
    EXPECT_EQ(changes, c.start == c.expected ? 0 : 1);
    // VIPs are held exactly in MASTER.
    if (c.start != State::kMaster && c.expected == State::kMaster) {
      EXPECT_TRUE(has(actions, Kind::kAddVips));
    }
    if (c.start == State::kMaster && c.expected != State::kMaster) {
      EXPECT_TRUE(has(actions, Kind::kRemoveVips));
    }
    // Only a master runs the advert timer; only a backup the master-down timer.
    EXPECT_EQ(r.advert_deadline().has_value(), r.state() == State::kMaster);
    if (r.state() != State::kBackup) {
      EXPECT_FALSE(r.master_down_deadline().has_value());
    }
  }
}

TEST(VirtualRouterGrid, LeavingMasterForFaultOrGroupSendsPriorityZero) {
  for (const char* ev : {"fault-on", "force-backup", "force-fault", "maintenance-on", "shutdown"}) {
    SCOPED_TRACE(ev);
    auto r = router_in(State::kMaster);
    EXPECT_EQ(advert_priority(apply(r, ev)), 0);
  }
}

}  // namespace
}  // namespace vrrpd::vrrp
