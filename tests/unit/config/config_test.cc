// Tests of the format-independent parts of config loading: text
// normalisation, notify command splitting, reading files, the validator's
// derived values (family, sync group, warnings) and same_settings().
#include "vrrpd/config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;

TEST(NormalizeText, StripsBomAndTurnsCrlfAndCrIntoLf) {
  EXPECT_EQ(normalize_text("\xEF\xBB\xBF" "a\r\nb\rc\n"), "a\nb\nc\n");
  EXPECT_EQ(normalize_text("plain\n"), "plain\n");
  // A BOM is only stripped at the very start.
  EXPECT_EQ(normalize_text("x\xEF\xBB\xBF"), "x\xEF\xBB\xBF");
}

TEST(ParseFormat, KnowsBothFormatsOnly) {
  EXPECT_EQ(parse_format("native"), Format::kNative);
  EXPECT_EQ(parse_format("keepalived"), Format::kKeepalived);
  EXPECT_EQ(parse_format("yaml"), std::nullopt);
}

TEST(SplitCommand, SplitsLikeAShellWithoutExpansion) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_command("/bin/prog arg1 'arg two'"), (V{"/bin/prog", "arg1", "arg two"}));
  EXPECT_EQ(split_command("  /bin/p  \"a \\\"b\\\" $HOME\"  "), (V{"/bin/p", "a \"b\" $HOME"}));
  EXPECT_EQ(split_command("/bin/p a\\ b ''"), (V{"/bin/p", "a b", ""}));
  EXPECT_EQ(split_command("/bin/p 'it''s'"), (V{"/bin/p", "its"}));
  EXPECT_EQ(split_command(""), V{});
}

TEST(SplitCommand, RejectsAnOpenQuote) {
  EXPECT_EQ(split_command("/bin/p 'open"), std::nullopt);
  EXPECT_EQ(split_command("/bin/p \"open"), std::nullopt);
}

TEST(LoadFile, UnreadableFileNamesTheFileAndTheReason) {
  try {
    load_file("/nonexistent/vrrpd.conf", Format::kNative);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/vrrpd.conf: cannot read: No such file or directory");
  }
}

TEST(LoadFile, ReadsAndValidatesAFile) {
  char path[] = "/tmp/vrrpd_config_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "vrrp_instances = ( { name = \"A\"; interface = \"eth0\"; virtual_router_id = 7; } );\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  Config c = load_file(path, Format::kNative);
  unlink(path);
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].virtual_router_id, 7);
  EXPECT_EQ(c.file, path);
}

TEST(LoadText, EmptyConfigIsValidInBothFormats) {
  EXPECT_TRUE(load_text("", "test.conf", Format::kNative).instances.empty());
  EXPECT_TRUE(load_text("# nothing yet\n", "test.conf", Format::kKeepalived).instances.empty());
}

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }

TEST(Validate, FamilyIsInferredFromTheVirtualAddresses) {
  Config c = native(R"(vrrp_instances = (
    { name = "V6"; interface = "eth0"; virtual_router_id = 1; virtual_addresses = ( "2001:db8::1/64" ); },
    { name = "V4"; interface = "eth0"; virtual_router_id = 1; virtual_addresses = ( "192.0.2.1/24" ); },
    { name = "NONE"; interface = "eth1"; virtual_router_id = 1; }
  );)");
  ASSERT_EQ(c.instances.size(), 3u);
  EXPECT_EQ(c.instances[0].family, Family::kIPv6);
  EXPECT_EQ(c.instances[1].family, Family::kIPv4);
  EXPECT_EQ(c.instances[2].family, Family::kIPv4);  // no VIPs: IPv4
}

TEST(Validate, SameVridOnSameInterfaceIsFineForDifferentFamilies) {
  // VRRP for IPv4 and IPv6 are separate protocols (RFC 5798 section 6.1).
  Config c = native(R"(vrrp_instances = (
    { name = "A"; interface = "eth0"; virtual_router_id = 9; virtual_addresses = ( "192.0.2.1" ); },
    { name = "B"; interface = "eth0"; virtual_router_id = 9; virtual_addresses = ( "2001:db8::1" ); }
  );)");
  EXPECT_EQ(c.instances.size(), 2u);
}

TEST(Validate, SyncGroupMembershipIsSetOnTheInstances) {
  Config c = native(R"(vrrp_instances = (
    { name = "A"; interface = "eth0"; virtual_router_id = 1; },
    { name = "B"; interface = "eth0"; virtual_router_id = 2; },
    { name = "C"; interface = "eth0"; virtual_router_id = 3; }
  );
  sync_groups = ( { name = "G"; members = [ "A", "B" ]; } );)");
  EXPECT_EQ(c.instances[0].sync_group, "G");
  EXPECT_EQ(c.instances[1].sync_group, "G");
  EXPECT_EQ(c.instances[2].sync_group, "");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Validate, SyncGroupWithOneMemberIsAWarningAtItsLine) {
  Config c = native("vrrp_instances = ( { name = \"A\"; interface = \"eth0\"; virtual_router_id = 1; } );\n"
                    "sync_groups = (\n"
                    "  { name = \"G\"; members = [ \"A\" ]; } );\n");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.to_string(), "test.conf:3");
  EXPECT_NE(c.warnings[0].message.find("1 member"), std::string::npos);
  EXPECT_EQ(c.instances[0].sync_group, "G");
}

TEST(Validate, AddressOwnerWithNopreemptIsAccepted) {
  // Priority 255 always preempts (RFC 5798), so nopreempt is moot, not wrong.
  Config c = native(R"(vrrp_instances = ( { name = "A"; interface = "eth0"; virtual_router_id = 1;
    priority = 255; preempt = false; } );)");
  EXPECT_EQ(c.instances[0].priority, 255);
  EXPECT_FALSE(c.instances[0].preempt);
}

TEST(Validate, CollectsEveryIssueInOneError) {
  try {
    native(R"(vrrp_instances = ( { name = "A"; interface = "eth0"; virtual_router_id = 0;
      priority = 0; version = 4; } );)");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().size(), 3u) << e.what();
  }
}

TEST(Validate, InvalidGlobalGarpIsReportedOnceNotPerInstance) {
  try {
    native("global = { garp_master_repeat = 0; };\n"
           "vrrp_instances = ( { name = \"A\"; interface = \"eth0\"; virtual_router_id = 1; },\n"
           "  { name = \"B\"; interface = \"eth0\"; virtual_router_id = 2; } );");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u) << e.what();
    EXPECT_EQ(e.issues()[0].where.line, 1);
  }
}

TEST(Validate, IssuesAreReportedInFileOrder) {
  try {
    native("vrrp_instances = (\n { name = \"A\"; interface = \"eth0\"; virtual_router_id = 1;\n"
           "   notify = \"rel\"; },\n"
           " { name = \"B\"; interface = \"eth0\"; virtual_router_id = 1; } );\n"
           "global = {\n notify_timeout_ms = 0; };");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 3u) << e.what();
    EXPECT_EQ(e.issues()[0].where.line, 3);  // notify
    EXPECT_EQ(e.issues()[1].where.line, 4);  // duplicate VRID
    EXPECT_EQ(e.issues()[2].where.line, 6);  // notify_timeout_ms
  }
}

// ---- same_settings ----

Instance sample() {
  Config c = native(R"(vrrp_instances = ( { name = "A"; interface = "eth0"; virtual_router_id = 1;
    priority = 150; virtual_addresses = ( "192.0.2.1/24" ); notify_master = "/bin/true a"; } );)");
  return c.instances[0];
}

TEST(SameSettings, TrueForIdenticalInstancesEvenAtOtherLines) {
  Instance a = sample();
  Instance b = sample();
  b.where.line = 99;
  b.virtual_addresses[0].where.line = 42;
  b.keys = KeyLocations();
  EXPECT_TRUE(same_settings(a, b));
}

TEST(SameSettings, FalseAfterChangingPriority) {
  Instance a = sample(), b = sample();
  b.priority = 151;
  EXPECT_FALSE(same_settings(a, b));
}

TEST(SameSettings, FalseAfterChangingTheVipList) {
  Instance a = sample(), b = sample();
  b.virtual_addresses.push_back({*IpPrefix::parse("192.0.2.2/24"), "", "", {}});
  EXPECT_FALSE(same_settings(a, b));
  Instance c = sample();
  c.virtual_addresses[0].label = "eth0:1";
  EXPECT_FALSE(same_settings(a, c));
}

TEST(SameSettings, FalseAfterChangingNotifyArgv) {
  Instance a = sample(), b = sample();
  b.notify.master->argv.push_back("extra");
  EXPECT_FALSE(same_settings(a, b));
  Instance c = sample();
  c.notify.backup = Program{{"/bin/true"}, {}};
  EXPECT_FALSE(same_settings(a, c));
}

TEST(SameSettings, FalseAfterChangingGarpOrTracking) {
  Instance a = sample(), b = sample();
  b.garp.master_repeat = 2;
  EXPECT_FALSE(same_settings(a, b));
  Instance c = sample();
  c.track_interfaces.push_back({"eth1", -10, {}});
  EXPECT_FALSE(same_settings(a, c));
}

}  // namespace
}  // namespace vrrpd::config
