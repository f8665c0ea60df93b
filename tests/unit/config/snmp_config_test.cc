// global.snmp in the native config and keepalived's enable_snmp_* /
// enable_traps / snmp_socket: every key maps onto the model, the receiver
// address is split into host and port, and one test per rejected value (the
// error names file:line, key, value and what would be valid; passwords and
// communities are never echoed).
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/expect_invalid.h"
#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }
Config keepalived(const std::string& text) { return load_text(text, "test.conf", Format::kKeepalived); }

constexpr const char* kFull = R"(global = {
  snmp = {
    enable = true; traps = false; agentx_socket = "/run/snmp/agentx"; agentx_ping_interval_ms = 5000;
    trap_receivers = (
      { address = "192.0.2.1"; community = "nms-ro"; },
      { address = "[2001:db8::9]:1162"; version = "2C"; inform = true; },
      { address = "198.51.100.7:10162"; version = "3"; user = "vrrpd"; auth = "sha-256";
        auth_pass = "authpass1"; priv = "aes"; priv_pass = "privpass1"; inform = true; }
    );
  };
};
)";

TEST(SnmpConfig, EveryKeyMapsOntoTheModel) {
  const SnmpSettings s = native(kFull).global.snmp;
  EXPECT_TRUE(s.enable);
  EXPECT_FALSE(s.traps);
  EXPECT_EQ(s.agentx_socket, "/run/snmp/agentx");
  EXPECT_EQ(s.agentx_ping_interval, std::chrono::milliseconds(5000));
  ASSERT_EQ(s.trap_receivers.size(), 3u);
  const auto& a = s.trap_receivers[0];
  EXPECT_EQ(a.host, "192.0.2.1");
  EXPECT_EQ(a.port, 162);  // the default
  EXPECT_EQ(a.version, "2c");
  EXPECT_EQ(a.community, "nms-ro");
  EXPECT_FALSE(a.inform);
  const auto& b = s.trap_receivers[1];
  EXPECT_EQ(b.host, "2001:db8::9");
  EXPECT_EQ(b.port, 1162);
  EXPECT_EQ(b.version, "2c");  // canonical spelling
  EXPECT_EQ(b.community, "public");
  EXPECT_TRUE(b.inform);
  const auto& c = s.trap_receivers[2];
  EXPECT_EQ(c.host, "198.51.100.7");
  EXPECT_EQ(c.port, 10162);
  EXPECT_EQ(c.version, "3");
  EXPECT_EQ(c.user, "vrrpd");
  EXPECT_EQ(c.auth, "SHA-256");
  EXPECT_EQ(c.auth_pass, "authpass1");
  EXPECT_EQ(c.priv, "AES");
  EXPECT_EQ(c.priv_pass, "privpass1");
}

TEST(SnmpConfig, OffByDefault) {
  const SnmpSettings s = native("global = { router_id = \"a\"; };").global.snmp;
  EXPECT_FALSE(s.enable);
  EXPECT_TRUE(s.traps);
  EXPECT_TRUE(s.agentx_socket.empty());
  EXPECT_TRUE(s.trap_receivers.empty());
}

TEST(SnmpConfig, BareIpv6AddressTakesTheDefaultPort) {
  const auto s = native("global = { snmp = { trap_receivers = ( { address = \"2001:db8::1\"; } ); }; };").global.snmp;
  ASSERT_EQ(s.trap_receivers.size(), 1u);
  EXPECT_EQ(s.trap_receivers[0].host, "2001:db8::1");
  EXPECT_EQ(s.trap_receivers[0].port, 162);
}

TEST(SnmpConfig, KeepalivedSwitchesMapOntoTheModel) {
  const Config c = keepalived("global_defs {\n  enable_snmp_vrrp\n  enable_traps\n  snmp_socket tcp:localhost:705\n}\n");
  EXPECT_TRUE(c.global.snmp.enable);
  EXPECT_TRUE(c.global.snmp.traps);
  EXPECT_EQ(c.global.snmp.agentx_socket, "tcp:localhost:705");
  ASSERT_EQ(c.warnings.size(), 1u);  // KEEPALIVED-MIB itself is not served
  EXPECT_NE(c.warnings[0].message.find("instead of KEEPALIVED-MIB"), std::string::npos);
}

TEST(SnmpConfig, KeepalivedSendsNoTrapsWithoutEnableTraps) {
  const Config c = keepalived("global_defs {\n  enable_snmp_rfcv3\n}\n");
  EXPECT_TRUE(c.global.snmp.enable);
  EXPECT_FALSE(c.global.snmp.traps);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(SnmpConfig, KeepalivedEnableTrapsBeforeTheSwitchKeepsTraps) {
  const Config c = keepalived("global_defs {\n  enable_traps\n  enable_snmp_rfc\n}\n");
  EXPECT_TRUE(c.global.snmp.enable);
  EXPECT_TRUE(c.global.snmp.traps);
}

// ---- rejected configs: one test each ----

void expectInvalid(const std::string& text, int line, const std::string& expected) {
  config::expectInvalid(Format::kNative, text, line, expected);
}

// A global.snmp block whose line 3 is `snmp_line`.
std::string snmp(const std::string& snmp_line) {
  return "global = {\n  snmp = {\n    " + snmp_line + "\n  };\n};\n";
}
// A trap receiver whose keys are on line 4.
std::string receiver(const std::string& keys) {
  return "global = {\n  snmp = {\n    trap_receivers = (\n      { " + keys + " }\n    );\n  };\n};\n";
}
const std::string kV3 = "address = \"192.0.2.1\"; version = \"3\"; user = \"u\"; inform = true; ";

TEST(InvalidSnmp, NotAGroup) { expectInvalid("global = {\n  snmp = true;\n};\n", 2, "snmp = true: wrong type (a boolean); expected a group"); }
TEST(InvalidSnmp, UnknownKey) { expectInvalid(snmp("enabled = true;"), 3, "unknown key in snmp; valid keys: enable, traps"); }
TEST(InvalidSnmp, EnableNotBoolean) { expectInvalid(snmp("enable = 1;"), 3, "enable = 1: wrong type (an integer); expected a boolean"); }
TEST(InvalidSnmp, AgentxSocketRelative) {
  expectInvalid(snmp("agentx_socket = \"agentx/master\";"), 3,
                "agentx_socket = \"agentx/master\": not an AgentX address; valid: an absolute path");
}
TEST(InvalidSnmp, AgentxPingTooShort) {
  expectInvalid(snmp("agentx_ping_interval_ms = 500;"), 3, "agentx_ping_interval_ms = 500: out of range; valid: 1000..3600000 ms");
}
TEST(InvalidSnmp, AgentxPingNotWholeSeconds) {
  expectInvalid(snmp("agentx_ping_interval_ms = 1500;"), 3, "agentx_ping_interval_ms = 1500: out of range; valid: 1000..3600000 ms (1..3600 s) in whole seconds");
}
TEST(InvalidSnmp, ReceiversNotAList) {
  expectInvalid(snmp("trap_receivers = \"192.0.2.1\";"), 3, "trap_receivers = \"192.0.2.1\": wrong type (a string); expected a list of groups");
}
TEST(InvalidSnmp, ReceiverUnknownKey) {
  expectInvalid(receiver("address = \"192.0.2.1\"; host = \"x\";"), 4, "unknown key in a trap receiver; valid keys: address, version");
}
TEST(InvalidSnmp, ReceiverAddressMissing) {
  expectInvalid(receiver("community = \"public\";"), 4, "address: required; valid: an IP address with an optional port");
}
TEST(InvalidSnmp, ReceiverAddressHostName) {
  expectInvalid(receiver("address = \"nms.example.com:162\";"), 4,
                "address = \"nms.example.com:162\": not an IP address; valid: an IP address with an optional port");
}
TEST(InvalidSnmp, ReceiverPortOutOfRange) {
  expectInvalid(receiver("address = \"192.0.2.1:70000\";"), 4, "address = \"192.0.2.1:70000\": port out of range");
}
TEST(InvalidSnmp, ReceiverPortNotANumber) {
  expectInvalid(receiver("address = \"[2001:db8::1]:snmp\";"), 4, "address = \"[2001:db8::1]:snmp\": port out of range");
}
TEST(InvalidSnmp, ReceiverDuplicate) {
  expectInvalid("global = {\n  snmp = {\n    trap_receivers = (\n      { address = \"192.0.2.1\"; },\n"
                "      { address = \"192.0.2.1:162\"; }\n    );\n  };\n};\n",
                5, "address = \"192.0.2.1:162\": duplicate trap receiver; valid: each address and port once");
}
TEST(InvalidSnmp, ReceiverUnknownVersion) {
  expectInvalid(receiver("address = \"192.0.2.1\"; version = \"1\";"), 4, "version = \"1\": unknown SNMP version; valid: 2c, 3");
}
TEST(InvalidSnmp, V2cEmptyCommunity) {
  expectInvalid(receiver("address = \"192.0.2.1\"; community = \"\";"), 4, "community = (0 bytes, not shown): length out of range; valid: 1..255");
}
TEST(InvalidSnmp, V2cCommunityTooLong) {
  expectInvalid(receiver("address = \"192.0.2.1\"; community = \"" + std::string(256, 'c') + "\";"), 4,
                "community = (256 bytes, not shown): length out of range; valid: 1..255");
}
TEST(InvalidSnmp, V2cWithPriv) {
  expectInvalid(receiver("address = \"192.0.2.1\"; priv = \"AES\";"), 4, "priv = \"AES\": only with version = \"3\"");
}
TEST(InvalidSnmp, V2cWithUser) {
  expectInvalid(receiver("address = \"192.0.2.1\"; user = \"u\";"), 4, "user = \"u\": only with version = \"3\"");
}
TEST(InvalidSnmp, V3WithCommunity) {
  expectInvalid(receiver(kV3 + "community = \"secret-c\";"), 4,
                "community = (8 bytes, not shown): only with version = \"2c\"");
}
TEST(InvalidSnmp, V3WithoutUser) {
  expectInvalid(receiver("address = \"192.0.2.1\"; version = \"3\"; inform = true;"), 4,
                "user: required with version = \"3\"; valid: the USM user name");
}
TEST(InvalidSnmp, V3UserTooLong) {
  expectInvalid(receiver("address = \"192.0.2.1\"; version = \"3\"; inform = true; user = \"" + std::string(33, 'u') + "\";"),
                4, "too long; valid: at most 32 bytes");
}
TEST(InvalidSnmp, V3Trap) {
  expectInvalid(receiver("address = \"192.0.2.1\"; version = \"3\"; user = \"u\";"), 4,
                "inform = false: version \"3\" sends informs only");
}
TEST(InvalidSnmp, V3UnknownAuth) {
  expectInvalid(receiver(kV3 + "auth = \"SHA1\"; auth_pass = \"authpass1\";"), 4,
                "auth = \"SHA1\": unknown authentication protocol; valid: MD5, SHA, SHA-224");
}
TEST(InvalidSnmp, V3AuthPassTooShort) {
  expectInvalid(receiver(kV3 + "auth = \"SHA\"; auth_pass = \"short\";"), 4,
                "auth_pass = (5 bytes, not shown): length out of range; valid: 8..255 bytes");
}
TEST(InvalidSnmp, V3AuthWithoutPass) {
  expectInvalid(receiver(kV3 + "auth = \"SHA\";"), 4, "auth_pass: length out of range; valid: 8..255 bytes");
}
TEST(InvalidSnmp, V3AuthPassWithoutAuth) {
  expectInvalid(receiver(kV3 + "auth_pass = \"authpass1\";"), 4, "auth_pass = (9 bytes, not shown): without auth");
}
TEST(InvalidSnmp, V3UnknownPriv) {
  expectInvalid(receiver(kV3 + "auth = \"SHA\"; auth_pass = \"authpass1\"; priv = \"3DES\"; priv_pass = \"privpass1\";"), 4,
                "priv = \"3DES\": unknown privacy protocol; valid: DES, AES");
}
TEST(InvalidSnmp, V3PrivWithoutAuth) {
  expectInvalid(receiver(kV3 + "priv = \"AES\"; priv_pass = \"privpass1\";"), 4,
                "priv = \"AES\": privacy without authentication; valid: set auth too");
}
TEST(InvalidSnmp, V3PrivPassTooShort) {
  expectInvalid(receiver(kV3 + "auth = \"SHA\"; auth_pass = \"authpass1\"; priv = \"AES\"; priv_pass = \"p\";"), 4,
                "priv_pass = (1 bytes, not shown): length out of range; valid: 8..255 bytes");
}
TEST(InvalidSnmp, V3PrivPassWithoutPriv) {
  expectInvalid(receiver(kV3 + "auth = \"SHA\"; auth_pass = \"authpass1\"; priv_pass = \"privpass1\";"), 4,
                "priv_pass = (9 bytes, not shown): without priv; valid: set priv too");
}
TEST(InvalidSnmp, KeepalivedSnmpSocketWithoutValue) {
  config::expectInvalid(Format::kKeepalived, "global_defs {\n  snmp_socket\n}\n", 2, "snmp_socket: missing value");
}
TEST(InvalidSnmp, KeepalivedSnmpSocketRelative) {
  config::expectInvalid(Format::kKeepalived, "global_defs {\n  snmp_socket agentx\n}\n", 2,
                        "snmp_socket = agentx: not an AgentX address");
}

}  // namespace
}  // namespace vrrpd::config
