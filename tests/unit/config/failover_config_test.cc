// Failover with data in the native config: an instance's `resources` and its
// takeover/release/fault-hold timing map onto the model with their defaults,
// a reload sees a change of them, and one line per rejected config.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/expect_invalid.h"
#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;

// Line 1: r0 and r1; line 2: the instance list; line 3: VI_1 with `extra`;
// line 4: VI_2 with `extra2`.
std::string with_instances(const std::string& extra, const std::string& extra2 = "") {
  return "resources = ( { name = \"r0\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; mount_point = \"/srv/data\"; }, { name = \"r1\"; device = \"/dev/vdc\"; address = \"198.51.100.1\"; port = 7790; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; } );\n"
         "vrrp_instances = (\n"
         " { name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 51; " + extra + " },\n"
         " { name = \"VI_2\"; interface = \"eth0\"; virtual_router_id = 52; " + extra2 + " } );\n";
}

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }

TEST(FailoverConfig, ResourcesAndTimingMapOntoTheModel) {
  Config c = native(with_instances(
      "resources = ( \"r0\", \"r1\" ); takeover_timeout_ms = 5000; release_timeout_ms = 7000; fault_hold_ms = 0;"));
  const Instance& i = c.instances.at(0);
  EXPECT_EQ(i.resources, (std::vector<std::string>{"r0", "r1"}));
  EXPECT_EQ(i.takeover_timeout, milliseconds(5000));
  EXPECT_EQ(i.release_timeout, milliseconds(7000));
  EXPECT_EQ(i.fault_hold, milliseconds(0));
}

TEST(FailoverConfig, DefaultsAreThirtySecondsPerStepAndTenSecondsOfFault) {
  Config c = native(with_instances("resources = \"r0\";"));
  const Instance& i = c.instances.at(0);
  EXPECT_EQ(i.resources, std::vector<std::string>{"r0"});
  EXPECT_EQ(i.takeover_timeout, milliseconds(30000));
  EXPECT_EQ(i.release_timeout, milliseconds(30000));
  EXPECT_EQ(i.fault_hold, milliseconds(10000));
  EXPECT_TRUE(c.instances.at(1).resources.empty());
}

TEST(FailoverConfig, ChangedResourcesOrTimingIsAChangedInstance) {
  const Instance base = native(with_instances("resources = \"r0\";")).instances.at(0);
  EXPECT_TRUE(same_settings(base, native(with_instances("resources = \"r0\";")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_instances("resources = ( \"r0\", \"r1\" );")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_instances("")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_instances("resources = \"r0\"; takeover_timeout_ms = 1000;")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_instances("resources = \"r0\"; release_timeout_ms = 1000;")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_instances("resources = \"r0\"; fault_hold_ms = 1000;")).instances.at(0)));
}

// Line 5: a sync group of VI_1 and VI_2 with `extra`.
std::string with_group(const std::string& extra, const std::string& members = "[ \"VI_1\", \"VI_2\" ]",
                       const std::string& vi1 = "") {
  return with_instances(vi1) + "sync_groups = ( { name = \"G\"; members = " + members + "; " + extra + " } );\n";
}

TEST(FailoverConfig, SyncGroupOwnershipMapsOntoTheModel) {
  Config c = native(with_group("resources = ( \"r0\", \"r1\" ); takeover_timeout_ms = 4000; "
                               "release_timeout_ms = 6000; fault_hold_ms = 500;"));
  const SyncGroup& g = c.sync_groups.at(0);
  EXPECT_EQ(g.resources, (std::vector<std::string>{"r0", "r1"}));
  EXPECT_TRUE(g.owns_anything());
  EXPECT_EQ(g.takeover_timeout, milliseconds(4000));
  EXPECT_EQ(g.release_timeout, milliseconds(6000));
  EXPECT_EQ(g.fault_hold, milliseconds(500));
  EXPECT_FALSE(c.instances.at(0).owns_anything());
  EXPECT_EQ(c.instances.at(0).sync_group, "G");
}

TEST(FailoverConfig, GroupAndMemberMayOwnDifferentResources) {
  Config c = native(with_group("resources = \"r1\";", "[ \"VI_1\", \"VI_2\" ]", "resources = \"r0\";"));
  EXPECT_EQ(c.sync_groups.at(0).resources, std::vector<std::string>{"r1"});
  EXPECT_EQ(c.instances.at(0).resources, std::vector<std::string>{"r0"});
}

TEST(FailoverConfig, SameOwnershipComparesEveryOwnershipKey) {
  const SyncGroup base = native(with_group("resources = \"r0\";")).sync_groups.at(0);
  EXPECT_TRUE(same_ownership(base, native(with_group("resources = \"r0\";")).sync_groups.at(0)));
  EXPECT_FALSE(same_ownership(base, native(with_group("resources = \"r1\";")).sync_groups.at(0)));
  EXPECT_FALSE(same_ownership(base, native(with_group("resources = \"r0\"; fault_hold_ms = 1;")).sync_groups.at(0)));
}

void expectInvalid(const std::string& text, int line, const std::string& expected) {
  config::expectInvalid(Format::kNative, text, line, expected);
}

TEST(InvalidFailover, UnknownResource) { expectInvalid(with_instances("resources = \"r9\";"), 3, "resources = \"r9\": instance VI_1 owns unknown replication resource; defined: r0, r1"); }
TEST(InvalidFailover, ResourceListedTwice) { expectInvalid(with_instances("resources = ( \"r0\", \"r0\" );"), 3, "resources = \"r0\": listed twice; valid: each resource once"); }
TEST(InvalidFailover, ResourceOwnedByTwoInstances) { expectInvalid(with_instances("resources = \"r0\";", "resources = \"r0\";"), 4, "resources = \"r0\": already owned by instance \"VI_1\" (test.conf:3); valid: one owner per resource"); }
TEST(InvalidFailover, ResourcesNotStrings) { expectInvalid(with_instances("resources = 5;"), 3, "wrong type (an integer); expected a string or an array of strings"); }
TEST(InvalidFailover, TakeoverTimeoutTooShort) { expectInvalid(with_instances("takeover_timeout_ms = 99;"), 3, "takeover_timeout_ms = 99: out of range; valid: 100..3600000 ms"); }
TEST(InvalidFailover, ReleaseTimeoutTooLong) { expectInvalid(with_instances("release_timeout_ms = 3600001;"), 3, "release_timeout_ms = 3600001: out of range; valid: 100..3600000 ms"); }
TEST(InvalidFailover, GroupUnknownResource) { expectInvalid(with_group("resources = \"r9\";"), 5, "resources = \"r9\": sync group G owns unknown replication resource; defined: r0, r1"); }
TEST(InvalidFailover, ResourceOwnedByAMemberAndItsGroup) { expectInvalid(with_group("resources = \"r0\";", "[ \"VI_1\", \"VI_2\" ]", "resources = \"r0\";"), 5, "resources = \"r0\": already owned by instance \"VI_1\" (test.conf:3); valid: one owner per resource"); }
TEST(InvalidFailover, GroupOwningDataWithoutMembers) { expectInvalid(with_group("resources = \"r0\";", "[ ]"), 5, "members: required with resources or services; valid: the instances whose VIPs wait for this group's data"); }
TEST(InvalidFailover, GroupTakeoverTimeoutTooShort) { expectInvalid(with_group("takeover_timeout_ms = 50;"), 5, "takeover_timeout_ms = 50: out of range; valid: 100..3600000 ms"); }
TEST(InvalidFailover, FaultHoldNegative) { expectInvalid(with_instances("fault_hold_ms = -1;"), 3, "fault_hold_ms = -1: out of range; valid: 0..3600000 ms"); }

}  // namespace
}  // namespace vrrpd::config
