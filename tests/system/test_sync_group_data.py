"""A sync group that owns the data (issue 5): two VRRP instances, VI_1 with
the VIP 192.0.2.100 and VI_2 with 192.0.2.101, in sync group G, which owns
r0 (ext4) and the web service. The members' VIPs wait for the group's
takeover; the group releases only after every member's VIPs are down; a
failed group takeover faults every member, and the peer takes all over.

- h1 takes over: both members go MASTER at once, but neither VIP is up
  until r0 is promoted and mounted and the (slow to start) service answers;
  then the client is served through both VIPs.
- maintenance on VI_2 at h1: the group steps down (VI_1 follows VI_2), the
  release starts after both members left MASTER, and h2 takes both over.
- h1 (preempt) comes back while h2 serves, and its service fails to start:
  both of h1's members go FAULT with the group's reason and h2 serves again.

Run: cd tests/system && python3 test_sync_group_data.py -v"""

import os
import time
import unittest

from lab import instance_config, wait_until
from test_failover_faults import SERVICE_SCRIPT, FaultsPair, web_service
from test_replication import resource_config

VIPS = ("192.0.2.100", "192.0.2.101")
PORT = 8080
SLOW_START = SERVICE_SCRIPT.replace("start)\n", "start)\n  sleep 1.5\n", 1)


def group_config(host, peer, priority, preempt=False, group_extra=""):
    insts = [instance_config(name=name, vrid=vrid, priority=priority, vips=(vip + "/24",),
                             extra="    preempt = %s;\n" % ("true" if preempt else "false"))
             for name, vrid, vip in (("VI_1", 51, VIPS[0]), ("VI_2", 52, VIPS[1]))]
    return (resource_config(host, peer) + web_service(host) +
            "vrrp_instances = (\n%s\n);\n" % ",\n".join(insts) +
            'sync_groups = ( { name = "G"; members = [ "VI_1", "VI_2" ]; resources = "r0"; services = "web";\n'
            "  takeover_timeout_ms = 20000; release_timeout_ms = 10000; %s } );\n" % group_extra)


class SyncGroupDataTest(FaultsPair):
    def fetch_from(self, client, vip):
        r = client.run("python3", "-c",
                       "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                       "'http://%s:%d/hello', timeout=1).read().decode())" % (vip, PORT), check=False)
        return r.stdout if r.returncode == 0 else None

    def serving(self, host, client):
        return (all(host.has_address(v) for v in VIPS) and
                all(self.fetch_from(client, v) == "served from r0\n" for v in VIPS))

    def group_events(self, host):
        return [e for e in self.events(host, "failover") if e["subject"] == "group:G"]

    def write_scripts(self, script, *hosts):
        for h in hosts:
            with open(os.path.join(h.dir, "web.sh"), "w") as f:
                f.write(script)

    def test_members_vips_wait_for_the_groups_data_and_the_group_moves_as_one(self):
        lab, h1, h2, client = self.pair_lab()
        self.write_scripts(SLOW_START, h1, h2)
        h1.write_config(group_config(h1, h2, 200))
        h2.write_config(group_config(h2, h1, 100))
        h1.vrrpctl("reload")
        wait_until(lambda: h1.state("VI_1") == "MASTER" and h1.state("VI_2") == "MASTER", what="h1's members MASTER")
        # The service takes 1.5 s to start: meanwhile both members are
        # MASTER with their VIPs held back.
        held = 0
        while h1.instance("VI_1").get("group_failover", {}).get("phase") == "takeover":
            for name, vip in zip(("VI_1", "VI_2"), VIPS):
                # The address first, then the state: if the takeover is still
                # running after the look at the address, it was running
                # during it too, so the VIP must have been absent.
                vip_up = h1.has_address(vip)
                inst = h1.instance(name)
                if inst.get("group_failover", {}).get("phase") != "takeover":
                    continue
                self.assertTrue(inst["vips_held"], inst)
                self.assertFalse(vip_up, "%s up while the group's takeover runs" % vip)
                held += 1
            time.sleep(0.1)
        self.assertGreater(held, 4, "the takeover should have been seen in progress")
        h2.vrrpctl("reload")
        self.write_page(h1)
        wait_until(lambda: self.serving(h1, client), timeout=10, what="both VIPs served by h1")
        done = [e for e in self.group_events(h1) if e["what"] == "takeover-done"]
        self.assertEqual(len(done), 1, self.group_events(h1))
        masters = [e for e in self.events(h1, "vrrp") if "-> MASTER" in e["text"]]
        self.assertEqual(len(masters), 2)
        self.assertTrue(all(m["seq"] < done[0]["seq"] for m in masters))
        self.assertEqual(h1.instance("VI_2")["group_failover"]["group"], "G")
        self.assertIn("group G", h1.vrrpctl("status").stdout)

        # Maintenance on one member: the group leaves as one; the release
        # (services, unmount, demote) starts after both members' VIPs went.
        h1.vrrpctl("maintenance", "VI_2", "on")
        wait_until(lambda: self.serving(h2, client), timeout=30, what="both VIPs served by h2")
        self.assertEqual((h2.state("VI_1"), h2.state("VI_2")), ("MASTER", "MASTER"))
        self.assertEqual(h1.state("VI_1"), "BACKUP")
        st1, st2 = self.rstatus(h1), self.rstatus(h2)
        self.assertEqual((st1["role"], st1["mounted"], st2["role"], st2["mounted"]),
                         ("Secondary", False, "Primary", True))
        ev = self.events(h1)
        left = [e["seq"] for e in ev if e["source"] == "vrrp" and e["text"].startswith("MASTER ->")]
        release = [e["seq"] for e in ev if e["subject"] == "group:G" and e["what"] == "release-start"]
        self.assertEqual(len(left), 2, ev)
        self.assertEqual(len(release), 1, ev)
        self.assertLess(max(left), release[0])
        print("\n  sync group G: %s; hand-over to h2: %s" % (done[0]["text"], self.group_takeover_text(h2)))

    def group_takeover_text(self, host):
        done = [e for e in self.group_events(host) if e["what"] == "takeover-done"]
        return done[-1]["text"] if done else "(no takeover)"

    def test_a_failed_group_takeover_faults_every_member_and_the_peer_serves(self):
        lab, h1, h2, client = self.pair_lab()
        h2.write_config(group_config(h2, h1, 100))
        h2.vrrpctl("reload")
        self.write_page_when_mounted(h2)
        wait_until(lambda: self.serving(h2, client), timeout=20, what="both VIPs served by h2")
        self.write_scripts(SERVICE_SCRIPT.replace("start)\n", "start)\n  exit 1\n", 1), h1)
        h1.write_config(group_config(h1, h2, 200, preempt=True, group_extra="fault_hold_ms = 60000;"))
        arrived = time.monotonic()
        h1.vrrpctl("reload")
        wait_until(lambda: h1.state("VI_1") == "FAULT" and h1.state("VI_2") == "FAULT", timeout=30,
                   what="both of h1's members FAULT")
        for name in ("VI_1", "VI_2"):
            self.assertIn("sync group G: takeover failed: start web", h1.instance(name)["fault_reason"])
        wait_until(lambda: self.serving(h2, client), timeout=30, what="h2 serves both VIPs again")
        took = time.monotonic() - arrived
        self.assertFalse(any(h1.has_address(v) for v in VIPS))
        self.assertEqual(self.rstatus(h1)["role"], "Secondary")
        self.assertIn("rollback-done", [e["what"] for e in self.group_events(h1)])
        print("\n  failed group takeover on h1: h2 served both VIPs again %.2f s after h1 came; h1: %s"
              % (took, h1.instance("VI_1")["fault_reason"]))

    def write_page_when_mounted(self, host):
        wait_until(lambda: self.rstatus(host)["mounted"], timeout=20, what="r0 mounted on %s" % host.name)
        self.write_page(host)


if __name__ == "__main__":
    unittest.main()
