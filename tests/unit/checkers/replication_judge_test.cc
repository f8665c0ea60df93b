// The "replication" check's judgement: each condition against the states
// that must fail it, and the probe's plumbing (answers later, never after
// cancel) on a fake clock.
#include "checkers/replication_probe.h"

#include <gtest/gtest.h>

namespace vrrpd::checkers {
namespace {

using replication::ConnectionState;
using replication::DiskState;
using replication::ReplicationState;
using replication::ResourceStatus;
using replication::Role;

ResourceStatus healthy() {
  ResourceStatus s;
  s.name = "r0";
  s.role = Role::kSecondary;
  s.disk = DiskState::kUpToDate;
  s.connection = ConnectionState::kConnected;
  s.replication = ReplicationState::kEstablished;
  return s;
}

const std::vector<std::string> kAll{"up-to-date", "connected", "established", "no-split-brain"};

TEST(ReplicationJudge, HealthyWhenEveryConditionHolds) {
  auto r = judge_replication(healthy(), "r0", kAll);
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.reason, "Secondary UpToDate Connected Established");
}

TEST(ReplicationJudge, ResourceNotUpFails) {
  auto r = judge_replication(std::nullopt, "r0", {"up-to-date"});
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.reason, "resource r0 is not up");
}

TEST(ReplicationJudge, OutdatedOrInconsistentDiskFailsUpToDate) {
  for (DiskState d : {DiskState::kOutdated, DiskState::kInconsistent, DiskState::kDiskless, DiskState::kConsistent}) {
    auto s = healthy();
    s.disk = d;
    auto r = judge_replication(s, "r0", {"up-to-date"});
    EXPECT_FALSE(r.healthy) << replication::to_string(d);
    EXPECT_EQ(r.reason, std::string("disk ") + replication::to_string(d) + ", expected UpToDate");
    // The same state passes when only the link is required.
    EXPECT_TRUE(judge_replication(s, "r0", {"connected"}).healthy);
  }
}

TEST(ReplicationJudge, ConnectingFailsConnectedAndEstablished) {
  auto s = healthy();
  s.connection = ConnectionState::kConnecting;
  s.replication = ReplicationState::kOff;
  EXPECT_EQ(judge_replication(s, "r0", {"connected"}).reason, "connection Connecting, expected Connected");
  EXPECT_EQ(judge_replication(s, "r0", {"established"}).reason, "connection Connecting, expected Connected");
  EXPECT_TRUE(judge_replication(s, "r0", {"up-to-date", "no-split-brain"}).healthy);
}

TEST(ReplicationJudge, ResyncFailsEstablishedOnly) {
  auto s = healthy();
  s.replication = ReplicationState::kSyncSource;
  EXPECT_EQ(judge_replication(s, "r0", {"established"}).reason, "replication SyncSource, expected Established");
  EXPECT_TRUE(judge_replication(s, "r0", {"connected"}).healthy);
}

TEST(ReplicationJudge, OnlineVerifyOnEitherSideIsEstablished) {
  auto s = healthy();
  for (ReplicationState r : {ReplicationState::kVerifyS, ReplicationState::kVerifyT}) {
    s.replication = r;
    EXPECT_TRUE(judge_replication(s, "r0", {"established"}).healthy) << to_string(r);
  }
}

TEST(ReplicationJudge, SplitBrainFailsFirstWithItsText) {
  auto s = healthy();
  s.split_brain = true;
  s.split_brain_text = "after-sb-0pri disconnect: both sides changed data";
  auto r = judge_replication(s, "r0", kAll);
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.reason, "split brain: after-sb-0pri disconnect: both sides changed data");
  EXPECT_TRUE(judge_replication(s, "r0", {"up-to-date"}).healthy);
}

TEST(ReplicationProbe, AnswersOnTheNextLoopTurnAndNotAfterCancel) {
  FakeClock clock;
  EventLoop loop(clock);
  config::Check c;
  c.name = "data";
  c.kind = "replication";
  c.resource = "r0";
  c.require = {"up-to-date"};
  auto state = healthy();
  ReplicationProbe probe(loop, c, [&](const std::string& name) -> std::optional<ResourceStatus> {
    if (name == "r0") return state;
    return std::nullopt;
  });
  EXPECT_EQ(probe.target(), "resource r0");
  std::optional<ProbeResult> got;
  probe.start([&](ProbeResult r) { got = r; });
  EXPECT_FALSE(got);  // never from inside start()
  loop.run_once(std::chrono::milliseconds(0));
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->healthy);
  got.reset();
  state.disk = DiskState::kOutdated;
  probe.start([&](ProbeResult r) { got = r; });
  probe.cancel();
  loop.run_once(std::chrono::milliseconds(0));
  EXPECT_FALSE(got);
  probe.start([&](ProbeResult r) { got = r; });
  loop.run_once(std::chrono::milliseconds(0));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->reason, "disk Outdated, expected UpToDate");
}

}  // namespace
}  // namespace vrrpd::checkers
