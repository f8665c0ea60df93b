// BlockStorage implementations: FileStorage on a real temporary file,
// StorageRegion bounds, and the FakeStorage durability model the other tests
// rely on. (CRC32C: crc32c_test.cc.)
#include <gtest/gtest.h>
#include <unistd.h>

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
