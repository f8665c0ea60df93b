// Replication resources in the native config: every key maps onto the model,
// defaults and derived values (peer_port, canonical spellings), a config
// with resources and no VRRP instance is valid (the engine runs on its own),
// the "replication" check kind, and one test per rejected resource config
// (the error names file:line, key, value and what would be valid; the
// shared secret is never echoed).
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/expect_invalid.h"
#include "tests/unit/config/native_examples.h"
#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }

constexpr const char* kFull = kNativeFullResource;

TEST(ResourceConfig, EveryKeyMapsOntoTheModel) {
  Config c = native(kFull);
  ASSERT_EQ(c.resources.size(), 2u);
  const Resource& r = c.resources[0];
  EXPECT_EQ(r.name, "r0");
  EXPECT_EQ(r.device, "/dev/vdb");
  EXPECT_EQ(r.metadata, "/var/lib/vrrpd/r0.md");
  EXPECT_EQ(r.address->to_string(), "198.51.100.1");
  EXPECT_EQ(r.port, 7790);
  EXPECT_EQ(r.peer_address->to_string(), "198.51.100.2");
  EXPECT_EQ(r.peer_port, 7791);
  EXPECT_EQ(r.protocol, "B");  // canonical spelling
  EXPECT_EQ(r.shared_secret, "0123456789abcdef");
  EXPECT_EQ(r.resync_rate_kib, 40960);
  EXPECT_EQ(r.on_io_error, "call-handler");
  ASSERT_TRUE(r.io_error_handler);
  EXPECT_EQ(r.io_error_handler->argv, (std::vector<std::string>{"/usr/local/sbin/disk-failed", "r0"}));
  ASSERT_TRUE(r.notify);
  EXPECT_EQ(r.notify->argv, (std::vector<std::string>{"/usr/local/sbin/replication-event", "mail"}));
  ASSERT_TRUE(r.before_resync_target_handler);
  EXPECT_EQ(r.before_resync_target_handler->argv, (std::vector<std::string>{"/usr/local/sbin/snap", "r0"}));
  EXPECT_EQ(r.after_sb_0pri, "discard-least-changes");
  EXPECT_EQ(r.after_sb_1pri, "discard-secondary");
  EXPECT_EQ(r.after_sb_2pri, "disconnect");
  EXPECT_EQ(r.ping_interval, milliseconds(2000));
  EXPECT_EQ(r.ping_timeout, milliseconds(1000));
  EXPECT_EQ(r.probe_timeout, milliseconds(700));
  EXPECT_EQ(r.timeout, milliseconds(3000));
  EXPECT_EQ(r.ko_count, 3);
  EXPECT_EQ(r.connect_interval, milliseconds(500));
  EXPECT_EQ(r.tcp_congestion, "reno");
  EXPECT_EQ(r.congestion_fill_kib, 2048);
  EXPECT_EQ(r.congestion_extents, 32);
  EXPECT_EQ(r.fencing, "resource-only");  // canonical spelling
  EXPECT_EQ(r.fence_address->to_string(), "192.0.2.1");
  EXPECT_EQ(r.fence_peer_address->to_string(), "192.0.2.2");
  EXPECT_EQ(r.mount_point, "/srv/data");
  EXPECT_EQ(r.fs_type, "xfs");
  EXPECT_EQ(r.mount_options, "noatime");
  EXPECT_EQ(r.unmount_grace, milliseconds(1500));
  EXPECT_TRUE(r.kill_holders);
  EXPECT_TRUE(c.instances.empty());  // resources alone are a valid config
}

TEST(ResourceConfig, DefaultsAreDrbdsWhereSaneAndPeerPortFollowsPort) {
  Config c = native(R"(resources = ( { name = "r0"; device = "/var/lib/vrrpd/r0.img";
    address = "2001:db8::1"; port = 7800; peer_address = "2001:db8::2"; shared_secret = "s3cret-s3cret"; } );)");
  const Resource& r = c.resources.at(0);
  EXPECT_EQ(r.metadata, "internal");
  EXPECT_EQ(r.peer_port, 7800);
  EXPECT_EQ(r.protocol, "C");
  EXPECT_EQ(r.on_io_error, "passthrough");
  EXPECT_EQ(r.after_sb_0pri, "disconnect");
  EXPECT_EQ(r.ping_interval, milliseconds(1000));  // DRBD: 10 s; see ResourceOptions
  EXPECT_EQ(r.ping_timeout, milliseconds(5000));
  EXPECT_EQ(r.probe_timeout, milliseconds(1500));
  EXPECT_EQ(r.ko_count, 7);
  EXPECT_EQ(r.on_congestion, "block");
  EXPECT_EQ(r.congestion_fill_kib, 8192);
  EXPECT_EQ(r.congestion_extents, 64);  // the whole activity log
  EXPECT_TRUE(r.mount_point.empty());
  EXPECT_EQ(r.unmount_grace, milliseconds(5000));
  EXPECT_FALSE(r.kill_holders);
}

TEST(ResourceConfig, BusyUnmountSettings) {
  Config c = native(R"(resources = ( { name = "r0"; device = "/var/lib/vrrpd/r0.img";
    address = "2001:db8::1"; peer_address = "2001:db8::2"; shared_secret = "s3cret-s3cret";
    unmount_grace_ms = 1500; kill_holders = true; } );)");
  EXPECT_EQ(c.resources.at(0).unmount_grace, milliseconds(1500));
  EXPECT_TRUE(c.resources.at(0).kill_holders);
}

TEST(ResourceConfig, ReplicationCheckNamesAResourceAndDefaultsToUpToDateWithoutSplitBrain) {
  Config c = native(std::string(kFull) + R"(checks = (
  { name = "data"; kind = "replication"; resource = "r0"; },
  { name = "link"; kind = "replication"; resource = "r0"; require = [ "Connected", "established" ]; } );
vrrp_instances = ( { name = "VI_1"; interface = "eth0"; virtual_router_id = 51; track_checks = ( "data", "link" ); } );
)");
  ASSERT_EQ(c.checks.size(), 2u);
  EXPECT_EQ(c.checks[0].resource, "r0");
  EXPECT_EQ(c.checks[0].require, (std::vector<std::string>{"up-to-date", "no-split-brain"}));
  EXPECT_EQ(c.checks[1].require, (std::vector<std::string>{"connected", "established"}));
}

TEST(ResourceConfig, ChangedKeysNameWhatAReloadWouldChange) {
  const Resource a = native(kFull).resources.at(0);
  // The same text elsewhere in a file (other locations): nothing changed.
  Config moved = native(std::string("\n\n") + kFull);
  EXPECT_TRUE(changed_keys(a, moved.resources.at(0)).empty());
  Resource b = a;
  b.protocol = "C";
  b.fence_peer_address = IpAddress::parse("192.0.2.3");
  b.io_error_handler->argv.push_back("--now");
  b.kill_holders = false;
  EXPECT_EQ(changed_keys(a, b),
            (std::vector<std::string>{"protocol", "io_error_handler", "fence_peer_address", "kill_holders"}));
}

// ---- rejected resources: one line each ----

// Line 1: the list; line 2: the keys a valid resource "r0" needs, except
// `omit` and those `extra` sets (libconfig refuses a key written twice);
// line 3: `extra`.
std::string resource(const std::string& extra, const std::string& omit = "") {
  std::string base;
  auto add = [&](const std::string& key, const std::string& text) {
    if (key != omit && (" " + extra).find(" " + key + " =") == std::string::npos) base += text + " ";
  };
  add("name", "name = \"r0\";");
  add("device", "device = \"/dev/vdb\";");
  add("address", "address = \"198.51.100.1\";");
  add("peer_address", "peer_address = \"198.51.100.2\";");
  add("shared_secret", "shared_secret = \"0123456789\";");
  return "resources = (\n { " + base + "\n " + extra + " } );\n";
}

void expectInvalid(const std::string& text, int line, const std::string& expected) {
  config::expectInvalid(Format::kNative, text, line, expected);
}

TEST(InvalidResource, UnmountGraceTooLong) { expectInvalid(resource("unmount_grace_ms = 600001;"), 3, "unmount_grace_ms = 600001: out of range; valid: 0..600000 ms"); }
TEST(InvalidResource, KillHoldersNotABool) { expectInvalid(resource("kill_holders = \"yes\";"), 3, "kill_holders = \"yes\": wrong type"); }
TEST(InvalidResource, NameMissing) { expectInvalid(resource("", "name"), 2, "name: required; valid: [A-Za-z0-9_.-]+"); }
TEST(InvalidResource, NameWithSlash) { expectInvalid(resource("name = \"r/0\";"), 3, "name = \"r/0\": invalid name; valid: [A-Za-z0-9_.-]+"); }
TEST(InvalidResource, NameDotDot) { expectInvalid(resource("name = \"..\";"), 3, "name = \"..\": invalid name"); }
TEST(InvalidResource, UnknownKey) { expectInvalid(resource("disk = \"/dev/vdb\";"), 3, "disk = \"/dev/vdb\": unknown key in resources; valid keys: name, device, metadata"); }
TEST(InvalidResource, DeviceMissing) { expectInvalid(resource("", "device"), 2, "device: required; valid: a block device or file"); }
TEST(InvalidResource, DeviceRelative) { expectInvalid(resource("device = \"vdb\";"), 3, "device = \"vdb\": not an absolute path; valid: e.g. /dev/sdb1"); }
TEST(InvalidResource, MetadataRelative) { expectInvalid(resource("metadata = \"r0.md\";"), 3, "metadata = \"r0.md\": not an absolute path; valid: e.g. \"internal\""); }
TEST(InvalidResource, MetadataOnTheDataDevice) { expectInvalid(resource("metadata = \"/dev/vdb\";"), 3, "metadata = \"/dev/vdb\": external metadata on the data device itself"); }
TEST(InvalidResource, AddressMissing) { expectInvalid(resource("", "address"), 2, "address: required; valid: this node's replication address"); }
TEST(InvalidResource, AddressNotAnAddress) { expectInvalid(resource("address = \"node1\";"), 3, "address = \"node1\": not an IP address"); }
TEST(InvalidResource, PeerAddressMissing) { expectInvalid(resource("", "peer_address"), 2, "peer_address: required; valid: the peer's replication address"); }
TEST(InvalidResource, PeerAddressOtherFamily) { expectInvalid(resource("peer_address = \"2001:db8::2\";"), 3, "peer_address = \"2001:db8::2\": address family differs from address = 198.51.100.1; valid: both IPv4 or both IPv6"); }
TEST(InvalidResource, PeerAddressIsOurs) { expectInvalid(resource("peer_address = \"198.51.100.1\";"), 3, "peer_address = \"198.51.100.1\": same as address"); }
TEST(InvalidResource, PortZero) { expectInvalid(resource("port = 0;"), 3, "port = 0: out of range; valid: 1..65535"); }
TEST(InvalidResource, PeerPortTooBig) { expectInvalid(resource("peer_port = 65536;"), 3, "peer_port = 65536: out of range; valid: 1..65535"); }
TEST(InvalidResource, ProtocolD) { expectInvalid(resource("protocol = \"D\";"), 3, "protocol = \"D\": unknown value; valid: A, B, C"); }
TEST(InvalidResource, SecretMissing) { expectInvalid(resource("", "shared_secret"), 2, "shared_secret: required; valid: 8..255 bytes"); }
TEST(InvalidResource, SecretTooShortIsNotEchoed) {
  std::string text = resource("shared_secret = \"hunter2\";");
  expectInvalid(text, 3, "shared_secret = (7 bytes, not shown): length out of range; valid: 8..255 bytes");
  try { native(text); } catch (const ConfigError& e) { EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos); }
}
TEST(InvalidResource, SecretWrongTypeIsNotEchoed) {
  try {
    native(resource("shared_secret = 12345678;"));
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("wrong type (an integer); expected a string"), std::string::npos) << e.what();
  }
}
TEST(InvalidResource, ResyncRateZero) { expectInvalid(resource("resync_rate_kib = 0;"), 3, "resync_rate_kib = 0: out of range; valid: 1..10485760"); }
TEST(InvalidResource, OnIoErrorUnknown) { expectInvalid(resource("on_io_error = \"panic\";"), 3, "on_io_error = \"panic\": unknown value; valid: passthrough, detach, call-handler"); }
TEST(InvalidResource, CallHandlerWithoutHandler) { expectInvalid(resource("on_io_error = \"call-handler\";"), 2, "io_error_handler: required with on_io_error = \"call-handler\""); }
TEST(InvalidResource, BeforeResyncTargetHandlerRelative) { expectInvalid(resource("before_resync_target_handler = \"snap\";"), 3, "before_resync_target_handler = \"snap\": program \"snap\" is not an absolute path"); }
TEST(InvalidResource, NotifyRelative) { expectInvalid(resource("notify = \"replication-event\";"), 3, "notify = \"replication-event\": program \"replication-event\" is not an absolute path"); }
TEST(InvalidResource, HandlerRelative) { expectInvalid(resource("io_error_handler = \"disk-failed\";"), 3, "io_error_handler = \"disk-failed\": program \"disk-failed\" is not an absolute path"); }
TEST(InvalidResource, AfterSb0PriUnknown) { expectInvalid(resource("after_sb_0pri = \"discard-local\";"), 3, "after_sb_0pri = \"discard-local\": unknown value; valid: disconnect, discard-younger-primary"); }
TEST(InvalidResource, AfterSb1PriUnknown) { expectInvalid(resource("after_sb_1pri = \"call-pri-lost-after-sb\";"), 3, "after_sb_1pri = \"call-pri-lost-after-sb\": unknown value; valid: disconnect, consensus, discard-secondary"); }
TEST(InvalidResource, AfterSb2PriDiscard) { expectInvalid(resource("after_sb_2pri = \"discard-secondary\";"), 3, "after_sb_2pri = \"discard-secondary\": unknown value; valid: disconnect"); }
TEST(InvalidResource, PingIntervalTooShort) { expectInvalid(resource("ping_interval_ms = 999;"), 3, "ping_interval_ms = 999: out of range; valid: 1000..120000 ms"); }
TEST(InvalidResource, PingTimeoutTooShort) { expectInvalid(resource("ping_timeout_ms = 99;"), 3, "ping_timeout_ms = 99: out of range; valid: 100..30000 ms"); }
TEST(InvalidResource, ProbeTimeoutTooShort) { expectInvalid(resource("probe_timeout_ms = 50;"), 3, "probe_timeout_ms = 50: out of range; valid: 100..30000 ms"); }
TEST(InvalidResource, TimeoutZero) { expectInvalid(resource("timeout_ms = 0;"), 3, "timeout_ms = 0: out of range; valid: 100..600000 ms"); }
TEST(InvalidResource, KoCountNegative) { expectInvalid(resource("ko_count = -1;"), 3, "ko_count = -1: out of range; valid: 0..200"); }
TEST(InvalidResource, ConnectIntervalTooLong) { expectInvalid(resource("connect_interval_ms = 120001;"), 3, "connect_interval_ms = 120001: out of range; valid: 100..120000 ms"); }
TEST(InvalidResource, TcpCongestionWithUpperCaseOrTooLong) {
  expectInvalid(resource("tcp_congestion = \"CUBIC\";"), 3, "tcp_congestion = \"CUBIC\": not a TCP congestion control name; valid: 1..15 of a-z, 0-9, _");
  expectInvalid(resource("tcp_congestion = \"a_very_long_name\";"), 3, "tcp_congestion = \"a_very_long_name\": not a TCP congestion control name");
  expectInvalid(resource("tcp_congestion = \"\";"), 3, "tcp_congestion = \"\": not a TCP congestion control name");
}
TEST(ResourceConfig, PullAheadWithProtocolA) {
  Config c = native(resource("protocol = \"A\"; on_congestion = \"pull-ahead\"; congestion_fill_kib = 65536;"));
  EXPECT_EQ(c.resources.at(0).on_congestion, "pull-ahead");
  EXPECT_EQ(c.resources.at(0).congestion_fill_kib, 65536);
}
TEST(InvalidResource, PullAheadNeedsProtocolA) {
  expectInvalid(resource("on_congestion = \"pull-ahead\";"), 3,
                "on_congestion = \"pull-ahead\": only with protocol \"A\" (protocol = \"C\" waits for the peer on "
                "every write, so the link cannot fall behind); valid: \"block\", or protocol = \"A\"");
}
TEST(InvalidResource, OnCongestionUnknown) {
  expectInvalid(resource("on_congestion = \"disconnect\";"), 3,
                "on_congestion = \"disconnect\": unknown value; valid: block, pull-ahead");
}
TEST(InvalidResource, CongestionFillOutOfRange) {
  expectInvalid(resource("congestion_fill_kib = 32;"), 3, "congestion_fill_kib = 32: out of range; valid: 64..1048576");
}
TEST(InvalidResource, CongestionExtentsOutOfRange) {
  expectInvalid(resource("congestion_extents = 0;"), 3, "congestion_extents = 0: out of range; valid: 1..64");
  expectInvalid(resource("congestion_extents = 65;"), 3, "congestion_extents = 65: out of range; valid: 1..64");
}
TEST(InvalidResource, FencingUnknown) { expectInvalid(resource("fencing = \"stonith\";"), 3, "fencing = \"stonith\": unknown value; valid: dont-care, resource-only, resource-and-stonith"); }
TEST(InvalidResource, FenceAddressWithoutFencing) { expectInvalid(resource("fence_address = \"192.0.2.1\";"), 3, "fence_address = \"192.0.2.1\": set, but fencing = \"dont-care\"; valid: fencing = \"resource-only\" or \"resource-and-stonith\" to use it"); }
TEST(ResourceConfigFencing, ResourceAndStonithIsValidWithItsFencePath) {
  Config c = native(resource(
      "fencing = \"resource-and-stonith\"; fence_address = \"192.0.2.1\"; fence_peer_address = \"192.0.2.2\";"));
  ASSERT_EQ(c.resources.size(), 1u);
  EXPECT_EQ(c.resources[0].fencing, "resource-and-stonith");
  EXPECT_EQ(c.resources[0].fence_peer_address->to_string(), "192.0.2.2");
}
TEST(ResourceConfigFencing, FencePeerHandlerIsAProgram) {
  Config c = native(resource(
      "fencing = \"resource-and-stonith\"; fence_address = \"192.0.2.1\"; fence_peer_address = \"192.0.2.2\"; "
      "fence_peer_handler = \"/usr/local/sbin/stonith-peer --node b\";"));
  ASSERT_TRUE(c.resources[0].fence_peer_handler);
  EXPECT_EQ(c.resources[0].fence_peer_handler->argv,
            (std::vector<std::string>{"/usr/local/sbin/stonith-peer", "--node", "b"}));
}
TEST(InvalidResource, FencePeerHandlerWithoutFencingOrRelative) {
  expectInvalid(resource("fence_peer_handler = \"/usr/local/sbin/stonith-peer\";"), 3,
                "fence_peer_handler = \"/usr/local/sbin/stonith-peer\": set, but fencing = \"dont-care\"");
  expectInvalid(resource("fencing = \"resource-only\"; fence_address = \"192.0.2.1\"; fence_peer_address = "
                         "\"192.0.2.2\"; fence_peer_handler = \"stonith-peer\";"),
                3, "fence_peer_handler = \"stonith-peer\": program \"stonith-peer\" is not an absolute path");
}
TEST(InvalidResource, ResourceAndStonithNeedsTheFencePathToo) {
  expectInvalid(resource("fencing = \"resource-and-stonith\";"), 2, "fence_address: required with fencing = \"resource-and-stonith\"");
}
TEST(InvalidResource, FencingWithoutItsAddresses) {
  expectInvalid(resource("fencing = \"resource-only\";"), 2, "fence_address: required with fencing = \"resource-only\"; valid: this node's address on a second path");
  expectInvalid(resource("fencing = \"resource-only\"; fence_address = \"192.0.2.1\";"), 2, "fence_peer_address: required with fencing = \"resource-only\"");
}
TEST(InvalidResource, FencePathIsTheReplicationLink) {
  expectInvalid(resource("fencing = \"resource-only\"; fence_address = \"198.51.100.1\"; fence_peer_address = \"192.0.2.2\";"), 3, "fence_address = \"198.51.100.1\": the replication address itself; valid: an address on a second path");
  expectInvalid(resource("fencing = \"resource-only\"; fence_address = \"192.0.2.1\"; fence_peer_address = \"198.51.100.2\";"), 3, "fence_peer_address = \"198.51.100.2\": the peer's replication address itself");
  expectInvalid(resource("fencing = \"resource-only\"; fence_address = \"192.0.2.1\"; fence_peer_address = \"192.0.2.1\";"), 3, "fence_peer_address = \"192.0.2.1\": same as fence_address");
  expectInvalid(resource("fencing = \"resource-only\"; fence_address = \"192.0.2.1\"; fence_peer_address = \"2001:db8::2\";"), 3, "fence_peer_address = \"2001:db8::2\": address family differs from fence_address = 192.0.2.1");
}
TEST(InvalidResource, MountPointRelative) { expectInvalid(resource("mount_point = \"srv\";"), 3, "mount_point = \"srv\": not an absolute path; valid: e.g. /srv/data"); }
TEST(InvalidResource, FsTypeEmpty) { expectInvalid(resource("mount_point = \"/srv\"; fs_type = \"\";"), 3, "fs_type = \"\": not a file system type"); }
TEST(InvalidResource, DuplicateName) {
  expectInvalid("resources = ( { name = \"r0\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; },\n"
                " { name = \"r0\"; device = \"/dev/vdc\"; address = \"198.51.100.1\"; port = 7790; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; } );",
                2, "name = \"r0\": name already used by resource \"r0\" (test.conf:1)");
}
// Two resources, each line with `extra0` / `extra1` (lines 1 and 2).
std::string twoResources(const std::string& extra0, const std::string& extra1) {
  return "resources = ( { name = \"r0\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; " + extra0 + " },\n"
         " { name = \"r1\"; device = \"/dev/vdc\"; address = \"198.51.100.1\"; port = 7790; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; " + extra1 + " } );";
}
TEST(ResourceConfig, ResyncAfterAnotherResource) {
  Config c = native(twoResources("", "resync_after = \"r0\";"));
  EXPECT_EQ(c.resources.at(0).resync_after, "");
  EXPECT_EQ(c.resources.at(1).resync_after, "r0");
}
TEST(InvalidResource, ResyncAfterUnknownOrItself) {
  expectInvalid(twoResources("resync_after = \"r9\";", ""), 1, "resync_after = \"r9\": unknown resource; valid: another resource: r1");
  expectInvalid(twoResources("", "resync_after = \"r1\";"), 2, "resync_after = \"r1\": the resource itself; valid: another resource: r0");
}
TEST(InvalidResource, ResyncAfterCycle) {
  expectInvalid(twoResources("resync_after = \"r1\";", "resync_after = \"r0\";"), 1,
                "resync_after = \"r1\": a cycle (r0 -> r1 -> r0); valid: a chain that ends at a resource without resync_after");
}
TEST(InvalidResource, SharedDevice) {
  expectInvalid("resources = ( { name = \"r0\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; },\n"
                " { name = \"r1\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; port = 7790; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; } );",
                2, "device = \"/dev/vdb\": device already used by resource \"r0\" (test.conf:1); valid: one resource each");
}
TEST(InvalidResource, SharedEndpoint) {
  expectInvalid("resources = ( { name = \"r0\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; },\n"
                " { name = \"r1\"; device = \"/dev/vdc\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; } );",
                2, "address and port already used by resource \"r0\"");
}
TEST(InvalidResource, SharedMountPoint) {
  expectInvalid("resources = ( { name = \"r0\"; device = \"/dev/vdb\"; address = \"198.51.100.1\"; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; mount_point = \"/srv\"; },\n"
                " { name = \"r1\"; device = \"/dev/vdc\"; address = \"198.51.100.1\"; port = 7790; peer_address = \"198.51.100.2\"; shared_secret = \"0123456789\"; mount_point = \"/srv\"; } );",
                2, "mount_point = \"/srv\": mount point already used by resource \"r0\"");
}

// ---- rejected replication checks ----
TEST(InvalidReplicationCheck, ResourceMissing) {
  expectInvalid(std::string(kFull) + "checks = (\n { name = \"c\"; kind = \"replication\"; } );", 12, "resource: required for a check of kind replication; valid: the name of a replication resource; defined: r0");
}
TEST(InvalidReplicationCheck, ResourceUnknown) {
  expectInvalid(std::string(kFull) + "checks = (\n { name = \"c\"; kind = \"replication\"; resource = \"r9\"; } );", 12, "resource = \"r9\": unknown replication resource; defined: r0");
}
TEST(InvalidReplicationCheck, ConditionUnknown) {
  expectInvalid(std::string(kFull) + "checks = (\n { name = \"c\"; kind = \"replication\"; resource = \"r0\"; require = \"UpToDate\"; } );", 12, "require = \"UpToDate\": unknown condition; valid: up-to-date, connected, established, no-split-brain");
}
TEST(InvalidReplicationCheck, KeyOfAnotherKind) {
  expectInvalid(std::string(kFull) + "checks = (\n { name = \"c\"; kind = \"replication\"; resource = \"r0\"; port = 1; } );", 12, "key 'port' is not valid for a check of kind replication");
}

}  // namespace
}  // namespace vrrpd::config
