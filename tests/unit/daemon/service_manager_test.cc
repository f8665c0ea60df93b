// ServiceManager with real programs on a real EventLoop: a start is done
// only when the status program says ready, within the start timeout; a
// failing, hanging or never-ready start is reported with the reason the
// orchestrator puts in the FAULT; stop runs the stop program. /bin/sh is
// only the program under test; the manager runs argv without a shell.
#include "vrrpd/daemon/service_manager.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/unit/notify/notify_test_support.h"

namespace vrrpd {
namespace {

using namespace std::chrono_literals;
using notify::test_support::read_file;
using notify::test_support::run_loop_until;
using notify::test_support::TempDir;

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

class ServiceManagerTest : public notify::test_support::RealLoopTest {
 protected:
  ServiceManagerTest() : services_(loop_, options()) {}

  static notify::RunOptions options() {
    notify::RunOptions o;
    o.kill_grace = 500ms;
    return o;
  }
  ServiceSpec spec(std::vector<std::string> start, std::vector<std::string> status = {}) {
    ServiceSpec s;
    s.name = "db";
    s.start = std::move(start);
    s.stop = sh("echo stopped >> " + dir_.file("log"));
    s.status = std::move(status);
    s.start_timeout = 2s;
    s.stop_timeout = 2s;
    s.status_interval = 50ms;
    return s;
  }
  // Runs `op` on db and waits for its answer.
  std::pair<bool, std::string> run(const std::string& op, const std::string& name = "db") {
    std::optional<std::pair<bool, std::string>> answer;
    services_.run(name, op, [&](bool ok, std::string text) { answer.emplace(ok, std::move(text)); });
    EXPECT_FALSE(answer.has_value());  // never inside run()
    EXPECT_TRUE(run_loop_until(loop_, [&] { return answer.has_value(); }, 10s));
    return answer.value_or(std::make_pair(false, std::string("no answer")));
  }
  std::string state() const { return services_.to_json().at(0).at("state"); }

  TempDir dir_;
  ServiceManager services_;
};

TEST_F(ServiceManagerTest, StartIsDoneOnlyWhenTheStatusProgramSaysReady) {
  // The "daemon" becomes ready 300 ms after its start program returned.
  services_.configure({spec(sh("(sleep 0.3; touch " + dir_.file("ready") + ") & exit 0"),
                            {"/usr/bin/test", "-f", dir_.file("ready")})});
  auto [ok, text] = run("start");
  EXPECT_TRUE(ok) << text;
  EXPECT_EQ(text.rfind("started and ready in ", 0), 0u) << text;
  const auto runs = std::stoi(text.substr(text.find('(') + 1));
  EXPECT_GE(runs, 3) << text;  // polled every 50 ms for 300 ms
  EXPECT_EQ(state(), "running");
}

TEST_F(ServiceManagerTest, StartWithoutStatusIsDoneWhenTheStartProgramExitsZero) {
  services_.configure({spec(sh("echo started >> " + dir_.file("log")))});
  auto [ok, text] = run("start");
  EXPECT_TRUE(ok) << text;
  EXPECT_EQ(text.rfind("started in ", 0), 0u) << text;
  EXPECT_EQ(read_file(dir_.file("log")), "started\n");
  std::tie(ok, text) = run("stop");
  EXPECT_TRUE(ok) << text;
  EXPECT_EQ(read_file(dir_.file("log")), "started\nstopped\n");
  EXPECT_EQ(state(), "stopped");
}

TEST_F(ServiceManagerTest, FailingStartProgramIsReportedWithItsExitStatus) {
  services_.configure({spec(sh("exit 3"), {"/bin/true"})});
  auto [ok, text] = run("start");
  EXPECT_FALSE(ok);
  EXPECT_EQ(text.rfind("start program exited with status 3 after ", 0), 0u) << text;
  EXPECT_EQ(state(), "failed");
}

TEST_F(ServiceManagerTest, ServiceThatNeverGetsReadyFailsAtTheStartTimeout) {
  services_.configure({spec({"/bin/true"}, sh("exit 7"))});
  auto [ok, text] = run("start");
  EXPECT_FALSE(ok);
  EXPECT_EQ(text.rfind("not ready within 2000 ms (", 0), 0u) << text;
  // The answer of the last status run that finished, also when the deadline
  // cut short one more (as happened in CI: "last: status killed by signal
  // 15 (timed out)" told nothing about the service).
  EXPECT_NE(text.find("last: status exited with status 7"), std::string::npos) << text;
}

TEST_F(ServiceManagerTest, StatusRunCutShortAtTheDeadlineKeepsTheLastAnswer) {
  // The first status run answers "not ready" (7); the second hangs and is
  // killed at the start timeout. The report keeps the answer.
  const std::string seen = dir_.file("status-ran");
  services_.configure({spec({"/bin/true"}, sh("[ -e " + seen + " ] && exec sleep 30; touch " + seen + "; exit 7"))});
  auto [ok, text] = run("start");
  EXPECT_FALSE(ok);
  EXPECT_NE(text.find("(2 status run(s), last: status exited with status 7; then one cut short at the start timeout)"),
            std::string::npos)
      << text;
}

TEST_F(ServiceManagerTest, HangingStartProgramIsKilledAtTheStartTimeout) {
  services_.configure({spec(sh("exec sleep 30"))});
  auto [ok, text] = run("start");
  EXPECT_FALSE(ok);
  EXPECT_EQ(text.rfind("start program killed by signal 15 (timed out)", 0), 0u) << text;
}

TEST_F(ServiceManagerTest, MissingProgramAndUnknownServiceAreReported) {
  services_.configure({spec({"/nonexistent/db-ctl", "start"})});
  auto [ok, text] = run("start");
  EXPECT_FALSE(ok);
  EXPECT_EQ(text.rfind("start program not started: No such file or directory", 0), 0u) << text;
  std::tie(ok, text) = run("start", "cache");
  EXPECT_FALSE(ok);
  EXPECT_EQ(text, "unknown service cache");
}

}  // namespace
}  // namespace vrrpd
