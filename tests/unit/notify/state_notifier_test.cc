// StateNotifier: which programs run, with which arguments, under which key
// (recording fake), and that real programs run in order (ProgramRunner).
#include "notify/state_notifier.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/unit/notify/notify_test_support.h"

namespace vrrpd::notify {
namespace {

using namespace std::chrono_literals;
using Argv = std::vector<std::string>;

// Records what would run, in order.
class RecordingProgramQueue final : public ProgramQueue {
 public:
  struct Call {
    std::string key;
    Argv argv;
  };
  void run(const std::string& serial_key, Argv argv, ProgramDone /*done*/) override {
    calls.push_back({serial_key, std::move(argv)});
  }
  std::vector<Call> calls;
};

config::Program program(Argv argv) { return config::Program{std::move(argv), {"test.conf", 1}}; }

config::NotifyPrograms all_programs() {
  config::NotifyPrograms p;
  p.master = program({"/bin/m"});
  p.backup = program({"/bin/b"});
  p.fault = program({"/bin/f"});
  p.stop = program({"/bin/s", "--stop"});
  p.generic = program({"/bin/notify", "arg"});
  return p;
}

TEST(StateNotifierTest, SerialKeyNamesInstanceOrGroup) {
  EXPECT_EQ(notify_serial_key({false, "VI_1", NotifyState::kMaster, 100}), "instance:VI_1");
  EXPECT_EQ(notify_serial_key({true, "G1", NotifyState::kMaster, 100}), "group:G1");
}

TEST(StateNotifierTest, EachStateRunsItsOwnProgramThenGenericWithKeepalivedArguments) {
  struct Case {
    NotifyState state;
    Argv specific;
    std::string word;
  };
  const std::vector<Case> cases = {
      {NotifyState::kMaster, {"/bin/m"}, "MASTER"},
      {NotifyState::kBackup, {"/bin/b"}, "BACKUP"},
      {NotifyState::kFault, {"/bin/f"}, "FAULT"},
      {NotifyState::kStop, {"/bin/s", "--stop"}, "STOP"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.word);
    RecordingProgramQueue queue;
    StateNotifier notifier(queue);
    notifier.notify(all_programs(), {false, "VI_1", c.state, 150});
    ASSERT_EQ(queue.calls.size(), 2u);
    EXPECT_EQ(queue.calls[0].key, "instance:VI_1");
    EXPECT_EQ(queue.calls[0].argv, c.specific);
    EXPECT_EQ(queue.calls[1].key, "instance:VI_1");
    EXPECT_EQ(queue.calls[1].argv, (Argv{"/bin/notify", "arg", "INSTANCE", "VI_1", c.word, "150"}));
  }
}

TEST(StateNotifierTest, GroupChangePassesGroupUnderGroupKey) {
  RecordingProgramQueue queue;
  StateNotifier notifier(queue);
  notifier.notify(all_programs(), {true, "G1", NotifyState::kBackup, 0});
  ASSERT_EQ(queue.calls.size(), 2u);
  EXPECT_EQ(queue.calls[1].key, "group:G1");
  EXPECT_EQ(queue.calls[1].argv, (Argv{"/bin/notify", "arg", "GROUP", "G1", "BACKUP", "0"}));
}

TEST(StateNotifierTest, UnconfiguredProgramsAreSkipped) {
  RecordingProgramQueue queue;
  StateNotifier notifier(queue);
  config::NotifyPrograms only_generic;
  only_generic.generic = program({"/bin/notify"});
  notifier.notify(only_generic, {false, "VI_1", NotifyState::kFault, 100});
  ASSERT_EQ(queue.calls.size(), 1u);
  EXPECT_EQ(queue.calls[0].argv, (Argv{"/bin/notify", "INSTANCE", "VI_1", "FAULT", "100"}));

  config::NotifyPrograms only_master;
  only_master.master = program({"/bin/m"});
  notifier.notify(only_master, {false, "VI_1", NotifyState::kBackup, 100});
  EXPECT_EQ(queue.calls.size(), 1u) << "no notify_backup, no notify: nothing to run";

  config::NotifyPrograms empty_argv;
  empty_argv.master = program({});
  notifier.notify(empty_argv, {false, "VI_1", NotifyState::kMaster, 100});
  EXPECT_EQ(queue.calls.size(), 1u);
}

class StateNotifierRealProgramsTest : public test_support::RealLoopTest {
 protected:
  config::NotifyPrograms writing_programs(const std::string& f) {
    config::NotifyPrograms p;
    p.master = program({"/bin/sh", "-c", "echo master >> " + f});
    p.backup = program({"/bin/sh", "-c", "sleep 0.2; echo backup >> " + f});
    p.generic = program({"/bin/sh", "-c", "echo \"$@\" >> " + f, "x", "extra"});
    return p;
  }
  bool idle(const ProgramRunner& r) { return r.running() == 0 && r.queued() == 0; }
};

TEST_F(StateNotifierRealProgramsTest, MasterChangeWritesSpecificThenGenericInOrder) {
  ProgramRunner runner(loop_, RunOptions{});
  StateNotifier notifier(runner);
  const std::string f = dir_.file("notify");
  notifier.notify(writing_programs(f), {false, "VI_1", NotifyState::kMaster, 150});
  ASSERT_TRUE(test_support::run_loop_until(loop_, [&] { return idle(runner); }));
  EXPECT_EQ(test_support::read_lines(f), (Argv{"master", "extra INSTANCE VI_1 MASTER 150"}));
}

TEST_F(StateNotifierRealProgramsTest, GroupChangePassesGroup) {
  ProgramRunner runner(loop_, RunOptions{});
  StateNotifier notifier(runner);
  const std::string f = dir_.file("notify");
  notifier.notify(writing_programs(f), {true, "G1", NotifyState::kMaster, 200});
  ASSERT_TRUE(test_support::run_loop_until(loop_, [&] { return idle(runner); }));
  EXPECT_EQ(test_support::read_lines(f), (Argv{"master", "extra GROUP G1 MASTER 200"}));
}

TEST_F(StateNotifierRealProgramsTest, ConsecutiveTransitionsNeverInterleave) {
  ProgramRunner runner(loop_, RunOptions{});
  StateNotifier notifier(runner);
  const std::string f = dir_.file("notify");
  const auto programs = writing_programs(f);
  // notify_backup sleeps first: without the per-instance queue, the MASTER
  // programs queued after it would write before it.
  notifier.notify(programs, {false, "VI_1", NotifyState::kBackup, 100});
  notifier.notify(programs, {false, "VI_1", NotifyState::kMaster, 150});
  ASSERT_TRUE(test_support::run_loop_until(loop_, [&] { return idle(runner); }));
  EXPECT_EQ(test_support::read_lines(f),
            (Argv{"backup", "extra INSTANCE VI_1 BACKUP 100", "master",
                  "extra INSTANCE VI_1 MASTER 150"}));
}

}  // namespace
}  // namespace vrrpd::notify
