"""Failover with data between two real daemons in network namespaces: a VRRP
instance owns the replicated volume r0, so the node that becomes MASTER
promotes and mounts r0 before it adds the VIP, and the node that leaves
MASTER removes the VIP before it unmounts and demotes. A new master whose
promote is refused because the old one is still Primary (a busy unmount) asks
again until the old one has demoted. A takeover whose mount fails is undone
and leaves the node FAULT with the reason, without the VIP.

The volume is prepared as in test_replication.py (create-md, up, an initial
sync with primary --force on h1, mkfs, secondary); then a reload adds the
instance, so the election starts with the data ready."""

import json
import os
import subprocess
import time
import unittest

from lab import Lab, instance_config, wait_until
from test_replication import prepare_formatted_volume, replication_status, resource_config

SIZE_MIB = 32
VIP = "192.0.2.100"


def failover_config(host, peer, priority, extra="", resource_extra=""):
    """r0 (mounted at HOST/mnt) and an instance VI_1 that owns it."""
    inst = instance_config(priority=priority, interval_ms=100,
                           extra='    resources = "r0"; takeover_timeout_ms = 20000; release_timeout_ms = 10000;\n'
                                 + extra)
    return resource_config(host, peer, extra=resource_extra) + "vrrp_instances = (\n%s\n);\n" % inst


class FailoverTest(unittest.TestCase):
    def rstatus(self, host):
        return replication_status(host)

    def events(self, host, source="failover"):
        return [e for e in json.loads(host.vrrpctl("events", "--json").stdout)["events"] if e["source"] == source]

    def prepared_pair(self, extra_h2="", resource_extra=""):
        """Both daemons up with r0 in sync and formatted, h1 (priority 200)
        MASTER with r0 Primary and mounted; returns (h1, h2)."""
        lab = Lab(hosts=2)
        self.addCleanup(lab.close)
        h1, h2 = lab.hosts
        for h, peer in ((h1, h2), (h2, h1)):
            with open(os.path.join(h.dir, "r0.img"), "wb") as f:
                f.truncate(SIZE_MIB << 20)
            h.start_vrrpd(resource_config(h, peer, extra=resource_extra))
            self.addCleanup(h.stop_vrrpd)  # graceful: unmounts and detaches, before lab.close()
        prepare_formatted_volume(h1, h2)
        # The instance arrives with a reload: h1 first, so it wins at once.
        h1.write_config(failover_config(h1, h2, 200, resource_extra=resource_extra))
        h2.write_config(failover_config(h2, h1, 100, extra_h2, resource_extra))
        h1.vrrpctl("reload")
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 MASTER")
        h2.vrrpctl("reload")
        wait_until(lambda: h1.has_address(VIP), timeout=20, what="VIP on h1 after the takeover")
        return h1, h2

    def test_master_owns_the_data_and_a_stopped_master_hands_it_over(self):
        h1, h2 = self.prepared_pair()
        st = self.rstatus(h1)
        self.assertEqual((st["role"], st["mounted"]), ("Primary", True))
        self.assertEqual(h2.state("VI_1"), "BACKUP")
        self.assertEqual(self.rstatus(h2)["role"], "Secondary")
        self.assertFalse(h2.has_address(VIP))
        done = [e for e in self.events(h1) if e["what"] == "takeover-done"]
        self.assertEqual(len(done), 1, self.events(h1))
        # Write through h1's mount.
        payload = "written on h1 at %f\n" % time.time()
        mnt1 = os.path.join(h1.dir, "mnt")
        h1.in_daemon("sh", "-c", "printf '%%s' '%s' > %s/hello && sync -f %s" % (payload, mnt1, mnt1))

        # SIGTERM: h1 removes the VIP, unmounts, demotes, then stops replication.
        stopped_at = time.monotonic()
        self.assertEqual(h1.stop_vrrpd(), 0)
        wait_until(lambda: h2.has_address(VIP), timeout=25, what="VIP on h2")
        moved_in = time.monotonic() - stopped_at
        self.assertEqual(h2.state("VI_1"), "MASTER")
        st = self.rstatus(h2)
        self.assertEqual((st["role"], st["mounted"]), ("Primary", True))
        mnt2 = os.path.join(h2.dir, "mnt")
        self.assertEqual(h2.in_daemon("cat", mnt2 + "/hello").stdout, payload)
        # The journal on h2 tells the takeover step by step, in order.
        ev = self.events(h2)
        whats = [e["what"] for e in ev]
        steps = [e["detail"]["op"] for e in ev if e["what"] == "step" and e["detail"]["ok"]]
        self.assertEqual(steps, ["primary", "mount"], ev)
        self.assertLess(whats.index("takeover-start"), whats.index("takeover-done"))
        done = [e for e in ev if e["what"] == "takeover-done"][-1]
        self.assertRegex(done["text"], r"^takeover done in \d+ ms \(promote r0 \d+ ms, mount r0 \d+ ms\)$")
        # The VIP came after the data: the MASTER transition precedes the
        # takeover, and vrrpctl shows the finished takeover.
        self.assertEqual(h2.instance("VI_1")["failover"]["phase"], "active")
        print("\n  VIP moved %.2f s after SIGTERM; h2: %s" % (moved_in, done["text"]))
        retries = [e["text"] for e in ev if e["what"] == "step-retry"]
        if retries:
            print("  h2 waited for h1's demote: %s" % retries[0])

    def test_hand_over_waits_until_the_old_master_has_demoted(self):
        h1, h2 = self.prepared_pair()
        # A process keeps h1's mount busy for 2 s: h1's unmount waits for it
        # (the engine's grace period), so h1 is still Primary when h2 becomes
        # MASTER, and h2's promote is refused until h1 has demoted.
        holder = subprocess.Popen(["nsenter", "-t", str(h1.vrrpd.pid), "-m", "--", "sh", "-c",
                                   "cd %s && exec sleep 2" % os.path.join(h1.dir, "mnt")])
        self.addCleanup(lambda: (holder.kill(), holder.wait()))
        time.sleep(0.2)  # the holder is inside the mount
        stopped_at = time.monotonic()
        self.assertEqual(h1.stop_vrrpd(), 0)
        wait_until(lambda: h2.has_address(VIP), timeout=25, what="VIP on h2")
        moved_in = time.monotonic() - stopped_at
        st = self.rstatus(h2)
        self.assertEqual((st["role"], st["mounted"]), ("Primary", True))
        ev = self.events(h2)
        retries = [e for e in ev if e["what"] == "step-retry"]
        self.assertEqual(len(retries), 1, ev)
        self.assertIn("the peer is still Primary", retries[0]["text"])
        done = [e for e in ev if e["what"] == "takeover-done"][-1]
        self.assertGreaterEqual(done["detail"]["duration_ms"], 1000)
        promote = [e for e in ev if e["what"] == "step" and e["detail"]["op"] == "primary"][-1]
        print("\n  VIP moved %.2f s after SIGTERM; h2: %s (the promote waited %d ms for h1's demote)"
              % (moved_in, done["text"], promote["detail"]["duration_ms"]))

    def test_busy_mount_holders_are_killed_after_the_grace_with_kill_holders(self):
        h1, h2 = self.prepared_pair(resource_extra="unmount_grace_ms = 500; kill_holders = true;")
        # A process that would hold h1's mount for a minute.
        holder = subprocess.Popen(["nsenter", "-t", str(h1.vrrpd.pid), "-m", "--", "sh", "-c",
                                   "cd %s && exec sleep 60" % os.path.join(h1.dir, "mnt")])
        self.addCleanup(lambda: (holder.kill(), holder.wait()))
        time.sleep(0.2)
        stopped_at = time.monotonic()
        self.assertEqual(h1.stop_vrrpd(), 0)
        wait_until(lambda: h2.has_address(VIP), timeout=25, what="VIP on h2")
        moved_in = time.monotonic() - stopped_at
        self.assertEqual(holder.wait(timeout=10), -15)  # SIGTERM after the 0.5 s grace
        self.assertEqual(self.rstatus(h2)["role"], "Primary")
        # h1 has stopped (its journal is in memory only); its log tells.
        self.assertRegex(h1.log(), r"still busy after 500 ms; kill_holders signalled sleep \(pid %d, SIGTERM\)" % holder.pid)
        print("\n  VIP moved %.2f s after SIGTERM with the old master's mount held (holder killed after 0.5 s)"
              % moved_in)

    def test_takeover_with_a_failing_mount_goes_fault_and_undoes_the_promote(self):
        # h2's mount point is a regular file: the mount must fail there.
        h1, h2 = self.prepared_pair(extra_h2="    fault_hold_ms = 30000;\n")
        with open(os.path.join(h2.dir, "mnt"), "w") as f:
            f.write("not a directory\n")
        self.assertEqual(h1.stop_vrrpd(), 0)
        wait_until(lambda: h2.state("VI_1") == "FAULT", timeout=25, what="h2 FAULT")
        inst = h2.instance("VI_1")
        self.assertIn("takeover failed: mount r0", inst["fault_reason"])
        self.assertFalse(h2.has_address(VIP))
        wait_until(lambda: self.rstatus(h2)["role"] == "Secondary", timeout=15, what="r0 demoted again on h2")
        self.assertFalse(self.rstatus(h2)["mounted"])
        wait_until(lambda: h2.instance("VI_1")["failover"]["phase"] == "fault-hold", what="rollback done")
        show = h2.vrrpctl("show", "VI_1").stdout
        self.assertIn("takeover failed: mount r0", show)
        table = h2.vrrpctl("status").stdout
        self.assertIn("fault-hold (", table)
        self.assertIn("last error: takeover failed: mount r0", table)
        whats = [e["what"] for e in self.events(h2)]
        self.assertIn("takeover-failed", whats)
        self.assertIn("rollback-done", whats)
        self.assertFalse(h2.has_address(VIP))


if __name__ == "__main__":
    unittest.main()
