// The witness in the native config: `global.witness` on a data node and
// `global.witness_server` on the witness map onto the model with their
// defaults, and one line per rejected setting.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/expect_invalid.h"
#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }

TEST(WitnessConfig, DataNodeSettingsMapOntoTheModel) {
  Config c = native("global = { router_id = \"h1\";\n witness = { address = \"203.0.113.5\"; port = 7800; "
                    "shared_secret = \"0123456789\"; lease_ms = 3000; }; };");
  const WitnessSettings& w = c.global.witness;
  EXPECT_TRUE(w.configured);
  ASSERT_TRUE(w.address);
  EXPECT_EQ(w.address->to_string(), "203.0.113.5");
  EXPECT_EQ(w.port, 7800);
  EXPECT_EQ(w.shared_secret, "0123456789");
  EXPECT_EQ(w.lease, milliseconds(3000));
  EXPECT_FALSE(c.global.witness_server.configured);
}

TEST(WitnessConfig, WitnessServerDefaults) {
  Config c = native("global = { witness_server = { address = \"203.0.113.5\"; shared_secret = \"0123456789\"; }; };");
  const WitnessSettings& w = c.global.witness_server;
  EXPECT_TRUE(w.configured);
  EXPECT_EQ(w.port, 7790);
  EXPECT_EQ(w.lease, milliseconds(5000));
  EXPECT_FALSE(c.global.witness.configured);
}

void expectInvalid(const std::string& text, int line, const std::string& expected) {
  config::expectInvalid(Format::kNative, text, line, expected);
}

TEST(InvalidWitness, NoAddress) { expectInvalid("global = { router_id = \"h1\";\n witness = { shared_secret = \"0123456789\"; }; };", 2, "address: required; valid: the witness's address, e.g. 203.0.113.5"); }
TEST(InvalidWitness, ShortSecret) { expectInvalid("global = { router_id = \"h1\";\n witness = { address = \"203.0.113.5\";\n shared_secret = \"short\"; }; };", 3, "shared_secret = (5 bytes, not shown): valid: 8..255 bytes"); }
TEST(InvalidWitness, NoSecret) { expectInvalid("global = { router_id = \"h1\";\n witness = { address = \"203.0.113.5\"; }; };", 2, "shared_secret: required; valid: 8..255 bytes shared with the witness and the peer"); }
TEST(InvalidWitness, LeaseTooShort) { expectInvalid("global = { router_id = \"h1\";\n witness = { address = \"203.0.113.5\"; shared_secret = \"0123456789\";\n lease_ms = 499; }; };", 3, "lease_ms = 499: out of range; valid: 500..600000 ms"); }
TEST(InvalidWitness, PortOutOfRange) { expectInvalid("global = { witness_server = { address = \"203.0.113.5\"; shared_secret = \"0123456789\";\n port = 70000; }; };", 2, "port = 70000: out of range; valid: 1..65535"); }
TEST(InvalidWitness, NeedsARouterId) { expectInvalid("global = {\n witness = { address = \"203.0.113.5\"; shared_secret = \"0123456789\"; }; };", 1, "router_id: required with a witness (it names this node to the witness)"); }
TEST(InvalidWitness, UnknownKey) { expectInvalid("global = { router_id = \"h1\";\n witness = { address = \"203.0.113.5\"; shared_secret = \"0123456789\";\n lease = 3; }; };", 3, "lease = 3: unknown key in witness; valid keys: address, port, shared_secret, lease_ms"); }

}  // namespace
}  // namespace vrrpd::config
