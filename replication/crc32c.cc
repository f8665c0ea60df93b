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

uint32_t crc32c_portable(std::span<const uint8_t> data) {
  uint32_t c = 0xFFFFFFFFu;
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

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(std::span<const uint8_t> data) {
  uint64_t c = 0xFFFFFFFFu;
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; ++p, --n) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p);
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
uint32_t crc32c_hardware(std::span<const uint8_t> data) { return crc32c_portable(data); }

#endif

uint32_t crc32c(std::span<const uint8_t> data) {
  // Chosen once: the CPU does not change under a running process.
  static const bool hardware = crc32c_hardware_available();
  return hardware ? crc32c_hardware(data) : crc32c_portable(data);
}

}  // namespace vrrpd::replication
