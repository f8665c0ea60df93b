// StorageVolume: the Volume the frontend serves in its own tests and the
// stand-alone case; writes are refused unless the volume is writable.
#include "replication/volume.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "tests/unit/replication/fake_storage.h"

namespace vrrpd::replication {
namespace {

TEST(StorageVolume, RefusesWritesWithErofsUntilMadeWritable) {
  testing::FakeStorage disk(8192);
  StorageVolume volume(disk, /*writable=*/false);
  const std::vector<uint8_t> data(4096, 0xab);
  EXPECT_EQ(volume.write(0, data).errno_value(), EROFS);
  EXPECT_TRUE(disk.writes().empty());
  volume.set_writable(true);
  EXPECT_TRUE(volume.writable());
  ASSERT_TRUE(volume.write(4096, data).ok());
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(volume.read(4096, back).ok());
  EXPECT_EQ(back, data);
  EXPECT_EQ(volume.size(), 8192u);
}

TEST(StorageVolume, PassesStorageErrorsThrough) {
  testing::FakeStorage disk(8192);
  StorageVolume volume(disk, true);
  std::vector<uint8_t> out(4096);
  EXPECT_EQ(volume.read(8192, out).errno_value(), EINVAL);  // beyond the end
}

}  // namespace
}  // namespace vrrpd::replication
