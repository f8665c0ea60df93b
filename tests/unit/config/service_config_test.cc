// Services in the native config: a service block's programs and timing map
// onto the model with their defaults, an instance's `services` list is a
// setting a reload sees, and one line per rejected config.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/expect_invalid.h"
#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;

// Line 1: the service list opening; line 2: service "db" with `db_extra`;
// line 3: service "web" (start and stop only); line 4: the instance list;
// line 5: VI_1 with `extra`; line 6: VI_2 with `extra2`.
std::string with_services(const std::string& extra, const std::string& db_extra = "",
                          const std::string& extra2 = "") {
  return "services = (\n"
         " { name = \"db\"; start = [ \"/usr/sbin/db-ctl\", \"start\" ]; stop = [ \"/usr/sbin/db-ctl\", \"stop\" ]; " +
         db_extra + " },\n"
         " { name = \"web\"; start = \"/usr/sbin/web-start\"; stop = \"/usr/sbin/web-stop\"; } );\n"
         "vrrp_instances = (\n"
         " { name = \"VI_1\"; interface = \"eth0\"; virtual_router_id = 51; " + extra + " },\n"
         " { name = \"VI_2\"; interface = \"eth0\"; virtual_router_id = 52; " + extra2 + " } );\n";
}

Config native(const std::string& text) { return load_text(text, "test.conf", Format::kNative); }

TEST(ServiceConfig, ProgramsAndTimingMapOntoTheModel) {
  Config c = native(with_services("services = ( \"db\", \"web\" );",
                                  "status = [ \"/usr/sbin/db-ctl\", \"status\" ]; start_timeout_ms = 90000; "
                                  "stop_timeout_ms = 20000; status_interval_ms = 250;"));
  ASSERT_EQ(c.services.size(), 2u);
  const Service& db = c.services[0];
  EXPECT_EQ(db.name, "db");
  ASSERT_TRUE(db.start && db.stop && db.status);
  EXPECT_EQ(db.start->argv, (std::vector<std::string>{"/usr/sbin/db-ctl", "start"}));
  EXPECT_EQ(db.stop->argv, (std::vector<std::string>{"/usr/sbin/db-ctl", "stop"}));
  EXPECT_EQ(db.status->argv, (std::vector<std::string>{"/usr/sbin/db-ctl", "status"}));
  EXPECT_EQ(db.start_timeout, milliseconds(90000));
  EXPECT_EQ(db.stop_timeout, milliseconds(20000));
  EXPECT_EQ(db.status_interval, milliseconds(250));
  EXPECT_EQ(c.instances.at(0).services, (std::vector<std::string>{"db", "web"}));
}

TEST(ServiceConfig, DefaultsAreAMinutePerStepAndNoReadinessWait) {
  Config c = native(with_services("services = \"web\";"));
  const Service& web = c.services.at(1);
  EXPECT_FALSE(web.status);
  EXPECT_EQ(web.start_timeout, milliseconds(60000));
  EXPECT_EQ(web.stop_timeout, milliseconds(60000));
  EXPECT_EQ(web.status_interval, milliseconds(500));
  EXPECT_TRUE(c.instances.at(1).services.empty());
}

TEST(ServiceConfig, AServiceNoInstanceOwnsIsAWarning) {
  Config c = native(with_services("services = \"web\";"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.to_string(), "test.conf:2");
  EXPECT_EQ(c.warnings[0].message, "service 'db' is not owned by any instance or sync group");
}

TEST(ServiceConfig, ChangedServicesIsAChangedInstance) {
  const Instance base = native(with_services("services = \"db\";")).instances.at(0);
  EXPECT_TRUE(same_settings(base, native(with_services("services = \"db\";")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_services("services = ( \"db\", \"web\" );")).instances.at(0)));
  EXPECT_FALSE(same_settings(base, native(with_services("")).instances.at(0)));
}

void expectInvalid(const std::string& text, int line, const std::string& expected) {
  config::expectInvalid(Format::kNative, text, line, expected);
}

TEST(InvalidService, UnknownService) { expectInvalid(with_services("services = \"cache\";"), 5, "services = \"cache\": instance VI_1 owns unknown service; defined: db, web"); }
TEST(InvalidService, ServiceListedTwice) { expectInvalid(with_services("services = ( \"db\", \"db\" );"), 5, "services = \"db\": listed twice; valid: each service once"); }
TEST(InvalidService, ServiceOwnedByTwoInstances) { expectInvalid(with_services("services = \"db\";", "", "services = \"db\";"), 6, "services = \"db\": already owned by instance \"VI_1\" (test.conf:5); valid: one owner per service"); }
TEST(InvalidService, NoStartProgram) {
  expectInvalid("services = ( { name = \"db\"; stop = \"/usr/sbin/db-stop\"; } );", 1,
                "start: required; valid: an absolute path and arguments, e.g. [\"/usr/sbin/service-ctl\", \"start\"] (no shell)");
}
TEST(InvalidService, NoStopProgram) {
  expectInvalid("services = ( { name = \"db\"; start = \"/usr/sbin/db-start\"; } );", 1,
                "stop: required; valid: an absolute path and arguments, e.g. [\"/usr/sbin/service-ctl\", \"stop\"] (no shell)");
}
TEST(InvalidService, RelativeProgram) { expectInvalid(with_services("", "status = [ \"db-ctl\", \"status\" ];"), 2, "status = [ ... ]: program \"db-ctl\" is not an absolute path; valid: e.g. /usr/sbin/service-ctl (no shell, no PATH search)"); }
TEST(InvalidService, MissingName) {
  expectInvalid("services = ( { start = \"/usr/sbin/a\"; stop = \"/usr/sbin/b\"; } );", 1,
                "name: required; valid: [A-Za-z0-9_.-]+, at most 64 characters");
}
TEST(InvalidService, BadName) {
  expectInvalid("services = ( { name = \"my db\"; start = \"/usr/sbin/a\"; stop = \"/usr/sbin/b\"; } );", 1,
                "name = \"my db\": invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters");
}
TEST(InvalidService, DuplicateName) {
  expectInvalid("services = ( { name = \"db\"; start = \"/usr/sbin/a\"; stop = \"/usr/sbin/b\"; },\n"
                " { name = \"db\"; start = \"/usr/sbin/a\"; stop = \"/usr/sbin/b\"; } );",
                2, "name = \"db\": already used by the service at test.conf:1; valid: a unique name");
}
TEST(InvalidService, StartTimeoutTooShort) { expectInvalid(with_services("", "start_timeout_ms = 99;"), 2, "start_timeout_ms = 99: out of range; valid: 100..3600000 ms"); }
TEST(InvalidService, StopTimeoutTooLong) { expectInvalid(with_services("", "stop_timeout_ms = 3600001;"), 2, "stop_timeout_ms = 3600001: out of range; valid: 100..3600000 ms"); }
TEST(InvalidService, StatusIntervalTooShort) { expectInvalid(with_services("", "status_interval_ms = 9;"), 2, "status_interval_ms = 9: out of range; valid: 10..60000 ms"); }
TEST(InvalidService, UnknownKey) { expectInvalid(with_services("", "restart = true;"), 2, "restart = true: unknown key in services; valid keys: name, systemd_unit, start, stop, status, start_timeout_ms, stop_timeout_ms, status_interval_ms"); }

TEST(ServiceConfig, SystemdUnitNeedsNoPrograms) {
  Config c = native("services = ( { name = \"db\"; systemd_unit = \"mariadb.service\"; start_timeout_ms = 90000; } );");
  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].systemd_unit, "mariadb.service");
  EXPECT_FALSE(c.services[0].start);
  EXPECT_EQ(c.services[0].start_timeout, milliseconds(90000));
}

TEST(InvalidService, SystemdUnitWithAProgram) {
  expectInvalid("services = ( { name = \"db\"; systemd_unit = \"mariadb.service\";\n start = \"/usr/sbin/db-start\"; } );", 2,
                "start = \"/usr/sbin/db-start\": not used with systemd_unit = \"mariadb.service\"; valid: either systemd_unit or start/stop/status programs");
}
TEST(InvalidService, SystemdUnitWithAStatusInterval) {
  expectInvalid("services = ( { name = \"db\"; systemd_unit = \"mariadb.service\";\n status_interval_ms = 100; } );", 2,
                "status_interval_ms = 100: not used with systemd_unit (systemd says when the unit is started); valid: remove it");
}
TEST(InvalidService, SystemdUnitNameWithoutSuffix) {
  expectInvalid("services = ( { name = \"db\"; systemd_unit = \"mariadb\"; } );", 1,
                "systemd_unit = \"mariadb\": invalid unit name; valid: a systemd unit such as \"mariadb.service\" or \"app@blue.service\"");
}
TEST(InvalidService, SystemdUnitNameWithASpace) {
  expectInvalid("services = ( { name = \"db\"; systemd_unit = \"maria db.service\"; } );", 1,
                "systemd_unit = \"maria db.service\": invalid unit name");
}

}  // namespace
}  // namespace vrrpd::config
