// The state names users know from DRBD (drbdadm status, /proc/drbd).
#include "replication/status.h"

#include <gtest/gtest.h>

#include <string>

namespace vrrpd::replication {
namespace {

TEST(Status, UsesDrbdNames) {
  EXPECT_EQ(std::string(to_string(Role::kPrimary)), "Primary");
  EXPECT_EQ(std::string(to_string(std::optional<Role>{})), "Unknown");
  EXPECT_EQ(std::string(to_string(DiskState::kUpToDate)), "UpToDate");
  EXPECT_EQ(std::string(to_string(DiskState::kInconsistent)), "Inconsistent");
  EXPECT_EQ(std::string(to_string(std::optional<DiskState>{})), "DUnknown");
  EXPECT_EQ(std::string(to_string(ConnectionState::kStandAlone)), "StandAlone");
  EXPECT_EQ(std::string(to_string(ConnectionState::kConnecting)), "Connecting");
  EXPECT_EQ(std::string(to_string(ReplicationState::kSyncSource)), "SyncSource");
  EXPECT_EQ(std::string(to_string(ReplicationState::kVerifyT)), "VerifyT");
}

}  // namespace
}  // namespace vrrpd::replication
