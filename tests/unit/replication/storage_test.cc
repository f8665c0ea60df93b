// BlockStorage implementations: FileStorage on a real temporary file,
// StorageRegion bounds, and the FakeStorage durability model the other tests
// rely on. (CRC32C: crc32c_test.cc.)
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "replication/storage.h"
#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

using testing::FakeStorage;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

class FileStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrrpd-storage-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
  }
  void TearDown() override { ::unlink(path_.c_str()); }
  std::string path_;
};

TEST_F(FileStorageTest, WrittenDataReadsBackAfterReopen) {
  {
    auto s = FileStorage::create(path_, 1 << 20);
    ASSERT_TRUE(s) << s.error();
    EXPECT_EQ(s.value()->size(), 1u << 20);
    auto data = bytes("replicated block");
    ASSERT_TRUE(s.value()->write(4096, data).ok());
    ASSERT_TRUE(s.value()->flush().ok());
  }
  auto s = FileStorage::open(path_);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s.value()->size(), 1u << 20);
  std::vector<uint8_t> out(16);
  ASSERT_TRUE(s.value()->read(4096, out).ok());
  EXPECT_EQ(out, bytes("replicated block"));
}

TEST_F(FileStorageTest, AccessBeyondTheEndIsRejected) {
  auto s = FileStorage::create(path_, 8192);
  ASSERT_TRUE(s);
  std::vector<uint8_t> buf(4096);
  EXPECT_EQ(s.value()->read(8192 - 100, buf).errno_value(), EINVAL);
  EXPECT_EQ(s.value()->write(UINT64_MAX - 10, buf).errno_value(), EINVAL);
}

TEST(FileStorage, OpenOfMissingFileSaysWhichFile) {
  auto s = FileStorage::open("/nonexistent/vrrpd-disk");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("/nonexistent/vrrpd-disk"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("No such file"), std::string::npos) << s.error();
}

TEST(StorageRegion, MapsOffsetsAndRefusesToLeaveItsWindow) {
  FakeStorage disk(16384);
  StorageRegion data(disk, 4096, 8192);
  EXPECT_EQ(data.size(), 8192u);
  auto payload = bytes("abc");
  ASSERT_TRUE(data.write(0, payload).ok());
  EXPECT_EQ(disk.bytes()[4096], 'a');
  std::vector<uint8_t> page(4096);
  EXPECT_EQ(data.write(4097, page).errno_value(), EINVAL);  // would reach byte 8193
  EXPECT_EQ(disk.writes().size(), 1u);
}

TEST_F(FileStorageTest, DiscardPunchesAHoleThatReadsAsZeros) {
  auto s = FileStorage::create(path_, 1 << 20);
  ASSERT_TRUE(s) << s.error();
  const std::vector<uint8_t> ones(1 << 20, 0x5A);
  ASSERT_TRUE(s.value()->write(0, ones).ok());
  ASSERT_TRUE(s.value()->flush().ok());
  struct stat before {};
  ASSERT_EQ(::stat(path_.c_str(), &before), 0);
  ASSERT_TRUE(s.value()->discard(256 * 1024, 512 * 1024).ok());
  ASSERT_TRUE(s.value()->flush().ok());
  std::vector<uint8_t> out(1 << 20);
  ASSERT_TRUE(s.value()->read(0, out).ok());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t want = i >= 256 * 1024 && i < 768 * 1024 ? 0 : 0x5A;
    ASSERT_EQ(out[i], want) << "byte " << i;
  }
  struct stat after {};
  ASSERT_EQ(::stat(path_.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  // /tmp here is ext4 or tmpfs, both with holes: the space is released.
  EXPECT_LE(after.st_blocks, before.st_blocks - 512 * 1024 / 512);
  EXPECT_EQ(s.value()->discard(1 << 20, 4096).errno_value(), EINVAL);
}

TEST(StorageRegion, DiscardStaysInItsWindow) {
  FakeStorage disk(16384);
  std::fill(disk.bytes().begin(), disk.bytes().end(), 0xFF);
  StorageRegion data(disk, 4096, 8192);
  ASSERT_TRUE(data.discard(0, 8192).ok());
  EXPECT_EQ(disk.bytes()[4095], 0xFF);
  EXPECT_EQ(disk.bytes()[4096], 0);
  EXPECT_EQ(disk.bytes()[12287], 0);
  EXPECT_EQ(disk.bytes()[12288], 0xFF);
  EXPECT_EQ(data.discard(4096, 8192).errno_value(), EINVAL);
  ASSERT_EQ(disk.discards().size(), 1u);
  EXPECT_EQ(disk.discards()[0].offset, 4096u);
}

TEST(BlockStorage, DefaultDiscardWritesZeros) {
  // A storage with no discard of its own (the default): zeros, written.
  class Plain final : public BlockStorage {
   public:
    uint64_t size() const override { return bytes.size(); }
    IoStatus read(uint64_t offset, std::span<uint8_t> out) override {
      std::copy_n(bytes.begin() + offset, out.size(), out.begin());
      return {};
    }
    IoStatus write(uint64_t offset, std::span<const uint8_t> data) override {
      std::copy(data.begin(), data.end(), bytes.begin() + offset);
      return {};
    }
    IoStatus flush() override { return {}; }
    std::vector<uint8_t> bytes = std::vector<uint8_t>(3u << 20, 7);
  } plain;
  ASSERT_TRUE(plain.discard(1000, (2u << 20) + 5).ok());
  EXPECT_EQ(plain.bytes[999], 7);
  EXPECT_EQ(plain.bytes[1000], 0);
  EXPECT_EQ(plain.bytes[1000 + (2u << 20) + 4], 0);
  EXPECT_EQ(plain.bytes[1000 + (2u << 20) + 5], 7);
  EXPECT_EQ(plain.discard(3u << 20, 1).errno_value(), EINVAL);
}

TEST(FakeStorage, UnflushedWritesAreLostOnCrash) {
  FakeStorage s(8192);
  auto a = bytes("AAAA"), b = bytes("BBBB");
  ASSERT_TRUE(s.write(0, a).ok());
  ASSERT_TRUE(s.flush().ok());
  ASSERT_TRUE(s.write(0, b).ok());
  s.crash();
  std::vector<uint8_t> out(4);
  ASSERT_TRUE(s.read(0, out).ok());
  EXPECT_EQ(out, a);
}

// Linux after failed writeback: the pages are clean, a later flush succeeds
// without them, a power loss brings back what the disk held. A byte written
// again and flushed is durable once more.
TEST(FakeStorage, AFlushThatLosesItsWritesUndoesThemAtACrashDespiteLaterFlushes) {
  FakeStorage s(8192);
  auto a = bytes("AAAA"), b = bytes("BBBB"), c = bytes("CC");
  ASSERT_TRUE(s.write(0, a).ok());
  ASSERT_TRUE(s.flush().ok());
  ASSERT_TRUE(s.write(0, b).ok());
  s.fail_flush(EIO, /*once=*/true, /*loses_unflushed=*/true);
  EXPECT_EQ(s.flush().errno_value(), EIO);
  std::vector<uint8_t> out(4);
  ASSERT_TRUE(s.read(0, out).ok());
  EXPECT_EQ(out, b) << "still in the page cache";
  EXPECT_EQ(s.lost_bytes(), 4u);
  ASSERT_TRUE(s.flush().ok());
  ASSERT_TRUE(s.write(2, c).ok());
  ASSERT_TRUE(s.flush().ok());
  EXPECT_EQ(s.lost_bytes(), 2u);
  s.crash();
  ASSERT_TRUE(s.read(0, out).ok());
  EXPECT_EQ(out, bytes("AACC"));
  EXPECT_EQ(s.lost_bytes(), 0u);
}

TEST(FakeStorage, TornCrashKeepsOnlyAPrefixOfTheNextPendingWrite) {
  FakeStorage s(8192);
  auto first = bytes("1111"), second = bytes("2222");
  ASSERT_TRUE(s.write(0, first).ok());
  ASSERT_TRUE(s.write(100, second).ok());
  s.crash({.complete_writes = 1, .torn_bytes = 2});
  std::vector<uint8_t> out(4);
  ASSERT_TRUE(s.read(0, out).ok());
  EXPECT_EQ(out, first);
  ASSERT_TRUE(s.read(100, out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{'2', '2', 0, 0}));
}

TEST_F(FileStorageTest, DurableWriteReadsBackAndStaysInItsRange) {
  auto created = FileStorage::create(path_, 8192);
  ASSERT_TRUE(created) << created.error();
  FileStorage& s = *created.value();
  auto a = bytes("durable");
  ASSERT_TRUE(s.write_durable(4096, a).ok());
  std::vector<uint8_t> out(a.size());
  ASSERT_TRUE(s.read(4096, out).ok());
  EXPECT_EQ(out, a);
  std::vector<uint8_t> around(4096, 0xFF);
  ASSERT_TRUE(s.read(0, around).ok());
  EXPECT_EQ(around, std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(s.write_durable(8190, a).errno_value(), EINVAL);
}

TEST(FakeStorage, DurableWriteSurvivesACrashThatLosesOtherPendingWrites) {
  FakeStorage s(8192);
  auto old_bytes = bytes("oooooooo"), pending = bytes("pppppppp"), durable = bytes("DD");
  ASSERT_TRUE(s.write(0, old_bytes).ok());
  ASSERT_TRUE(s.flush().ok());
  ASSERT_TRUE(s.write(0, pending).ok());     // never flushed
  ASSERT_TRUE(s.write(4096, pending).ok());  // never flushed, elsewhere
  ASSERT_TRUE(s.write_durable(3, durable).ok());
  EXPECT_EQ(s.durable_writes(), 1u);
  s.crash();
  std::vector<uint8_t> out(8);
  ASSERT_TRUE(s.read(0, out).ok());
  // The overlapped pending write is lost around the durable bytes only.
  EXPECT_EQ(out, bytes("oooDDooo"));
  ASSERT_TRUE(s.read(4096, out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(8, 0));
}

TEST(FakeStorage, DurableWriteWithAFailingFlushStaysPending) {
  FakeStorage s(8192);
  s.fail_flush(EIO);
  auto a = bytes("AAAA");
  EXPECT_EQ(s.write_durable(0, a).errno_value(), EIO);
  s.crash();
  std::vector<uint8_t> out(4);
  ASSERT_TRUE(s.read(0, out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(4, 0));
}

TEST(FakeStorage, InjectedErrorsHitOnlyOverlappingRanges) {
  FakeStorage s(8192);
  s.fail_writes(4096, 10, ENOSPC);
  s.fail_reads(0, 1, EIO);
  std::vector<uint8_t> buf(100);
  EXPECT_EQ(s.write(4000, buf).errno_value(), ENOSPC);
  EXPECT_TRUE(s.write(4106, buf).ok());
  EXPECT_EQ(s.read(0, buf).errno_value(), EIO);
  EXPECT_TRUE(s.read(1, buf).ok());
  s.fail_flush(EIO);
  EXPECT_EQ(s.flush().errno_value(), EIO);
  EXPECT_TRUE(s.flush().ok());  // once
}

}  // namespace
}  // namespace vrrpd::replication
