// probe_file_system(): the superblock fields a shrink checks against, on
// hand-made superblocks (the kernel suite runs it on mkfs.ext4's output).
#include "replication/fs_probe.h"

#include <gtest/gtest.h>

#include <vector>

#include "replication/byte_order.h"
#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

void put_be32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// An ext superblock at 1024 with these fields.
FakeStorage ext_volume(uint32_t blocks_lo, uint32_t log_block_size, bool with_64bit, uint32_t blocks_hi) {
  std::vector<uint8_t> head(4096, 0);
  std::span<uint8_t> sb(head.data() + 1024, 1024);
  le::put32(sb, 0x04, blocks_lo);
  le::put32(sb, 0x18, log_block_size);
  sb[0x38] = 0x53;
  sb[0x39] = 0xEF;
  le::put32(sb, 0x60, with_64bit ? 0x80 : 0);
  le::put32(sb, 0x150, blocks_hi);
  FakeStorage s(1 << 20);
  EXPECT_TRUE(s.write(0, head).ok());
  return s;
}

TEST(FsProbe, Ext4SizeIsBlocksTimesBlockSize) {
  FakeStorage s = ext_volume(/*blocks_lo=*/16384, /*log=*/2, /*64bit=*/false, /*hi=*/7);
  auto fs = probe_file_system(s);
  ASSERT_TRUE(fs.has_value());
  EXPECT_EQ(fs->type, "ext2/3/4");
  // Without the 64bit feature the high word is not part of the count.
  EXPECT_EQ(fs->bytes, 16384ull * 4096);
}

TEST(FsProbe, Ext4With64BitFeatureAddsTheHighWord) {
  FakeStorage s = ext_volume(/*blocks_lo=*/10, /*log=*/2, /*64bit=*/true, /*hi=*/1);
  auto fs = probe_file_system(s);
  ASSERT_TRUE(fs.has_value());
  EXPECT_EQ(fs->bytes, ((1ull << 32) + 10) * 4096);
}

TEST(FsProbe, Ext2With1KiBBlocks) {
  FakeStorage s = ext_volume(/*blocks_lo=*/65536, /*log=*/0, false, 0);
  auto fs = probe_file_system(s);
  ASSERT_TRUE(fs.has_value());
  EXPECT_EQ(fs->bytes, 65536ull * 1024);
}

TEST(FsProbe, ImplausibleExtFieldsAreNotTakenForAFileSystem) {
  FakeStorage huge_blocks = ext_volume(100, /*log=*/20, false, 0);
  EXPECT_FALSE(probe_file_system(huge_blocks).has_value());
  FakeStorage no_blocks = ext_volume(0, 2, false, 0);
  EXPECT_FALSE(probe_file_system(no_blocks).has_value());
}

TEST(FsProbe, XfsSizeIsDataBlocksTimesBlockSize) {
  std::vector<uint8_t> head(4096, 0);
  put_be32(head, 0, 0x58465342);  // "XFSB"
  put_be32(head, 4, 4096);
  put_be32(head, 8, 0);       // sb_dblocks, high word
  put_be32(head, 12, 25600);  // low word
  FakeStorage s(1 << 20);
  ASSERT_TRUE(s.write(0, head).ok());
  auto fs = probe_file_system(s);
  ASSERT_TRUE(fs.has_value());
  EXPECT_EQ(fs->type, "xfs");
  EXPECT_EQ(fs->bytes, 25600ull * 4096);

  put_be32(head, 4, 3000);  // not a power of two
  ASSERT_TRUE(s.write(0, head).ok());
  EXPECT_FALSE(probe_file_system(s).has_value());
}

TEST(FsProbe, ZerosOrAnUnreadableDeviceAreNoFileSystem) {
  FakeStorage zeros(1 << 20);
  EXPECT_FALSE(probe_file_system(zeros).has_value());
  FakeStorage tiny(2048);
  EXPECT_FALSE(probe_file_system(tiny).has_value());
  FakeStorage unreadable = ext_volume(16384, 2, false, 0);
  ASSERT_TRUE(probe_file_system(unreadable).has_value());
  unreadable.fail_reads(1024, 1);
  EXPECT_FALSE(probe_file_system(unreadable).has_value());
}

}  // namespace
}  // namespace vrrpd::replication
