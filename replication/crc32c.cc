// CRC32C, hardware (SSE4.2) and portable (slicing-by-8); see crc32c.h.
#include "replication/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace vrrpd::replication {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

// t[0] is the byte-at-a-time table; t[k][i] advances t[0][i] by k more zero
// bytes, so eight input bytes are folded with eight look-ups at once.
constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}

constexpr Tables kTables = make_tables();

uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint32_t crc32c_portable(std::span<const uint8_t> data, uint32_t previous) {
  uint32_t c = previous ^ 0xFFFFFFFFu;
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    const uint64_t v = load_le64(p) ^ c;
    c = kTables[7][v & 0xFF] ^ kTables[6][(v >> 8) & 0xFF] ^ kTables[5][(v >> 16) & 0xFF] ^
        kTables[4][(v >> 24) & 0xFF] ^ kTables[3][(v >> 32) & 0xFF] ^ kTables[2][(v >> 40) & 0xFF] ^
        kTables[1][(v >> 48) & 0xFF] ^ kTables[0][v >> 56];
  }
  for (; n > 0; ++p, --n) c = kTables[0][(c ^ *p) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)

bool crc32c_hardware_available() { return __builtin_cpu_supports("sse4.2"); }

// The crc32 instruction has a latency of 3 cycles and a throughput of one
// per cycle: one dependent chain of them runs at a third of the possible
// speed. So the input is cut into three streams, each with its own chain,
// and their CRCs are joined: the CRC register after A||B is the register
// after A advanced over |B| zero bytes, xor the CRC of B from 0. Advancing
// by a fixed length is linear in the 32 register bits, so it is four table
// look-ups (a table per register byte), built once per length.
namespace {

constexpr size_t kLongStream = 8192;  // bytes per stream, large inputs
constexpr size_t kShortStream = 256;  // bytes per stream, what is left of them

using ZeroTables = std::array<std::array<uint32_t, 256>, 4>;
using Matrix = std::array<uint32_t, 32>;  // over GF(2): column n is the image of bit n

uint32_t times(const Matrix& m, uint32_t vector) {
  uint32_t sum = 0;
  for (int n = 0; vector != 0; ++n, vector >>= 1)
    if (vector & 1) sum ^= m[n];
  return sum;
}

Matrix squared(const Matrix& m) {
  Matrix out{};
  for (int n = 0; n < 32; ++n) out[n] = times(m, m[n]);
  return out;
}

// Tables advancing a register over `bytes` zero bytes (a power of two).
ZeroTables make_zero_tables(size_t bytes) {
  Matrix op{};  // one zero bit: shift right, xor the polynomial if bit 0 was set
  op[0] = 0x82F63B78u;
  for (int n = 1; n < 32; ++n) op[n] = 1u << (n - 1);
  for (size_t bits = 1; bits < 8 * bytes; bits *= 2) op = squared(op);
  ZeroTables t{};
  for (uint32_t i = 0; i < 256; ++i)
    for (int k = 0; k < 4; ++k) t[k][i] = times(op, i << (8 * k));
  return t;
}

uint32_t advance(const ZeroTables& t, uint32_t crc) {
  return t[0][crc & 0xFF] ^ t[1][(crc >> 8) & 0xFF] ^ t[2][(crc >> 16) & 0xFF] ^ t[3][crc >> 24];
}

template <size_t kStream>
__attribute__((target("sse4.2"))) void three_streams(uint64_t& crc, const uint8_t*& p, size_t& n,
                                                     const ZeroTables& zeros) {
  for (; n >= 3 * kStream; p += 3 * kStream, n -= 3 * kStream) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < kStream; i += 8) {
      uint64_t v0, v1, v2;
      std::memcpy(&v0, p + i, 8);
      std::memcpy(&v1, p + kStream + i, 8);
      std::memcpy(&v2, p + 2 * kStream + i, 8);
      crc = _mm_crc32_u64(crc, v0);
      c1 = _mm_crc32_u64(c1, v1);
      c2 = _mm_crc32_u64(c2, v2);
    }
    crc = advance(zeros, static_cast<uint32_t>(crc)) ^ static_cast<uint32_t>(c1);
    crc = advance(zeros, static_cast<uint32_t>(crc)) ^ static_cast<uint32_t>(c2);
  }
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(std::span<const uint8_t> data, uint32_t previous) {
  static const ZeroTables long_zeros = make_zero_tables(kLongStream);
  static const ZeroTables short_zeros = make_zero_tables(kShortStream);
  uint64_t c = previous ^ 0xFFFFFFFFu;
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; ++p, --n) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p);
  three_streams<kLongStream>(c, p, n, long_zeros);
  three_streams<kShortStream>(c, p, n, short_zeros);
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);  // x86 is little-endian, as the CRC wants
    c = _mm_crc32_u64(c, v);
  }
  for (; n > 0; ++p, --n) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p);
  return static_cast<uint32_t>(c) ^ 0xFFFFFFFFu;
}

#else

bool crc32c_hardware_available() { return false; }
uint32_t crc32c_hardware(std::span<const uint8_t> data, uint32_t previous) {
  return crc32c_portable(data, previous);
}

#endif

uint32_t crc32c(std::span<const uint8_t> data, uint32_t previous) {
  // Chosen once: the CPU does not change under a running process.
  static const bool hardware = crc32c_hardware_available();
  return hardware ? crc32c_hardware(data, previous) : crc32c_portable(data, previous);
}

}  // namespace vrrpd::replication
