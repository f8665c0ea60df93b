// Every rejected config has a one-line test (Kea style): the error must name
// the file and line, the key, the value and what would be valid.
// nativeInstance()/kaInstance() put the text under test on line 3 (native)
// or line 4 (keepalived) of an otherwise valid instance.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/expect_invalid.h"
#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

constexpr Format kNative = Format::kNative;
constexpr Format kKa = Format::kKeepalived;

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

// ---- event journal ----
TEST(InvalidGlobal, JournalCapacityTooSmall) { expectInvalid(kNative, "global = {\n journal_capacity = 99; };", 2, "journal_capacity = 99: out of range; valid: 100..1000000"); }
TEST(InvalidGlobal, JournalFileRelative) { expectInvalid(kNative, "global = {\n journal_file = \"events.jsonl\"; };", 2, "journal_file = \"events.jsonl\": not an absolute path; valid: e.g. /var/lib/vrrpd/events.jsonl"); }

TEST(InvalidGlobal, RuntimeDirRelative) { expectInvalid(kNative, "global = {\n runtime_dir = \"run\"; };", 2, "runtime_dir = \"run\": not an absolute path; valid: e.g. /run/vrrpd"); }

// ---- health checks ----

// Line 1: the list; line 2: check "c" of `kind` with its required keys;
// line 3: `extra`; line 5: instance VI_1 tracking "c".
std::string nativeCheck(const std::string& kind, const std::string& extra) {
  std::string base = kind == "tcp"    ? "address = \"192.0.2.1\"; port = 80;"
                     : kind == "dns"  ? "address = \"192.0.2.53\"; query_name = \"example.com\";"
                     : kind == "exec" ? "program = \"/bin/true\";"
                                      : "address = \"127.0.0.1\"; user = \"monitor\";";
  return "checks = ( {\n  name = \"c\"; kind = \"" + kind + "\"; " + base + "\n  " + extra +
         "\n} );\nvrrp_instances = ( { name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 51;"
         " track_checks = ( \"c\" ); } );\n";
}

// Line 2: check "c" with exactly `keys`; line 3: instance VI_1 tracking it.
std::string nativeBareCheck(const std::string& keys) {
  return "checks = (\n  { name = \"c\"; " + keys + " } );\n"
         "vrrp_instances = ( { name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 51; track_checks = ( \"c\" ); } );\n";
}

// Line 2: check "c" (exec); lines 3..: instance VI_1 with `extra` on line 4.
std::string nativeTracking(const std::string& extra) {
  return "checks = (\n  { name = \"c\"; kind = \"exec\"; program = \"/bin/true\"; } );\n"
         "vrrp_instances = ( { name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 51;\n  " +
         extra + "\n} );\n";
}

TEST(InvalidCheck, NameMissing) { expectInvalid(kNative, "checks = (\n { kind = \"exec\"; program = \"/bin/true\"; } );", 2, "name: required; valid: [A-Za-z0-9_.-]+"); }
TEST(InvalidCheck, NameWithSpace) { expectInvalid(kNative, "checks = (\n { name = \"a b\"; kind = \"exec\"; program = \"/bin/true\"; } );", 2, "name = \"a b\": invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters"); }
TEST(InvalidCheck, NameTooLong) { expectInvalid(kNative, "checks = (\n { name = \"" + std::string(65, 'x') + "\"; kind = \"exec\"; program = \"/bin/true\"; } );", 2, "invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters"); }
TEST(InvalidCheck, NameDuplicate) { expectInvalid(kNative, "checks = ( { name = \"c\"; kind = \"exec\"; program = \"/bin/true\"; },\n { name = \"c\"; kind = \"tcp\"; address = \"192.0.2.1\"; port = 1; } );", 2, "name = \"c\": duplicate check name, first defined at test.conf:1; valid: a unique name"); }
TEST(InvalidCheck, NotifyRelative) { expectInvalid(kNative, nativeCheck("exec", "notify = \"check-changed\";"), 3, "notify = \"check-changed\": program \"check-changed\" is not an absolute path"); }
TEST(InvalidCheck, KindMissing) { expectInvalid(kNative, nativeBareCheck("program = \"/bin/true\";"), 2, "kind: required; valid: tcp, dns, exec, mysql"); }
TEST(InvalidCheck, KindUnknown) { expectInvalid(kNative, nativeBareCheck("kind = \"http\";"), 2, "kind = \"http\": unknown value; valid: \"tcp\", \"dns\", \"exec\", \"mysql\" or \"replication\""); }
TEST(InvalidCheck, KindNotAString) { expectInvalid(kNative, nativeBareCheck("kind = 1;"), 2, "kind = 1: wrong type (an integer); expected a string"); }
TEST(InvalidCheck, IntervalTooShort) { expectInvalid(kNative, nativeCheck("tcp", "interval_ms = 9; timeout_ms = 5;"), 3, "interval_ms = 9: out of range; valid: 10..3600000 ms (0.01..3600 s)"); }
TEST(InvalidCheck, IntervalTooLong) { expectInvalid(kNative, nativeCheck("tcp", "interval_ms = 3600001;"), 3, "interval_ms = 3600001: out of range; valid: 10..3600000 ms"); }
TEST(InvalidCheck, TimeoutZero) { expectInvalid(kNative, nativeCheck("tcp", "timeout_ms = 0;"), 3, "timeout_ms = 0: out of range; valid: 1..3600000 ms (0.001..3600 s)"); }
TEST(InvalidCheck, TimeoutLongerThanInterval) { expectInvalid(kNative, nativeCheck("tcp", "interval_ms = 1000;\n timeout_ms = 1500;"), 4, "timeout_ms = 1500: timeout is longer than interval_ms = 1000 (test.conf:3); valid: a timeout at most the interval"); }
TEST(InvalidCheck, TimeoutLongerThanDefaultInterval) { expectInvalid(kNative, nativeCheck("tcp", "timeout_ms = 3000;"), 3, "timeout_ms = 3000: timeout is longer than interval_ms = 2000 ms (the default)"); }
TEST(InvalidCheck, RiseZero) { expectInvalid(kNative, nativeCheck("tcp", "rise = 0;"), 3, "rise = 0: out of range; valid: 1..100"); }
TEST(InvalidCheck, Fall101) { expectInvalid(kNative, nativeCheck("tcp", "fall = 101;"), 3, "fall = 101: out of range; valid: 1..100"); }
TEST(InvalidCheck, Weight254) { expectInvalid(kNative, nativeCheck("tcp", "weight = 254;"), 3, "weight = 254: out of range; valid: -253..253"); }
TEST(InvalidCheck, WeightMinus254) { expectInvalid(kNative, nativeCheck("tcp", "weight = -254;"), 3, "weight = -254: out of range; valid: -253..253"); }
TEST(InvalidCheck, InitialStateUnknown) { expectInvalid(kNative, nativeCheck("tcp", "initial_state = \"maybe\";"), 3, "initial_state = \"maybe\": unknown value; valid: \"up\" or \"down\""); }
TEST(InvalidCheck, UnknownKeyListsTheKindsKeys) { expectInvalid(kNative, nativeCheck("tcp", "intervall_ms = 100;"), 3, "intervall_ms = 100: unknown key in a check of kind tcp; valid keys: name, kind, interval_ms, timeout_ms, rise, fall, initial_state, weight, notify, address, port, send, expect"); }
TEST(InvalidCheck, UnknownKeyWithoutKind) { expectInvalid(kNative, nativeBareCheck("\n bogus = 1;"), 3, "bogus = 1: unknown key in checks; valid keys: name, kind,"); }
TEST(InvalidCheck, ChecksNotAList) { expectInvalid(kNative, "\nchecks = { };", 2, "checks = { ... }: wrong type (a group { ... }); expected a list of groups"); }
// Keys of another kind.
TEST(InvalidCheck, QueryNameOnTcp) { expectInvalid(kNative, nativeCheck("tcp", "query_name = \"x\";"), 3, "query_name = \"x\": key 'query_name' is not valid for a check of kind tcp; valid keys for tcp: name, kind, interval_ms, timeout_ms, rise, fall, initial_state, weight, notify, address, port, send, expect"); }
TEST(InvalidCheck, ExpectRoleOnlyForMysql) { expectInvalid(kNative, nativeCheck("dns", "expect_role = \"writable\";"), 3, "key 'expect_role' is not valid for a check of kind dns; valid keys for dns:"); }
TEST(InvalidCheck, MaxReplicaLagOnlyForMysql) { expectInvalid(kNative, nativeCheck("tcp", "max_replica_lag_s = 5;"), 3, "key 'max_replica_lag_s' is not valid for a check of kind tcp"); }
TEST(InvalidCheck, GaleraOnlyForMysql) { expectInvalid(kNative, nativeCheck("exec", "galera = true;"), 3, "galera = true: key 'galera' is not valid for a check of kind exec; valid keys for exec: name, kind, interval_ms, timeout_ms, rise, fall, initial_state, weight, notify, program"); }
TEST(InvalidCheck, AddressOnExec) { expectInvalid(kNative, nativeCheck("exec", "address = \"192.0.2.1\";"), 3, "key 'address' is not valid for a check of kind exec"); }
TEST(InvalidCheck, ProgramOnTcp) { expectInvalid(kNative, nativeCheck("tcp", "program = \"/bin/true\";"), 3, "key 'program' is not valid for a check of kind tcp"); }
TEST(InvalidCheck, PasswordOnDnsIsNotEchoed) { expectInvalid(kNative, nativeCheck("dns", "password = \"hunter2\";"), 3, "password = (7 bytes, not shown): key 'password' is not valid for a check of kind dns"); }
// tcp
TEST(InvalidCheck, TcpAddressMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"tcp\"; port = 80;"), 2, "address: required for a check of kind tcp; valid: an IP address"); }
TEST(InvalidCheck, TcpPortMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"tcp\"; address = \"192.0.2.1\";"), 2, "port: required for a check of kind tcp; valid: 1..65535"); }
TEST(InvalidCheck, TcpPortZero) { expectInvalid(kNative, nativeBareCheck("kind = \"tcp\"; address = \"192.0.2.1\"; port = 0;"), 2, "port = 0: out of range; valid: 1..65535"); }
TEST(InvalidCheck, TcpPort65536) { expectInvalid(kNative, nativeBareCheck("kind = \"tcp\"; address = \"192.0.2.1\"; port = 65536;"), 2, "port = 65536: out of range; valid: 1..65535"); }
TEST(InvalidCheck, TcpAddressNotAnIp) { expectInvalid(kNative, nativeBareCheck("kind = \"tcp\"; port = 80; address = \"db.example.com\";"), 2, "address = \"db.example.com\": not an IP address; valid: e.g. 192.0.2.1 or 2001:db8::1"); }
TEST(InvalidCheck, SendNotAString) { expectInvalid(kNative, nativeCheck("tcp", "send = 5;"), 3, "send = 5: wrong type (an integer); expected a string"); }
// dns
TEST(InvalidCheck, DnsAddressMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"dns\"; query_name = \"example.com\";"), 2, "address: required for a check of kind dns"); }
TEST(InvalidCheck, DnsQueryNameMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"dns\"; address = \"192.0.2.53\";"), 2, "query_name: required for a check of kind dns; valid: a domain name such as example.com"); }
TEST(InvalidCheck, DnsQueryNameEmptyLabel) { expectInvalid(kNative, nativeBareCheck("kind = \"dns\"; address = \"192.0.2.53\"; query_name = \"a..example\";"), 2, "query_name = \"a..example\": not a domain name; valid: labels of 1..63 characters"); }
TEST(InvalidCheck, DnsQueryNameLabelTooLong) { expectInvalid(kNative, nativeBareCheck("kind = \"dns\"; address = \"192.0.2.53\"; query_name = \"" + std::string(64, 'a') + ".com\";"), 2, "not a domain name"); }
TEST(InvalidCheck, DnsQueryTypeUnknown) { expectInvalid(kNative, nativeCheck("dns", "query_type = \"AXFR\";"), 3, "query_type = \"AXFR\": unknown query type; valid: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, ANY"); }
TEST(InvalidCheck, DnsQueryClassUnknown) { expectInvalid(kNative, nativeCheck("dns", "query_class = \"HS\";"), 3, "query_class = \"HS\": unknown query class; valid: IN, CH"); }
TEST(InvalidCheck, DnsRcodeUnknown) { expectInvalid(kNative, nativeCheck("dns", "expect_rcode = \"YXDOMAIN\";"), 3, "expect_rcode = \"YXDOMAIN\": unknown response code; valid: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED"); }
TEST(InvalidCheck, DnsPortZero) { expectInvalid(kNative, nativeCheck("dns", "port = 0;"), 3, "port = 0: out of range; valid: 1..65535"); }
TEST(InvalidCheck, DnsRecursionNotABoolean) { expectInvalid(kNative, nativeCheck("dns", "recursion = \"yes\";"), 3, "recursion = \"yes\": wrong type (a string); expected a boolean"); }
TEST(InvalidCheck, DnsExpectAnswersNotStrings) { expectInvalid(kNative, nativeCheck("dns", "expect_answers = 5;"), 3, "expect_answers = 5: wrong type (an integer); expected a string or an array of strings"); }
TEST(InvalidCheck, DnsExpectAnswersElementNotAString) { expectInvalid(kNative, nativeCheck("dns", "expect_answers = ( \"a\", 5 );"), 3, "expect_answers[1] = 5: wrong type (an integer); expected a string"); }
// exec
TEST(InvalidCheck, ExecProgramMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"exec\";"), 2, "program: required for a check of kind exec; valid: an absolute path and arguments"); }
TEST(InvalidCheck, ExecProgramRelative) { expectInvalid(kNative, nativeBareCheck("kind = \"exec\"; program = \"check.sh -q\";"), 2, "program = \"check.sh -q\": program \"check.sh\" is not an absolute path; valid: e.g. /usr/local/bin/check-haproxy (no shell, no PATH search)"); }
TEST(InvalidCheck, ExecProgramEmpty) { expectInvalid(kNative, nativeBareCheck("kind = \"exec\"; program = \"\";"), 2, "program = \"\": empty command"); }
TEST(InvalidCheck, ExecProgramUnterminatedQuote) { expectInvalid(kNative, nativeBareCheck("kind = \"exec\"; program = \"/bin/x 'open\";"), 2, "program = \"/bin/x 'open\": unterminated quote"); }
TEST(InvalidCheck, ExecProgramNotAString) { expectInvalid(kNative, nativeBareCheck("kind = \"exec\"; program = 5;"), 2, "program = 5: wrong type (an integer); expected a command line string or an array of strings"); }
// mysql
TEST(InvalidCheck, MysqlAddressMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"mysql\"; user = \"monitor\";"), 2, "address: required for a check of kind mysql"); }
TEST(InvalidCheck, MysqlUserMissing) { expectInvalid(kNative, nativeBareCheck("kind = \"mysql\"; address = \"127.0.0.1\";"), 2, "user: required for a check of kind mysql"); }
TEST(InvalidCheck, MysqlPort70000) { expectInvalid(kNative, nativeCheck("mysql", "port = 70000;"), 3, "port = 70000: out of range; valid: 1..65535"); }
TEST(InvalidCheck, MysqlExpectRoleUnknown) { expectInvalid(kNative, nativeCheck("mysql", "expect_role = \"primary\";"), 3, "expect_role = \"primary\": unknown role; valid: any, writable, read-only"); }
TEST(InvalidCheck, MysqlReplicaLagNegative) { expectInvalid(kNative, nativeCheck("mysql", "max_replica_lag_s = -2;"), 3, "max_replica_lag_s = -2: out of range; valid: 0..86400"); }
TEST(InvalidCheck, MysqlReplicaLagTooLarge) { expectInvalid(kNative, nativeCheck("mysql", "max_replica_lag_s = 86401;"), 3, "max_replica_lag_s = 86401: out of range; valid: 0..86400"); }
TEST(InvalidCheck, MysqlQueryEmpty) { expectInvalid(kNative, nativeCheck("mysql", "query = \"\";"), 3, "query = \"\": empty query; valid: a statement such as SELECT 1"); }
TEST(InvalidCheck, MysqlTlsNotABoolean) { expectInvalid(kNative, nativeCheck("mysql", "tls = 1;"), 3, "tls = 1: wrong type (an integer); expected a boolean"); }
// track_checks
TEST(InvalidCheck, TrackUnknownCheck) { expectInvalid(kNative, nativeTracking("track_checks = ( \"c\", \"x\" );"), 4, "track_checks = \"x\": instance VI_1 tracks unknown check 'x'; defined checks: c"); }
TEST(InvalidCheck, TrackWithoutAnyCheck) { expectInvalid(kNative, nativeInstance("track_checks = ( \"x\" );"), 3, "instance VI_1 tracks unknown check 'x'; defined checks: (none defined)"); }
TEST(InvalidCheck, TrackTwice) { expectInvalid(kNative, nativeTracking("track_checks = ( \"c\", { name = \"c\"; weight = 5; } );"), 4, "track_checks = \"c\" weight 5: instance VI_1 tracks check 'c' twice; valid: each check once per instance"); }
TEST(InvalidCheck, TrackWeight254) { expectInvalid(kNative, nativeTracking("track_checks = ( { name = \"c\"; weight = 254; } );"), 4, "track_checks = \"c\" weight 254: weight out of range; valid: -253..253"); }
TEST(InvalidCheck, TrackGroupWithoutName) { expectInvalid(kNative, nativeTracking("track_checks = ( { weight = 5; } );"), 4, "track_checks: check name required; valid: one of c"); }
TEST(InvalidCheck, TrackUnknownKey) { expectInvalid(kNative, nativeTracking("track_checks = ( { name = \"c\"; wieght = 5; } );"), 4, "wieght = 5: unknown key in a tracked check; valid keys: name, weight"); }
TEST(InvalidCheck, TrackElementNotAString) { expectInvalid(kNative, nativeTracking("track_checks = ( 5 );"), 4, "track_checks[0] = 5: wrong type (an integer); expected a string (check name) or a group"); }

// keepalived: line 1 vrrp_script chk; line 2 its script; line 3: `extra`;
// then instance VI_1 tracking chk.
std::string kaScript(const std::string& extra) {
  return "vrrp_script chk {\n  script /bin/true\n" + extra +
         "\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  track_script {\n    chk\n  }\n}\n";
}

TEST(InvalidKeepalivedCheck, ScriptMissing) { expectInvalid(kKa, "\nvrrp_script chk {\n  interval 2\n}\n", 2, "script: missing in vrrp_script chk; valid: script \"/path/to/check ARGS\""); }
TEST(InvalidKeepalivedCheck, ScriptWithoutCommand) { expectInvalid(kKa, kaScript("  script"), 3, "script: missing command"); }
TEST(InvalidKeepalivedCheck, ScriptNameMissing) { expectInvalid(kKa, "\nvrrp_script {\n script /bin/true\n}\n", 2, "vrrp_script: missing script name; valid: vrrp_script NAME { ... }"); }
TEST(InvalidKeepalivedCheck, ScriptRelative) { expectInvalid(kKa, "vrrp_script chk {\n  script \"killall -0 haproxy\"\n}\n", 2, "script = \"killall -0 haproxy\": program \"killall\" is not an absolute path; valid: e.g. /usr/local/bin/check-haproxy (no shell, no PATH search)"); }
TEST(InvalidKeepalivedCheck, IntervalNotANumber) { expectInvalid(kKa, kaScript("  interval fast"), 3, "interval = fast: not a number of seconds"); }
TEST(InvalidKeepalivedCheck, IntervalTooShort) { expectInvalid(kKa, kaScript("  interval 0.005"), 3, "interval = 0.005: out of range; valid: 10..3600000 ms (0.01..3600 s)"); }
TEST(InvalidKeepalivedCheck, TimeoutLongerThanInterval) { expectInvalid(kKa, kaScript("  interval 2\n  timeout 5"), 4, "timeout = 5: timeout is longer than interval = 2 (test.conf:3); valid: a timeout at most the interval"); }
TEST(InvalidKeepalivedCheck, TimeoutZero) { expectInvalid(kKa, kaScript("  timeout 0"), 3, "timeout = 0: out of range; valid: 1..3600000 ms"); }
TEST(InvalidKeepalivedCheck, RiseZero) { expectInvalid(kKa, kaScript("  rise 0"), 3, "rise = 0: out of range; valid: 1..100"); }
TEST(InvalidKeepalivedCheck, FallNotANumber) { expectInvalid(kKa, kaScript("  fall many"), 3, "fall = many: not an integer; valid: 1..100"); }
TEST(InvalidKeepalivedCheck, Weight254) { expectInvalid(kKa, kaScript("  weight 254"), 3, "weight = 254: out of range; valid: -253..253"); }
TEST(InvalidKeepalivedCheck, WeightMissing) { expectInvalid(kKa, kaScript("  weight"), 3, "weight: missing value; valid: -253..253"); }
TEST(InvalidKeepalivedCheck, TrackUnknownScript) { expectInvalid(kKa, kaScript("") + "vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 52\n  track_script {\n    chk_nope\n  }\n}\n", 16, "track_script = \"chk_nope\": instance VI_2 tracks unknown check 'chk_nope'; defined checks: chk"); }
TEST(InvalidKeepalivedCheck, TrackWeightOutOfRange) { expectInvalid(kKa, kaInstance("  track_script {\n    chk weight 300\n  }") + "vrrp_script chk {\n script /bin/true\n}\n", 5, "track_script = \"chk\" weight 300: weight out of range; valid: -253..253"); }
TEST(InvalidKeepalivedCheck, TrackWeightNotANumber) { expectInvalid(kKa, kaInstance("  track_script {\n    chk weight heavy\n  }") + "vrrp_script chk {\n script /bin/true\n}\n", 5, "weight = heavy: not an integer; valid: -253..253"); }
TEST(InvalidKeepalivedCheck, TrackTwice) { expectInvalid(kKa, kaInstance("  track_script {\n    chk\n    chk weight 2\n  }") + "vrrp_script chk {\n script /bin/true\n}\n", 6, "instance VI_1 tracks check 'chk' twice"); }
TEST(InvalidKeepalivedCheck, TrackScriptWithoutBlock) { expectInvalid(kKa, kaInstance("  track_script chk"), 4, "track_script: expects a block: track_script { ... }"); }

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
