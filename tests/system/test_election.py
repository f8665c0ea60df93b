"""Election and failover between vrrpd nodes in network namespaces.

Each test builds its own hosts (lab.py) and removes them, also on failure.
Adverts are 100 ms so that master-down is about 0.35 s.
"""

import signal
import time
import unittest

from lab import Lab, instance_config, native_config, wait_until

VIP = "192.0.2.100"


class ElectionTest(unittest.TestCase):
    def lab(self, hosts=2, **kw):
        lab = Lab(hosts=hosts, **kw)
        self.addCleanup(lab.close)
        return lab

    def start_pair(self, lab, master_priority=200, backup_priority=100):
        """h1 and h2 with the given priorities; returns once h1 holds the VIP."""
        h1, h2 = lab.hosts
        h1.start_vrrpd(native_config(instance_config(priority=master_priority)))
        h2.start_vrrpd(native_config(instance_config(priority=backup_priority)))
        wait_until(lambda: h1.has_address(VIP) and h1.state("VI_1") == "MASTER" and h2.state("VI_1") == "BACKUP",
                   what="h1 MASTER holding the VIP, h2 BACKUP")
        return h1, h2

    def assert_single_master(self, hosts, name="VI_1"):
        states = [h.state(name) for h in hosts]
        self.assertEqual(states.count("MASTER"), 1, states)
        holders = [h.name for h in hosts if h.has_address(VIP)]
        self.assertEqual(len(holders), 1, holders)
        return hosts[states.index("MASTER")]

    def test_two_nodes_elect_the_higher_priority(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        h1.start_vrrpd(native_config(instance_config(priority=100)))
        h2.start_vrrpd(native_config(instance_config(priority=200)))
        wait_until(lambda: h2.state("VI_1") == "MASTER", what="h2 MASTER")
        wait_until(lambda: h1.state("VI_1") == "BACKUP" and h1.instance("VI_1")["master"] == h2.ipv4,
                   what="h1 BACKUP hearing h2")
        time.sleep(0.5)  # several advert intervals: still exactly one master
        self.assertIs(self.assert_single_master([h1, h2]), h2)
        self.assertTrue(h2.has_address(VIP))
        self.assertGreater(h1.instance("VI_1")["stats"]["adverts_received"], 0)

    def test_three_nodes_elect_one_master(self):
        lab = self.lab(hosts=3)
        for h, prio in zip(lab.hosts, (120, 180, 150)):
            h.start_vrrpd(native_config(instance_config(priority=prio)))
        wait_until(lambda: lab.hosts[1].state("VI_1") == "MASTER", what="h2 MASTER")
        wait_until(lambda: [h.state("VI_1") for h in lab.hosts] == ["BACKUP", "MASTER", "BACKUP"],
                   what="one master")
        time.sleep(0.5)
        self.assertIs(self.assert_single_master(lab.hosts), lab.hosts[1])
        # The master leaves: the next highest (h3, 150) takes over, not h1.
        lab.hosts[1].stop_vrrpd()
        wait_until(lambda: lab.hosts[2].state("VI_1") == "MASTER", what="h3 MASTER")
        time.sleep(0.5)
        self.assertIs(self.assert_single_master([lab.hosts[0], lab.hosts[2]]), lab.hosts[2])

    def test_sigterm_moves_vip_and_releases_it(self):
        lab = self.lab()
        h1, h2 = self.start_pair(lab, 200, 100)
        self.assertEqual(h1.stop_vrrpd(signal.SIGTERM), 0)
        self.assertFalse(h1.has_address(VIP), "SIGTERM must remove the VIP")
        wait_until(lambda: h2.has_address(VIP), what="h2 takes the VIP")
        inst = h2.instance("VI_1")
        self.assertEqual(inst["state"], "MASTER")
        # The priority-0 advert made h2 take over after the skew, not master-down.
        self.assertIn("priority 0", inst["last_transition"]["reason"])

    def test_link_cut_moves_vip_and_preempt_takes_it_back(self):
        lab = self.lab()
        h1, h2 = self.start_pair(lab, 200, 100)
        lab.cut(h1)
        wait_until(lambda: h2.state("VI_1") == "MASTER", what="h2 MASTER after cut")
        self.assertTrue(h2.has_address(VIP))
        # h1 lost carrier: FAULT, and it gave the VIP up.
        wait_until(lambda: h1.state("VI_1") == "FAULT", what="h1 FAULT")
        self.assertFalse(h1.has_address(VIP))
        lab.restore(h1)
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 preempts back")
        wait_until(lambda: h2.state("VI_1") == "BACKUP", what="h2 BACKUP again")
        self.assertFalse(h2.has_address(VIP))

    def test_nopreempt_keeps_the_current_master(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        h2.start_vrrpd(native_config(instance_config(priority=100, extra="preempt = false;")))
        wait_until(lambda: h2.state("VI_1") == "MASTER", what="h2 alone is MASTER")
        h1.start_vrrpd(native_config(instance_config(priority=200, extra="preempt = false;")))
        wait_until(lambda: h1.state("VI_1") == "BACKUP", what="h1 BACKUP")
        time.sleep(1.0)  # ~3 master-down intervals of h1
        self.assertEqual(h1.state("VI_1"), "BACKUP")
        self.assertEqual(h2.state("VI_1"), "MASTER")
        self.assertTrue(h2.has_address(VIP))

    def test_preempt_delay_holds_off_then_preempts(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        h2.start_vrrpd(native_config(instance_config(priority=100)))
        wait_until(lambda: h2.state("VI_1") == "MASTER", what="h2 MASTER")
        h1.start_vrrpd(native_config(instance_config(priority=200, extra="preempt_delay_ms = 2000;")))
        started = time.monotonic()
        wait_until(lambda: h1.state("VI_1") == "BACKUP", what="h1 BACKUP")
        time.sleep(1.0)
        self.assertEqual(h1.state("VI_1"), "BACKUP", "preempted before preempt_delay")
        wait_until(lambda: h1.state("VI_1") == "MASTER", timeout=5, what="h1 preempts after the delay")
        self.assertGreaterEqual(time.monotonic() - started, 2.0)

    def test_priority_change_moves_vip(self):
        lab = self.lab()
        h1, h2 = self.start_pair(lab, 200, 150)
        self.assertIn("set to 50", h1.vrrpctl("set-priority", "VI_1", "50").stdout)
        wait_until(lambda: h2.has_address(VIP), what="h2 preempts the lowered master")
        wait_until(lambda: h1.state("VI_1") == "BACKUP", what="h1 BACKUP")
        self.assertFalse(h1.has_address(VIP))
        self.assertEqual(h1.instance("VI_1")["priority"], 50)
        # Out-of-range priorities are refused with the valid range.
        r = h1.vrrpctl("set-priority", "VI_1", "0", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("1..254", r.stderr)

    def test_maintenance_hands_mastership_away(self):
        lab = self.lab()
        h1, h2 = self.start_pair(lab, 200, 100)
        h1.vrrpctl("maintenance", "VI_1", "on")
        wait_until(lambda: h2.has_address(VIP), what="h2 takes over")
        time.sleep(1.0)
        self.assertEqual(h1.state("VI_1"), "BACKUP", "higher priority must not take it back in maintenance")
        self.assertTrue(h1.instance("VI_1")["maintenance"])
        h1.vrrpctl("maintenance", "VI_1", "off")
        wait_until(lambda: h1.has_address(VIP), what="h1 back after maintenance off")

    def test_vrrpctl_errors_are_clear(self):
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        h1.start_vrrpd(native_config(instance_config()))
        r = h1.vrrpctl("show", "nope", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no instance named 'nope'", r.stderr)
        r = h1.vrrpctl("maintenance", "VI_1", "maybe", check=False)
        self.assertEqual(r.returncode, 2)
        stats = h1.vrrpctl("stats").stdout
        self.assertIn("adverts_sent", stats)


if __name__ == "__main__":
    unittest.main()
