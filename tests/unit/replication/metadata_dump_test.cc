// dump-md: what read_metadata_dump() finds in metadata written the way the
// engine writes it, and the lines an operator reads.
#include "replication/metadata_dump.h"

#include <gtest/gtest.h>

#include <string>

#include "replication/activity_log.h"
#include "replication/bitmap.h"
#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(MetadataDump, ReadsGenerationsFlagsBitmapAndActivityLog) {
  FakeStorage disk(64ull << 20);
  CreateMetadataParams params;
  params.node_id = 1;
  params.device_uuid = {0xab, 0xcd};
  auto created = create_metadata(disk, params);
  ASSERT_TRUE(created.ok()) << created.error();
  Superblock sb = created.value();
  // A Primary that wrote without its peer and went down uncleanly.
  sb.generations = Generations{0x1234567890ABCDE1, 0x0FEDCBA987654320, {0x1111, 0}};
  sb.flags.consistent = true;
  sb.flags.was_primary = true;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  OutOfSyncBitmap bm(sb.data_size);
  bm.set_range(8u << 20, 3 * 4096);
  ASSERT_TRUE(bm.flush_dirty_pages(disk, sb.bitmap_offset).ok());
  ActivityLog al(disk, sb, 0);
  ASSERT_TRUE(al.activate(2).ok());
  ASSERT_TRUE(al.activate(7).ok());

  auto dump = read_metadata_dump(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(dump.ok()) << dump.error();
  EXPECT_EQ(dump->sb.generations, sb.generations);
  EXPECT_EQ(dump->out_of_sync_blocks, 3u);
  EXPECT_EQ(dump->al.extents, (std::vector<uint32_t>{7, 2}));
  const std::string text = format_metadata_dump(dump.value());
  EXPECT_TRUE(contains(text, "metadata: format 1, internal, superblock at offset " +
                                 std::to_string(sb.superblock_offset)))
      << text;
  EXPECT_TRUE(contains(text, "data size: " + std::to_string(sb.data_size) + " bytes")) << text;
  EXPECT_TRUE(contains(text, "node id: 1\n")) << text;
  EXPECT_TRUE(contains(text, "device uuid: abcd0000000000000000000000000000\n")) << text;
  EXPECT_TRUE(contains(text, "generations: 1234567890ABCDE1:0FEDCBA987654320:0000000000001111:0000000000000000"))
      << text;
  EXPECT_TRUE(contains(text, "flags: consistent yes, was-primary yes, outdated no, peer-outdated no")) << text;
  EXPECT_TRUE(contains(text, "out of sync: 12 KiB (3 blocks of 4 KiB)")) << text;
  EXPECT_TRUE(contains(text, "2 active extents of 4 MiB (7 2)")) << text;
  EXPECT_TRUE(contains(text, "note: it went down as Primary without a clean demotion")) << text;
  EXPECT_FALSE(contains(text, "not consistent")) << text;
  EXPECT_FALSE(contains(text, "Diskless Primary")) << text;
}

TEST(MetadataDump, NamesTheDisklessPrimaryThatMayConnectAgain) {
  FakeStorage disk(16ull << 20);
  Superblock sb = create_metadata(disk, CreateMetadataParams{}).value();
  sb.flags.consistent = true;
  sb.diskless_primary_generation = 0x0FEDCBA987654320;
  sb.flags.diskless_primary_new_generation = true;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  auto dump = read_metadata_dump(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(dump.ok()) << dump.error();
  const std::string text = format_metadata_dump(dump.value());
  EXPECT_TRUE(contains(text, "note: it holds the only complete copy of a Primary peer's data (generation "
                             "0FEDCBA987654320, a generation started for its writes)"))
      << text;
}

TEST(MetadataDump, FreshMetadataAndNoneAtAll) {
  FakeStorage disk(16ull << 20);
  ASSERT_TRUE(create_metadata(disk, CreateMetadataParams{}).ok());
  auto dump = read_metadata_dump(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(dump.ok()) << dump.error();
  const std::string text = format_metadata_dump(dump.value());
  EXPECT_TRUE(contains(text, "no transaction written")) << text;
  EXPECT_TRUE(contains(text, "note: not consistent")) << text;
  EXPECT_TRUE(contains(text, "out of sync: 0 KiB")) << text;

  FakeStorage blank(16ull << 20);
  auto none = read_metadata_dump(blank, MetadataLayout::kInternal);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(contains(none.error(), "no vrrpd metadata")) << none.error();
}

}  // namespace
}  // namespace vrrpd::replication
