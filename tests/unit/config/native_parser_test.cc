// Acceptance tests of the native (libconfig) front end: a full config maps
// onto the model field by field; BOM/CRLF files load; the shipped example
// loads. Rejected configs are in invalid_config_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;
using Argv = std::vector<std::string>;

constexpr const char* kFullNative = R"(# full native config
version = 1;
global = {
  router_id = "node-a";
  notify_user = "nobody";
  notify_group = "nogroup";
  notify_timeout_ms = 20000;
  control_socket = "/run/vrrpd/test.sock";
  garp_master_delay_ms = 3000;
  garp_master_repeat = 3;
  garp_master_refresh_ms = 60000;
  garp_master_refresh_repeat = 2;
  garp_interval_ms = 10;
};
vrrp_instances = (
  {
    name = "VI_1";
    interface = "eth0";
    virtual_router_id = 51;
    priority = 150;
    version = 3;
    advert_interval_ms = 100;
    preempt = false;
    preempt_delay_ms = 2500;
    state = "MASTER";
    virtual_addresses = ( "192.0.2.10/24", { address = "192.0.2.11/24"; device = "eth1"; label = "eth1:vip"; } );
    unicast_src = "192.0.2.1";
    unicast_peers = [ "192.0.2.2", "192.0.2.3" ];
    track_interfaces = ( "eth1", { name = "eth2"; weight = -20; } );
    v3_checksum_pseudo_header = false;
    garp_master_repeat = 7;
    notify_master = "/usr/local/bin/prog arg1 'arg two'";
    notify = [ "/usr/local/bin/notify", "--all" ];
  },
  {
    name = "VI_2";
    interface = "eth0";
    virtual_router_id = 52;
    version = 2;
    auth_pass = "secret";
    family = "ipv4";
  },
  {
    name = "VI_6";
    interface = "eth0";
    virtual_router_id = 51;
    virtual_addresses = ( "2001:db8::10/64" );
  }
);
sync_groups = (
  { name = "G1"; members = [ "VI_1", "VI_2" ]; notify_fault = "/usr/local/bin/fault \"x y\""; }
);
)";

TEST(NativeParser, FullConfigMapsOntoTheModel) {
  Config c = load_text(kFullNative, "full.conf", Format::kNative);
  EXPECT_EQ(c.file, "full.conf");
  EXPECT_EQ(c.global.router_id, "node-a");
  EXPECT_EQ(c.global.notify_user, "nobody");
  EXPECT_EQ(c.global.notify_group, "nogroup");
  EXPECT_EQ(c.global.notify_timeout, milliseconds(20000));
  EXPECT_EQ(c.global.control_socket, "/run/vrrpd/test.sock");
  EXPECT_EQ(c.global.garp.master_delay, milliseconds(3000));
  EXPECT_EQ(c.global.garp.master_refresh, milliseconds(60000));
  ASSERT_EQ(c.instances.size(), 3u);

  const Instance& a = c.instances[0];
  EXPECT_EQ(a.name, "VI_1");
  EXPECT_EQ(a.where.to_string(), "full.conf:16");
  EXPECT_EQ(a.interface, "eth0");
  EXPECT_EQ(a.virtual_router_id, 51);
  EXPECT_EQ(a.priority, 150);
  EXPECT_EQ(a.version, 3);
  EXPECT_EQ(a.family, Family::kIPv4);  // inferred from the VIPs
  EXPECT_EQ(a.advert_interval, milliseconds(100));
  EXPECT_FALSE(a.preempt);
  EXPECT_EQ(a.preempt_delay, milliseconds(2500));
  EXPECT_EQ(a.initial_state, InitialState::kMaster);
  ASSERT_EQ(a.virtual_addresses.size(), 2u);
  EXPECT_EQ(a.virtual_addresses[0].prefix.to_string(), "192.0.2.10/24");
  EXPECT_EQ(a.virtual_addresses[0].device, "");
  EXPECT_EQ(a.virtual_addresses[1].prefix.to_string(), "192.0.2.11/24");
  EXPECT_EQ(a.virtual_addresses[1].device, "eth1");
  EXPECT_EQ(a.virtual_addresses[1].label, "eth1:vip");
  EXPECT_EQ(a.unicast_src, IpAddress::parse("192.0.2.1"));
  ASSERT_EQ(a.unicast_peers.size(), 2u);
  EXPECT_EQ(a.unicast_peers[1].to_string(), "192.0.2.3");
  ASSERT_EQ(a.track_interfaces.size(), 2u);
  EXPECT_EQ(a.track_interfaces[0].name, "eth1");
  EXPECT_EQ(a.track_interfaces[0].weight, 0);
  EXPECT_EQ(a.track_interfaces[1].name, "eth2");
  EXPECT_EQ(a.track_interfaces[1].weight, -20);
  EXPECT_FALSE(a.v3_checksum_pseudo_header);
  // GARP: one key overridden, the rest inherited from global.
  EXPECT_EQ(a.garp.master_repeat, 7);
  EXPECT_EQ(a.garp.master_delay, milliseconds(3000));
  EXPECT_EQ(a.garp.master_refresh, milliseconds(60000));
  EXPECT_EQ(a.garp.master_refresh_repeat, 2);
  EXPECT_EQ(a.garp.interval, milliseconds(10));
  ASSERT_TRUE(a.notify.master);
  EXPECT_EQ(a.notify.master->argv, (Argv{"/usr/local/bin/prog", "arg1", "arg two"}));
  ASSERT_TRUE(a.notify.generic);
  EXPECT_EQ(a.notify.generic->argv, (Argv{"/usr/local/bin/notify", "--all"}));
  EXPECT_FALSE(a.notify.backup);
  EXPECT_EQ(a.sync_group, "G1");

  const Instance& b = c.instances[1];
  EXPECT_EQ(b.version, 2);
  EXPECT_EQ(b.auth_pass, "secret");
  EXPECT_EQ(b.priority, 100);                       // model default
  EXPECT_EQ(b.advert_interval, milliseconds(1000));  // model default
  EXPECT_TRUE(b.preempt);
  EXPECT_EQ(b.initial_state, InitialState::kBackup);
  EXPECT_TRUE(b.v3_checksum_pseudo_header);
  EXPECT_EQ(b.garp.master_repeat, 3);  // from global
  EXPECT_EQ(b.sync_group, "G1");

  const Instance& v6 = c.instances[2];
  EXPECT_EQ(v6.family, Family::kIPv6);
  EXPECT_EQ(v6.version, 3);  // native default
  EXPECT_EQ(v6.sync_group, "");

  ASSERT_EQ(c.sync_groups.size(), 1u);
  EXPECT_EQ(c.sync_groups[0].members, (Argv{"VI_1", "VI_2"}));
  ASSERT_TRUE(c.sync_groups[0].notify.fault);
  EXPECT_EQ(c.sync_groups[0].notify.fault->argv, (Argv{"/usr/local/bin/fault", "x y"}));
  EXPECT_TRUE(c.warnings.empty());
}

TEST(NativeParser, KeysRememberTheirLines) {
  Config c = load_text(kFullNative, "full.conf", Format::kNative);
  const Instance& a = c.instances[0];
  EXPECT_EQ(a.keys.of("priority", a.where).line, 20);
  EXPECT_TRUE(a.keys.has("garp_master_repeat"));
  EXPECT_FALSE(a.keys.has("garp_master_delay_ms"));
  EXPECT_EQ(a.virtual_addresses[1].where.line, 26);
}

TEST(NativeParser, AcceptsBomAndCrlf) {
  std::string text =
      "\xEF\xBB\xBF" "vrrp_instances = (\r\n"
      "  { name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 5;\r\n"
      "    notify_master = \"/bin/echo one\"; } );\r\n";
  Config c = load_text(text, "bom.conf", Format::kNative);
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].virtual_router_id, 5);
  EXPECT_EQ(c.instances[0].where.line, 2);
  // No stray '\r' in values.
  EXPECT_EQ(c.instances[0].notify.master->argv, (Argv{"/bin/echo", "one"}));
}

TEST(NativeParser, AcceptsInt64Literals) {
  Config c = load_text(
      "vrrp_instances = ( { name = \"A\"; interface = \"eth0\"; virtual_router_id = 5L; priority = 200L; } );",
      "test.conf", Format::kNative);
  EXPECT_EQ(c.instances[0].priority, 200);
}

TEST(NativeParser, ShippedExampleLoads) {
  std::string path = std::string(__FILE__);
  path = path.substr(0, path.rfind("/tests/")) + "/etc/vrrpd.conf";
  Config c = load_file(path, Format::kNative);
  EXPECT_FALSE(c.instances.empty());
  EXPECT_TRUE(c.warnings.empty());
}

}  // namespace
}  // namespace vrrpd::config
