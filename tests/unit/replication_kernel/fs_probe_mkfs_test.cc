// probe_file_system() on what Debian's mkfs.ext4 writes: the size a shrink
// is checked against is the one the file system records, not the device's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "replication/fs_probe.h"
#include "replication/storage.h"
#include "tests/unit/replication_kernel/kernel_fixture.h"

namespace vrrpd::replication {
namespace {

class FsProbeMkfsTest : public KernelFrontendTest {
 protected:
  // A 64 MiB file with an ext4 file system of `fs_size` (mkfs's SIZE
  // argument) made by mkfs.ext4 with `features`.
  std::optional<FileSystemExtent> probe_after_mkfs(const std::string& fs_size, const std::string& features) {
    const std::string path = root_ + "/backing";
    auto file = FileStorage::create(path, kVolumeBytes);
    EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error());
    if (!file.ok()) return std::nullopt;
    EXPECT_EQ(run({"mkfs.ext4", "-q", "-F", "-b", "4096", "-O", features, path, fs_size}), 0);
    auto reopened = FileStorage::open(path);
    EXPECT_TRUE(reopened.ok());
    if (!reopened.ok()) return std::nullopt;
    return probe_file_system(*reopened.value());
  }
};

TEST_F(FsProbeMkfsTest, FindsTheSizeMkfsExt4Wrote) {
  auto fs = probe_after_mkfs("40M", "^64bit");
  ASSERT_TRUE(fs.has_value());
  EXPECT_EQ(fs->type, "ext2/3/4");
  EXPECT_EQ(fs->bytes, 40ull << 20);
}

TEST_F(FsProbeMkfsTest, FindsTheSizeOfA64BitExt4) {
  auto fs = probe_after_mkfs("48M", "64bit");
  ASSERT_TRUE(fs.has_value());
  EXPECT_EQ(fs->bytes, 48ull << 20);
}

}  // namespace
}  // namespace vrrpd::replication
