// Acceptance tests of health-check configuration: a native config with one
// check of each kind maps onto the model field by field; keepalived's
// vrrp_script/track_script map onto an exec check and track_checks; the
// validator's derived values (default ports, canonical names) and warnings;
// same_settings() for checks and for instances' tracked checks. Rejected
// check configs are in invalid_config_test.cc.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;
using Argv = std::vector<std::string>;

constexpr const char* kNativeChecks = R"(# one check of each kind
checks = (
  { name = "web"; kind = "tcp"; address = "192.0.2.80"; port = 80;
    interval_ms = 500; timeout_ms = 200; rise = 2; fall = 3; weight = -20;
    send = "HEAD / HTTP/1.0\r\n\r\n"; expect = "HTTP/1."; },
  { name = "dns_ok"; kind = "DNS"; address = "2001:db8::53";
    query_name = "example.com"; query_type = "aaaa"; query_class = "IN"; recursion = false;
    expect_rcode = "NOERROR"; expect_answers = [ "2001:db8::10", "2001:db8::11" ];
    initial_state = "down"; },
  { name = "haproxy"; kind = "exec"; program = "/usr/local/bin/check-haproxy --quick 'a b'";
    interval_ms = 1000; timeout_ms = 1000; },
  { name = "db"; kind = "mysql"; address = "127.0.0.1"; user = "monitor"; password = "s3cret";
    database = "app"; query = "SELECT 2"; tls = true; expect_role = "Read-Only";
    max_replica_lag_s = 30; galera = true; }
);
vrrp_instances = (
  { name = "VI_1"; interface = "eth0"; virtual_router_id = 51;
    track_checks = ( "web", "dns_ok", { name = "db"; weight = -50; } ); },
  { name = "VI_2"; interface = "eth0"; virtual_router_id = 52;
    track_checks = [ "haproxy" ]; }
);
)";

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }
Config keepalived(const std::string& text) { return load_text(text, "test.conf", Format::kKeepalived); }

TEST(CheckConfig, NativeChecksOfEveryKindMapOntoTheModel) {
  Config c = native(kNativeChecks);
  ASSERT_EQ(c.checks.size(), 4u);
  EXPECT_TRUE(c.warnings.empty());

  const Check& tcp = c.checks[0];
  EXPECT_EQ(tcp.name, "web");
  EXPECT_EQ(tcp.where.to_string(), "test.conf:3");
  EXPECT_EQ(tcp.kind, "tcp");
  EXPECT_EQ(tcp.address, IpAddress::parse("192.0.2.80"));
  EXPECT_EQ(tcp.port, 80);
  EXPECT_EQ(tcp.interval, milliseconds(500));
  EXPECT_EQ(tcp.timeout, milliseconds(200));
  EXPECT_EQ(tcp.rise, 2);
  EXPECT_EQ(tcp.fall, 3);
  EXPECT_EQ(tcp.weight, -20);
  EXPECT_TRUE(tcp.initially_up);
  EXPECT_EQ(tcp.send, "HEAD / HTTP/1.0\r\n\r\n");  // libconfig turns the escapes into bytes
  EXPECT_EQ(tcp.expect, "HTTP/1.");
  EXPECT_EQ(tcp.keys.of("weight", tcp.where).line, 4);

  const Check& dns = c.checks[1];
  EXPECT_EQ(dns.kind, "dns");  // canonical case
  EXPECT_EQ(dns.address, IpAddress::parse("2001:db8::53"));
  EXPECT_EQ(dns.port, 53);  // the kind's default, filled in by validate()
  EXPECT_EQ(dns.query_name, "example.com");
  EXPECT_EQ(dns.query_type, "AAAA");
  EXPECT_EQ(dns.query_class, "IN");
  EXPECT_FALSE(dns.recursion_desired);
  EXPECT_EQ(dns.expect_rcode, "NOERROR");
  EXPECT_EQ(dns.expect_answers, (Argv{"2001:db8::10", "2001:db8::11"}));
  EXPECT_FALSE(dns.initially_up);
  EXPECT_EQ(dns.interval, milliseconds(2000));  // model defaults
  EXPECT_EQ(dns.timeout, milliseconds(1000));
  EXPECT_EQ(dns.rise, 1);
  EXPECT_EQ(dns.fall, 1);
  EXPECT_EQ(dns.weight, 0);

  const Check& exec = c.checks[2];
  EXPECT_EQ(exec.kind, "exec");
  ASSERT_TRUE(exec.program);
  EXPECT_EQ(exec.program->argv, (Argv{"/usr/local/bin/check-haproxy", "--quick", "a b"}));
  EXPECT_EQ(exec.program->where.line, 10);
  EXPECT_FALSE(exec.address);
  EXPECT_EQ(exec.port, 0);

  const Check& db = c.checks[3];
  EXPECT_EQ(db.kind, "mysql");
  EXPECT_EQ(db.port, 3306);
  EXPECT_EQ(db.user, "monitor");
  EXPECT_EQ(db.password, "s3cret");
  EXPECT_EQ(db.database, "app");
  EXPECT_EQ(db.query, "SELECT 2");
  EXPECT_TRUE(db.tls);
  EXPECT_EQ(db.expect_role, "read-only");
  EXPECT_EQ(db.max_replica_lag_s, 30);
  EXPECT_TRUE(db.galera);

  ASSERT_EQ(c.instances.size(), 2u);
  const auto& tracked = c.instances[0].track_checks;
  ASSERT_EQ(tracked.size(), 3u);
  EXPECT_EQ(tracked[0].name, "web");
  EXPECT_EQ(tracked[0].weight, std::nullopt);  // the check's own weight applies
  EXPECT_EQ(tracked[1].name, "dns_ok");
  EXPECT_EQ(tracked[2].name, "db");
  EXPECT_EQ(tracked[2].weight, -50);
  EXPECT_EQ(tracked[2].where.line, 18);
  ASSERT_EQ(c.instances[1].track_checks.size(), 1u);
  EXPECT_EQ(c.instances[1].track_checks[0].name, "haproxy");
}

TEST(CheckConfig, MysqlDefaultsAndExplicitPortsStay) {
  Config c = native(R"(checks = (
    { name = "db"; kind = "mysql"; address = "127.0.0.1"; user = "monitor"; },
    { name = "ns"; kind = "dns"; address = "192.0.2.53"; port = 5353; query_name = "."; query_type = "NS"; } );
    vrrp_instances = ( { name = "A"; interface = "eth0"; virtual_router_id = 1; track_checks = ( "db", "ns" ); } );)");
  const Check& db = c.checks[0];
  EXPECT_EQ(db.query, "SELECT 1");
  EXPECT_EQ(db.expect_role, "any");
  EXPECT_EQ(db.max_replica_lag_s, -1);  // no replica requirement
  EXPECT_FALSE(db.tls);
  EXPECT_FALSE(db.galera);
  EXPECT_EQ(c.checks[1].port, 5353);
  EXPECT_EQ(c.checks[1].query_name, ".");
}

TEST(CheckConfig, ExpectAnswersMayBeOneString) {
  Config c = native(R"(checks = ( { name = "d"; kind = "dns"; address = "192.0.2.53";
    query_name = "www.example.com."; expect_answers = "192.0.2.10"; } );
    vrrp_instances = ( { name = "A"; interface = "eth0"; virtual_router_id = 1; track_checks = ( "d" ); } );)");
  EXPECT_EQ(c.checks[0].expect_answers, (Argv{"192.0.2.10"}));
}

TEST(CheckConfig, UntrackedCheckIsAWarningAtItsLine) {
  Config c = native("checks = (\n"
                    "  { name = \"lonely\"; kind = \"exec\"; program = \"/bin/true\"; } );\n");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.to_string(), "test.conf:2");
  EXPECT_EQ(c.warnings[0].message, "check 'lonely' is not tracked by any instance");
}

TEST(CheckConfig, KindMayComeAfterItsKeys) {
  Config c = native(R"(checks = ( { name = "w"; address = "192.0.2.1"; port = 443; kind = "tcp"; } );
    vrrp_instances = ( { name = "A"; interface = "eth0"; virtual_router_id = 1; track_checks = ( "w" ); } );)");
  EXPECT_EQ(c.checks[0].kind, "tcp");
  EXPECT_EQ(c.checks[0].port, 443);
}

constexpr const char* kKeepalivedScripts = R"(vrrp_script chk_haproxy {
  script "/usr/local/bin/check-haproxy --pid /run/haproxy.pid"
  interval 0.5
  timeout 0.25
  weight -30
  rise 2
  fall 4
  init_fail
}
vrrp_script chk_default {
  script /bin/true
  interval 3
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  track_script {
    chk_haproxy
    chk_default weight 10
  }
}
)";

TEST(CheckConfig, KeepalivedVrrpScriptBecomesAnExecCheck) {
  Config c = keepalived(kKeepalivedScripts);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0].message;
  ASSERT_EQ(c.checks.size(), 2u);

  const Check& a = c.checks[0];
  EXPECT_EQ(a.name, "chk_haproxy");
  EXPECT_EQ(a.where.to_string(), "test.conf:1");
  EXPECT_EQ(a.kind, "exec");
  ASSERT_TRUE(a.program);
  EXPECT_EQ(a.program->argv, (Argv{"/usr/local/bin/check-haproxy", "--pid", "/run/haproxy.pid"}));
  EXPECT_EQ(a.interval, milliseconds(500));  // "0.5" s
  EXPECT_EQ(a.timeout, milliseconds(250));
  EXPECT_EQ(a.weight, -30);
  EXPECT_EQ(a.rise, 2);
  EXPECT_EQ(a.fall, 4);
  EXPECT_FALSE(a.initially_up);  // init_fail
  EXPECT_EQ(a.keys.spelled("interval_ms"), "interval");

  // keepalived's defaults: timeout = interval, rise/fall 1, weight 0, up.
  const Check& b = c.checks[1];
  EXPECT_EQ(b.program->argv, (Argv{"/bin/true"}));
  EXPECT_EQ(b.interval, milliseconds(3000));
  EXPECT_EQ(b.timeout, milliseconds(3000));
  EXPECT_EQ(b.rise, 1);
  EXPECT_EQ(b.fall, 1);
  EXPECT_EQ(b.weight, 0);
  EXPECT_TRUE(b.initially_up);

  ASSERT_EQ(c.instances.size(), 1u);
  const auto& t = c.instances[0].track_checks;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].name, "chk_haproxy");
  EXPECT_EQ(t[0].weight, std::nullopt);
  EXPECT_EQ(t[0].where.line, 18);
  EXPECT_EQ(t[1].name, "chk_default");
  EXPECT_EQ(t[1].weight, 10);
}

TEST(CheckConfig, KeepalivedScriptDefaultIntervalIsOneSecond) {
  Config c = keepalived("vrrp_script s {\n script /bin/true\n}\n"
                        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n track_script { s }\n}\n");
  EXPECT_EQ(c.checks[0].interval, milliseconds(1000));
  EXPECT_EQ(c.checks[0].timeout, milliseconds(1000));
}

TEST(CheckConfig, KeepalivedScriptUserIsAWarning) {
  Config c = keepalived(R"(vrrp_script s {
  script /bin/true
  weight 5 noreverse
  user nobody nogroup
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  track_script {
    s weight -5 noreverse
  }
}
)");
  std::vector<std::string> got;
  for (const auto& w : c.warnings) got.push_back(w.where.to_string() + ": " + w.message);
  std::vector<std::string> want{
      "test.conf:4: per-script user is not supported by vrrpd; ignored (the script runs as script_user, or root without it)",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(c.checks[0].weight, 5);
  EXPECT_EQ(c.instances[0].track_checks[0].weight, -5);
}

// 'reverse' inverts what a weight means; ignoring it would silently invert
// the check's effect, so it is refused.
TEST(CheckConfig, KeepalivedReverseIsRefused) {
  auto text = [](const char* script_weight, const char* track_weight) {
    return std::string("vrrp_script s {\n  script /bin/true\n  weight ") + script_weight +
           "\n}\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  track_script {\n    s weight " +
           track_weight + "\n  }\n}\n";
  };
  try {
    load_text(text("5 reverse", "-5"), "test.conf", Format::kKeepalived);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.conf:3: weight = 5 reverse: option 'reverse' is not supported"),
              std::string::npos) << e.what();
  }
  try {
    load_text(text("5", "-5 reverse"), "test.conf", Format::kKeepalived);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.conf:9: track_script = reverse: option 'reverse'"),
              std::string::npos) << e.what();
  }
}

TEST(CheckConfig, KeepalivedUntrackedScriptIsAWarning) {
  Config c = keepalived("\nvrrp_script unused {\n script /bin/true\n}\n");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.line, 2);
  EXPECT_EQ(c.warnings[0].message, "check 'unused' is not tracked by any instance");
}

// ---- same_settings ----

Config sampleConfig() { return native(kNativeChecks); }

TEST(SameSettingsCheck, TrueForIdenticalChecksEvenAtOtherLines) {
  Config a = sampleConfig(), b = sampleConfig();
  for (std::size_t i = 0; i < a.checks.size(); ++i) {
    SCOPED_TRACE(a.checks[i].name);
    b.checks[i].where.line = 99;
    b.checks[i].keys = KeyLocations();
    if (b.checks[i].program) b.checks[i].program->where.line = 98;
    EXPECT_TRUE(same_settings(a.checks[i], b.checks[i]));
  }
}

TEST(SameSettingsCheck, FalseAfterChangingAnyBehaviour) {
  const Config base = sampleConfig();
  auto differs = [&](std::size_t i, const std::function<void(Check&)>& change) {
    Check changed = base.checks[i];
    change(changed);
    return !same_settings(base.checks[i], changed);
  };
  EXPECT_TRUE(differs(0, [](Check& c) { c.interval = milliseconds(600); }));
  EXPECT_TRUE(differs(0, [](Check& c) { c.timeout = milliseconds(300); }));
  EXPECT_TRUE(differs(0, [](Check& c) { c.rise = 5; }));
  EXPECT_TRUE(differs(0, [](Check& c) { c.weight = 0; }));
  EXPECT_TRUE(differs(0, [](Check& c) { c.port = 81; }));
  EXPECT_TRUE(differs(0, [](Check& c) { c.expect = "HTTP/2"; }));
  EXPECT_TRUE(differs(1, [](Check& c) { c.initially_up = true; }));
  EXPECT_TRUE(differs(1, [](Check& c) { c.address = IpAddress::parse("2001:db8::54"); }));
  EXPECT_TRUE(differs(1, [](Check& c) { c.query_type = "A"; }));
  EXPECT_TRUE(differs(1, [](Check& c) { c.expect_answers.pop_back(); }));
  EXPECT_TRUE(differs(2, [](Check& c) { c.program->argv.push_back("-v"); }));
  EXPECT_TRUE(differs(3, [](Check& c) { c.password = "other"; }));
  EXPECT_TRUE(differs(3, [](Check& c) { c.max_replica_lag_s = 31; }));
  EXPECT_TRUE(differs(3, [](Check& c) { c.galera = false; }));
}

TEST(SameSettingsCheck, InstanceDiffersWhenItsTrackedChecksDo) {
  const Config base = sampleConfig();
  const Instance& a = base.instances[0];
  EXPECT_TRUE(same_settings(a, Instance(a)));
  Instance weight = a;
  weight.track_checks[2].weight = -40;
  EXPECT_FALSE(same_settings(a, weight));
  Instance unset = a;
  unset.track_checks[2].weight.reset();
  EXPECT_FALSE(same_settings(a, unset));
  Instance fewer = a;
  fewer.track_checks.pop_back();
  EXPECT_FALSE(same_settings(a, fewer));
  Instance renamed = a;
  renamed.track_checks[0].name = "haproxy";
  EXPECT_FALSE(same_settings(a, renamed));
  Instance moved = a;
  moved.track_checks[0].where.line = 77;
  EXPECT_TRUE(same_settings(a, moved));
}

}  // namespace
}  // namespace vrrpd::config
