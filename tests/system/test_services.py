"""Services as systemd units: vrrpd starts the units an instance owns over
D-Bus before it adds the VIPs, and stops them after it removed the VIPs.

No systemd runs in the test machine's containers, so the test starts a
private D-Bus bus (Debian's dbus-daemon with its own config) and a stand-in
for systemd's Manager on it (tools/fake_systemd.py: StartUnit/StopUnit, each
job ending with a JobRemoved signal), and points the daemon at it with
DBUS_SYSTEM_BUS_ADDRESS, which sd-bus honours for the system bus."""

import os
import subprocess
import time
import unittest

from lab import Lab, instance_config, native_config, wait_until

DBUS_DAEMON = "/usr/bin/dbus-daemon"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-dbus and python3-gi
FAKE_SYSTEMD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools", "fake_systemd.py")
VIP = "192.0.2.100"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def have_dbus_python():
    return subprocess.run([SYSTEM_PYTHON, "-c", "import dbus, gi"], capture_output=True).returncode == 0


@unittest.skipUnless(os.access(DBUS_DAEMON, os.X_OK) and have_dbus_python(),
                     "dbus-daemon, python3-dbus or python3-gi missing (tests/install-deps.sh installs them)")
class SystemdServiceTest(unittest.TestCase):
    def setUp(self):
        self.lab = Lab(hosts=1)
        self.addCleanup(self.lab.close)
        self.host = self.lab.hosts[0]
        d = self.lab.dir
        self.calls = os.path.join(d, "systemd-calls.log")
        with open(os.path.join(d, "bus.conf"), "w") as f:
            f.write(BUS_CONFIG % os.path.join(d, "bus"))
        self.bus = subprocess.Popen([DBUS_DAEMON, "--config-file=" + os.path.join(d, "bus.conf"), "--nofork",
                                     "--nopidfile"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop, self.bus)
        address = "unix:path=" + os.path.join(d, "bus")
        wait_until(lambda: os.path.exists(os.path.join(d, "bus")), what="the private bus")
        self.fake = subprocess.Popen([SYSTEM_PYTHON, FAKE_SYSTEMD, address, self.calls])
        self.addCleanup(self.stop, self.fake)
        wait_until(lambda: os.path.exists(self.calls), timeout=10, what="the fake systemd on the bus")
        # The daemon inherits the test's environment.
        old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        self.addCleanup(lambda: os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS") if old is None
                        else os.environ.__setitem__("DBUS_SYSTEM_BUS_ADDRESS", old))

    @staticmethod
    def stop(p):
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def calls_made(self):
        with open(self.calls) as f:
            return [l.strip() for l in f if l.strip() != "ready"]

    def config(self, units, extra=""):
        services = ",\n".join('  { name = "s%d"; systemd_unit = "%s"; start_timeout_ms = 5000; stop_timeout_ms = 5000; }'
                              % (i, u) for i, u in enumerate(units))
        owned = ", ".join('"s%d"' % i for i in range(len(units)))
        return native_config(instance_config(priority=200, extra="    services = ( %s ); fault_hold_ms = 60000;\n%s"
                                             % (owned, extra)),
                             tail="services = (\n%s\n);\n" % services)

    def test_units_start_before_the_vip_and_stop_after_it(self):
        h = self.host
        h.start_vrrpd(self.config(["db.service", "web.service"]))
        wait_until(lambda: h.has_address(VIP), timeout=15, what="VIP after the units started")
        self.assertEqual(self.calls_made(), ["StartUnit db.service replace", "StartUnit web.service replace"])
        self.assertEqual(h.instance("VI_1")["failover"]["services_running"], ["s0", "s1"])
        self.assertEqual(h.stop_vrrpd(), 0)
        self.assertEqual(self.calls_made()[2:], ["StopUnit web.service replace", "StopUnit db.service replace"])

    def test_a_failed_unit_keeps_the_vip_down_and_faults_with_the_reason(self):
        h = self.host
        h.start_vrrpd(self.config(["db.service", "fail-web.service"]))
        wait_until(lambda: h.state("VI_1") == "FAULT", timeout=15, what="FAULT after the failed unit")
        reason = h.instance("VI_1")["fault_reason"]
        self.assertIn("takeover failed: start s1: systemd job to start fail-web.service ended with result failed",
                      reason)
        self.assertFalse(h.has_address(VIP))
        # Rolled back: the failed unit and the one started before it are stopped, in reverse.
        wait_until(lambda: len(self.calls_made()) >= 4, timeout=10, what="the rollback's stops")
        self.assertEqual(self.calls_made(), ["StartUnit db.service replace", "StartUnit fail-web.service replace",
                                             "StopUnit fail-web.service replace", "StopUnit db.service replace"])
        time.sleep(0.5)
        self.assertFalse(h.has_address(VIP))


if __name__ == "__main__":
    unittest.main()
