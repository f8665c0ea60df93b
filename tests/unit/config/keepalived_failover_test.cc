// vrrpd's own blocks in keepalived.conf syntax: replication_resource,
// service, witness and witness_server in global_defs, and an instance's
// resources, services and takeover/release/fault-hold keys. Each full
// example parses into the same model as its native twin (every field of
// fields.h compared, and written in both), and one line per rejected input:
// unknown keywords in these blocks are errors, not keepalived's warnings.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <variant>

#include "tests/unit/config/expect_invalid.h"
#include "tests/unit/config/native_examples.h"
#include "vrrpd/config/config.h"
#include "vrrpd/config/fields.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;
using Names = std::vector<std::string>;

Config keepalived(const std::string& text) { return load_text(text, "test.conf", Format::kKeepalived); }
Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }

void expect_equal(const std::optional<Program>& a, const std::optional<Program>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (a) {
    EXPECT_EQ(a->argv, b->argv);
  }
}
template <typename T>
void expect_equal(const T& a, const T& b) {
  EXPECT_TRUE(a == b);
}

// Every field of `fields` is written in both blocks and has the same value.
template <typename Block>
void expect_same_fields(const Block& ka, const Block& nat, const std::vector<Field<Block>>& fields) {
  for (const auto& f : fields) {
    SCOPED_TRACE("key " + f.key);
    EXPECT_TRUE(ka.keys.has(f.key)) << "not written in the keepalived example";
    EXPECT_TRUE(nat.keys.has(f.key)) << "not written in the native example";
    std::visit([&](auto member) { expect_equal(ka.*member, nat.*member); }, f.member);
  }
}

constexpr const char* kKeepalived = R"(global_defs {
  router_id h1
  witness {
    address 203.0.113.5
    port 7800
    shared_secret "witness secret"
    lease_ms 3000
  }
}

replication_resource r0 {
  device /dev/vdb
  metadata /var/lib/vrrpd/r0.md
  address 198.51.100.1
  port 7790
  peer_address 198.51.100.2
  peer_port 7791
  protocol b
  shared_secret 0123456789abcdef
  resync_rate_kib 40960
  on_io_error call-handler
  io_error_handler "/usr/local/sbin/disk-failed r0"
  notify "/usr/local/sbin/replication-event mail"
  before_resync_target_handler "/usr/local/sbin/snap r0"
  after_sb_0pri discard-least-changes
  after_sb_1pri discard-secondary
  after_sb_2pri disconnect
  ping_interval_ms 2000
  ping_timeout_ms 1000
  probe_timeout_ms 700
  timeout_ms 3000
  ko_count 3
  connect_interval_ms 500
  tcp_congestion reno
  on_congestion block
  congestion_fill_kib 2048
  congestion_extents 32
  fencing resource-only
  fence_address 192.0.2.1
  fence_peer_address 192.0.2.2
  fence_peer_handler "/usr/local/sbin/stonith-peer r0"
  mount_point /srv/data
  fs_type xfs
  mount_options noatime
  unmount_grace_ms 1500
  kill_holders
  resync_after r1
}

replication_resource r1 {
  device /dev/vdc
  address 198.51.100.1
  port 7792
  peer_address 198.51.100.2
  shared_secret 0123456789abcdef
}

service web {
  systemd_unit web.service
  start_timeout_ms 90000
  stop_timeout_ms 20000
}

service db {
  start /usr/local/sbin/db-ctl start "--data dir"
  stop "/usr/local/sbin/db-ctl stop"
  status /usr/local/sbin/db-ctl status
  start_timeout_ms 120000
  stop_timeout_ms 30000
  status_interval_ms 250
}

vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  resources {
    r0
  }
  services {
    db web
  }
  takeover_timeout_ms 5000
  release_timeout_ms 7000
  fault_hold_ms 0
}
)";

// The native twin of kKeepalived (its resource is kNativeFullResource).
const std::string kNative = std::string(kNativeFullResource) + R"(global = { router_id = "h1";
  witness = { address = "203.0.113.5"; port = 7800; shared_secret = "witness secret"; lease_ms = 3000; }; };
services = (
  { name = "web"; systemd_unit = "web.service"; start_timeout_ms = 90000; stop_timeout_ms = 20000; },
  { name = "db"; start = [ "/usr/local/sbin/db-ctl", "start", "--data dir" ];
    stop = "/usr/local/sbin/db-ctl stop"; status = "/usr/local/sbin/db-ctl status";
    start_timeout_ms = 120000; stop_timeout_ms = 30000; status_interval_ms = 250; } );
vrrp_instances = ( { name = "VI_1"; interface = "eth0"; virtual_router_id = 51; version = 2;
  resources = ( "r0" ); services = ( "db", "web" );
  takeover_timeout_ms = 5000; release_timeout_ms = 7000; fault_hold_ms = 0; } );
)";

TEST(KeepalivedFailover, ResourceIsTheNativeResource) {
  Config ka = keepalived(kKeepalived), nat = native(kNative);
  ASSERT_EQ(ka.resources.size(), 2u);
  const Resource& r = ka.resources[0];
  EXPECT_EQ(r.name, "r0");
  EXPECT_EQ(r.where.to_string(), "test.conf:11");
  EXPECT_EQ(r.protocol, "B");                          // canonical, as native
  EXPECT_EQ(r.shared_secret, "0123456789abcdef");
  EXPECT_EQ(r.peer_address->to_string(), "198.51.100.2");
  EXPECT_EQ(r.io_error_handler->argv, (Names{"/usr/local/sbin/disk-failed", "r0"}));
  EXPECT_EQ(r.notify->argv, (Names{"/usr/local/sbin/replication-event", "mail"}));
  EXPECT_EQ(r.before_resync_target_handler->argv, (Names{"/usr/local/sbin/snap", "r0"}));
  EXPECT_EQ(r.ping_timeout, milliseconds(1000));       // _ms keys: milliseconds, as native
  EXPECT_EQ(r.on_io_error, "call-handler");
  EXPECT_TRUE(r.kill_holders);                         // the keyword alone
  EXPECT_EQ(r.tcp_congestion, "reno");
  EXPECT_EQ(r.congestion_fill_kib, 2048);
  EXPECT_EQ(r.congestion_extents, 32);
  EXPECT_EQ(r.resync_after, "r1");
  EXPECT_EQ(r.fencing, "resource-only");
  EXPECT_EQ(r.keys.of("kill_holders", {}).to_string(), "test.conf:46");
  expect_same_fields(r, nat.resources.at(0), resource_fields());
}

TEST(KeepalivedFailover, ServicesAreTheNativeServices) {
  Config ka = keepalived(kKeepalived), nat = native(kNative);
  ASSERT_EQ(ka.services.size(), 2u);
  const Service& web = ka.services[0];
  const Service& db = ka.services[1];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.systemd_unit, "web.service");
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.start->argv, (Names{"/usr/local/sbin/db-ctl", "start", "--data dir"}));
  EXPECT_EQ(db.stop->argv, (Names{"/usr/local/sbin/db-ctl", "stop"}));  // one quoted string split again
  EXPECT_EQ(db.status_interval, milliseconds(250));
  // Each example writes a different subset; together they cover every key.
  for (const auto& f : service_fields()) EXPECT_TRUE(web.keys.has(f.key) || db.keys.has(f.key)) << f.key;
  for (std::size_t i = 0; i < 2; ++i) {
    const Service& n = nat.services.at(i);
    EXPECT_EQ(ka.services[i].name, n.name);
    EXPECT_EQ(ka.services[i].systemd_unit, n.systemd_unit);
    expect_equal(ka.services[i].start, n.start);
    expect_equal(ka.services[i].stop, n.stop);
    expect_equal(ka.services[i].status, n.status);
    EXPECT_EQ(ka.services[i].start_timeout, n.start_timeout);
    EXPECT_EQ(ka.services[i].stop_timeout, n.stop_timeout);
    EXPECT_EQ(ka.services[i].status_interval, n.status_interval);
  }
}

TEST(KeepalivedFailover, WitnessInGlobalDefsIsTheNativeWitness) {
  Config ka = keepalived(kKeepalived), nat = native(kNative);
  const WitnessSettings& w = ka.global.witness;
  EXPECT_TRUE(w.configured);
  EXPECT_EQ(w.where.to_string(), "test.conf:3");
  EXPECT_EQ(w.address->to_string(), "203.0.113.5");
  EXPECT_EQ(w.shared_secret, "witness secret");  // quoted: one word with its blank
  EXPECT_EQ(w.lease, milliseconds(3000));
  EXPECT_FALSE(ka.global.witness_server.configured);
  expect_same_fields(w, nat.global.witness, witness_fields());
}

TEST(KeepalivedFailover, WitnessServerDefaultsAsNative) {
  Config ka = keepalived("global_defs {\n witness_server {\n  address 203.0.113.5\n  shared_secret 0123456789\n }\n}\n");
  Config nat = native("global = { witness_server = { address = \"203.0.113.5\"; shared_secret = \"0123456789\"; }; };");
  const WitnessSettings& w = ka.global.witness_server;
  EXPECT_TRUE(w.configured);
  EXPECT_EQ(w.port, 7790);
  EXPECT_EQ(w.lease, milliseconds(5000));
  EXPECT_EQ(w.address, nat.global.witness_server.address);
  EXPECT_EQ(w.shared_secret, nat.global.witness_server.shared_secret);
  EXPECT_EQ(w.port, nat.global.witness_server.port);
  EXPECT_EQ(w.lease, nat.global.witness_server.lease);
  EXPECT_FALSE(ka.global.witness.configured);
}

TEST(KeepalivedFailover, InstanceOwnershipAndTimingAreTheNativeOnes) {
  Config ka = keepalived(kKeepalived), nat = native(kNative);
  const Instance& i = ka.instances.at(0);
  EXPECT_EQ(i.resources, Names{"r0"});
  EXPECT_EQ(i.services, (Names{"db", "web"}));
  EXPECT_EQ(i.takeover_timeout, milliseconds(5000));
  EXPECT_EQ(i.fault_hold, milliseconds(0));
  expect_same_fields(i, nat.instances.at(0), failover_fields<Instance>());
  EXPECT_TRUE(same_settings(i, nat.instances.at(0)));
  EXPECT_TRUE(ka.warnings.empty()) << ka.warnings[0].message;
}

// resources/services as a block (documented), on the keyword's line, or both;
// repeated keywords add up, as keepalived's lists do.
TEST(KeepalivedFailover, NameListsOnTheLineOrInABlock) {
  const std::string head =
      "replication_resource r0 {\n device /dev/vdb\n address 198.51.100.1\n peer_address 198.51.100.2\n"
      " shared_secret 0123456789\n}\n"
      "replication_resource r1 {\n device /dev/vdc\n address 198.51.100.1\n port 7790\n peer_address 198.51.100.2\n"
      " shared_secret 0123456789\n}\n"
      "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n";
  for (const char* lists : {" resources r0 r1\n", " resources {\n  r0\n  r1\n }\n", " resources { r0 r1 }\n",
                            " resources r0 {\n  r1\n }\n", " resources r0\n resources r1\n"}) {
    SCOPED_TRACE(lists);
    EXPECT_EQ(keepalived(head + lists + "}\n").instances.at(0).resources, (Names{"r0", "r1"}));
  }
}

TEST(KeepalivedFailover, KillHoldersTakesAnOptionalBoolean) {
  auto kill_holders = [](const std::string& line) {
    return keepalived("replication_resource r0 {\n device /dev/vdb\n address 198.51.100.1\n"
                      " peer_address 198.51.100.2\n shared_secret 0123456789\n" + line + "\n}\n")
        .resources.at(0)
        .kill_holders;
  };
  EXPECT_FALSE(kill_holders(""));
  EXPECT_TRUE(kill_holders(" kill_holders"));
  EXPECT_TRUE(kill_holders(" kill_holders yes"));
  EXPECT_TRUE(kill_holders(" kill_holders TRUE"));
  EXPECT_FALSE(kill_holders(" kill_holders off"));
  EXPECT_FALSE(kill_holders(" kill_holders false"));
}

TEST(KeepalivedFailover, ShippedExampleHasAResourceAServiceAndTheirOwner) {
  std::string path = std::string(__FILE__);
  path = path.substr(0, path.rfind("/tests/")) + "/etc/keepalived-example.conf";
  Config c = load_file(path, Format::kKeepalived);
  ASSERT_EQ(c.resources.size(), 1u);
  ASSERT_EQ(c.services.size(), 1u);
  const auto owner = std::find_if(c.instances.begin(), c.instances.end(),
                                  [](const Instance& i) { return !i.resources.empty(); });
  ASSERT_NE(owner, c.instances.end());
  EXPECT_EQ(owner->resources, Names{c.resources[0].name});
  EXPECT_EQ(owner->services, Names{c.services[0].name});
  EXPECT_EQ(c.resources[0].fencing, "resource-only");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0].message;
}

// ---- rejected inputs: one line each ----

// All the messages of a rejected config, one a line.
std::string errors_of(const std::string& text) {
  try {
    keepalived(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "config was accepted";
  return "";
}

void expectInvalid(const std::string& text, int line, const std::string& expected) {
  config::expectInvalid(Format::kKeepalived, text, line, expected);
}

// Line 1: replication_resource r0; lines 2-5: the required keys; line 6..: `extra`;
// 7 lines without it.
std::string kaResource(const std::string& extra, const std::string& header = "replication_resource r0 {") {
  return header + "\n device /dev/vdb\n address 198.51.100.1\n peer_address 198.51.100.2\n shared_secret 0123456789\n" +
         extra + "\n}\n";
}

// Line 1: service web; line 2: its start; line 3: its stop; line 4..: `extra`;
// 5 lines without it.
std::string kaService(const std::string& extra, const std::string& header = "service web {") {
  return header + "\n start /usr/local/sbin/web-ctl start\n stop /usr/local/sbin/web-ctl stop\n" + extra + "\n}\n";
}

// Lines 1-7: resource r0; 8-12: service web; 13: vrrp_instance VI_1;
// 14-15: interface, VRID; line 16..: `extra`.
std::string kaOwner(const std::string& extra) {
  return kaResource("") + kaService("") + "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n" + extra +
         "\n}\n";
}

// Line 1: global_defs; line 2: router_id; line 3: `block` opening; line 4..: `extra`.
std::string kaWitness(const std::string& extra, const std::string& block = "witness {") {
  return "global_defs {\n router_id h1\n " + block + "\n  address 203.0.113.5\n  shared_secret 0123456789\n" + extra +
         "\n }\n}\n";
}

TEST(InvalidKeepalivedResource, UnknownKeywordIsAnError) { expectInvalid(kaResource(" peer_adress 198.51.100.3"), 6, "peer_adress: unknown keyword in replication_resource r0; valid: address, after_sb_0pri, after_sb_1pri, after_sb_2pri, before_resync_target_handler, congestion_extents, congestion_fill_kib, connect_interval_ms, device,"); }
TEST(InvalidKeepalivedResource, MisspeltSecretKeywordIsNotEchoed) { expectInvalid(kaResource(" shared_secert hunter2hunter2"), 6, "shared_secert: unknown keyword in replication_resource r0; valid: address,"); }
TEST(InvalidKeepalivedResource, UnknownBlockIsAnError) { expectInvalid(kaResource(" peer {\n  port 7789\n }"), 6, "peer: unknown keyword in replication_resource r0"); }
TEST(InvalidKeepalivedResource, SecretsAreNeverEchoed) {
  for (const char* line : {" shared_secert hunter2hunter2", " shared_secret hunter2 hunter2", " shared_secret hunter2"}) {
    std::string errors = errors_of(kaResource(line));
    EXPECT_NE(errors, "");
    EXPECT_EQ(errors.find("hunter2"), std::string::npos) << errors;
  }
}
TEST(InvalidKeepalivedResource, StrayBrace) { expectInvalid(kaResource(" {\n port 1\n }"), 6, "unexpected '{' in replication_resource r0; valid: KEYWORD VALUE lines"); }
TEST(InvalidKeepalivedResource, NameMissing) { expectInvalid(kaResource("", "replication_resource {"), 1, "replication_resource: missing resource name; valid: replication_resource NAME { ... }"); }
TEST(InvalidKeepalivedResource, TwoNames) { expectInvalid(kaResource("", "replication_resource r0 r1 {"), 1, "replication_resource = r1: extra words after the name; valid: replication_resource NAME { ... }"); }
TEST(InvalidKeepalivedResource, BadName) { expectInvalid(kaResource("", "replication_resource r/0 {"), 1, "replication_resource = r/0: invalid name; valid: [A-Za-z0-9_.-]+"); }
TEST(InvalidKeepalivedResource, WithoutBlock) { expectInvalid("replication_resource r0\n", 1, "replication_resource: expects a block: replication_resource { ... }"); }
TEST(InvalidKeepalivedResource, PortNotANumber) { expectInvalid(kaResource(" port drbd"), 6, "port = drbd: not an integer; valid: a whole number"); }
TEST(InvalidKeepalivedResource, PortOutOfRange) { expectInvalid(kaResource(" port 70000"), 6, "port = 70000: out of range; valid: 1..65535"); }
TEST(InvalidKeepalivedResource, PeerAddressBroken) { expectInvalid(kaResource(" peer_address 198.51.100.300"), 6, "peer_address = 198.51.100.300: not an IP address; valid: e.g. 192.0.2.1"); }
TEST(InvalidKeepalivedResource, ProtocolD) { expectInvalid(kaResource(" protocol D"), 6, "protocol = D: unknown value; valid: A, B, C"); }
TEST(InvalidKeepalivedResource, ExtraWordIsAnError) { expectInvalid(kaResource(" protocol C B"), 6, "protocol: extra words after the value; valid: a word (quoted if it has blanks)"); }
TEST(InvalidKeepalivedResource, UnquotedSecretWithBlankIsAnErrorAndNotEchoed) { expectInvalid(kaResource(" shared_secret secret with blanks"), 6, "shared_secret: extra words after the value; valid: 8..255 bytes (quoted if it has blanks)"); }
TEST(InvalidKeepalivedResource, ShortSecretNotEchoed) { expectInvalid(kaResource(" shared_secret short"), 6, "shared_secret = (5 bytes, not shown): length out of range; valid: 8..255 bytes"); }
TEST(InvalidKeepalivedResource, SplitBrainPolicy) { expectInvalid(kaResource(" after_sb_1pri discard-younger-primary"), 6, "after_sb_1pri = discard-younger-primary: unknown value; valid: disconnect, consensus, discard-secondary"); }
TEST(InvalidKeepalivedResource, CallHandlerWithoutHandler) { expectInvalid(kaResource(" on_io_error call-handler"), 1, "io_error_handler: required with on_io_error = \"call-handler\""); }
TEST(InvalidKeepalivedResource, HandlerRelative) { expectInvalid(kaResource(" io_error_handler \"disk-failed r0\""), 6, "io_error_handler = \"disk-failed r0\": program \"disk-failed\" is not an absolute path"); }
TEST(InvalidKeepalivedResource, PingTimeoutInSeconds) { expectInvalid(kaResource(" ping_timeout_ms 0.5"), 6, "ping_timeout_ms = 0.5: not an integer; valid: a whole number of milliseconds"); }
TEST(InvalidKeepalivedResource, KillHoldersNotABoolean) { expectInvalid(kaResource(" kill_holders maybe"), 6, "kill_holders = maybe: not a boolean; valid: kill_holders alone (true), or followed by true or false (yes/no, on/off)"); }
TEST(InvalidKeepalivedResource, MountPointRelative) { expectInvalid(kaResource(" mount_point srv/data"), 6, "mount_point = srv/data: not an absolute path; valid: e.g. /srv/data"); }
TEST(InvalidKeepalivedResource, DeviceMissing) { expectInvalid("replication_resource r0 {\n address 198.51.100.1\n peer_address 198.51.100.2\n shared_secret 0123456789\n}\n", 1, "device: required"); }
TEST(InvalidKeepalivedResource, ValueMissing) { expectInvalid(kaResource(" metadata"), 6, "metadata: missing value; valid: a word"); }
TEST(InvalidKeepalivedResource, DuplicateName) { expectInvalid(kaResource("") + kaResource(" port 7790"), 8, "replication_resource = r0: name already used by resource \"r0\" (test.conf:1)"); }

TEST(InvalidKeepalivedService, UnknownKeywordIsAnError) { expectInvalid(kaService(" restart /usr/local/sbin/web-ctl restart"), 4, "restart: unknown keyword in service web; valid: start, start_timeout_ms, status, status_interval_ms, stop, stop_timeout_ms, systemd_unit"); }
TEST(InvalidKeepalivedService, NameMissing) { expectInvalid(kaService("", "service {"), 1, "service: missing service name; valid: service NAME { ... }"); }
TEST(InvalidKeepalivedService, StartWithoutCommand) { expectInvalid(kaService(" status"), 4, "status: missing command; valid: an absolute path and arguments"); }
TEST(InvalidKeepalivedService, StartRelative) { expectInvalid("service web {\n start \"web-ctl start\"\n stop /usr/local/sbin/web-ctl stop\n}\n", 2, "start = \"web-ctl start\": program \"web-ctl\" is not an absolute path"); }
TEST(InvalidKeepalivedService, StopMissing) { expectInvalid("service web {\n start /usr/local/sbin/web-ctl start\n}\n", 1, "stop: required; valid: an absolute path and arguments"); }
TEST(InvalidKeepalivedService, TimeoutNotANumber) { expectInvalid(kaService(" start_timeout_ms 1m"), 4, "start_timeout_ms = 1m: not an integer; valid: a whole number of milliseconds"); }
TEST(InvalidKeepalivedService, TimeoutTooShort) { expectInvalid(kaService(" stop_timeout_ms 50"), 4, "stop_timeout_ms = 50: out of range; valid: 100..3600000 ms"); }
TEST(InvalidKeepalivedService, UnitAndPrograms) { expectInvalid(kaService(" systemd_unit web.service"), 2, "start = /usr/local/sbin/web-ctl start: not used with systemd_unit = \"web.service\""); }
TEST(InvalidKeepalivedService, BadUnit) { expectInvalid("service web {\n systemd_unit web\n}\n", 2, "systemd_unit = web: invalid unit name"); }

TEST(InvalidKeepalivedWitness, UnknownKeywordIsAnError) { expectInvalid(kaWitness("  lease 3"), 6, "lease: unknown keyword in witness; valid: address, lease_ms, port, shared_secret"); }
TEST(InvalidKeepalivedWitness, OutsideGlobalDefsIsAnError) { expectInvalid("global_defs {\n router_id h1\n}\nwitness {\n address 203.0.113.5\n}\n", 4, "witness: not valid here; valid: global_defs { witness { ... } }"); }
TEST(InvalidKeepalivedWitness, ServerOutsideGlobalDefsIsAnError) { expectInvalid("\nwitness_server {\n address 203.0.113.5\n}\n", 2, "witness_server: not valid here; valid: global_defs { witness_server { ... } }"); }
TEST(InvalidKeepalivedWitness, WithAName) { expectInvalid(kaWitness("", "witness w1 {"), 3, "witness = w1: takes no name; valid: witness { address ...; ... }"); }
TEST(InvalidKeepalivedWitness, GivenTwice) { expectInvalid("global_defs {\n router_id h1\n witness {\n address 203.0.113.5\n shared_secret 0123456789\n }\n witness {\n port 7791\n }\n}\n", 7, "witness: given twice (first at test.conf:3); valid: one witness block"); }
TEST(InvalidKeepalivedWitness, LeaseTooShort) { expectInvalid(kaWitness("  lease_ms 499"), 6, "lease_ms = 499: out of range; valid: 500..600000 ms"); }
TEST(InvalidKeepalivedWitness, AddressBroken) { expectInvalid(kaWitness("  address witness.example"), 6, "address = witness.example: not an IP address"); }
TEST(InvalidKeepalivedWitness, NoSecret) { expectInvalid("global_defs {\n router_id h1\n witness {\n  address 203.0.113.5\n }\n}\n", 3, "shared_secret: required; valid: 8..255 bytes shared with the witness and the peer"); }
TEST(InvalidKeepalivedWitness, NeedsARouterId) { expectInvalid("global_defs {\n witness {\n  address 203.0.113.5\n  shared_secret 0123456789\n }\n}\n", 1, "router_id: required with a witness"); }

TEST(InvalidKeepalivedOwner, UnknownResource) { expectInvalid(kaOwner(" resources {\n  r9\n }"), 16, "resources = \"r9\": instance VI_1 owns unknown replication resource; defined: r0"); }
TEST(InvalidKeepalivedOwner, ResourceListedTwice) { expectInvalid(kaOwner(" resources r0\n resources r0"), 17, "resources = \"r0\": listed twice; valid: each resource once"); }
TEST(InvalidKeepalivedOwner, UnknownService) { expectInvalid(kaOwner(" services { db }"), 16, "services = \"db\": instance VI_1 owns unknown service; defined: web"); }
TEST(InvalidKeepalivedOwner, ListWithoutNames) { expectInvalid(kaOwner(" services"), 16, "services: missing names; valid: services { NAME ... }"); }
TEST(InvalidKeepalivedOwner, TakeoverTimeoutInSeconds) { expectInvalid(kaOwner(" takeover_timeout_ms 30s"), 16, "takeover_timeout_ms = 30s: not an integer; valid: a whole number of milliseconds"); }
TEST(InvalidKeepalivedOwner, ReleaseTimeoutTooShort) { expectInvalid(kaOwner(" release_timeout_ms 99"), 16, "release_timeout_ms = 99: out of range; valid: 100..3600000 ms"); }
TEST(InvalidKeepalivedOwner, FaultHoldTooLong) { expectInvalid(kaOwner(" fault_hold_ms 3600001"), 16, "fault_hold_ms = 3600001: out of range; valid: 0..3600000 ms"); }
TEST(InvalidKeepalivedOwner, ResourceOwnedByTheGroupAndItsMember) { expectInvalid(kaOwner(" resources r0") + "vrrp_sync_group G1 {\n group {\n  VI_1\n }\n resources {\n  r0\n }\n}\n", 22, "resources = \"r0\": already owned by instance \"VI_1\" (test.conf:13); valid: one owner per resource"); }
TEST(InvalidKeepalivedOwner, GroupUnknownService) { expectInvalid(kaOwner("") + "vrrp_sync_group G1 {\n group {\n  VI_1\n }\n services db\n}\n", 22, "services = \"db\": sync group G1 owns unknown service; defined: web"); }

}  // namespace
}  // namespace vrrpd::config
