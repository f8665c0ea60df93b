"""IPv6, unicast peers, track_interface, SIGHUP reload, gratuitous ARP and
unsolicited NA on the wire, sync groups, and the daemon's start-up guards."""

import json
import os
import select
import signal
import subprocess
import time
import unittest

from lab import Lab, VRRPCTL, VRRPD, instance_config, native_config, sh, wait_until

VIP = "192.0.2.100"


class FeatureTest(unittest.TestCase):
    def lab(self, hosts=2, **kw):
        lab = Lab(hosts=hosts, **kw)
        self.addCleanup(lab.close)
        return lab

    def test_ipv6_instance_elects_and_fails_over(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        cfg = lambda prio: native_config(instance_config(priority=prio, vips=("2001:db8::100/64",)))
        h1.start_vrrpd(cfg(200))
        h2.start_vrrpd(cfg(100))
        wait_until(lambda: h1.has_address("2001:db8::100") and h2.state("VI_1") == "BACKUP",
                   what="h1 holds the IPv6 VIP")
        inst = h2.instance("VI_1")
        self.assertEqual(inst["family"], "ipv6")
        self.assertTrue(inst["master"].startswith("fe80::"), inst["master"])  # link-local source
        self.assertFalse(h2.has_address("2001:db8::100"))
        h1.stop_vrrpd()
        wait_until(lambda: h2.has_address("2001:db8::100"), what="h2 takes the IPv6 VIP")

    def test_unicast_peers_work_where_multicast_is_dropped(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        # The switch drops all VRRP multicast.
        lab.switch_run("nft", "add table bridge vt; add chain bridge vt filt { type filter hook forward "
                       "priority 0; }; add rule bridge vt filt ip daddr 224.0.0.18 drop")
        def cfg(me, peer, prio):
            return native_config(instance_config(priority=prio, extra='unicast_src = "%s"; unicast_peers = [ "%s" ];'
                                                 % (me.ipv4, peer.ipv4)))
        h1.start_vrrpd(cfg(h1, h2, 200))
        h2.start_vrrpd(cfg(h2, h1, 100))
        wait_until(lambda: h1.state("VI_1") == "MASTER" and h2.state("VI_1") == "BACKUP", what="unicast election")
        time.sleep(0.5)
        self.assertEqual(h2.state("VI_1"), "BACKUP")
        self.assertEqual(h2.instance("VI_1")["master"], h1.ipv4)
        h1.stop_vrrpd()
        wait_until(lambda: h2.has_address(VIP), what="h2 takes over over unicast")

    def test_multicast_dropped_without_unicast_gives_two_masters(self):
        # The control for the test above: the nft rule really drops the adverts.
        lab = self.lab()
        h1, h2 = lab.hosts
        lab.switch_run("nft", "add table bridge vt; add chain bridge vt filt { type filter hook forward "
                       "priority 0; }; add rule bridge vt filt ip daddr 224.0.0.18 drop")
        h1.start_vrrpd(native_config(instance_config(priority=200)))
        h2.start_vrrpd(native_config(instance_config(priority=100)))
        wait_until(lambda: h1.state("VI_1") == "MASTER" and h2.state("VI_1") == "MASTER", what="split")

    def test_track_interface_faults_and_recovers(self):
        lab = self.lab(second_link=True)
        h1, h2 = lab.hosts
        cfg = lambda prio: native_config(instance_config(priority=prio, extra='track_interfaces = ( "eth1" );'))
        h1.start_vrrpd(cfg(200))
        h2.start_vrrpd(cfg(100))
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        lab.cut(h1, port_prefix="q")  # h1's eth1 loses carrier
        wait_until(lambda: h1.state("VI_1") == "FAULT", what="h1 FAULT")
        self.assertIn("eth1", h1.instance("VI_1")["fault_reason"])
        wait_until(lambda: h2.has_address(VIP), what="h2 takes over")
        self.assertFalse(h1.has_address(VIP))
        lab.restore(h1, port_prefix="q")
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 recovers and preempts")
        wait_until(lambda: not h2.has_address(VIP), what="h2 released the VIP")

    def test_track_interface_weight_lowers_priority(self):
        lab = self.lab(second_link=True)
        h1, h2 = lab.hosts
        h1.start_vrrpd(native_config(instance_config(
            priority=200, extra='track_interfaces = ( { name = "eth1"; weight = -150; } );')))
        h2.start_vrrpd(native_config(instance_config(priority=100)))
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        lab.cut(h1, port_prefix="q")
        wait_until(lambda: h1.instance("VI_1")["priority"] == 50, what="priority 200-150")
        wait_until(lambda: h2.has_address(VIP) and h1.state("VI_1") == "BACKUP", what="h2 preempts")
        lab.restore(h1, port_prefix="q")
        wait_until(lambda: h1.instance("VI_1")["priority"] == 200 and h1.has_address(VIP), what="back")

    def test_sighup_reload_does_not_flap_unchanged_instance(self):
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        vi1 = instance_config("VI_1", vrid=51, priority=200)
        vi2 = lambda prio: instance_config("VI_2", vrid=52, priority=prio, vips=("192.0.2.101/24",))
        h1.start_vrrpd(native_config(vi1, vi2(200)))
        wait_until(lambda: h1.has_address(VIP) and h1.has_address("192.0.2.101"), what="both MASTER")
        before = h1.instance("VI_1")
        # Watch every address event on the host while reloading.
        monitor = h1.popen("ip", "monitor", "address")
        time.sleep(0.2)
        h1.write_config(native_config(vi1, vi2(150)))
        h1.vrrpd.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload done" in h1.log(), what="reload done")
        wait_until(lambda: h1.state("VI_2") == "MASTER", what="VI_2 back to MASTER")
        time.sleep(0.3)
        monitor.terminate()
        monitor.wait()
        with open(monitor.log_path) as f:
            events = f.read()
        self.assertNotRegex(events, r"Deleted.*192\.0\.2\.100/")
        after = h1.instance("VI_1")
        self.assertEqual(after["stats"]["transitions"], before["stats"]["transitions"])
        self.assertEqual(after["last_transition"], before["last_transition"])
        self.assertEqual(h1.instance("VI_2")["priority"], 150)
        self.assertIn("1 unchanged, 1 stopped, 1 started", h1.log())

    def test_reload_with_broken_config_keeps_running_config(self):
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        h1.start_vrrpd(native_config(instance_config(priority=200)))
        wait_until(lambda: h1.has_address(VIP), what="MASTER")
        h1.write_config(native_config(instance_config(priority=999)))
        r = h1.vrrpctl("reload", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("priority = 999", r.stderr)
        self.assertIn("configuration unchanged", r.stderr)
        self.assertEqual(h1.state("VI_1"), "MASTER")
        self.assertTrue(h1.has_address(VIP))

    def test_gratuitous_arp_and_unsolicited_na_on_the_wire(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        cap = os.path.join(lab.dir, "wire.txt")
        with open(cap, "w") as out:
            dump = subprocess.Popen(["ip", "netns", "exec", lab.switch, "tcpdump", "-l", "-n", "-e", "-i", "br0",
                                     "arp or icmp6"], stdout=out, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (dump.poll() is None and dump.kill(), dump.wait()))
        time.sleep(1.0)  # tcpdump needs a moment to attach
        vips = ("192.0.2.100/24", "2001:db8::100/64")
        h1.start_vrrpd(native_config(instance_config(priority=200, vips=vips[:1]),
                                     instance_config("VI_6", vrid=61, priority=200, vips=vips[1:])))
        wait_until(lambda: h1.has_address(VIP) and h1.has_address("2001:db8::100"), what="MASTER")
        mac = h1.run("cat", "/sys/class/net/eth0/address").stdout.strip()
        def seen():
            with open(cap) as f:
                text = f.read()
            garp = [l for l in text.splitlines() if mac in l and "Request who-has 192.0.2.100 tell 192.0.2.100" in l]
            na = [l for l in text.splitlines() if mac in l and "neighbor advertisement" in l and "2001:db8::100" in l]
            return len(garp) >= 5 and len(na) >= 5 and (garp, na)
        garp, na = wait_until(seen, timeout=5, what="5 GARPs and 5 NAs from h1's MAC")
        self.assertEqual(h1.instance("VI_1")["stats"]["garp_sent"], 5)

    def test_sync_group_members_move_together(self):
        lab = self.lab(second_link=True)
        h1, h2 = lab.hosts
        def cfg(prio):
            return native_config(
                instance_config("VI_A", vrid=51, priority=prio),
                instance_config("VI_B", vrid=52, priority=prio, interface="eth1", vips=("198.51.100.100/24",)),
                tail='sync_groups = ( { name = "G"; members = [ "VI_A", "VI_B" ]; } );')
        h1.start_vrrpd(cfg(200))
        h2.start_vrrpd(cfg(100))
        wait_until(lambda: h1.has_address(VIP) and h1.has_address("198.51.100.100", dev="eth1"), what="h1 both")
        wait_until(lambda: h2.state("VI_A") == "BACKUP" and h2.state("VI_B") == "BACKUP", what="h2 backups")
        lab.cut(h1, port_prefix="q")  # only VI_B's link fails...
        # ...and VI_A follows it: both move to h2.
        wait_until(lambda: h2.has_address(VIP) and h2.has_address("198.51.100.100", dev="eth1"), what="h2 both")
        self.assertEqual(h1.state("VI_A"), "FAULT")
        self.assertFalse(h1.has_address(VIP))
        self.assertIn("VRRP_Group(G) MASTER -> FAULT", h1.log())

    def test_notify_programs_run_in_order_as_notify_user(self):
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        out = os.path.join(h1.dir, "notify.out")
        os.chmod(lab.dir, 0o711)  # the programs run as nobody and append here
        os.chmod(h1.dir, 0o777)
        # Tests may use a shell as the program under test; vrrpd itself never does.
        rec = lambda tag: '[ "/bin/sh", "-c", "echo %s $(id -un) \\"$@\\" >> %s", "sh" ]' % (tag, out)
        extra = "notify_master = %s; notify_backup = %s; notify_stop = %s; notify = %s;" % (
            rec("master"), rec("backup"), rec("stop"), rec("generic"))
        h1.start_vrrpd(native_config(instance_config(priority=150, extra=extra),
                                     global_extra='notify_user = "nobody";'))
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="MASTER")
        h1.stop_vrrpd()
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines, [
            "backup nobody",
            "generic nobody INSTANCE VI_1 BACKUP 150",
            "master nobody",
            "generic nobody INSTANCE VI_1 MASTER 150",
            "stop nobody",
            "generic nobody INSTANCE VI_1 STOP 150",
        ])

    def test_keepalived_format_config_runs_unchanged(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        def ka_conf(prio):
            return """! a keepalived.conf as people have it\r
global_defs {\r
    router_id node\r
    notification_email { ops@example.com }\r
}\r
vrrp_script chk_web {\r
    script "/usr/bin/true"\r
}\r
vrrp_instance VI_1 {\r
    state BACKUP\r
    interface eth0\r
    virtual_router_id 51\r
    priority %d\r
    advert_int 1\r
    authentication {\r
        auth_type PASS\r
        auth_pass s3cret\r
    }\r
    virtual_ipaddress {\r
        192.0.2.100/24 dev eth0 label eth0:vip\r
    }\r
}\r
""" % prio
        h1.start_vrrpd("\ufeff" + ka_conf(200), fmt="keepalived")  # BOM and CRLF, as saved by some editors
        h2.start_vrrpd(ka_conf(100), fmt="keepalived")
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", timeout=15, what="election")
        inst = h1.instance("VI_1")
        self.assertEqual(inst["version"], 2)  # keepalived's default
        self.assertIn("vrrpd.conf:4: keyword 'notification_email' is not supported", h1.log())
        # vrrp_script is supported now; one nobody tracks is worth a warning
        self.assertIn("vrrpd.conf:6: check 'chk_web' is not tracked by any instance", h1.log())
        labels = h1.run("ip", "-o", "addr", "show", "dev", "eth0").stdout
        self.assertIn("eth0:vip", labels)
        self.assertEqual(h2.instance("VI_1")["stats"]["auth_errors"], 0)

    def test_events_follow_streams_the_journal_across_a_restart(self):
        """vrrpctl events --follow --json prints every event once, in order,
        as one JSON object per line, as it happens; it waits through a
        daemon restart and then follows the new run from its first event."""
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        config = native_config(instance_config(priority=200))
        h1.start_vrrpd(config)
        wait_until(lambda: h1.has_address(VIP), what="h1 MASTER")
        follow = subprocess.Popen([VRRPCTL, "-s", h1.socket, "events", "--follow", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def stop_follow():
            """Ends vrrpctl (it follows until interrupted); its stderr."""
            if follow.stdout.closed:
                return ""
            if follow.poll() is None:
                follow.kill()
            return follow.communicate()[1].decode()  # closes the pipes
        self.addCleanup(stop_follow)
        lines, pending = [], [b""]  # events read; bytes of a line not complete yet

        def next_event(what, timeout=10):
            """Reads --follow's lines until an event `what` (returned). From
            the fd itself: a buffered reader would hide lines from select()."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                while b"\n" in pending[0]:
                    line, pending[0] = pending[0].split(b"\n", 1)
                    lines.append(json.loads(line))
                    if lines[-1]["what"] == what:
                        return lines[-1]
                ready, _, _ = select.select([follow.stdout], [], [], max(0, deadline - time.monotonic()))
                if ready:
                    chunk = os.read(follow.stdout.fileno(), 65536)
                    self.assertTrue(chunk, "vrrpctl events --follow ended")
                    pending[0] += chunk
            self.fail("no %s event within %d s; got %s" % (what, timeout, [e["what"] for e in lines]))

        start = next_event("start")
        self.assertEqual(start["seq"], 1, "the history first")
        self.assertEqual(next_event("transition")["seq"], 2)
        h1.vrrpctl("set-priority", "VI_1", "150")
        self.assertEqual(next_event("set-priority")["text"], "priority set to 150 by vrrpctl")
        seqs = [e["seq"] for e in lines]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "each event once, none left out")

        h1.stop_vrrpd()
        time.sleep(1.5)  # the follower finds no daemon for a while
        h1.start_vrrpd(config)
        restarted = next_event("start")
        self.assertEqual(restarted["seq"], 1, "the new run from its first event")
        h1.vrrpctl("set-priority", "VI_1", "160")
        self.assertEqual(next_event("set-priority")["text"], "priority set to 160 by vrrpctl")
        # The old run's last events (its stop, if the follower saw it before
        # the daemon was gone) continue its seqs; the new run starts at 1.
        split = lines.index(restarted)
        old_run, new_run = [e["seq"] for e in lines[:split]], [e["seq"] for e in lines[split:]]
        self.assertEqual(old_run, list(range(1, len(old_run) + 1)))
        self.assertEqual(new_run, list(range(1, len(new_run) + 1)))
        err = stop_follow()
        self.assertIn("waiting for the daemon", err)
        self.assertIn("following its new run from the first event", err)
        # Misplaced options are refused.
        bad = h1.vrrpctl("status", "--follow", check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--follow is an option of events", bad.stderr)

    def test_event_journal_tells_the_failover_story(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        journal = os.path.join(h2.dir, "events.jsonl")
        check = 'checks = ( { name = "gw"; kind = "exec"; program = "/usr/bin/true"; interval_ms = 200; timeout_ms = 100; } );'
        h1.start_vrrpd(native_config(instance_config(priority=200)))
        h2.start_vrrpd(native_config(instance_config(priority=100, extra='track_checks = ( "gw" );'),
                                     global_extra='journal_file = "%s";' % journal, tail=check))
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        # --since takes whole seconds: cut just after the next second begins.
        before_cut = int(time.time()) + 1
        time.sleep(before_cut - time.time() + 0.05)
        lab.cut(h1)
        wait_until(lambda: h2.has_address(VIP), what="h2 takes over")
        h2.vrrpctl("set-priority", "VI_1", "120")
        data = json.loads(h2.vrrpctl("events", "--json").stdout)
        whats = [(e["source"], e["subject"], e["what"]) for e in data["events"]]
        self.assertEqual(whats[0], ("daemon", "", "start"))
        self.assertIn(("vrrp", "VI_1", "transition"), whats)
        self.assertIn(("vrrp", "VI_1", "set-priority"), whats)
        takeover = [e for e in data["events"] if e["what"] == "transition" and e["detail"]["to"] == "MASTER"]
        self.assertEqual(len(takeover), 1, data["events"])
        self.assertEqual(takeover[0]["text"], "BACKUP -> MASTER (master down timer expired)")
        seqs = [e["seq"] for e in data["events"]]
        self.assertEqual(seqs, sorted(seqs))
        # --since keeps only what happened after the cut; the table is readable.
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before_cut))
        recent = json.loads(h2.vrrpctl("events", "--since", since, "--json").stdout)["events"]
        self.assertNotIn("start", [e["what"] for e in recent])
        self.assertIn("transition", [e["what"] for e in recent])
        table = h2.vrrpctl("events", "--limit", "2").stdout
        self.assertIn("BACKUP -> MASTER (master down timer expired)", table)
        self.assertIn("priority set to 120 by vrrpctl", table)
        bad = h2.vrrpctl("events", "--since", "yesterday", check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since 'yesterday' is not a time", bad.stderr)
        # The file holds the same events as JSON lines (format version 1).
        h2.stop_vrrpd()
        with open(journal) as f:
            lines = [json.loads(l) for l in f]
        self.assertTrue(all(l["v"] == 1 for l in lines))
        self.assertIn("BACKUP -> MASTER (master down timer expired)", [l["text"] for l in lines])
        # SIGTERM: the daemon says it is stopping, then the instance leaves MASTER.
        whats = [l["what"] for l in lines]
        self.assertIn("stop", whats)
        self.assertEqual(lines[-1]["what"], "transition", lines[-1])
        self.assertEqual(lines[-1]["detail"]["from"], "MASTER")

    def test_second_daemon_with_same_pid_file_refuses(self):
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        h1.start_vrrpd(native_config(instance_config()))
        r = h1.run(VRRPD, "-n", "-S", "-f", os.path.join(h1.dir, "vrrpd.conf"), "-p", os.path.join(h1.dir, "vrrpd.pid"),
                   "--control-socket", os.path.join(h1.dir, "other.sock"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another vrrpd is running (pid %d" % h1.vrrpd.pid, r.stderr)
        self.assertIsNone(h1.vrrpd.poll(), "the first daemon must keep running")
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="the first daemon still works")

    def test_config_test_mode(self):
        lab = self.lab(hosts=1)
        h1 = lab.hosts[0]
        good = h1.write_config(native_config(instance_config()), "good.conf")
        r = sh(VRRPD, "-t", "-f", good, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        bad = h1.write_config(native_config(instance_config(vrid=300)), "bad.conf")
        r = sh(VRRPD, "-t", "-f", bad, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"bad\.conf:\d+: virtual_router_id = 300")


if __name__ == "__main__":
    unittest.main()
