// vrrpctl's size argument (replication resize --size): bytes, or binary
// units as drbdadm takes them; anything else is refused, not guessed.
#include <gtest/gtest.h>

#include "vrrpd/control/protocol.h"

namespace vrrpd::control {
namespace {

TEST(ParseSizeBytes, PlainBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size_bytes("0"), 0u);
  EXPECT_EQ(parse_size_bytes("4096"), 4096u);
  EXPECT_EQ(parse_size_bytes("4096b"), 4096u);
  EXPECT_EQ(parse_size_bytes("64K"), 65536u);
  EXPECT_EQ(parse_size_bytes("64kib"), 65536u);
  EXPECT_EQ(parse_size_bytes("96M"), 96u << 20);
  EXPECT_EQ(parse_size_bytes("96MiB"), 96u << 20);
  EXPECT_EQ(parse_size_bytes("10G"), 10737418240u);
  EXPECT_EQ(parse_size_bytes("2t"), 2ull << 40);
  EXPECT_EQ(parse_size_bytes("18446744073709551615"), UINT64_MAX);
}

TEST(ParseSizeBytes, RefusesWhatIsNotAWholeSize) {
  for (const char* bad : {"", "G", "-1", "+5", "1.5G", " 10G", "10G ", "10 G", "10GB", "10x", "0x1000",
                          "18446744073709551616", "16777216T"})
    EXPECT_FALSE(parse_size_bytes(bad).has_value()) << bad;
}

}  // namespace
}  // namespace vrrpd::control
