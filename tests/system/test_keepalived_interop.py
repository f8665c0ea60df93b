"""Interop with a real keepalived (Debian's package) as the VRRP peer, both
ways, for VRRPv2/IPv4, VRRPv3/IPv4 and VRRPv3/IPv6: a mixed pair elects one
master, and the VIP moves correctly when either side leaves or returns."""

import os
import shutil
import signal
import time
import unittest

from lab import Lab, instance_config, native_config, wait_until

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"

CASES = {
    # name: (version, advert interval ms, VIP, keepalived advert_int)
    "v2_ipv4": (2, 1000, "192.0.2.100/24", "1"),
    "v3_ipv4": (3, 100, "192.0.2.100/24", "0.1"),
    "v3_ipv6": (3, 100, "2001:db8::100/64", "0.1"),
}


def keepalived_config(version, advert_int, vip, priority, state="BACKUP"):
    return """global_defs {
    router_id ka_peer
    vrrp_version %d
}
vrrp_instance VI_1 {
    state %s
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int %s
    virtual_ipaddress {
        %s
    }
}
""" % (version, state, priority, advert_int, vip)


def start_keepalived(host, text):
    path = host.write_config(text, "keepalived.conf")
    d = host.dir
    p = host.popen(KEEPALIVED, "-n", "-l", "-D", "-P", "-f", path, "-p", os.path.join(d, "ka.pid"),
                   "-r", os.path.join(d, "ka-vrrp.pid"), "-c", os.path.join(d, "ka-check.pid"))
    return p


def stop_keepalived(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)


@unittest.skipUnless(os.path.exists(KEEPALIVED), "keepalived is not installed")
class KeepalivedInterop(unittest.TestCase):
    def run_case(self, case, vrrpd_higher):
        version, interval_ms, vip, ka_int = CASES[case]
        addr = vip.split("/")[0]
        lab = Lab(hosts=2)
        self.addCleanup(lab.close)
        ours, theirs = lab.hosts
        hi, lo = 200, 100
        vrrpd_cfg = native_config(instance_config(
            priority=hi if vrrpd_higher else lo, interval_ms=interval_ms, vips=(vip,),
            extra="version = %d;" % version))
        ka_cfg = keepalived_config(version, ka_int, vip, lo if vrrpd_higher else hi)
        slack = 3 * interval_ms / 1000.0 + 3  # master-down plus start-up time

        ka = start_keepalived(theirs, ka_cfg)
        self.addCleanup(stop_keepalived, ka)
        # keepalived alone becomes master of the VIP.
        wait_until(lambda: theirs.has_address(addr), timeout=slack + 5, what="keepalived MASTER alone")
        ours.start_vrrpd(vrrpd_cfg)
        if vrrpd_higher:
            # vrrpd preempts keepalived; keepalived releases the VIP.
            wait_until(lambda: ours.state("VI_1") == "MASTER" and ours.has_address(addr), timeout=slack,
                       what="vrrpd preempts keepalived")
            wait_until(lambda: not theirs.has_address(addr), timeout=slack, what="keepalived releases VIP")
            time.sleep(3 * interval_ms / 1000.0)
            self.assertTrue(ours.has_address(addr))
            self.assertFalse(theirs.has_address(addr))
            self.assertEqual(ours.instance("VI_1")["stats"]["checksum_errors"], 0)
            # vrrpd leaves: keepalived takes over after our priority-0 advert.
            ours.stop_vrrpd()
            wait_until(lambda: theirs.has_address(addr), timeout=slack, what="keepalived takes over")
        else:
            # vrrpd stays BACKUP, hearing keepalived as master.
            wait_until(lambda: ours.state("VI_1") == "BACKUP", timeout=slack, what="vrrpd BACKUP")
            time.sleep(3 * interval_ms / 1000.0 + 0.5)
            inst = ours.instance("VI_1")
            self.assertEqual(inst["state"], "BACKUP")
            self.assertGreater(inst["stats"]["adverts_received"], 0)
            self.assertEqual(inst["stats"]["checksum_errors"], 0)
            self.assertFalse(ours.has_address(addr))
            if version == 3 and ":" in addr:
                self.assertTrue(inst["master"].startswith("fe80::"), inst["master"])
            else:
                self.assertEqual(inst["master"], theirs.ipv4)
            # keepalived leaves: vrrpd takes over.
            stop_keepalived(ka)
            wait_until(lambda: ours.state("VI_1") == "MASTER" and ours.has_address(addr), timeout=slack,
                       what="vrrpd takes over from keepalived")

    def test_v2_ipv4_vrrpd_master(self):
        self.run_case("v2_ipv4", vrrpd_higher=True)

    def test_v2_ipv4_keepalived_master(self):
        self.run_case("v2_ipv4", vrrpd_higher=False)

    def test_v3_ipv4_vrrpd_master(self):
        self.run_case("v3_ipv4", vrrpd_higher=True)

    def test_v3_ipv4_keepalived_master(self):
        self.run_case("v3_ipv4", vrrpd_higher=False)

    def test_v3_ipv6_vrrpd_master(self):
        self.run_case("v3_ipv6", vrrpd_higher=True)

    def test_v3_ipv6_keepalived_master(self):
        self.run_case("v3_ipv6", vrrpd_higher=False)


if __name__ == "__main__":
    unittest.main()
