// Metadata format v1: create/read round trip for both layouts, the geometry,
// slot selection by sequence and checksum, crash safety of superblock
// updates, and the operator-facing error messages.
#include "replication/metadata.h"

#include <gtest/gtest.h>

#include <string>

#include "replication/byte_order.h"
#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

constexpr uint64_t kMiB = 1 << 20;
constexpr std::array<uint8_t, 16> kUuid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

CreateMetadataParams internal_params() {
  return {.layout = MetadataLayout::kInternal, .node_id = 7, .device_uuid = kUuid};
}

// Offset of superblock slot `i` for internal metadata on `s`.
uint64_t slot_offset(const Superblock& sb, int i) { return sb.superblock_offset + uint64_t(i) * kSuperblockSlotSize; }

void expect_error(const Result<Superblock>& r, const std::string& substring) {
  ASSERT_FALSE(r.ok()) << "expected failure containing: " << substring;
  EXPECT_NE(r.error().find(substring), std::string::npos) << r.error();
}

TEST(Metadata, InternalCreateThenReadRoundTrips) {
  FakeStorage disk(16 * kMiB + 1000);  // odd size: the tail is unused
  auto created = create_metadata(disk, internal_params());
  ASSERT_TRUE(created) << created.error();
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read) << read.error();
  const Superblock& sb = read.value();
  EXPECT_EQ(sb.sequence, 2u);
  EXPECT_EQ(sb.node_id, 7u);
  EXPECT_EQ(sb.device_uuid, kUuid);
  EXPECT_EQ(sb.generations, just_created_generations());
  EXPECT_EQ(sb.flags, SuperblockFlags{});
  EXPECT_EQ(sb.block_size, 4096u);
  // Geometry: data | bitmap | AL | slot 0 | slot 1, ending at the aligned end.
  EXPECT_EQ(sb.superblock_offset + 2 * kSuperblockSlotSize, 16 * kMiB);
  EXPECT_EQ(sb.al_offset + sb.al_length(), sb.superblock_offset);
  EXPECT_EQ(sb.bitmap_offset + sb.bitmap_length, sb.al_offset);
  EXPECT_EQ(sb.data_size, sb.bitmap_offset);
  EXPECT_EQ(sb.bitmap_length, 4096u);  // 16 MiB = 4096 bits = 512 bytes, one page
  EXPECT_EQ(sb.data_size, 16 * kMiB - 8192 - 16 * 4096 - 4096);
}

TEST(Metadata, ExternalCreateThenReadRoundTrips) {
  FakeStorage md(1 * kMiB);
  CreateMetadataParams p{.layout = MetadataLayout::kExternal, .external_data_size = 10ull << 30,
                         .node_id = 2, .device_uuid = kUuid, .al_slots = 8};
  auto created = create_metadata(md, p);
  ASSERT_TRUE(created) << created.error();
  auto read = read_metadata(md, MetadataLayout::kExternal);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->data_size, 10ull << 30);
  EXPECT_EQ(read->superblock_offset, 0u);
  EXPECT_EQ(read->al_offset, 8192u);
  EXPECT_EQ(read->bitmap_offset, 8192u + 8 * 4096);
  EXPECT_EQ(read->bitmap_length, 320u * 1024);  // 10 GiB / 4 KiB / 8 bits
  // Read as the wrong layout: the superblock is not where internal looks.
  expect_error(read_metadata(md, MetadataLayout::kInternal), "no vrrpd metadata: bad magic");
}

TEST(Metadata, TooSmallStorageIsRefusedWithTheNumbers) {
  FakeStorage tiny(64 * 1024);
  expect_error(create_metadata(tiny, internal_params()), "device too small for internal metadata: 65536 bytes");
  CreateMetadataParams p{.layout = MetadataLayout::kExternal, .external_data_size = 1ull << 40, .device_uuid = kUuid};
  expect_error(create_metadata(tiny, p), "external metadata storage too small: 65536 bytes");
  CreateMetadataParams bad_al = internal_params();
  bad_al.al_slots = 1;
  FakeStorage disk(16 * kMiB);
  expect_error(create_metadata(disk, bad_al), "al_slots 1 outside 2..1024");
}

TEST(Metadata, EmptyDeviceHasNoMetadata) {
  FakeStorage disk(16 * kMiB);
  expect_error(read_metadata(disk, MetadataLayout::kInternal), "no vrrpd metadata: bad magic");
}

TEST(Metadata, UpdateGoesToTheOlderSlotAndHighestSequenceWins) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  disk.clear_write_log();
  sb.generations.current = 0xA000;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  EXPECT_EQ(sb.sequence, 3u);
  ASSERT_EQ(disk.writes().size(), 1u);
  EXPECT_EQ(disk.writes()[0].offset, slot_offset(sb, 1));  // slot 0 held sequence 2
  sb.flags.was_primary = true;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  EXPECT_EQ(disk.writes()[1].offset, slot_offset(sb, 0));
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->sequence, 4u);
  EXPECT_EQ(read->generations.current, 0xA000u);
  EXPECT_TRUE(read->flags.was_primary);
}

TEST(Metadata, CorruptNewestSlotFallsBackToTheOther) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  sb.generations.current = 0xA000;
  ASSERT_TRUE(write_superblock(disk, sb).ok());  // sequence 3 in slot 1
  disk.bytes()[slot_offset(sb, 1) + 60] ^= 0x40;  // flip a bit of the generations
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->sequence, 2u);
  EXPECT_EQ(read->generations.current, kJustCreatedUuid);
}

TEST(Metadata, CorruptOlderSlotIsIgnored) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  disk.bytes()[slot_offset(sb, 1) + 20] ^= 1;  // slot 1 holds sequence 1
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->sequence, 2u);
}

TEST(Metadata, BothSlotsCorruptIsAClearError) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  disk.bytes()[slot_offset(sb, 0) + 30] ^= 1;
  disk.bytes()[slot_offset(sb, 1) + 30] ^= 1;
  expect_error(read_metadata(disk, MetadataLayout::kInternal), "checksum mismatch in both superblock slots");
}

TEST(Metadata, OneSlotCorruptOtherMissingNamesBoth) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  disk.bytes()[slot_offset(sb, 0) + 30] ^= 1;
  disk.bytes()[slot_offset(sb, 1)] = 'X';
  expect_error(read_metadata(disk, MetadataLayout::kInternal),
               "no valid superblock: slot 0: checksum mismatch");
}

// The Diskless Primary this node served (a field added to format v1 in
// bytes that were reserved, and flag bit 4): kept across updates, at the
// documented place, and 0 in a slot written before the field existed (an
// older build wrote zeros there), which reads as "none".
TEST(Metadata, TheDisklessPrimaryServedIsKeptInOnceReservedBytes) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  EXPECT_EQ(sb.diskless_primary_generation, 0u);
  sb.diskless_primary_generation = 0x1234567890ABCDE0;
  sb.flags.diskless_primary_new_generation = true;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  const uint64_t slot = slot_offset(sb, static_cast<int>(sb.sequence % 2));
  EXPECT_EQ(le::get64(disk.bytes(), slot + 136), 0x1234567890ABCDE0u);
  EXPECT_EQ(le::get32(disk.bytes(), slot + 36) & 16u, 16u) << "flag bit 4";
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->diskless_primary_generation, 0x1234567890ABCDE0u);
  EXPECT_TRUE(read->flags.diskless_primary_new_generation);
  EXPECT_FALSE(read->flags.was_primary) << "bit 4 alone";
  sb.diskless_primary_generation = 0;
  sb.flags.diskless_primary_new_generation = false;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->diskless_primary_generation, 0u);
  EXPECT_EQ(read->flags, SuperblockFlags{});
}

TEST(Metadata, NewerFormatVersionIsRefused) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  le::put32(disk.bytes(), slot_offset(sb, 0) + 8, 2);
  expect_error(read_metadata(disk, MetadataLayout::kInternal), "format version 2 not supported; this build reads 1");
}

TEST(Metadata, InvalidGeometryWithValidChecksumIsRefused) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  Superblock bad = sb;
  bad.bitmap_length = 0;
  ASSERT_TRUE(write_superblock(disk, bad).ok());
  expect_error(read_metadata(disk, MetadataLayout::kInternal), "invalid superblock: bitmap area of 0 bytes is too small");
}

// A write spans up to two extents: a log of one could never hold both.
TEST(Metadata, AnActivityLogOfOneExtentIsRefused) {
  FakeStorage disk(16 * kMiB);
  Superblock bad = create_metadata(disk, internal_params()).value();
  bad.al_max_extents = 1;
  ASSERT_TRUE(write_superblock(disk, bad).ok());
  expect_error(read_metadata(disk, MetadataLayout::kInternal), "activity-log extents 1 outside 2..64");
}

TEST(Metadata, CrashBeforeFlushOfAnUpdateKeepsThePreviousGeneration) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  sb.generations.current = 0xA000;
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  // Next update: the slot write reaches the cache, the flush fails, power goes.
  Superblock next = sb;
  next.generations.current = 0xB000;
  disk.fail_flush(EIO);
  EXPECT_EQ(write_superblock(disk, next).errno_value(), EIO);
  EXPECT_EQ(next.sequence, sb.sequence);  // unchanged: a retry targets the same slot
  disk.crash();
  auto read = read_metadata(disk, MetadataLayout::kInternal);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->generations.current, 0xA000u);
}

TEST(Metadata, TornSlotWriteKeepsThePreviousGeneration) {
  for (size_t torn : {size_t{1}, size_t{16}, size_t{60}, size_t{251}}) {
    SCOPED_TRACE("torn after " + std::to_string(torn) + " bytes");
    FakeStorage disk(16 * kMiB);
    Superblock sb = create_metadata(disk, internal_params()).value();
    sb.generations.current = 0xA000;
    ASSERT_TRUE(write_superblock(disk, sb).ok());
    Superblock next = sb;
    next.generations.current = 0xB000;
    disk.fail_flush(EIO);  // the write reaches the disk cache only
    EXPECT_FALSE(write_superblock(disk, next).ok());
    disk.crash({.complete_writes = 0, .torn_bytes = torn});
    auto read = read_metadata(disk, MetadataLayout::kInternal);
    ASSERT_TRUE(read) << read.error();
    EXPECT_EQ(read->generations.current, 0xA000u);
    EXPECT_EQ(read->sequence, sb.sequence);
  }
}

TEST(Metadata, WriteErrorLeavesSequenceForRetry) {
  FakeStorage disk(16 * kMiB);
  Superblock sb = create_metadata(disk, internal_params()).value();
  disk.fail_writes(slot_offset(sb, 1), 1, EIO);
  EXPECT_EQ(write_superblock(disk, sb).errno_value(), EIO);
  EXPECT_EQ(sb.sequence, 2u);
  disk.clear_faults();
  ASSERT_TRUE(write_superblock(disk, sb).ok());
  EXPECT_EQ(sb.sequence, 3u);
}

TEST(Metadata, RandomDeviceUuidsDiffer) {
  EXPECT_NE(random_device_uuid(), random_device_uuid());
}

}  // namespace
}  // namespace vrrpd::replication
