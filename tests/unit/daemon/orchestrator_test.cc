// Failover with data on a fake clock: an Instance gated by an Orchestrator
// (wired as the daemon wires them) and a recording fake of the replication
// side with scripted delays and failures. Proves the step order on takeover
// and release, that the VIPs wait for every step, and the rollback to FAULT
// on a failed or timed-out step.
#include "vrrpd/daemon/orchestrator.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/daemon/instance_fixture.h"

namespace vrrpd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using vrrp::State;

// Answers each command after a scripted delay (100 ms unless told), on the
// loop like the daemon's adapter; records what was asked and when. Plays
// the service side too, so one list shows the order across both.
class FakeResourceCommands final : public ResourceCommands, public ServiceCommands, public QuorumCommands {
 public:
  struct Outcome {
    Duration delay = milliseconds(100);
    bool ok = true;
    std::string text = "ok";
  };
  explicit FakeResourceCommands(EventLoop& loop) : loop_(loop) {}

  void run(const std::string& resource, const std::string& op, ResourceCommands::Done done) override {
    const std::string key = op + " " + resource;
    calls.push_back(key);
    call_times.push_back(loop_.now());
    Outcome o;
    if (auto it = scripts.find(key); it != scripts.end() && !it->second.empty()) {
      o = it->second.front();
      if (it->second.size() > 1) it->second.pop_front();  // the last outcome repeats
    }
    ++running;
    loop_.add_timer(loop_.now() + o.delay, [this, key, o, done] {
      --running;
      completed.push_back(key);
      done(o.ok, o.text);
    });
  }
  // Outcomes for "op resource", used in turn.
  void script(const std::string& key, std::vector<Outcome> outcomes) {
    scripts[key] = std::deque<Outcome>(outcomes.begin(), outcomes.end());
  }

  std::vector<std::string> calls, completed;
  std::vector<TimePoint> call_times;
  int running = 0;  // commands not answered yet
  std::map<std::string, std::deque<Outcome>> scripts;

 private:
  EventLoop& loop_;
};

struct JournalEvent {
  std::string what, text;
  nlohmann::json detail;
};

class FailoverTest : public test_support::InstanceTest {
 protected:
  FailoverTest() : commands(loop) {}

  // An instance owning r0 (with a mount point) and r1 (without), gated by
  // its orchestrator, started.
  void start(std::vector<OrchestratorSettings::OwnedResource> owned = {{"r0", true}, {"r1", false}},
             std::vector<std::string> services = {}, bool witness = false) {
    OrchestratorSettings s;
    s.instance = "VI_1";
    s.resources = std::move(owned);
    for (const auto& name : services) s.services.push_back({name, seconds(2), seconds(2)});
    s.witness = witness;
    s.takeover_timeout = seconds(1);
    s.release_timeout = seconds(1);
    s.fault_hold = seconds(10);
    instance = make(cfg());
    orchestrator = std::make_unique<Orchestrator>(
        loop, commands, s,
        OrchestratorHooks{[this] { instance->takeover_done(); },
                          [this](const std::string& reason) { instance->set_takeover_fault(reason); },
                          [this] { instance->clear_takeover_fault(); },
                          [this](const std::string& what, const std::string& text, nlohmann::json detail) {
                            journal.push_back({what, text, std::move(detail)});
                          }},
        &commands, &commands);
    Orchestrator* o = orchestrator.get();
    instance->set_gate({[o] {
                          o->master_wanted();
                          return false;
                        },
                        [o] { o->master_left(); }});
    started_at = clock.now();
    instance->start();
  }

  // Alone, the instance becomes MASTER 360.9 ms after start (3 x 100 ms + skew).
  void run_until_master() {
    run_for(milliseconds(361) - (clock.now() - started_at));
    ASSERT_EQ(instance->state(), State::kMaster);
  }

  // A higher-priority master appears: MASTER -> BACKUP.
  void peer_takes_over() { instance->on_packet(packet_from("192.0.2.9", 200)); }
  // Time passes while that master keeps advertising every 100 ms.
  void run_with_peer(Duration d) {
    const TimePoint until = clock.now() + d;
    while (clock.now() < until) {
      peer_takes_over();
      run_for(std::min<Duration>(milliseconds(100), until - clock.now()));
    }
  }

  std::vector<std::string> journal_whats() const {
    std::vector<std::string> out;
    for (const auto& e : journal) out.push_back(e.what);
    return out;
  }

  FakeResourceCommands commands;
  std::unique_ptr<Instance> instance;
  std::unique_ptr<Orchestrator> orchestrator;
  std::vector<JournalEvent> journal;
  TimePoint started_at;
};

using Calls = std::vector<std::string>;

TEST_F(FailoverTest, TakeoverPromotesAndMountsInOrderBeforeAddingTheVips) {
  start();
  run_until_master();
  // Adverts go out at once; the VIPs and GARP wait for the data.
  ASSERT_FALSE(sent.empty());
  EXPECT_TRUE(instance->vips_held());
  EXPECT_TRUE(addresses.present.empty());
  EXPECT_EQ(commands.calls, Calls{"primary r0"});
  run_for(milliseconds(150));
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0"}));  // one at a time, after the previous
  EXPECT_TRUE(addresses.present.empty());
  EXPECT_TRUE(announcer.sent.empty());
  const std::size_t adverts_during = sent.size();
  run_for(milliseconds(160));  // primary r1 done at 300 ms after MASTER
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0", "primary r1"}));
  EXPECT_GT(sent.size(), adverts_during);  // still advertising every 100 ms
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
  EXPECT_FALSE(announcer.sent.empty());
  EXPECT_FALSE(instance->vips_held());
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kActive);
  EXPECT_EQ(commands.call_times[1] - commands.call_times[0], milliseconds(100));
  EXPECT_EQ(commands.call_times[2] - commands.call_times[1], milliseconds(100));
  ASSERT_FALSE(journal.empty());
  EXPECT_EQ(journal.back().what, "takeover-done");
  EXPECT_EQ(journal.back().text, "takeover done in 300 ms (promote r0 100 ms, mount r0 100 ms, promote r1 100 ms)");
  EXPECT_EQ(journal.back().detail["duration_ms"], 300);
}

TEST_F(FailoverTest, ReleaseUnmountsAndDemotesInReverseAfterTheVipsAreGone) {
  start();
  run_until_master();
  run_for(seconds(1));
  ASSERT_EQ(orchestrator->phase(), Orchestrator::Phase::kActive);
  commands.calls.clear();
  peer_takes_over();
  EXPECT_EQ(instance->state(), State::kBackup);
  EXPECT_TRUE(addresses.present.empty());  // the VIPs first
  EXPECT_EQ(commands.calls, Calls{"secondary r1"});
  run_with_peer(seconds(1));
  EXPECT_EQ(commands.calls, (Calls{"secondary r1", "umount r0", "secondary r0"}));
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kReleased);
  // released -> takeover -> active -> release -> released
  EXPECT_EQ(orchestrator->to_json()["transitions"], 4);
  EXPECT_EQ(journal.back().what, "release-done");
  EXPECT_EQ(journal.back().text, "release done in 300 ms (demote r1 100 ms, unmount r0 100 ms, demote r0 100 ms)");
}

TEST_F(FailoverTest, FailingMountUndoesThePromoteAndFaultsWithTheReason) {
  commands.script("mount r0", {{milliseconds(50), false, "mount: wrong fs type, bad superblock on /dev/loop0"}});
  start();
  run_until_master();
  run_for(milliseconds(500));
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0", "secondary r0"}));
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_EQ(instance->to_json()["fault_reason"],
            "takeover failed: mount r0: mount: wrong fs type, bad superblock on /dev/loop0");
  EXPECT_EQ(transitions.back().reason, "takeover failed: mount r0: mount: wrong fs type, bad superblock on /dev/loop0");
  // The peer takes over at once: a priority-0 advert went out.
  EXPECT_EQ(sent.back().advert.priority, 0);
  EXPECT_TRUE(addresses.log.empty());  // never added, so never removed
  EXPECT_TRUE(announcer.sent.empty());
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kFaultHold);
  auto whats = journal_whats();
  EXPECT_NE(std::find(whats.begin(), whats.end(), "takeover-failed"), whats.end());
  EXPECT_EQ(whats.back(), "rollback-done");
}

TEST_F(FailoverTest, StepTimeoutFaultsAtOnceButUndoesOnlyAfterTheLateResult) {
  commands.script("primary r0", {{seconds(5), true, "r0 is Primary"}});
  start();
  run_until_master();
  run_for(milliseconds(999));
  EXPECT_EQ(instance->state(), State::kMaster);
  run_for(milliseconds(2));
  // Timed out: FAULT now, so the peer can take over...
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_EQ(instance->to_json()["fault_reason"], "takeover failed: primary r0: timed out after 1000 ms");
  EXPECT_EQ(orchestrator->to_json()["display"].get<std::string>().rfind("rollback: primary r0 (1.0 s, timed out", 0), 0u)
      << orchestrator->to_json().dump();
  // ...but nothing else touches r0 while the promote still runs.
  run_for(seconds(3));
  EXPECT_EQ(commands.calls, Calls{"primary r0"});
  run_for(milliseconds(1100));
  // It succeeded late: undone.
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "secondary r0"}));
  EXPECT_EQ(commands.call_times[1] - commands.call_times[0], seconds(5));
  EXPECT_TRUE(addresses.log.empty());
}

TEST_F(FailoverTest, ReleaseDuringTakeoverWaitsForTheStepThenUndoesIt) {
  commands.script("primary r0", {{milliseconds(500), true, "r0 is Primary"}});
  start();
  run_until_master();
  run_for(milliseconds(200));
  peer_takes_over();
  EXPECT_EQ(instance->state(), State::kBackup);
  run_with_peer(milliseconds(299));
  EXPECT_EQ(commands.calls, Calls{"primary r0"});  // no overlap with the running promote
  run_with_peer(milliseconds(2));
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "secondary r0"}));  // the mount never started
  run_with_peer(seconds(1));
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kReleased);
  EXPECT_EQ(instance->state(), State::kBackup);
}

TEST_F(FailoverTest, LateCompletionAfterLeavingMasterAddsNoVip) {
  commands.script("mount r0", {{milliseconds(800), true, "r0 mounted"}});
  start({{"r0", true}});
  run_until_master();
  run_for(milliseconds(300));  // promote done, the mount runs
  peer_takes_over();
  run_with_peer(seconds(2));
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0", "umount r0", "secondary r0"}));
  EXPECT_TRUE(addresses.log.empty());
  EXPECT_TRUE(announcer.sent.empty());
  EXPECT_FALSE(instance->vips_held());
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kReleased);
}

TEST_F(FailoverTest, FaultHoldEndsInBackupAndTheNextElectionTriesAgain) {
  commands.script("primary r0", {{milliseconds(100), false, "primary refused: disk is Outdated, not UpToDate"},
                                 {milliseconds(100), true, "r0 is Primary"}});
  start({{"r0", false}});
  run_until_master();
  run_for(milliseconds(200));
  ASSERT_EQ(instance->state(), State::kFault);
  const TimePoint failed_at = started_at + std::chrono::microseconds(460937);  // MASTER + 100 ms
  run_for(seconds(9));
  EXPECT_EQ(instance->state(), State::kFault);  // held
  run_for(failed_at + seconds(10) - clock.now() + milliseconds(1));
  EXPECT_EQ(instance->state(), State::kBackup);
  EXPECT_EQ(transitions.back().reason,
            "fault cleared (was: takeover failed: primary r0: primary refused: disk is Outdated, not UpToDate)");
  run_for(seconds(1));  // alone: MASTER again, and this time the promote works
  EXPECT_EQ(instance->state(), State::kMaster);
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "primary r0"}));
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
}

TEST_F(FailoverTest, RepeatedLocalFailuresDoubleTheHoldAndASuccessResetsIt) {
  const std::string bad = "mount: wrong fs type, bad superblock on /dev/loop0";
  commands.script("mount r0", {{milliseconds(50), false, bad}, {milliseconds(50), false, bad},
                               {milliseconds(50), true, "mounted"}, {milliseconds(50), false, bad}});
  start({{"r0", true}});
  auto fault_and_hold = [&]() -> Duration {
    // Runs until this takeover failed, then measures how long FAULT holds.
    while (instance->state() != State::kFault) run_for(milliseconds(10));
    const TimePoint failed = clock.now();
    while (instance->state() == State::kFault) run_for(milliseconds(10));
    return clock.now() - failed;
  };
  run_until_master();
  const Duration first = fault_and_hold();
  const Duration second = fault_and_hold();
  EXPECT_GE(first, seconds(10));
  EXPECT_LT(first, milliseconds(10100));
  EXPECT_GE(second, seconds(20));  // the second failure in a row: twice the hold
  EXPECT_LT(second, milliseconds(20100));
  EXPECT_EQ(journal.back().what, "fault-hold-over");
  // The third takeover works; it resets the count.
  while (orchestrator->phase() != Orchestrator::Phase::kActive) run_for(milliseconds(10));
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
  peer_takes_over();                 // MASTER -> BACKUP: release
  run_with_peer(seconds(1));
  run_for(seconds(4));               // the peer went quiet: MASTER again, and the mount fails once more
  const Duration after_success = fault_and_hold();
  EXPECT_LT(after_success, milliseconds(10100));
  auto failed = std::find_if(journal.rbegin(), journal.rend(), [](const JournalEvent& e) { return e.what == "takeover-failed"; });
  ASSERT_NE(failed, journal.rend());
  EXPECT_EQ(failed->detail["failures_in_a_row"], 1);
  EXPECT_EQ(failed->detail["hold_ms"], 10000);
}

TEST_F(FailoverTest, WaitingForThePeerDoesNotLengthenTheHold) {
  // Passing refusals (the peer still Primary) that time out are not this
  // node's fault: every hold stays fault_hold.
  commands.script("primary r0", {{milliseconds(10), false, "primary refused: the peer is Primary (dual-primary is not supported)"}});
  start({{"r0", false}});
  run_until_master();
  for (int i = 0; i < 3; ++i) {
    while (instance->state() != State::kFault) run_for(milliseconds(10));
    const TimePoint failed = clock.now();
    while (instance->state() == State::kFault) run_for(milliseconds(10));
    EXPECT_LT(clock.now() - failed, milliseconds(10100)) << "hold " << i;
  }
  auto failed = std::find_if(journal.rbegin(), journal.rend(), [](const JournalEvent& e) { return e.what == "takeover-failed"; });
  ASSERT_NE(failed, journal.rend());
  EXPECT_EQ(failed->detail["failures_in_a_row"], 0);
}

TEST_F(FailoverTest, PromoteRefusedWhileThePeerIsStillPrimaryIsAskedAgain) {
  const std::string refused = "primary refused: the peer is Primary (dual-primary is not supported)";
  commands.script("primary r0", {{milliseconds(10), false, refused},
                                 {milliseconds(10), false, refused},
                                 {milliseconds(10), true, "r0 is Primary"}});
  start({{"r0", false}});
  run_until_master();
  run_for(milliseconds(600));
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "primary r0", "primary r0"}));
  EXPECT_EQ(commands.call_times[1] - commands.call_times[0], milliseconds(260));  // 10 ms answer + 250 ms
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kActive);
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
  auto whats = journal_whats();
  EXPECT_EQ(std::count(whats.begin(), whats.end(), "step-retry"), 1);  // said once, not per retry
}

TEST_F(FailoverTest, PeerThatStaysPrimaryMakesTheTakeoverTimeOut) {
  commands.script("primary r0", {{milliseconds(10), false, "primary refused: the peer is Primary (dual-primary is not supported)"}});
  start({{"r0", false}});
  run_until_master();
  run_for(milliseconds(1100));
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_EQ(instance->to_json()["fault_reason"],
            "takeover failed: primary r0: timed out after 1000 ms (last answer: primary refused: the peer is "
            "Primary (dual-primary is not supported))");
  EXPECT_EQ(commands.running, 0);
  // Nothing was acquired, so nothing to undo.
  EXPECT_EQ(std::count(commands.calls.begin(), commands.calls.end(), "secondary r0"), 0);
}

TEST_F(FailoverTest, ReleaseFailureIsReportedAndTheResourceIsLeftAlone) {
  commands.script("umount r0", {{milliseconds(100), false, "umount: /srv/data: still in use by sh (pid 42)"}});
  start({{"r0", true}});
  run_until_master();
  run_for(seconds(1));
  peer_takes_over();
  run_with_peer(seconds(2));
  // No demote: it would be refused while mounted, and it must not hide the cause.
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0", "umount r0"}));
  EXPECT_EQ(instance->state(), State::kBackup);
  auto failed = std::find_if(journal.begin(), journal.end(), [](const JournalEvent& e) { return e.what == "release-failed"; });
  ASSERT_NE(failed, journal.end());
  EXPECT_EQ(failed->text, "release failed: umount r0: umount: /srv/data: still in use by sh (pid 42)");
  EXPECT_EQ(orchestrator->to_json()["last_error"], failed->text);
}

TEST_F(FailoverTest, EveryStepIsJournaledWithItsDuration) {
  commands.script("mount r0", {{milliseconds(900), true, "r0 mounted on /srv/data"}});
  start({{"r0", true}});
  run_until_master();
  run_for(milliseconds(600));
  EXPECT_EQ(orchestrator->to_json()["display"], "takeover: mount r0 (0.5 s)");
  EXPECT_EQ(instance->to_json()["vips_held"], true);
  run_for(seconds(1));
  std::vector<std::string> steps;
  for (const auto& e : journal)
    if (e.what == "step") steps.push_back(e.detail["op"].get<std::string>() + " " + std::to_string(e.detail["duration_ms"].get<long long>()));
  EXPECT_EQ(steps, (std::vector<std::string>{"primary 100", "mount 900"}));
}

TEST_F(FailoverTest, StopReleasesLikeLeavingMaster) {
  start({{"r0", true}});
  run_until_master();
  run_for(seconds(1));
  commands.calls.clear();
  instance->stop();
  EXPECT_TRUE(orchestrator->busy());
  run_for(seconds(1));
  EXPECT_EQ(commands.calls, (Calls{"umount r0", "secondary r0"}));
  EXPECT_FALSE(orchestrator->busy());
}

TEST_F(FailoverTest, ServicesStartAfterTheMountsAndBeforeTheVipsAndStopBeforeTheUnmount) {
  start({{"r0", true}}, {"db", "web"});
  run_until_master();
  run_for(milliseconds(350));
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0", "start db", "start web"}));
  EXPECT_TRUE(addresses.present.empty());  // web is still starting
  run_for(milliseconds(60));
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
  EXPECT_EQ(orchestrator->to_json()["services_running"], (nlohmann::json{"db", "web"}));
  EXPECT_EQ(journal.back().text,
            "takeover done in 400 ms (promote r0 100 ms, mount r0 100 ms, start db 100 ms, start web 100 ms)");
  commands.calls.clear();
  peer_takes_over();
  EXPECT_TRUE(addresses.present.empty());  // the VIPs first
  run_with_peer(seconds(1));
  EXPECT_EQ(commands.calls, (Calls{"stop web", "stop db", "umount r0", "secondary r0"}));
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kReleased);
}

TEST_F(FailoverTest, FailedServiceStartIsStoppedAndUndoneAndTheInstanceFaults) {
  commands.script("start db", {{milliseconds(50), false, "not ready within 2000 ms (4 status run(s), last: status exited with status 3)"}});
  start({{"r0", true}}, {"db"});
  run_until_master();
  run_for(seconds(1));
  // The half-started service is stopped before its file system goes.
  EXPECT_EQ(commands.calls, (Calls{"primary r0", "mount r0", "start db", "stop db", "umount r0", "secondary r0"}));
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_EQ(instance->to_json()["fault_reason"],
            "takeover failed: start db: not ready within 2000 ms (4 status run(s), last: status exited with status 3)");
  EXPECT_TRUE(addresses.log.empty());
  auto failed = std::find_if(journal.begin(), journal.end(), [](const JournalEvent& e) { return e.what == "takeover-failed"; });
  ASSERT_NE(failed, journal.end());
  EXPECT_EQ(failed->detail["service"], "db");
}

TEST_F(FailoverTest, ServiceThatFailsToStopDoesNotStopTheRelease) {
  commands.script("stop db", {{milliseconds(100), false, "stop program exited with status 1 after 100 ms"}});
  start({{"r0", true}}, {"db"});
  run_until_master();
  run_for(seconds(1));
  commands.calls.clear();
  peer_takes_over();
  run_with_peer(seconds(1));
  // The unmount decides: it fails if the service still holds the file system.
  EXPECT_EQ(commands.calls, (Calls{"stop db", "umount r0", "secondary r0"}));
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kReleased);
  EXPECT_EQ(orchestrator->to_json()["last_error"], "release failed: stop db: stop program exited with status 1 after 100 ms");
}

TEST_F(FailoverTest, InstanceWithOnlyServicesStartsThemBeforeTheVips) {
  start({}, {"web"});
  run_until_master();
  EXPECT_EQ(commands.calls, Calls{"start web"});
  EXPECT_TRUE(addresses.present.empty());
  run_for(milliseconds(101));
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
}

TEST_F(FailoverTest, ConsistentDiskIsAskedAgainUntilTheHandshakeMakesItUpToDate) {
  // A restarted node: the engine refuses until the peer connected and the
  // handshake said the data is current.
  const std::string refused = "primary refused: disk is Consistent, not UpToDate (use force to promote anyway)";
  commands.script("primary r0", {{milliseconds(10), false, refused},
                                 {milliseconds(10), false, refused},
                                 {milliseconds(10), false, refused},
                                 {milliseconds(10), true, "r0 is Primary"}});
  start({{"r0", false}});
  run_until_master();
  run_for(milliseconds(700));
  EXPECT_TRUE(addresses.present.empty());
  run_for(milliseconds(200));
  EXPECT_EQ(commands.calls.size(), 4u);
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kActive);
  EXPECT_EQ(addresses.present, std::vector<std::string>{"192.0.2.100/24"});
  auto retry = std::find_if(journal.begin(), journal.end(), [](const JournalEvent& e) { return e.what == "step-retry"; });
  ASSERT_NE(retry, journal.end());
  EXPECT_NE(retry->text.find("the disk is Consistent, not UpToDate, until the handshake with the peer"), std::string::npos)
      << retry->text;
  const auto whats = journal_whats();
  EXPECT_EQ(std::count(whats.begin(), whats.end(), "step-retry"), 1);
}

TEST_F(FailoverTest, ConsistentDiskWithoutPeerFaultsAtTheTimeoutWithTheReason) {
  commands.script("primary r0", {{milliseconds(10), false, "primary refused: disk is Consistent, not UpToDate (use force to promote anyway)"}});
  start({{"r0", false}});
  run_until_master();
  run_for(milliseconds(1100));
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_EQ(instance->to_json()["fault_reason"],
            "takeover failed: primary r0: timed out after 1000 ms (last answer: primary refused: disk is Consistent, "
            "not UpToDate (use force to promote anyway))");
  EXPECT_TRUE(addresses.log.empty());
}

TEST_F(FailoverTest, WithAWitnessTheMajorityIsClaimedFirstAndGivenBackLast) {
  start({{"r0", true}}, {}, true);
  run_until_master();
  run_for(milliseconds(350));
  EXPECT_EQ(commands.calls, (Calls{"claim VI_1", "primary r0", "mount r0"}));
  EXPECT_EQ(orchestrator->to_json()["quorum_held"], true);
  commands.calls.clear();
  peer_takes_over();
  run_with_peer(seconds(1));
  EXPECT_EQ(commands.calls, (Calls{"umount r0", "secondary r0", "release VI_1"}));
  EXPECT_EQ(orchestrator->to_json()["quorum_held"], false);
}

TEST_F(FailoverTest, LeaseHeldByThePeerIsAskedAgainAndNeverReachesTheData) {
  commands.script("claim VI_1", {{milliseconds(10), false, "the witness gives VI_1 to h1 (9000 ms more at least)"}});
  start({{"r0", true}}, {}, true);
  run_until_master();
  run_for(milliseconds(1100));
  // Refused until the step timeout: never promoted, FAULT with the reason.
  EXPECT_EQ(std::count(commands.calls.begin(), commands.calls.end(), "primary r0"), 0);
  EXPECT_GT(std::count(commands.calls.begin(), commands.calls.end(), "claim VI_1"), 2);
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_EQ(instance->to_json()["fault_reason"],
            "takeover failed: claim VI_1: timed out after 1000 ms (last answer: the witness gives VI_1 to h1 (9000 "
            "ms more at least))");
  EXPECT_TRUE(addresses.log.empty());
}

TEST_F(FailoverTest, LostMajorityStepsDownReleasesAndHoldsFault) {
  start({{"r0", true}}, {}, true);
  run_until_master();
  run_for(seconds(1));
  ASSERT_EQ(orchestrator->phase(), Orchestrator::Phase::kActive);
  commands.calls.clear();
  orchestrator->step_down("no majority: the witness's lease for VI_1 ran out and the replication peer is not connected");
  EXPECT_EQ(instance->state(), State::kFault);
  EXPECT_TRUE(addresses.present.empty());
  run_for(seconds(1));
  EXPECT_EQ(commands.calls, (Calls{"umount r0", "secondary r0", "release VI_1"}));
  EXPECT_EQ(orchestrator->phase(), Orchestrator::Phase::kFaultHold);
  const auto whats = journal_whats();
  EXPECT_NE(std::find(whats.begin(), whats.end(), "step-down"), whats.end());
}

}  // namespace
}  // namespace vrrpd
