// Control protocol: request validation, fixed result codes, a real socket
// round trip through the client, and the root-only socket mode.
#include "vrrpd/control/control_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "vrrpd/control/control_client.h"
#include "vrrpd/control/protocol.h"

namespace vrrpd::control {
namespace {

class ControlServerTest : public ::testing::Test {
 protected:
  ControlServerTest()
      : loop(clock),
        path("/tmp/vrrpd-ctl-test-" + std::to_string(getpid()) + ".sock"),
        server(loop, path, [](const std::string& cmd, const nlohmann::json& args) {
          if (cmd == "echo") return make_response(ResultCode::kOk, "", args);
          if (cmd == "boom") throw std::runtime_error("handler exploded");
          return make_response(ResultCode::kUnknownCommand, "unknown command '" + cmd + "'");
        }) {}

  int result_of(const std::string& line) { return server.handle_line(line)["result"].get<int>(); }

  MonotonicClock clock;
  EventLoop loop;
  std::string path;
  ControlServer server;
};

TEST_F(ControlServerTest, RejectsMalformedRequestsWithFixedCodes) {
  EXPECT_EQ(result_of("not json"), static_cast<int>(ResultCode::kBadRequest));
  EXPECT_EQ(result_of("[1,2]"), static_cast<int>(ResultCode::kBadRequest));
  EXPECT_EQ(result_of(R"({"version":2,"command":"echo"})"), static_cast<int>(ResultCode::kVersionMismatch));
  EXPECT_EQ(result_of(R"({"command":"echo"})"), static_cast<int>(ResultCode::kVersionMismatch));
  EXPECT_EQ(result_of(R"({"version":1})"), static_cast<int>(ResultCode::kBadRequest));
  EXPECT_EQ(result_of(R"({"version":1,"command":"echo","args":3})"), static_cast<int>(ResultCode::kBadRequest));
  EXPECT_EQ(result_of(R"({"version":1,"command":"nope"})"), static_cast<int>(ResultCode::kUnknownCommand));
}

// Found while writing tests/fuzz/fuzz_control_request.cc (its property
// "the handler only sees version 1"): a version that wraps to 1 in an int
// was taken for 1.
TEST_F(ControlServerTest, VersionThatWrapsToOneInAnIntIsRefused) {
  EXPECT_EQ(result_of(R"({"version":4294967297,"command":"echo"})"), static_cast<int>(ResultCode::kVersionMismatch));
  EXPECT_EQ(result_of(R"({"version":-4294967295,"command":"echo"})"), static_cast<int>(ResultCode::kVersionMismatch));
  EXPECT_EQ(result_of(R"({"version":18446744069414584321,"command":"echo"})"),
            static_cast<int>(ResultCode::kVersionMismatch));
  EXPECT_EQ(result_of(R"({"version":1,"command":"echo"})"), static_cast<int>(ResultCode::kOk));
}

TEST_F(ControlServerTest, HandlerExceptionBecomesErrorResponse) {
  auto r = server.handle_line(R"({"version":1,"command":"boom"})");
  EXPECT_EQ(r["result"], static_cast<int>(ResultCode::kError));
  EXPECT_EQ(r["result_text"], "handler exploded");
}

TEST_F(ControlServerTest, RoundTripOverTheSocket) {
  std::atomic<bool> done{false};
  nlohmann::json resp;
  std::thread client([&] {
    resp = call(path, make_request("echo", {{"instance", "VI_1"}}));
    done = true;
  });
  const auto limit = clock.now() + std::chrono::seconds(5);
  while (!done && clock.now() < limit) loop.run_once(std::chrono::milliseconds(20));
  client.join();
  EXPECT_EQ(resp["version"], kProtocolVersion);
  EXPECT_EQ(resp["result"], 0);
  EXPECT_EQ(resp["data"]["instance"], "VI_1");
}

TEST_F(ControlServerTest, SocketIsRootOnly) {
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A command that answers later (a mount, a promotion): the loop keeps
// running meanwhile, and the client gets the late answer.
TEST(AsyncControlServer, AnswersLaterWhileTheLoopRuns) {
  MonotonicClock clock;
  EventLoop loop(clock);
  const std::string path = "/tmp/vrrpd-ctl-async-" + std::to_string(getpid()) + ".sock";
  std::vector<ControlServer::Respond> pending;
  int ticks = 0;
  ControlServer server(loop, path, [&](const std::string& cmd, const nlohmann::json&, ControlServer::Respond respond) {
    if (cmd == "slow") pending.push_back(std::move(respond));
    else respond(make_response(ResultCode::kOk, "at once"));
  });
  std::atomic<bool> done{false};
  nlohmann::json slow, fast;
  std::thread client([&] {
    slow = call(path, make_request("slow"));
    done = true;
  });
  // The loop goes on serving others while "slow" waits.
  const auto limit = clock.now() + std::chrono::seconds(5);
  while (pending.empty() && clock.now() < limit) loop.run_once(std::chrono::milliseconds(10));
  ASSERT_EQ(pending.size(), 1u);
  std::thread other([&] { fast = call(path, make_request("fast")); });
  while (fast.is_null() && clock.now() < limit) {
    loop.run_once(std::chrono::milliseconds(10));
    ++ticks;
  }
  other.join();
  EXPECT_EQ(fast["result_text"], "at once");
  EXPECT_FALSE(done);
  pending[0](make_response(ResultCode::kOk, "done later", {{"took", "a while"}}));
  while (!done && clock.now() < limit) loop.run_once(std::chrono::milliseconds(10));
  client.join();
  EXPECT_EQ(slow["result_text"], "done later");
  EXPECT_EQ(slow["data"]["took"], "a while");
  EXPECT_GT(ticks, 0);
}

// A client that gave up must not get (or make another client get) the late
// answer: the next client, likely on the same fd number, sees only its own.
TEST(AsyncControlServer, LateAnswerToAClientThatLeftGoesNowhere) {
  MonotonicClock clock;
  EventLoop loop(clock);
  const std::string path = "/tmp/vrrpd-ctl-async2-" + std::to_string(getpid()) + ".sock";
  std::vector<ControlServer::Respond> pending;
  ControlServer server(loop, path, [&](const std::string&, const nlohmann::json&, ControlServer::Respond respond) {
    pending.push_back(std::move(respond));
  });
  std::atomic<bool> first_gave_up{false};
  std::thread first([&] {
    try {
      call(path, make_request("slow"), std::chrono::milliseconds(200));
    } catch (const std::runtime_error&) {
      first_gave_up = true;  // timed out and closed its socket
    }
  });
  const auto limit = clock.now() + std::chrono::seconds(5);
  while (!first_gave_up && clock.now() < limit) loop.run_once(std::chrono::milliseconds(10));
  first.join();
  ASSERT_TRUE(first_gave_up);
  for (int i = 0; i < 10; ++i) loop.run_once(std::chrono::milliseconds(10));  // sees the hang-up
  nlohmann::json second_answer;
  std::thread second([&] { second_answer = call(path, make_request("slow")); });
  while (pending.size() < 2 && clock.now() < limit) loop.run_once(std::chrono::milliseconds(10));
  ASSERT_EQ(pending.size(), 2u);
  pending[0](make_response(ResultCode::kOk, "for the client that left"));
  for (int i = 0; i < 5; ++i) loop.run_once(std::chrono::milliseconds(10));
  pending[1](make_response(ResultCode::kOk, "for the second client"));
  while (second_answer.is_null() && clock.now() < limit) loop.run_once(std::chrono::milliseconds(10));
  second.join();
  EXPECT_EQ(second_answer["result_text"], "for the second client");
}

TEST(ControlClient, ExplainsMissingDaemon) {
  try {
    call("/tmp/vrrpd-no-such-socket.sock", make_request("status"));
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is vrrpd running?"), std::string::npos);
  }
}

}  // namespace
}  // namespace vrrpd::control
