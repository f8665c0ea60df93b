// CRC32C: both implementations (portable slicing-by-8 and SSE4.2) against
// published vectors, and against each other on every length and alignment
// that exercises their head/body/tail loops, so a fast path that drifts from
// the definition fails here rather than as "bad-payload-crc" between nodes.
#include "replication/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vrrpd::replication {
namespace {

using Crc = std::function<uint32_t(std::span<const uint8_t>)>;
using CrcFrom = std::function<uint32_t(std::span<const uint8_t>, uint32_t previous)>;

// An implementation called on one buffer, from the start.
Crc one_buffer(uint32_t (*crc)(std::span<const uint8_t>, uint32_t)) {
  return [crc](std::span<const uint8_t> d) { return crc(d, 0); };
}

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> counting(size_t n, bool down) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(down ? n - 1 - i : i);
  return v;
}

// Published check values: the CRC catalogue's "123456789" and RFC 3720 B.4.
void expect_known_vectors(const Crc& crc) {
  EXPECT_EQ(crc(bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(crc({}), 0u);
  EXPECT_EQ(crc(std::vector<uint8_t>(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(crc(std::vector<uint8_t>(32, 0xFF)), 0x62A8AB43u);
  EXPECT_EQ(crc(counting(32, false)), 0x46DD794Eu);
  EXPECT_EQ(crc(counting(32, true)), 0x113FDB5Cu);
}

// The definition itself, bit by bit: the reference for long inputs.
uint32_t crc32c_bitwise(std::span<const uint8_t> data) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::vector<uint8_t> noise(size_t n) {
  std::vector<uint8_t> v(n);
  uint32_t x = 2463534242u;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return v;
}

void expect_matches_definition(const Crc& crc) {
  const std::vector<uint8_t> buf = noise(4096 + 64);
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t len = 0; len < 80; ++len) {
      const std::span<const uint8_t> s(buf.data() + offset, len);
      ASSERT_EQ(crc(s), crc32c_bitwise(s)) << "offset " << offset << " length " << len;
    }
  }
  // Around the sizes where the hardware version's three-stream loops start
  // (3 x 256 and 3 x 8192 bytes), misaligned too.
  const std::vector<uint8_t> big = noise(3 * 8192 * 2 + 64);
  for (size_t len : {767u, 768u, 769u, 775u, 776u, 1543u, 24575u, 24576u, 24577u, 25343u, 25344u, 49169u}) {
    for (size_t offset : {0u, 3u}) {
      const std::span<const uint8_t> s(big.data() + offset, len);
      ASSERT_EQ(crc(s), crc32c_bitwise(s)) << "offset " << offset << " length " << len;
    }
  }
  const std::vector<uint8_t> frame = noise((1u << 20) + 3);  // a maximal Data payload, odd tail
  EXPECT_EQ(crc(frame), crc32c_bitwise(frame));
  EXPECT_EQ(crc(std::span<const uint8_t>(frame).subspan(5)), crc32c_bitwise(std::span<const uint8_t>(frame).subspan(5)));
}

// A checksum continued over a second buffer is that of both buffers as one,
// wherever they are cut (a frame's header fields, then its borrowed data).
void expect_continues_across_a_cut(const CrcFrom& crc) {
  const std::vector<uint8_t> buf = noise(3 * 8192 * 2 + 100);
  const std::span<const uint8_t> all(buf);
  const uint32_t whole = crc32c_bitwise(all);
  for (size_t cut : {0u, 1u, 7u, 16u, 17u, 768u, 24577u, 49152u}) {
    ASSERT_EQ(crc(all.subspan(cut), crc(all.first(cut), 0)), whole) << "cut at " << cut;
  }
  EXPECT_EQ(crc({}, 0x12345678u), 0x12345678u);  // nothing more: the same CRC
}

TEST(Crc32c, PortableMatchesPublishedVectors) { expect_known_vectors(one_buffer(crc32c_portable)); }
TEST(Crc32c, PortableMatchesTheDefinitionAtEveryLengthAndAlignment) { expect_matches_definition(one_buffer(crc32c_portable)); }

TEST(Crc32c, HardwareMatchesPublishedVectors) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  expect_known_vectors(one_buffer(crc32c_hardware));
}
TEST(Crc32c, HardwareMatchesTheDefinitionAtEveryLengthAndAlignment) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  expect_matches_definition(one_buffer(crc32c_hardware));
}

TEST(Crc32c, DispatcherMatchesPublishedVectors) {
  expect_known_vectors(one_buffer(crc32c));
}

TEST(Crc32c, EachImplementationContinuesFromAPreviousCrc) {
  expect_continues_across_a_cut(crc32c_portable);
  expect_continues_across_a_cut(crc32c);
  if (crc32c_hardware_available()) expect_continues_across_a_cut(crc32c_hardware);
}

}  // namespace
}  // namespace vrrpd::replication
