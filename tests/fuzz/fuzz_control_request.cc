// libFuzzer target for the control protocol request parser: the line a
// client writes to the control socket (ControlServer::dispatch_line, which
// checks it before any command handler sees it), and vrrpctl's size
// parser (parse_size_bytes, vrrpd/control/protocol.h).
//
// Input: one control byte, then text.
//   bit 0 clear: a request line (cut at the first newline and at
//     kMaxRequestBytes, as the server reads it) for dispatch_line().
//   bit 0 set: a size for parse_size_bytes().
// Properties, request: nothing throws or crashes; exactly one response,
// a JSON object of protocol version 1 with a known result code and a
// non-empty result_text, that serialises (the server sends response.dump());
// a request the handler sees has version 1, a string command and object
// args, and re-encoding it with make_request() dispatches to the same
// command and args. Size: a parsed size printed in decimal, and with the
// largest unit that divides it, parses back to the same number.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unistd.h>

#include "tests/fuzz/fuzz_check.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/control/control_server.h"
#include "vrrpd/control/protocol.h"

namespace {

using namespace vrrpd;
using namespace vrrpd::control;

struct Seen {
  int calls = 0;
  std::string command;
  nlohmann::json args;
};

// One server for the whole run: its constructor binds a socket, which its
// destructor removes when the fuzzer exits normally.
struct Harness {
  Harness()
      : loop(clock),
        path("/tmp/vrrpd-fuzz-control-" + std::to_string(getpid()) + ".sock"),
        server(loop, path, [this](const std::string& command, const nlohmann::json& args) {
          ++seen.calls;
          seen.command = command;
          seen.args = args;
          // Like the daemon: some commands echo the command back in the text.
          if (command.size() % 2) return make_response(ResultCode::kUnknownCommand, "unknown command '" + command + "'");
          return make_response(ResultCode::kOk, "", args);
        }) {}
  MonotonicClock clock;
  EventLoop loop;
  std::string path;
  ControlServer server;
  Seen seen;
};

Harness& harness() {
  static Harness h;
  return h;
}

// Dispatches a line; checks the one response it gets.
nlohmann::json dispatch(const std::string& line) {
  int responses = 0;
  nlohmann::json response;
  harness().server.dispatch_line(line, [&](nlohmann::json r) {
    ++responses;
    response = std::move(r);
  });
  FUZZ_CHECK(responses == 1, "not exactly one response");
  FUZZ_CHECK(response.is_object(), "response is not an object");
  FUZZ_CHECK(response.value("version", 0) == kProtocolVersion, "response version");
  FUZZ_CHECK(response.contains("result") && response["result"].is_number_integer(), "response without result");
  const int result = response["result"].get<int>();
  FUZZ_CHECK(result >= static_cast<int>(ResultCode::kOk) && result <= static_cast<int>(ResultCode::kBadRequest),
             "unknown result code");
  FUZZ_CHECK(response.contains("result_text") && response["result_text"].is_string() &&
                 !response["result_text"].get<std::string>().empty(),
             "empty result_text");
  try {
    (void)response.dump();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dump: %s\n", e.what());
    FUZZ_CHECK(false, "response does not serialise");
  }
  return response;
}

void request_mode(std::string line) {
  line = line.substr(0, line.find('\n'));
  if (line.size() > kMaxRequestBytes) return;  // the server answers "larger than 64 KiB" before parsing
  Seen& seen = harness().seen;
  seen = {};
  dispatch(line);
  if (seen.calls == 0) return;
  FUZZ_CHECK(seen.calls == 1, "handler called more than once");
  // What passed the checks really is a version-1 request.
  const nlohmann::json req = nlohmann::json::parse(line);
  FUZZ_CHECK(req.is_object() && req.at("version") == kProtocolVersion, "handler saw a request of another version");
  FUZZ_CHECK(req.at("command").is_string() && seen.args.is_object(), "handler saw a malformed request");
  const Seen first = seen;
  seen = {};
  dispatch(make_request(first.command, first.args).dump());
  FUZZ_CHECK(seen.calls == 1 && seen.command == first.command && seen.args == first.args,
             "re-encoded request dispatches differently");
}

void size_mode(const std::string& text) {
  const std::optional<uint64_t> bytes = parse_size_bytes(text);
  if (!bytes) return;
  FUZZ_CHECK(parse_size_bytes(std::to_string(*bytes)) == bytes, "decimal size does not parse back");
  static constexpr struct {
    unsigned shift;
    const char* unit;
  } kUnits[] = {{40, "T"}, {30, "GiB"}, {20, "m"}, {10, "KiB"}};
  for (const auto& u : kUnits) {
    if (*bytes % (uint64_t{1} << u.shift) == 0) {
      const std::string scaled = std::to_string(*bytes >> u.shift) + u.unit;
      FUZZ_CHECK(parse_size_bytes(scaled) == bytes, "size with a unit does not parse back");
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    size_mode(text);
  else
    request_mode(std::move(text));
  return 0;
}
