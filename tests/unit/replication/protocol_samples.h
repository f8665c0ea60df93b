// One message of every replication frame type, with non-default values in
// every field, so that a field the encoder or decoder drops shows up as a
// mismatch. Shared by the codec tests (protocol_test.cc) and the mutation
// tests (protocol_mutation_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "replication/protocol.h"

namespace vrrpd::replication::wire::testing {

inline std::vector<uint8_t> filled(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// `data_bytes`: the Data frame's payload (a multiple of 512; the mutation
// tests keep it at one sector so that flipping every bit stays fast).
inline std::vector<Message> one_of_each_message(size_t data_bytes = 4096) {
  Hello h;
  h.min_version = 1;
  h.max_version = 1;
  h.node_id = 0x01020304;
  h.node_name = "node-a.example";
  h.device_size = 0x0000010000000000;  // 1 TiB
  h.protocol = ReplicationProtocol::kB;
  h.role = Role::kPrimary;
  h.disk_state = DiskState::kUpToDate;
  h.generations = {0x1111222233334445, 0x5555666677778888, {0x99, 0xAA}};
  h.flags = kHelloCrashedPrimary;
  AuthChallenge ch;
  ch.nonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
              17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  AuthResponse rsp;
  rsp.mac.fill(0xA5);
  Digest dg;
  dg.fill(0x5A);
  BitmapChunk bm = make_bitmap_chunk(4096, std::vector<uint8_t>{0x00, 0xF0, 0x00, 0x00}, 32);
  return {h,
          ch,
          rsp,
          AuthResult{false, "wrong secret"},
          Data{1 << 20, kDataFua | kDataFlush, filled(data_bytes, 3)},
          DataAck{77, AckKind::kReceived},
          Barrier{9},
          BarrierAck{9, 31},
          bm,
          ResyncRequest{8192, 4096, true},
          ResyncReply{8192, filled(512, 9)},
          ChecksumReply{8192, 4096, dg},
          VerifyRequest{1 << 30, 65536},
          VerifyReply{1 << 30, 65536, dg},
          VerifyEnd{64 << 20, 8192},
          StateChange{Role::kPrimary, DiskState::kOutdated},
          Ping{},
          PingAck{},
          Disconnect{DisconnectCode::kSplitBrain, "split brain detected"},
          ResizeRequest{1 << 30, 2ull << 30},
          ResizeReply{0, "no room"},
          SyncPause{true},
          SkipInitialSync{0x1234567890ABCDE0},
          Discard{4u << 20, 4u << 20},
          PullAhead{9u << 20},
          ResizeWithOptions{1 << 30, 3ull << 30, true, true},
          ResizeWithOptions{3ull << 30, 1 << 30, true, false, true},
          NewGeneration{Generations{0x1122334455667788, 0x99AABBCCDDEEFF00, {0x0102030405060708, 5}}}};
}

}  // namespace vrrpd::replication::wire::testing
