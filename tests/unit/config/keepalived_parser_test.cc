// Acceptance tests of the keepalived.conf front end: a full config maps onto
// the model (seconds -> ms, nopreempt, VIP options, notify quoting, sync
// groups, global GARP inheritance); keepalived's defaults; unsupported
// keywords are warnings at the right line; include; BOM/CRLF. Rejected
// configs are in invalid_config_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;
using Argv = std::vector<std::string>;

Config keepalived(const std::string& text) {
  return load_text(text, "test.conf", Format::kKeepalived);
}

constexpr const char* kFullKeepalived = R"(! full keepalived config
global_defs {
  router_id node-a
  script_user nobody nogroup
  enable_script_security
  vrrp_garp_master_delay 3
  vrrp_garp_master_repeat 4
  vrrp_garp_master_refresh 60
  vrrp_garp_interval 0.001
  vrrp_version 3
}

vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.1
  nopreempt
  preempt_delay 2.5
  virtual_ipaddress {
    192.0.2.10/24
    192.0.2.11/24 dev eth1 label eth1:vip
  }
  virtual_ipaddress_excluded {
    192.0.2.12
  }
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.2
    192.0.2.3
  }
  track_interface {
    eth1
    eth2 weight -20
  }
  garp_master_repeat 7
  notify_master "/usr/local/bin/prog arg1 'arg two'"
  notify_backup /usr/local/bin/backup.sh --quiet   # trailing comment
  notify "/usr/local/bin/notify"
}

vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  version 2
  authentication {
    auth_type PASS
    auth_pass secret
  }
  virtual_ipaddress {
    192.0.2.20/24
  }
}

vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  notify_fault "/usr/local/bin/fault \"x y\""
}
)";

TEST(KeepalivedParser, FullConfigMapsOntoTheModel) {
  Config c = keepalived(kFullKeepalived);
  EXPECT_EQ(c.global.router_id, "node-a");
  EXPECT_EQ(c.global.notify_user, "nobody");
  EXPECT_EQ(c.global.notify_group, "nogroup");
  EXPECT_EQ(c.global.garp.master_delay, milliseconds(3000));
  EXPECT_EQ(c.global.garp.master_refresh, milliseconds(60000));
  EXPECT_EQ(c.global.garp.interval, milliseconds(1));
  ASSERT_EQ(c.instances.size(), 2u);

  const Instance& a = c.instances[0];
  EXPECT_EQ(a.name, "VI_1");
  EXPECT_EQ(a.where.to_string(), "test.conf:13");
  EXPECT_EQ(a.initial_state, InitialState::kMaster);
  EXPECT_EQ(a.interface, "eth0");
  EXPECT_EQ(a.virtual_router_id, 51);
  EXPECT_EQ(a.priority, 150);
  EXPECT_EQ(a.version, 3);  // from vrrp_version
  EXPECT_EQ(a.advert_interval, milliseconds(100));  // advert_int 0.1
  EXPECT_FALSE(a.preempt);
  EXPECT_EQ(a.preempt_delay, milliseconds(2500));
  ASSERT_EQ(a.virtual_addresses.size(), 3u);
  EXPECT_EQ(a.virtual_addresses[0].prefix.to_string(), "192.0.2.10/24");
  EXPECT_EQ(a.virtual_addresses[1].device, "eth1");
  EXPECT_EQ(a.virtual_addresses[1].label, "eth1:vip");
  EXPECT_EQ(a.virtual_addresses[1].where.line, 23);
  EXPECT_EQ(a.virtual_addresses[2].prefix.to_string(), "192.0.2.12/32");
  EXPECT_EQ(a.family, Family::kIPv4);
  EXPECT_EQ(a.unicast_src, IpAddress::parse("192.0.2.1"));
  ASSERT_EQ(a.unicast_peers.size(), 2u);
  EXPECT_EQ(a.unicast_peers[0].to_string(), "192.0.2.2");
  EXPECT_EQ(a.unicast_peers[1].to_string(), "192.0.2.3");
  ASSERT_EQ(a.track_interfaces.size(), 2u);
  EXPECT_EQ(a.track_interfaces[0].name, "eth1");
  EXPECT_EQ(a.track_interfaces[0].weight, 0);
  EXPECT_EQ(a.track_interfaces[1].name, "eth2");
  EXPECT_EQ(a.track_interfaces[1].weight, -20);
  EXPECT_EQ(a.garp.master_repeat, 7);                    // own value
  EXPECT_EQ(a.garp.master_delay, milliseconds(3000));   // inherited from global_defs
  EXPECT_EQ(a.garp.master_refresh, milliseconds(60000));
  EXPECT_EQ(a.garp.interval, milliseconds(1));
  EXPECT_TRUE(a.v3_checksum_pseudo_header);  // keepalived's default
  ASSERT_TRUE(a.notify.master && a.notify.backup && a.notify.generic);
  EXPECT_EQ(a.notify.master->argv, (Argv{"/usr/local/bin/prog", "arg1", "arg two"}));
  EXPECT_EQ(a.notify.backup->argv, (Argv{"/usr/local/bin/backup.sh", "--quiet"}));
  EXPECT_EQ(a.notify.generic->argv, (Argv{"/usr/local/bin/notify"}));
  EXPECT_EQ(a.sync_group, "G1");

  const Instance& b = c.instances[1];
  EXPECT_EQ(b.version, 2);  // instance `version` overrides vrrp_version
  EXPECT_EQ(b.auth_pass, "secret");
  EXPECT_TRUE(b.preempt);
  EXPECT_EQ(b.garp.master_repeat, 4);
  EXPECT_EQ(b.sync_group, "G1");

  ASSERT_EQ(c.sync_groups.size(), 1u);
  EXPECT_EQ(c.sync_groups[0].name, "G1");
  EXPECT_EQ(c.sync_groups[0].members, (Argv{"VI_1", "VI_2"}));
  EXPECT_EQ(c.sync_groups[0].notify.fault->argv, (Argv{"/usr/local/bin/fault", "x y"}));
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0].message;
}

TEST(KeepalivedParser, DefaultVersionIsTwoLikeKeepalived) {
  Config c = keepalived("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 2\n}\n");
  EXPECT_EQ(c.instances[0].version, 2);
  EXPECT_EQ(c.instances[0].advert_interval, milliseconds(2000));
}

TEST(KeepalivedParser, GlobalDefsAfterTheInstancesStillApply) {
  Config c = keepalived(
      "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n"
      "global_defs {\n vrrp_version 3\n v3_checksum_as_v2\n vrrp_garp_master_repeat 9\n}\n");
  EXPECT_EQ(c.instances[0].version, 3);
  EXPECT_FALSE(c.instances[0].v3_checksum_pseudo_header);
  EXPECT_EQ(c.instances[0].garp.master_repeat, 9);
}

TEST(KeepalivedParser, NativeIpv6SetsTheFamily) {
  Config c = keepalived(
      "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n native_ipv6\n}\n");
  EXPECT_EQ(c.instances[0].family, Family::kIPv6);
}

TEST(KeepalivedParser, BracesMayShareALineOrFollowOnTheNext) {
  Config c = keepalived(
      "vrrp_instance A\n{\n interface eth0\n virtual_router_id 1\n"
      " virtual_ipaddress { 192.0.2.1/24 }\n unicast_peer { 192.0.2.2 192.0.2.3 } }\n");
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].virtual_addresses.size(), 1u);
  EXPECT_EQ(c.instances[0].unicast_peers.size(), 2u);
}

TEST(KeepalivedParser, UnsupportedKeywordsAreWarningsAtTheirLines) {
  Config c = keepalived(R"(global_defs {
  notification_email {
    root@example.com
  }
  smtp_server 127.0.0.1
}
vrrp_script chk_haproxy {
  script "/usr/bin/killall -0 haproxy"
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  smtp_alert
  track_script {
    chk_haproxy
  }
  virtual_ipaddress {
    192.0.2.1/24 brd 192.0.2.255 scope global
  }
}
virtual_server 192.0.2.1 80 {
  real_server 10.0.0.1 80 {
    weight 1
  }
}
)");
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].virtual_addresses.size(), 1u);
  std::vector<std::string> got;
  for (const auto& w : c.warnings) got.push_back(w.where.to_string() + ": " + w.message);
  std::vector<std::string> want{
      "test.conf:2: keyword 'notification_email' is not supported by vrrpd; ignored",
      "test.conf:5: keyword 'smtp_server' is not supported by vrrpd; ignored",
      "test.conf:13: keyword 'smtp_alert' is not supported by vrrpd; ignored",
      "test.conf:18: virtual address option 'brd 192.0.2.255' is not supported by vrrpd; ignored",
      "test.conf:18: virtual address option 'scope global' is not supported by vrrpd; ignored",
      "test.conf:21: block 'virtual_server' is not supported by vrrpd yet; ignored",
  };
  EXPECT_EQ(got, want);
}

TEST(KeepalivedParser, UnknownKeywordIsAWarningNotAnError) {
  Config c = keepalived("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priorty 100\n}\n");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.to_string(), "test.conf:4");
  EXPECT_NE(c.warnings[0].message.find("'priorty'"), std::string::npos);
}

TEST(KeepalivedParser, CommentsAndEscapedCommentCharacters) {
  Config c = keepalived(
      "vrrp_instance A { # comment {\n interface eth0 ! other comment\n virtual_router_id 1\n"
      " version 2\n authentication {\n auth_type PASS\n auth_pass a\\#b\n }\n}\n");
  EXPECT_EQ(c.instances[0].interface, "eth0");
  EXPECT_EQ(c.instances[0].auth_pass, "a#b");
}

TEST(KeepalivedParser, AcceptsBomAndCrlf) {
  std::string text =
      "\xEF\xBB\xBF" "vrrp_instance VI_1 {\r\n interface eth0\r\n virtual_router_id 5\r\n"
      " notify_master \"/bin/echo one\"\r\n}\r\n";
  Config c = load_text(text, "bom.conf", Format::kKeepalived);
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].interface, "eth0");
  EXPECT_EQ(c.instances[0].virtual_router_id, 5);
  EXPECT_EQ(c.instances[0].notify.master->argv, (Argv{"/bin/echo", "one"}));
}

class KeepalivedInclude : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vrrpd_include_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(KeepalivedInclude, IncludesGlobRelativeToTheIncludingFile) {
  write("a.inc", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n");
  write("b.inc", "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n bogus_keyword\n}\n");
  std::string main = write("keepalived.conf", "global_defs {\n router_id x\n}\ninclude *.inc\n");
  Config c = load_file(main, Format::kKeepalived);
  ASSERT_EQ(c.instances.size(), 2u);
  EXPECT_EQ(c.instances[0].name, "A");
  EXPECT_EQ(c.instances[1].name, "B");
  EXPECT_EQ(c.instances[1].where.to_string(), dir_ + "/b.inc:1");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.to_string(), dir_ + "/b.inc:4");
}

TEST_F(KeepalivedInclude, PatternMatchingNothingIsAWarning) {
  std::string main = write("keepalived.conf", "\ninclude nothing-here-*.conf\n");
  Config c = load_file(main, Format::kKeepalived);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.line, 2);
  EXPECT_NE(c.warnings[0].message.find("matched no file"), std::string::npos);
}

TEST_F(KeepalivedInclude, ErrorsInIncludedFilesNameThatFile) {
  write("bad.inc", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 300\n}\n");
  std::string main = write("keepalived.conf", "include bad.inc\n");
  try {
    load_file(main, Format::kKeepalived);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(dir_ + "/bad.inc:4: priority = 300: out of range"),
              std::string::npos) << e.what();
  }
}

TEST(KeepalivedParser, ShippedExampleLoads) {
  std::string path = std::string(__FILE__);
  path = path.substr(0, path.rfind("/tests/")) + "/etc/keepalived-example.conf";
  Config c = load_file(path, Format::kKeepalived);
  EXPECT_FALSE(c.instances.empty());
}

}  // namespace
}  // namespace vrrpd::config
