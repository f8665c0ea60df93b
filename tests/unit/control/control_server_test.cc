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
