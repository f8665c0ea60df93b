// Every rejected config has a one-line test (Kea style): the error must name
// the file and line, the key, the value and what would be valid.
// nativeInstance()/kaInstance() put the text under test on line 3 (native)
// or line 4 (keepalived) of an otherwise valid instance.
#include <gtest/gtest.h>

#include <string>

#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

constexpr Format kNative = Format::kNative;
constexpr Format kKa = Format::kKeepalived;

// Asserts loading `text` fails with an issue at test.conf:`line` whose text
// contains `expected`.
void expectInvalid(Format format, const std::string& text, int line, const std::string& expected) {
  SCOPED_TRACE(text);
  try {
    load_text(text, "test.conf", format);
    ADD_FAILURE() << "config was accepted; expected: " << expected;
  } catch (const ConfigError& e) {
    std::string at = "test.conf:" + std::to_string(line) + ": ";
    for (const auto& issue : e.issues()) {
      std::string s = issue.to_string();
      if (s.rfind(at, 0) == 0 && s.find(expected) != std::string::npos) return;
    }
    ADD_FAILURE() << "no issue at " << at << " containing '" << expected << "' in:\n" << e.what();
  }
}

// Line 1: the block; line 2: name, interface, VRID 51; line 3: `extra`.
std::string nativeInstance(const std::string& extra) {
  return "vrrp_instances = ( {\n  name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 51;\n  " +
         extra + "\n} );\n";
}

// Line 1: vrrp_instance; 2: interface; 3: VRID 51; 4..: `extra` lines.
std::string kaInstance(const std::string& extra) {
  return "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n" + extra + "\n}\n";
}

// ---- identity ----
TEST(InvalidNative, PriorityZero) { expectInvalid(kNative, nativeInstance("priority = 0;"), 3, "priority = 0: out of range; valid: 1..255"); }
TEST(InvalidNative, Priority256) { expectInvalid(kNative, nativeInstance("priority = 256;"), 3, "priority = 256: out of range; valid: 1..255"); }
TEST(InvalidNative, VridZero) { expectInvalid(kNative, "vrrp_instances = ( { name = \"A\"; interface = \"eth0\";\n virtual_router_id = 0; } );", 2, "virtual_router_id = 0: out of range; valid: 1..255"); }
TEST(InvalidNative, Vrid256) { expectInvalid(kNative, "vrrp_instances = ( { name = \"A\"; interface = \"eth0\";\n virtual_router_id = 256; } );", 2, "virtual_router_id = 256: out of range; valid: 1..255"); }
TEST(InvalidNative, VridMissing) { expectInvalid(kNative, "vrrp_instances = (\n { name = \"A\"; interface = \"eth0\"; } );", 2, "virtual_router_id: required; valid: 1..255"); }
TEST(InvalidNative, InterfaceMissing) { expectInvalid(kNative, "vrrp_instances = (\n { name = \"A\"; virtual_router_id = 1; } );", 2, "interface: required"); }
TEST(InvalidNative, InterfaceTooLong) { expectInvalid(kNative, "vrrp_instances = ( { name = \"A\";\n interface = \"eth0123456789abcd\"; virtual_router_id = 1; } );", 2, "interface = \"eth0123456789abcd\": interface name too long; valid: at most 15 characters"); }
TEST(InvalidNative, NameMissing) { expectInvalid(kNative, "vrrp_instances = (\n { interface = \"eth0\"; virtual_router_id = 1; } );", 2, "name: required"); }
TEST(InvalidNative, NameWithSpace) { expectInvalid(kNative, "vrrp_instances = (\n { name = \"V I\"; interface = \"eth0\"; virtual_router_id = 1; } );", 2, "name = \"V I\": invalid name; valid: [A-Za-z0-9_.-]+"); }
TEST(InvalidNative, NameDuplicate) { expectInvalid(kNative, "vrrp_instances = ( { name = \"A\"; interface = \"eth0\"; virtual_router_id = 1; },\n { name = \"A\"; interface = \"eth0\"; virtual_router_id = 2; } );", 2, "name = \"A\": duplicate instance name, first defined at test.conf:1"); }
TEST(InvalidNative, VersionFour) { expectInvalid(kNative, nativeInstance("version = 4;"), 3, "version = 4: unsupported VRRP version; valid: 2 or 3"); }
TEST(InvalidNative, DuplicateVridOnSameInterface) {
  expectInvalid(kNative, "vrrp_instances = ( { name = \"A\"; interface = \"eth0\"; virtual_router_id = 7; },\n { name = \"B\"; interface = \"eth0\";\n virtual_router_id = 7; } );", 3,
                "virtual_router_id = 7: instance \"B\" (test.conf:2) uses the same VRID on eth0 for IPv4 as instance \"A\" (test.conf:1)");
}

// ---- timers ----
TEST(InvalidNative, V3Interval15ms) { expectInvalid(kNative, nativeInstance("advert_interval_ms = 15;"), 3, "advert_interval_ms = 15: VRRPv3 needs a multiple of 10 ms; valid: 10..40950 ms (0.01..40.95 s)"); }
TEST(InvalidNative, V3Interval50s) { expectInvalid(kNative, nativeInstance("advert_interval_ms = 50000;"), 3, "advert_interval_ms = 50000: VRRPv3"); }
TEST(InvalidNative, V2Interval1500ms) { expectInvalid(kNative, nativeInstance("version = 2; advert_interval_ms = 1500;"), 3, "advert_interval_ms = 1500: VRRPv2 needs whole seconds; valid: 1000..255000 ms (1..255 s)"); }
TEST(InvalidNative, PreemptDelayTooLong) { expectInvalid(kNative, nativeInstance("preempt_delay_ms = 1000001;"), 3, "preempt_delay_ms = 1000001: out of range; valid: 0..1000000 ms (0..1000 s)"); }
TEST(InvalidNative, GarpDelayTooLong) { expectInvalid(kNative, "global = {\n garp_master_delay_ms = 3600001; };", 2, "garp_master_delay_ms = 3600001: out of range; valid: 0..3600000 ms"); }
TEST(InvalidNative, GarpRepeatZero) { expectInvalid(kNative, nativeInstance("garp_master_repeat = 0;"), 3, "garp_master_repeat = 0: out of range; valid: 1..255"); }
TEST(InvalidNative, GarpRefreshBelowOneSecond) { expectInvalid(kNative, "global = {\n garp_master_refresh_ms = 500; };", 2, "garp_master_refresh_ms = 500: out of range; valid: 0 (off) or 1000..3600000 ms"); }
TEST(InvalidNative, GarpRefreshRepeat256) { expectInvalid(kNative, nativeInstance("garp_master_refresh_repeat = 256;"), 3, "garp_master_refresh_repeat = 256: out of range; valid: 1..255"); }
TEST(InvalidNative, GarpIntervalTooLong) { expectInvalid(kNative, nativeInstance("garp_interval_ms = 1001;"), 3, "garp_interval_ms = 1001: out of range; valid: 0..1000 ms"); }
TEST(InvalidNative, NotifyTimeoutZero) { expectInvalid(kNative, "global = {\n notify_timeout_ms = 0; };", 2, "notify_timeout_ms = 0: out of range; valid: 1..3600000 ms (0.001..3600 s)"); }

// ---- addresses ----
TEST(InvalidNative, V2WithIpv6) { expectInvalid(kNative, nativeInstance("version = 2; virtual_addresses = ( \"2001:db8::1/64\" );"), 3, "version = 2: VRRPv2 is IPv4 only (RFC 3768) but the instance is IPv6; valid: version 3"); }
TEST(InvalidNative, MixedFamilyVips) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( \"192.0.2.1/24\",\n \"2001:db8::1/64\" );"), 4, "virtual_addresses = 2001:db8::1/64: mixed address families: this is IPv6 but 192.0.2.1/24 (test.conf:3) is IPv4"); }
TEST(InvalidNative, VipFamilyDiffersFromFamilyKey) { expectInvalid(kNative, nativeInstance("family = \"ipv6\"; virtual_addresses = ( \"192.0.2.1/24\" );"), 3, "virtual_addresses = 192.0.2.1/24: IPv4 address in an IPv6 instance"); }
TEST(InvalidNative, BadVipAddress) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( \"192.0.2.300/24\" );"), 3, "virtual_addresses[0] = \"192.0.2.300/24\": not an IP address"); }
TEST(InvalidNative, VipPrefix33) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( \"192.0.2.1/33\" );"), 3, "\"192.0.2.1/33\": bad prefix length; valid: /0../32"); }
TEST(InvalidNative, MulticastVip) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( \"224.0.0.18\" );"), 3, "virtual_addresses = 224.0.0.18/32: multicast address"); }
TEST(InvalidNative, UnspecifiedVip) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( \"0.0.0.0/0\" );"), 3, "0.0.0.0/0: unspecified address"); }
TEST(InvalidNative, LabelOnIpv6) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( { address = \"2001:db8::1/64\"; label = \"eth0:1\"; } );"), 3, "label \"eth0:1\" on an IPv6 address; valid: labels are IPv4 only"); }
TEST(InvalidNative, LabelTooLong) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( { address = \"192.0.2.1\"; label = \"eth0:0123456789ab\"; } );"), 3, "too long; valid: at most 15 characters"); }
TEST(InvalidNative, VipGroupWithoutAddress) { expectInvalid(kNative, nativeInstance("virtual_addresses = ( { device = \"eth1\"; } );"), 3, "address is required"); }
TEST(InvalidNative, UnicastPeerOtherFamily) { expectInvalid(kNative, nativeInstance("unicast_peers = [ \"2001:db8::2\" ];"), 3, "unicast_peers = 2001:db8::2: IPv6 address in an IPv4 instance"); }
TEST(InvalidNative, UnicastSrcMulticast) { expectInvalid(kNative, nativeInstance("unicast_src = \"239.1.1.1\";"), 3, "unicast_src = 239.1.1.1: not a unicast address"); }
TEST(InvalidNative, UnicastPeerNotAnAddress) { expectInvalid(kNative, nativeInstance("unicast_peers = [ \"peer-b\" ];"), 3, "\"peer-b\": not an IP address"); }

// ---- auth, tracking, notify ----
TEST(InvalidNative, AuthPassTooLong) { expectInvalid(kNative, nativeInstance("version = 2; auth_pass = \"123456789\";"), 3, "auth_pass = (9 bytes, not shown): wrong length; valid: 1..8 bytes"); }
TEST(InvalidNative, AuthPassEmpty) { expectInvalid(kNative, nativeInstance("version = 2; auth_pass = \"\";"), 3, "wrong length; valid: 1..8 bytes"); }
TEST(InvalidNative, AuthWithV3) { expectInvalid(kNative, nativeInstance("auth_pass = \"secret\";"), 3, "authentication exists only in VRRPv2 (RFC 3768)"); }
TEST(InvalidNative, TrackWeight254) { expectInvalid(kNative, nativeInstance("track_interfaces = ( { name = \"eth1\"; weight = 254; } );"), 3, "eth1 weight 254: weight out of range; valid: -253..253"); }
TEST(InvalidNative, NotifyRelativePath) { expectInvalid(kNative, nativeInstance("notify_master = \"notify.sh master\";"), 3, "notify_master = \"notify.sh master\": program \"notify.sh\" is not an absolute path"); }
TEST(InvalidNative, NotifyEmpty) { expectInvalid(kNative, nativeInstance("notify_backup = \"\";"), 3, "notify_backup = \"\": empty command"); }
TEST(InvalidNative, NotifyUnterminatedQuote) { expectInvalid(kNative, nativeInstance("notify_fault = \"/bin/x 'open\";"), 3, "notify_fault = \"/bin/x 'open\": unterminated quote"); }
TEST(InvalidNative, NotifyArrayOfNonStrings) { expectInvalid(kNative, nativeInstance("notify = [ 1, 2 ];"), 3, "notify[0] = 1: wrong type (an integer); expected a string"); }

// ---- sync groups ----
TEST(InvalidNative, SyncGroupUnknownMember) { expectInvalid(kNative, nativeInstance("") + "sync_groups = (\n { name = \"G\"; members = [ \"VI_1\", \"VI_9\" ]; } );", 6, "members = \"VI_9\": no such vrrp instance; valid: VI_1"); }
TEST(InvalidNative, InstanceInTwoSyncGroups) { expectInvalid(kNative, nativeInstance("") + "sync_groups = ( { name = \"G1\"; members = [ \"VI_1\" ]; },\n { name = \"G2\"; members = [ \"VI_1\" ]; } );", 6, "members = \"VI_1\": instance is already in sync group \"G1\" (test.conf:5)"); }
TEST(InvalidNative, SyncGroupDuplicateName) { expectInvalid(kNative, "sync_groups = ( { name = \"G\"; },\n { name = \"G\"; } );", 2, "name = \"G\": duplicate sync group name"); }
TEST(InvalidNative, SyncGroupMemberTwice) { expectInvalid(kNative, nativeInstance("") + "sync_groups = (\n { name = \"G\"; members = [ \"VI_1\", \"VI_1\" ]; } );", 6, "listed twice"); }
TEST(InvalidNative, SyncGroupNotifyRelative) { expectInvalid(kNative, "sync_groups = (\n { name = \"G\"; notify = \"x\"; } );", 2, "notify = \"x\": program \"x\" is not an absolute path"); }

// ---- native syntax and types ----
TEST(InvalidNative, UnknownKeyListsValidKeys) { expectInvalid(kNative, nativeInstance("priorty = 100;"), 3, "priorty = 100: unknown key in vrrp_instances; valid keys: name, interface, virtual_router_id, priority,"); }
TEST(InvalidNative, UnknownGlobalKey) { expectInvalid(kNative, "global = {\n routerid = \"x\"; };", 2, "routerid = \"x\": unknown key in global; valid keys: router_id,"); }
TEST(InvalidNative, UnknownTopLevelKey) { expectInvalid(kNative, "\ninstances = ();", 2, "instances = ( ... ): unknown key in the top level; valid keys: version, global, vrrp_instances, sync_groups"); }
TEST(InvalidNative, StringWhereIntegerExpected) { expectInvalid(kNative, nativeInstance("priority = \"high\";"), 3, "priority = \"high\": wrong type (a string); expected an integer"); }
TEST(InvalidNative, FloatMilliseconds) { expectInvalid(kNative, nativeInstance("advert_interval_ms = 100.5;"), 3, "advert_interval_ms = 100.5: wrong type (a float); expected an integer"); }
TEST(InvalidNative, IntegerWhereBooleanExpected) { expectInvalid(kNative, nativeInstance("preempt = 1;"), 3, "preempt = 1: wrong type (an integer); expected a boolean"); }
TEST(InvalidNative, InstancesNotAList) { expectInvalid(kNative, "\nvrrp_instances = { };", 2, "vrrp_instances = { ... }: wrong type (a group { ... }); expected a list of groups"); }
TEST(InvalidNative, UnknownFamily) { expectInvalid(kNative, nativeInstance("family = \"ipx\";"), 3, "family = \"ipx\": unknown value; valid: \"ipv4\" or \"ipv6\""); }
TEST(InvalidNative, UnknownState) { expectInvalid(kNative, nativeInstance("state = \"FAULT\";"), 3, "state = \"FAULT\": unknown value; valid: \"BACKUP\" or \"MASTER\""); }
TEST(InvalidNative, SchemaVersionTwo) { expectInvalid(kNative, "\nversion = 2;", 2, "version = 2: unsupported config schema version; valid: 1"); }
TEST(InvalidNative, LibconfigSyntaxError) { expectInvalid(kNative, "global = {\n  router_id = \"a\";\n  notify_user = ;\n};", 3, "syntax error"); }
TEST(InvalidNative, DuplicateKeyIsASyntaxError) { expectInvalid(kNative, nativeInstance("priority = 1;\n priority = 2;"), 4, "duplicate setting name"); }
TEST(InvalidNative, IntegerWiderThan32Bits) { expectInvalid(kNative, nativeInstance("priority = 4294967396;"), 3, "integer 4294967396 does not fit in 32 bits"); }
TEST(InvalidNative, NotAConfigAtAll) { expectInvalid(kNative, "<html>\n</html>\n", 1, "syntax error"); }

// ---- keepalived format: bad values of supported keywords are errors ----
TEST(InvalidKeepalived, Priority300) { expectInvalid(kKa, kaInstance("  priority 300"), 4, "priority = 300: out of range; valid: 1..255"); }
TEST(InvalidKeepalived, PriorityHugeDoesNotWrap) { expectInvalid(kKa, kaInstance("  priority 4294967396"), 4, "priority = 4294967396: out of range; valid: 1..255"); }
TEST(InvalidKeepalived, PriorityNotANumber) { expectInvalid(kKa, kaInstance("  priority high"), 4, "priority = high: not an integer; valid: 1..255"); }
TEST(InvalidKeepalived, PriorityMissingValue) { expectInvalid(kKa, kaInstance("  priority"), 4, "priority: missing value; valid: 1..255"); }
TEST(InvalidKeepalived, VridMissing) { expectInvalid(kKa, "\nvrrp_instance A {\n interface eth0\n}\n", 2, "virtual_router_id: required; valid: 1..255"); }
TEST(InvalidKeepalived, InterfaceMissing) { expectInvalid(kKa, "\nvrrp_instance A {\n virtual_router_id 1\n}\n", 2, "interface: required"); }
TEST(InvalidKeepalived, InstanceNameMissing) { expectInvalid(kKa, "\nvrrp_instance {\n}\n", 2, "vrrp_instance: missing instance name"); }
TEST(InvalidKeepalived, V2AdvertIntNotWholeSeconds) { expectInvalid(kKa, kaInstance("  advert_int 1.5"), 4, "advert_int = 1.5: VRRPv2 needs whole seconds; valid: 1000..255000 ms (1..255 s)"); }
TEST(InvalidKeepalived, V3AdvertInt15ms) { expectInvalid(kKa, kaInstance("  version 3\n  advert_int 0.015"), 5, "advert_int = 0.015: VRRPv3 needs a multiple of 10 ms"); }
TEST(InvalidKeepalived, AdvertIntNotANumber) { expectInvalid(kKa, kaInstance("  advert_int fast"), 4, "advert_int = fast: not a number of seconds"); }
TEST(InvalidKeepalived, AdvertIntFinerThanMs) { expectInvalid(kKa, kaInstance("  advert_int 0.0001"), 4, "advert_int = 0.0001: finer than a millisecond"); }
TEST(InvalidKeepalived, AuthTypeAh) { expectInvalid(kKa, kaInstance("  authentication {\n    auth_type AH\n    auth_pass x\n  }"), 5, "auth_type = AH: IPsec AH authentication is not supported; valid: PASS"); }
TEST(InvalidKeepalived, AuthPassTooLong) { expectInvalid(kKa, kaInstance("  authentication {\n    auth_type PASS\n    auth_pass 123456789\n  }"), 6, "auth_pass = (9 bytes, not shown): wrong length; valid: 1..8 bytes"); }
TEST(InvalidKeepalived, AuthWithV3) { expectInvalid(kKa, kaInstance("  version 3\n  authentication {\n    auth_pass secret\n  }"), 6, "authentication exists only in VRRPv2"); }
TEST(InvalidKeepalived, BadVipAddress) { expectInvalid(kKa, kaInstance("  virtual_ipaddress {\n    192.0.2.300/24\n  }"), 5, "virtual_ipaddress = 192.0.2.300/24: not an IP address"); }
TEST(InvalidKeepalived, VipPrefix33) { expectInvalid(kKa, kaInstance("  virtual_ipaddress {\n    192.0.2.1/33\n  }"), 5, "192.0.2.1/33: bad prefix length"); }
TEST(InvalidKeepalived, LabelOnIpv6) { expectInvalid(kKa, kaInstance("  version 3\n  virtual_ipaddress {\n    2001:db8::1/64 label eth0:1\n  }"), 6, "virtual_ipaddress = 2001:db8::1/64: label \"eth0:1\" on an IPv6 address"); }
TEST(InvalidKeepalived, V2WithIpv6) { expectInvalid(kKa, kaInstance("  virtual_ipaddress {\n    2001:db8::1/64\n  }"), 1, "version = 2: VRRPv2 is IPv4 only"); }
TEST(InvalidKeepalived, UnknownState) { expectInvalid(kKa, kaInstance("  state FAULT"), 4, "state = FAULT: unknown state; valid: MASTER or BACKUP"); }
TEST(InvalidKeepalived, VrrpVersionFour) { expectInvalid(kKa, "global_defs {\n  vrrp_version 4\n}\n", 2, "vrrp_version = 4: unsupported VRRP version; valid: 2 or 3"); }
TEST(InvalidKeepalived, NotifyRelativePath) { expectInvalid(kKa, kaInstance("  notify_master \"notify.sh master\""), 4, "notify_master = \"notify.sh master\": program \"notify.sh\" is not an absolute path"); }
TEST(InvalidKeepalived, NotifyMissingCommand) { expectInvalid(kKa, kaInstance("  notify_master"), 4, "notify_master: missing command"); }
TEST(InvalidKeepalived, UnterminatedQuote) { expectInvalid(kKa, kaInstance("  notify_master \"/bin/x"), 4, "unterminated double quote"); }
TEST(InvalidKeepalived, UnicastPeerNotAnAddress) { expectInvalid(kKa, kaInstance("  unicast_peer {\n    peer-b\n  }"), 5, "unicast_peer = peer-b: not an IP address"); }
TEST(InvalidKeepalived, TrackWeightOutOfRange) { expectInvalid(kKa, kaInstance("  track_interface {\n    eth1 weight 300\n  }"), 5, "track_interface = eth1 weight 300: weight out of range; valid: -253..253"); }
TEST(InvalidKeepalived, GarpRefreshTooShort) { expectInvalid(kKa, "global_defs {\n  vrrp_garp_master_refresh 0.5\n}\n", 2, "vrrp_garp_master_refresh = 0.5: out of range; valid: 0 (off) or 1000..3600000 ms (1..3600 s)"); }
TEST(InvalidKeepalived, DuplicateVrid) { expectInvalid(kKa, kaInstance("") + "vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 51\n}\n", 8, "uses the same VRID on eth0 for IPv4 as instance \"VI_1\" (test.conf:1)"); }
TEST(InvalidKeepalived, SyncGroupUnknownMember) { expectInvalid(kKa, kaInstance("") + "vrrp_sync_group G {\n  group {\n    VI_1 VI_9\n  }\n}\n", 7, "group = \"VI_9\": no such vrrp instance"); }
TEST(InvalidKeepalived, InstanceInTwoSyncGroups) { expectInvalid(kKa, kaInstance("") + "vrrp_sync_group G1 {\n group { VI_1 }\n}\nvrrp_sync_group G2 {\n group { VI_1 }\n}\n", 10, "group = \"VI_1\": instance is already in sync group \"G1\""); }
TEST(InvalidKeepalived, MissingClosingBrace) { expectInvalid(kKa, "\nvrrp_instance A {\n interface eth0\n", 2, "missing '}' for the block opened here"); }
TEST(InvalidKeepalived, ExtraClosingBrace) { expectInvalid(kKa, "\n}\n", 2, "unexpected '}'"); }

}  // namespace
}  // namespace vrrpd::config
