// Writes the seed corpora of the fuzz targets: valid encodings of every VRRP
// advert kind and every replication frame type, control requests, and the
// example configs from etc/. Each seed starts with the target's control byte
// (see the comment at the top of each fuzz_*.cc).
//   fuzz_make_seeds DIR   -> DIR/fuzz_vrrp_packet/..., DIR/fuzz_config/...
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "replication/protocol.h"
#include "vrrpd/control/protocol.h"
#include "vrrpd/vrrp/packet.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void write_seed(const fs::path& dir, const std::string& name, uint8_t control, const Bytes& body) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.put(static_cast<char>(control));
  out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
}
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void vrrp_seeds(const fs::path& dir) {
  using namespace vrrpd;
  using namespace vrrpd::vrrp;
  const IpAddress v4 = *IpAddress::parse("192.0.2.1"), v6 = *IpAddress::parse("fe80::1");
  Advert v2;
  v2.version = 2;
  v2.vrid = 51;
  v2.priority = 100;
  v2.advert_interval = std::chrono::seconds(1);
  v2.auth_type = kAuthSimplePassword;
  v2.auth_data = {'s', 'e', 'c', 'r', 'e', 't', 0, 0};
  v2.addresses = {*IpAddress::parse("192.0.2.10"), *IpAddress::parse("192.0.2.11")};
  Advert v3 = v2;
  v3.version = 3;
  v3.advert_interval = std::chrono::milliseconds(100);
  Advert v3v6 = v3;
  v3v6.addresses = {*IpAddress::parse("2001:db8::10")};
  const IpAddress g4 = vrrp_multicast_group(Family::kIPv4), g6 = vrrp_multicast_group(Family::kIPv6);
  // Control bits: 1 IPv6, 2 message-only checksum.
  write_seed(dir, "v2", 0, encode(v2, v4, g4, ChecksumMode::kPseudoHeader));
  write_seed(dir, "v3-ipv4", 0, encode(v3, v4, g4, ChecksumMode::kPseudoHeader));
  write_seed(dir, "v3-ipv4-message-only", 2, encode(v3, v4, g4, ChecksumMode::kMessageOnly));
  write_seed(dir, "v3-ipv6", 1, encode(v3v6, v6, g6, ChecksumMode::kPseudoHeader));
  v3.priority = kPriorityStop;
  v3.addresses.clear();
  write_seed(dir, "v3-ipv4-no-address", 0, encode(v3, v4, g4, ChecksumMode::kPseudoHeader));
}

void replication_seeds(const fs::path& dir) {
  using namespace vrrpd::replication::wire;
  Hello hello;
  hello.node_id = 7;
  hello.node_name = "node-a";
  hello.device_size = 1 << 30;
  hello.flags = kHelloCrashedPrimary;
  Digest digest;
  digest.fill(0x5a);
  const Bytes block(4096, 0xab);
  const std::vector<Message> messages = {
      hello, AuthChallenge{}, AuthResponse{}, AuthResult{false, "wrong secret"},
      Data{8192, kDataFua, block}, DataAck{3, AckKind::kWritten}, Barrier{9}, BarrierAck{9, 2},
      make_bitmap_chunk(0, Bytes{0x00, 0xf0, 0x00, 0x00}, 32), make_bitmap_chunk(64, Bytes{0x5a, 0x3c}, 13),
      ResyncRequest{8192, 4096, true}, ResyncReply{8192, Bytes(512, 1)}, ChecksumReply{8192, 4096, digest},
      VerifyRequest{0, 65536}, VerifyReply{0, 65536, digest}, VerifyEnd{1 << 20, 4096},
      StateChange{Role::kPrimary, DiskState::kUpToDate}, Ping{}, PingAck{},
      Disconnect{DisconnectCode::kShutdown, "bye"}, ResizeRequest{1 << 30, 2u << 30}, ResizeReply{0, "no room"},
      SyncPause{true}, SkipInitialSync{0x1234567890abcde0}, Discard{4096, 8192}, PullAhead{1 << 20},
      ResizeWithOptions{1 << 30, 2u << 30, true, true, false}};
  Bytes stream;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string name = std::string(to_string(type_of(messages[i]))) + "-" + std::to_string(i);
    const Bytes frame = encode_frame(Frame{i + 1, messages[i]}, kProtocolVersion);
    write_seed(dir, name, 0x00, frame);  // one frame, chunks of 1 byte
    const Bytes payload = encode_payload(messages[i]);
    Bytes typed{static_cast<uint8_t>(static_cast<uint16_t>(type_of(messages[i])) >> 8),
                static_cast<uint8_t>(type_of(messages[i]))};
    typed.insert(typed.end(), payload.begin(), payload.end());
    write_seed(dir, name + "-payload", 0x01, typed);
    if (frame.size() < 1024) stream.insert(stream.end(), frame.begin(), frame.end());
  }
  write_seed(dir, "stream", 0x32, stream);  // CRCs rewritten, chunks of 112 bytes
}

void control_seeds(const fs::path& dir) {
  using vrrpd::control::make_request;
  write_seed(dir, "status", 0, text(make_request("status").dump()));
  write_seed(dir, "resize", 0,
             text(make_request("replication-resize", {{"resource", "r0"}, {"size", 10737418240ull}, {"exact", true}})
                      .dump()));
  write_seed(dir, "not-object", 0, text("[1,\"x\",null,1.5e3]"));
  write_seed(dir, "size-g", 1, text("10G"));
  write_seed(dir, "size-kib", 1, text("4096KiB"));
}

void config_seeds(const fs::path& dir, const fs::path& source) {
  write_seed(dir, "vrrpd.conf", 0, file(source / "etc/vrrpd.conf"));
  write_seed(dir, "keepalived-example.conf", 1, file(source / "etc/keepalived-example.conf"));
  write_seed(dir, "command", 2, text("/usr/local/bin/notify \"a \\\"b\" 'c d' e\\ f ''"));
  write_seed(dir, "crlf", 3, text("\xEF\xBB\xBFglobal_defs {\r\n}\r"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1];
  vrrp_seeds(dir / "fuzz_vrrp_packet");
  replication_seeds(dir / "fuzz_replication_frame");
  control_seeds(dir / "fuzz_control_request");
  config_seeds(dir / "fuzz_config", VRRPD_SOURCE_DIR);
  return 0;
}
