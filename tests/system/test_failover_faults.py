"""Failover with data under real faults, between two real daemons in network
namespaces (issue 5, "How it is shown"). Each pair owns the replicated volume
r0 and a small web service that serves a file from the volume; a third host
is the client that reaches the service through the VIP.

- kill -9 of the master's daemon: the backup takes over the data, starts the
  service and answers on the VIP; the old master restarts, rejoins as
  SyncTarget and catches up.
- link cut of the master: the master sees carrier loss and steps down; the
  backup promotes once the replication link to the old master is dead.
- replication link cut, service network up: no failover, the Primary keeps
  serving and writing; afterwards only what changed is resynced.
- service network cut, replication link up: VRRP alone would make two
  masters; the backup's promotion is refused because the peer is still
  Primary on the replication link, so it never holds the VIP or the data.

Run: cd tests/system && python3 test_failover_faults.py -v (prints the
client-observed outage of the kill -9 and link cut cases)."""

import json
import os
import time
import unittest

from lab import Lab, instance_config, wait_until
from test_replication import FAST_SUPERVISION, prepare_formatted_volume, replication_status, resource_config

SIZE_MIB = 32
VIP = "192.0.2.100"
PORT = 8080

# The service: a static web server in the volume's directory (so it holds
# the mount and must be stopped before the unmount), started detached, with
# a status command that asks it for the file. Run with /bin/sh, no shell
# involved in the daemon.
SERVICE_SCRIPT = r"""#!/bin/sh
# usage: web.sh start|stop|status MOUNT PIDFILE
set -u
cmd=$1 mnt=$2 pidfile=$3
case $cmd in
start)
  cd "$mnt" || exit 1
  setsid python3 -m http.server %(port)d --bind 0.0.0.0 >/dev/null 2>&1 < /dev/null &
  echo $! > "$pidfile"
  ;;
stop)
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$pidfile"
  ;;
status)
  exec python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:%(port)d/', timeout=1)"
  ;;
esac
""" % {"port": PORT}


def script_service(name, script, args, start_timeout_ms=10000, stop_timeout_ms=10000):
    """A `services` list with one service whose start, stop and status are
    `/bin/sh SCRIPT start|stop|status ARGS...` (the daemon uses no shell;
    the script is the program)."""
    argv = lambda cmd: "[ %s ]" % ", ".join('"%s"' % a for a in ["/bin/sh", script, cmd] + list(args))
    return """services = ( {
  name = "%s";
  start = %s; stop = %s; status = %s;
  start_timeout_ms = %d; stop_timeout_ms = %d; status_interval_ms = 100;
} );
""" % (name, argv("start"), argv("stop"), argv("status"), start_timeout_ms, stop_timeout_ms)


def web_service(host):
    """The web service of SERVICE_SCRIPT, installed as HOST/web.sh."""
    return script_service("web", os.path.join(host.dir, "web.sh"),
                          [os.path.join(host.dir, "mnt"), os.path.join(host.dir, "web.pid")])


def pair_config(host, peer, priority, second_link=False, instance_extra="", resource_extra="", interval_ms=100,
                global_extra="", supervision=FAST_SUPERVISION, preempt=False):
    services = web_service(host)
    if "takeover_timeout_ms" not in instance_extra:
        instance_extra += "    takeover_timeout_ms = 20000;\n"
    inst = instance_config(priority=priority, interval_ms=interval_ms,
                           extra='    resources = "r0"; services = "web"; preempt = %s; release_timeout_ms = 10000;\n'
                                 % ("true" if preempt else "false") + instance_extra)
    return (resource_config(host, peer, second_link=second_link, extra=resource_extra, global_extra=global_extra,
                            supervision=supervision) +
            services +
            "vrrp_instances = (\n%s\n);\n" % inst)


class FaultsPair(unittest.TestCase):
    """The pair and the client, and what the fault tests ask of them; no
    tests of its own (test_flap.py, test_witness.py and bench/failover_data.py
    build on it)."""

    def rstatus(self, host):
        return replication_status(host)

    def events(self, host, source=None):
        evs = json.loads(host.vrrpctl("events", "--json").stdout)["events"]
        return [e for e in evs if source is None or e["source"] == source]

    def fetch(self, client, timeout=1.0):
        """The file through the VIP, as the client sees it; None when the
        service does not answer."""
        r = client.run("python3", "-c",
                       "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                       "'http://%s:%d/hello', timeout=%s).read().decode())" % (VIP, PORT, timeout),
                       check=False)
        return r.stdout if r.returncode == 0 else None

    def pair(self, second_link=False, h1_extra="", h2_extra="", resource_extra="", interval_ms=100, global_extra="",
             on_lab=None, supervision=FAST_SUPERVISION):
        """h1 MASTER with r0 Primary, mounted and the web service answering
        on the VIP; h2 BACKUP with r0 in sync; h3 the client."""
        lab, h1, h2, client = self.pair_lab(second_link, resource_extra, global_extra, on_lab, supervision)
        h1.write_config(pair_config(h1, h2, 200, second_link, h1_extra, resource_extra, interval_ms, global_extra,
                                    supervision))
        h2.write_config(pair_config(h2, h1, 100, second_link, h2_extra, resource_extra, interval_ms, global_extra,
                                    supervision))
        h1.vrrpctl("reload")
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 MASTER")
        h2.vrrpctl("reload")
        wait_until(lambda: h1.has_address(VIP), timeout=20, what="VIP on h1 after the takeover")
        self.write_page(h1)
        wait_until(lambda: self.fetch(client) == "served from r0\n", timeout=10, what="the service on the VIP")
        self.assertEqual(h2.state("VI_1"), "BACKUP")
        return lab, h1, h2, client

    def write_page(self, host):
        """The page the client reads, written on the volume through host's mount."""
        mnt = os.path.join(host.dir, "mnt")
        host.in_daemon("sh", "-c", "echo 'served from r0' > %s/hello && sync -f %s" % (mnt, mnt))

    def pair_lab(self, second_link=False, resource_extra="", global_extra="", on_lab=None,
                 supervision=FAST_SUPERVISION):
        """Three hosts; h1 and h2 run daemons with r0 in sync, formatted and
        Secondary on both, and no instance yet."""
        lab = Lab(hosts=3, second_link=second_link)
        self.addCleanup(lab.close)
        h1, h2, client = lab.hosts
        if on_lab is not None:
            on_lab(lab)  # e.g. a witness on the client host, before the data nodes need it
        for h, peer in ((h1, h2), (h2, h1)):
            with open(os.path.join(h.dir, "r0.img"), "wb") as f:
                f.truncate(SIZE_MIB << 20)
            with open(os.path.join(h.dir, "web.sh"), "w") as f:
                f.write(SERVICE_SCRIPT)
            h.start_vrrpd(resource_config(h, peer, second_link=second_link, extra=resource_extra,
                                          global_extra=global_extra, supervision=supervision))
            self.addCleanup(h.stop_vrrpd)  # graceful: stops the service, unmounts, detaches
        prepare_formatted_volume(h1, h2)
        return lab, h1, h2, client

    def assert_h1_alone_primary_for(self, h1, h2, seconds):
        """For `seconds`, h2 never holds r0 or the VIP while h1 stays
        Primary; returns the VRRP states h2 went through meanwhile."""
        end = time.monotonic() + seconds
        states = set()
        while time.monotonic() < end:
            states.add(h2.state("VI_1"))
            self.assertEqual(self.rstatus(h2)["role"], "Secondary")
            self.assertFalse(h2.has_address(VIP))
            self.assertEqual(self.rstatus(h1)["role"], "Primary")
            time.sleep(0.1)
        self.assertTrue(h1.has_address(VIP))
        return states

    def outage(self, client, since, limit=60):
        """Seconds from `since` until the client gets the page again."""
        deadline = since + limit
        while time.monotonic() < deadline:
            if self.fetch(client, timeout=0.3) == "served from r0\n":
                return time.monotonic() - since
            time.sleep(0.05)
        self.fail("the service did not answer on the VIP within %d s" % limit)

    def takeover_text(self, host):
        done = [e for e in self.events(host, "failover") if e["what"] == "takeover-done"]
        return done[-1]["text"] if done else "(no takeover)"


class FaultsTest(FaultsPair):
    def test_kill_9_of_the_master_fails_over_and_the_old_master_rejoins_as_sync_target(self):
        lab, h1, h2, client = self.pair()
        mnt1 = os.path.join(h1.dir, "mnt")
        h1.in_daemon("sh", "-c", "head -c 4194304 /dev/urandom > %s/blob && sync -f %s" % (mnt1, mnt1))
        blob_sum = h1.in_daemon("sha256sum", mnt1 + "/blob").stdout.split()[0]
        killed_at = time.monotonic()
        h1.kill_vrrpd()  # SIGKILL: no release, the service dies with nobody to stop it
        # The orphaned web server (own session) still runs in h1's namespace:
        # on a dead node it would be gone too.
        with open(os.path.join(h1.dir, "web.pid")) as f:
            os.kill(int(f.read()), 9)
        took = self.outage(client, killed_at)
        self.assertEqual(h2.state("VI_1"), "MASTER")
        st = self.rstatus(h2)
        self.assertEqual((st["role"], st["mounted"]), ("Primary", True))
        mnt2 = os.path.join(h2.dir, "mnt")
        self.assertEqual(h2.in_daemon("sha256sum", mnt2 + "/blob").stdout.split()[0], blob_sum)
        steps = [e["detail"]["op"] for e in self.events(h2, "failover") if e["what"] == "step" and e["detail"]["ok"]]
        self.assertEqual(steps, ["primary", "mount", "start"])
        print("\n  kill -9: the client was served again after %.2f s; h2: %s" % (took, self.takeover_text(h2)))

        # h2 writes while h1 is down; h1 comes back and catches up as SyncTarget.
        h2.in_daemon("sh", "-c", "head -c 1048576 /dev/urandom > %s/later && sync -f %s" % (mnt2, mnt2))
        h1.start_vrrpd(pair_config(h1, h2, 200))
        wait_until(lambda: self.rstatus(h1)["connection"] == "Connected", timeout=20, what="h1 reconnects")
        wait_until(lambda: self.rstatus(h1)["disk"] == "UpToDate" and self.rstatus(h2)["out_of_sync_kib"] == 0,
                   timeout=40, what="h1 caught up")
        repl = [e["text"] for e in self.events(h1, "replication") if e["what"] == "replication"]
        self.assertIn("-> SyncTarget", " | ".join(repl), repl)
        self.assertEqual(self.rstatus(h1)["role"], "Secondary")
        self.assertEqual(h1.state("VI_1"), "BACKUP")  # preempt = false: no second failover
        self.assertEqual(h2.state("VI_1"), "MASTER")
        self.assertEqual(self.fetch(client), "served from r0\n")

    def test_link_cut_of_the_master_moves_the_data_and_the_service(self):
        lab, h1, h2, client = self.pair(resource_extra='after_sb_0pri = "discard-zero-changes"; '
                                                      'after_sb_1pri = "discard-secondary";')
        cut_at = time.monotonic()
        lab.cut(h1)
        # h1 sees carrier loss: FAULT, VIP gone, service stopped, unmounted, demoted.
        wait_until(lambda: h1.state("VI_1") == "FAULT", timeout=5, what="h1 FAULT on carrier loss")
        wait_until(lambda: self.rstatus(h1)["role"] == "Secondary", timeout=20, what="h1 demoted")
        took = self.outage(client, cut_at)
        st = self.rstatus(h2)
        self.assertEqual((st["role"], st["mounted"]), ("Primary", True))
        self.assertFalse(h1.has_address(VIP))
        print("\n  link cut: the client was served again after %.2f s; h2: %s" % (took, self.takeover_text(h2)))
        lab.restore(h1)
        # h1 comes back as the backup and catches up.
        wait_until(lambda: self.rstatus(h1)["disk"] == "UpToDate" and self.rstatus(h1)["connection"] == "Connected",
                   timeout=40, what="h1 back in sync")
        wait_until(lambda: h1.state("VI_1") == "BACKUP", timeout=15, what="h1 BACKUP")
        self.assertEqual(h2.state("VI_1"), "MASTER")
        self.assertEqual(self.rstatus(h1)["role"], "Secondary")
        self.assertEqual(self.fetch(client), "served from r0\n")

    def test_replication_link_cut_keeps_the_primary_serving_then_resyncs_what_changed(self):
        lab, h1, h2, client = self.pair(second_link=True)
        lab.cut(h1, port_prefix="q")  # eth1: the replication link only
        wait_until(lambda: self.rstatus(h1)["connection"] != "Connected", timeout=15, what="h1 notices the cut")
        mnt1 = os.path.join(h1.dir, "mnt")
        h1.in_daemon("sh", "-c", "head -c 2097152 /dev/urandom > %s/while-cut && sync -f %s" % (mnt1, mnt1))
        # A few seconds of a cut replication link: VRRP still sees h1, so no failover.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            self.assertEqual(h2.state("VI_1"), "BACKUP")
            self.assertEqual(self.rstatus(h2)["role"], "Secondary")
            self.assertEqual(self.fetch(client), "served from r0\n")
            time.sleep(0.2)
        self.assertEqual(h1.state("VI_1"), "MASTER")
        changed = self.rstatus(h1)["out_of_sync_kib"]
        self.assertGreaterEqual(changed, 2048)
        before = self.rstatus(h2)["received_kib"]
        lab.restore(h1, port_prefix="q")
        wait_until(lambda: self.rstatus(h1)["replication"] == "Established" and
                   self.rstatus(h1)["out_of_sync_kib"] == 0 and self.rstatus(h2)["disk"] == "UpToDate",
                   timeout=40, what="bitmap resync after the cut")
        received = self.rstatus(h2)["received_kib"] - before
        # What changed moved, not the whole 32 MiB volume.
        self.assertGreaterEqual(received, changed)
        self.assertLess(received, changed + 4096, "resync moved %d KiB for %d KiB changed" % (received, changed))
        self.assertEqual(h2.state("VI_1"), "BACKUP")
        print("\n  replication link cut: no failover; %d KiB out of sync, %d KiB moved by the resync"
              % (changed, received))

    def test_fencing_keeps_the_backup_from_promoting_data_older_than_the_masters(self):
        # fencing = "resource-only" with the fence path on eth0 (the VRRP
        # network). The replication link (eth1) fails; h1 goes on writing and
        # outdates h2 over eth0. Then h1 dies: h2 must not promote its stale
        # copy. h1, restarted, knows its peer is outdated and takes over
        # without force; once the link is back h2 catches up.
        fencing = ('fencing = "resource-only"; fence_address = "{own_ipv4}"; '
                   'fence_peer_address = "{peer_ipv4}";')
        lab, h1, h2, client = self.pair(second_link=True, resource_extra=fencing,
                                        h2_extra="    takeover_timeout_ms = 2000; fault_hold_ms = 1000;\n")
        cut_at = time.monotonic()
        lab.cut(h1, port_prefix="q")  # eth1: the replication link only
        wait_until(lambda: self.rstatus(h2)["disk"] == "Outdated", timeout=15, what="h2 outdated by h1")
        fenced_after = time.monotonic() - cut_at
        wait_until(lambda: self.rstatus(h1)["peer_disk"] == "Outdated", timeout=5, what="h1 records it")
        self.assertEqual(self.rstatus(h1)["role"], "Primary")
        self.assertIn("outdated by the Primary peer through the fence path", h2.log())
        self.assertIn("peer fenced: ", h1.log())
        self.assertTrue(self.rstatus(h1)["fencing"].startswith("peer fenced: "), self.rstatus(h1)["fencing"])
        self.assertIn("fencing (resource-only): peer fenced: ", h1.vrrpctl("replication", "status").stdout)
        mnt1 = os.path.join(h1.dir, "mnt")
        h1.in_daemon("sh", "-c", "echo 'written while cut' > %s/while-cut && sync -f %s" % (mnt1, mnt1))

        h1.kill_vrrpd()
        with open(os.path.join(h1.dir, "web.pid")) as f:
            os.kill(int(f.read()), 9)
        wait_until(lambda: h2.state("VI_1") in ("MASTER", "FAULT"), timeout=5, what="h2 notices h1 is gone")
        end = time.monotonic() + 5
        while time.monotonic() < end:
            self.assertEqual(self.rstatus(h2)["role"], "Secondary")
            self.assertFalse(h2.has_address(VIP))
            time.sleep(0.1)
        failed = [e["text"] for e in self.events(h2, "failover") if e["what"] == "takeover-failed"]
        self.assertTrue(failed, self.events(h2, "failover"))
        self.assertIn("disk is Outdated", failed[0])
        refused = h2.vrrpctl("replication", "primary", "r0", check=False)  # the operator, without --force
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("disk is Outdated", refused.stdout + refused.stderr)

        h1.start_vrrpd(pair_config(h1, h2, 200, second_link=True, resource_extra=fencing))
        wait_until(lambda: self.fetch(client) == "served from r0\n", timeout=30, what="h1 serves again")
        self.assertEqual(self.rstatus(h1)["disk"], "UpToDate")
        self.assertEqual(h1.in_daemon("cat", mnt1 + "/while-cut").stdout, "written while cut\n")
        lab.restore(h1, port_prefix="q")
        wait_until(lambda: self.rstatus(h2)["disk"] == "UpToDate" and self.rstatus(h1)["out_of_sync_kib"] == 0,
                   timeout=40, what="h2 resynced from h1")
        self.assertEqual(self.rstatus(h1)["peer_disk"], "UpToDate")
        print("\n  fencing: h2 outdated over the VRRP network %.2f s after the cut, then refused: %s"
              % (fenced_after, failed[0]))

    def test_service_network_cut_with_the_replication_link_up_gives_no_second_primary(self):
        lab, h1, h2, client = self.pair(second_link=True,
                                        h2_extra="    takeover_timeout_ms = 2000; fault_hold_ms = 1000;\n")
        # Drop everything on h1's service-network port at the switch, both
        # ways, with the link up: h2 stops hearing adverts, but the
        # replication link (eth1) still connects the two nodes.
        lab.drop(ports=["p1"])
        wait_until(lambda: h2.state("VI_1") in ("MASTER", "FAULT"), timeout=5, what="h2 stops hearing h1")
        # For 8 s (several takeover attempts), h2 must never hold the data or the VIP.
        states = self.assert_h1_alone_primary_for(h1, h2, 8)
        self.assertEqual(h1.state("VI_1"), "MASTER")
        failed = [e for e in self.events(h2, "failover") if e["what"] == "takeover-failed"]
        self.assertTrue(failed, self.events(h2, "failover"))
        self.assertIn("the peer is Primary", failed[0]["text"])
        self.assertIn("FAULT", states)
        lab.undrop()
        wait_until(lambda: h2.state("VI_1") == "BACKUP", timeout=20, what="h2 BACKUP once it hears h1 again")
        self.assertEqual(h1.state("VI_1"), "MASTER")
        self.assertEqual(self.fetch(client), "served from r0\n")
        print("\n  service network cut: h2 went %s and was refused %d time(s): %s"
              % ("/".join(sorted(states)), len(failed), failed[0]["text"]))

    def preempt_by_a_broken_node(self, break_h1, reason):
        """h2 serves; h1 comes with a higher priority and preempt, but its
        takeover fails (`break_h1` breaks it): h1 undoes its steps and goes
        FAULT, and h2, alive and BACKUP meanwhile, takes the data and the
        service back. Returns the client's outage from h1's arrival."""
        lab, h1, h2, client = self.pair_lab()
        h2.write_config(pair_config(h2, h1, 100))
        h2.vrrpctl("reload")
        wait_until(lambda: h2.has_address(VIP), timeout=20, what="VIP on h2")
        self.write_page(h2)
        wait_until(lambda: self.fetch(client) == "served from r0\n", timeout=10, what="the service on h2")
        break_h1(h1)
        h1.write_config(pair_config(h1, h2, 200, instance_extra="    fault_hold_ms = 60000;\n", preempt=True))
        arrived = time.monotonic()
        h1.vrrpctl("reload")
        wait_until(lambda: h1.state("VI_1") == "FAULT", timeout=30, what="h1 FAULT after its failed takeover")
        self.assertIn("takeover failed: " + reason, h1.instance("VI_1")["fault_reason"])
        took = self.outage(client, arrived)
        wait_until(lambda: h1.instance("VI_1")["failover"]["phase"] == "fault-hold", timeout=20, what="h1 rolled back")
        st1, st2 = self.rstatus(h1), self.rstatus(h2)
        self.assertEqual((st1["role"], st1["mounted"]), ("Secondary", False))
        self.assertEqual((st2["role"], st2["mounted"]), ("Primary", True))
        self.assertEqual(h2.state("VI_1"), "MASTER")
        self.assertFalse(h1.has_address(VIP))
        whats1 = [e["what"] for e in self.events(h1, "failover")]
        self.assertIn("takeover-failed", whats1)
        self.assertIn("rollback-done", whats1)
        # h2 gave everything to h1 and took it back.
        whats2 = [e["what"] for e in self.events(h2, "failover")]
        self.assertIn("release-done", whats2)
        self.assertEqual(whats2.count("takeover-done"), 2, whats2)
        self.assertLess(whats2.index("release-done"), len(whats2) - 1 - whats2[::-1].index("takeover-done"))
        self.assertEqual(self.fetch(client), "served from r0\n")
        return took, h1.instance("VI_1")["fault_reason"], self.takeover_text(h2)

    def test_preempting_node_whose_mount_fails_rolls_back_and_the_peer_takes_over_again(self):
        def mount_point_is_a_file(h1):
            mnt = os.path.join(h1.dir, "mnt")
            if os.path.isdir(mnt):
                os.rmdir(mnt)
            with open(mnt, "w") as f:
                f.write("not a directory\n")
        took, why, h2_text = self.preempt_by_a_broken_node(mount_point_is_a_file, "mount r0")
        print("\n  failed mount on the preempting node: served by h2 again %.2f s after h1 came; h1: %s; h2: %s"
              % (took, why, h2_text))

    def test_preempting_node_whose_service_fails_to_start_rolls_back_and_the_peer_takes_over_again(self):
        def start_fails(h1):
            with open(os.path.join(h1.dir, "web.sh"), "w") as f:
                f.write(SERVICE_SCRIPT.replace("start)\n", "start)\n  echo 'web: port in use' >&2; exit 1\n", 1))
        took, why, h2_text = self.preempt_by_a_broken_node(start_fails, "start web")
        print("\n  failed service start on the preempting node: served by h2 again %.2f s after h1 came; h1: %s; "
              "h2: %s" % (took, why, h2_text))


if __name__ == "__main__":
    unittest.main()
