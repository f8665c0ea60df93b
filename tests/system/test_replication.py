"""The replication engine inside real daemons: two vrrpd processes in network
namespaces mirror a file-backed volume over TCP, expose it through FUSE and a
loop device, and the test formats it with mkfs.ext4, mounts it, writes, and
moves the Primary role to the other node, where the data must be. Also: the
operator's refusals (primary while the peer is Primary, down while Primary),
a link cut that leaves only the changed blocks to resync, and a wrong shared
secret that touches no data."""

import hashlib
import json
import os
import re
import time
import unittest

import subprocess

from lab import FAULTY_DISK, VRRPCTL, Lab, sh, wait_until

SIZE_MIB = 64


# Link supervision for tests that want a dead link noticed quickly; "" gives
# the defaults (ping every 1 s, 5 s ping timeout, connect every 2 s).
FAST_SUPERVISION = "ping_interval_ms = 1000; ping_timeout_ms = 500; connect_interval_ms = 300;"


def resource_config(host, peer, secret="s3cret-s3cret", extra="", device=None, second_link=False, global_extra="",
                    supervision=FAST_SUPERVISION):
    """A config with one resource r0 and no VRRP instance; replicating over
    eth0 (192.0.2.0/24) or, with second_link, over eth1 (198.51.100.0/24).
    In `extra`, {own_ipv4} and {peer_ipv4} stand for the two nodes' eth0
    addresses (e.g. for the fence path), {dir} for the host's directory."""
    extra = extra.replace("{own_ipv4}", host.ipv4).replace("{peer_ipv4}", peer.ipv4).replace("{dir}", host.dir)
    return """global = { router_id = "%s"; runtime_dir = "%s"; %s };
resources = ( {
  name = "r0";
  device = "%s";
  address = "%s"; port = 7789;
  peer_address = "%s";
  shared_secret = "%s";
  %s
  mount_point = "%s"; fs_type = "ext4"; mount_options = "noatime";
  %s
} );
""" % (host.name, os.path.join(host.dir, "run"), global_extra, device or os.path.join(host.dir, "r0.img"),
       host.ipv4_b if second_link else host.ipv4, peer.ipv4_b if second_link else peer.ipv4, secret,
       supervision, os.path.join(host.dir, "mnt"), extra)


def has_capability(bit):
    """Whether this process has capability `bit` (linux/capability.h) in
    its effective set."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def replication_status(host, name="r0"):
    """One resource's `vrrpctl replication status --json` entry."""
    return json.loads(host.vrrpctl("replication", "status", name, "--json").stdout)["resources"][0]


def prepare_formatted_volume(h1, h2, sync_timeout=40):
    """r0 on two running daemons, from empty backing files to in sync and
    formatted ext4, with both left Secondary (for the failover tests, whose
    instances then take it over): create-md and up on both, an initial sync
    from h1 (primary --force), mkfs.ext4 on h1, secondary."""
    for h in (h1, h2):
        h.vrrpctl("replication", "create-md", "r0")
        h.vrrpctl("replication", "up", "r0")
    wait_until(lambda: replication_status(h1)["connection"] == "Connected", timeout=15, what="r0 connected")
    h1.vrrpctl("replication", "primary", "--force", "r0")
    wait_until(lambda: replication_status(h2)["disk"] == "UpToDate" and
               replication_status(h1)["peer_disk"] == "UpToDate", timeout=sync_timeout, what="initial sync to h2")
    h1.in_daemon("mkfs.ext4", "-q", "-F", replication_status(h1)["device_link"])
    h1.vrrpctl("replication", "secondary", "r0")


def start_faulty_disk(test, host, size_mib=SIZE_MIB):
    """Serves host's r0.img as DIR/faulty/dev through a disk that fails on
    command (tests/tools/faulty_disk.cc); start it before vrrpd, so that the
    daemon's mount namespace (a copy made at its start) has the mount.
    Returns (device, command): command("fail ...") must be answered "ok"."""
    with open(os.path.join(host.dir, "r0.img"), "wb") as f:
        f.truncate(size_mib << 20)
    log = open(os.path.join(host.dir, "faulty_disk.log"), "w")
    p = subprocess.Popen([FAULTY_DISK, os.path.join(host.dir, "r0.img"), os.path.join(host.dir, "faulty")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def stop():
        if p.poll() is None:
            p.stdin.close()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdout.close()
        log.close()
    test.addCleanup(stop)  # after the daemon stopped (cleanups run last-in, first-out)
    test.assertEqual(p.stdout.readline().strip(), "ready")

    def command(line):
        p.stdin.write(line + "\n")
        p.stdin.flush()
        test.assertEqual(p.stdout.readline().strip(), "ok")
    return os.path.join(host.dir, "faulty", "dev"), command


class ReplicationTest(unittest.TestCase):
    def lab(self):
        lab = Lab(hosts=2)
        self.addCleanup(lab.close)
        return lab

    def start(self, host, peer, fresh=True, **kw):
        if fresh:
            with open(os.path.join(host.dir, "r0.img"), "wb") as f:
                f.truncate(SIZE_MIB << 20)
        host.start_vrrpd(resource_config(host, peer, **kw))
        # A graceful stop unmounts and detaches; runs before lab.close().
        self.addCleanup(host.stop_vrrpd)

    def status(self, host):
        out = host.vrrpctl("replication", "status", "r0", "--json").stdout
        return json.loads(out)["resources"][0]

    def ctl(self, host, *args, check=True):
        return host.vrrpctl("replication", *args, check=check)

    def bring_up_pair(self, lab, **kw):
        h1, h2 = lab.hosts
        self.start(h1, h2, **kw)
        self.start(h2, h1, **kw)
        # Fresh backing files carry no metadata: the resource says so.
        wait_until(lambda: "create-md" in self.status(h1)["problem"], what="h1 asks for create-md")
        self.assertFalse(self.status(h1)["up"])
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
            self.ctl(h, "up", "r0")
        wait_until(lambda: self.status(h1)["connection"] == "Connected" and self.status(h2)["connection"] == "Connected",
                   timeout=15, what="r0 connected")
        return h1, h2

    def test_wait_connect_and_wait_sync(self):
        """drbdadm wait-connect / drbdsetup wait-sync-resource, for boot and
        provisioning scripts: `vrrpctl replication wait-connect` returns once
        the peer is connected and `wait-sync` once nothing is left to
        resync; at --timeout they exit 4 and say where the resource stands.
        show-gi then shows both nodes' generations and the decision, and
        dump-md the metadata of a resource that is down."""
        lab = self.lab()
        h1, h2 = lab.hosts
        self.start(h1, h2)
        self.start(h2, h1)
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
        self.ctl(h1, "up", "r0")
        alone = self.ctl(h1, "wait-connect", "r0", "--timeout", "0.5", check=False)
        self.assertEqual(alone.returncode, 4, alone.stderr)
        self.assertIn("r0: not connected after 0.5 s: connection Connecting", alone.stderr)
        waiter = subprocess.Popen([VRRPCTL, "-s", h1.socket, "replication", "wait-connect", "r0", "--timeout", "30"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop_waiter():
            if waiter.poll() is None:
                waiter.kill()
                waiter.communicate()
        self.addCleanup(stop_waiter)
        time.sleep(0.5)
        self.assertIsNone(waiter.poll(), "it waits while h2 is not up")
        self.ctl(h2, "up", "r0")
        out, err = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn("r0: connected to its peer", out)

        early = self.ctl(h1, "wait-sync", "r0", "--timeout", "0.5", check=False)
        self.assertEqual(early.returncode, 4, early.stderr)
        self.assertIn("r0: not in sync after 0.5 s: connection Connected, replication Established, "
                      "disk Inconsistent/Inconsistent", early.stderr)
        self.ctl(h1, "primary", "--force", "r0")
        self.assertIn("r0: in sync (Established, UpToDate/UpToDate)",
                      self.ctl(h2, "wait-sync", "r0", "--timeout", "60").stdout)
        self.assertEqual((self.status(h2)["disk"], self.status(h1)["peer_disk"]), ("UpToDate", "UpToDate"))
        self.assertEqual(self.status(h1)["replication"], "Established")

        # show-gi (drbdadm show-gi): both nodes' generations and the decision
        # of the handshake after the forced promotion.
        gi = re.compile(r"^  this node  ([0-9A-F]{16}):([0-9A-F]{16}):[0-9A-F]{16}:[0-9A-F]{16}  (\w+)/(\w+)$", re.M)
        out1, out2 = self.ctl(h1, "show-gi", "r0").stdout, self.ctl(h2, "show-gi", "r0").stdout
        self.assertEqual(gi.search(out1).group(3, 4), ("Primary", "UpToDate"), out1)
        self.assertEqual(gi.search(out2).group(3, 4), ("Secondary", "UpToDate"), out2)
        # One current generation after the sync; bit 0 is the Primary's flag.
        self.assertEqual(int(gi.search(out1).group(1), 16), int(gi.search(out2).group(1), 16) | 1, (out1, out2))
        self.assertIn("last handshake: source-full (rule 30: ", out1)
        self.assertIn("last handshake: target-full (rule 20: ", out2)
        self.assertRegex(out2, r"\n  peer       [0-9A-F]{16}(:[0-9A-F]{16}){3}  \(connected\)\n")
        st = self.status(h1)
        self.assertEqual(st["generations"]["current"], gi.search(out1).group(1))
        self.assertEqual(len(st["peer_generations"]["history"]), 2)

        # dump-md (drbdmeta dump-md) reads the metadata of a resource that is
        # down; while up, the engine owns it and the command says where to look.
        busy = self.ctl(h1, "dump-md", "r0", check=False)
        self.assertEqual(busy.returncode, 1)
        self.assertIn("dump-md refused: r0 is up", busy.stderr)
        current2 = gi.search(out2).group(1)
        self.ctl(h2, "down", "r0")
        self.assertNotEqual(self.ctl(h2, "primary", "r0", check=False).returncode, 0)  # sets the problem
        problem = self.status(h2)["problem"]
        self.assertTrue(problem)
        dump = self.ctl(h2, "dump-md", "r0").stdout
        self.assertEqual(self.status(h2)["problem"], problem, "read only: the resource's problem stays")
        self.assertIn("r0 (metadata on %s):" % os.path.join(h2.dir, "r0.img"), dump)
        self.assertRegex(dump, r"\ngenerations: %s:[0-9A-F]{16}:" % current2)
        self.assertIn("flags: consistent yes, was-primary no", dump)
        self.assertIn("data size: %d bytes" % (st["size_kib"] * 1024), dump)

        unknown = self.ctl(h1, "wait-sync", "nosuch", check=False)
        self.assertEqual(unknown.returncode, 1)
        self.assertIn("nosuch", unknown.stderr)
        misplaced = h1.vrrpctl("status", "--timeout", "1", check=False)
        self.assertEqual(misplaced.returncode, 2)
        self.assertIn("--timeout is an option of replication wait-connect and wait-sync", misplaced.stderr)

    def test_mirrored_volume_moves_between_nodes_with_its_data(self):
        lab = self.lab()
        h1, h2 = self.bring_up_pair(lab)
        st = self.status(h1)
        self.assertEqual((st["disk"], st["peer_disk"]), ("Inconsistent", "Inconsistent"))
        # Neither side is UpToDate: promotion needs --force (the initial sync).
        refused = self.ctl(h1, "primary", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("UpToDate", refused.stderr)
        out = self.ctl(h1, "primary", "--force", "r0").stdout
        self.assertIn("r0 is Primary; device", out)
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                   timeout=60, what="initial sync to h2")
        st = self.status(h1)
        self.assertEqual((st["role"], st["disk"], st["peer_disk"]), ("Primary", "UpToDate", "UpToDate"))
        self.assertEqual(st["out_of_sync_kib"], 0)
        dev = st["device_link"]
        self.assertTrue(dev.endswith("/run/r0/dev"), dev)
        # The peer may not become Primary while h1 is.
        both = self.ctl(h2, "primary", "r0", check=False)
        self.assertEqual(both.returncode, 1)
        self.assertIn("peer", both.stderr.lower())

        # A file system on the mirrored device, mounted in-process.
        h1.in_daemon("mkfs.ext4", "-q", "-F", dev)
        self.ctl(h1, "mount", "r0")
        mnt = os.path.join(h1.dir, "mnt")
        payload = "written on h1 at %f\n" % time.time()
        h1.in_daemon("sh", "-c", "printf '%%s' '%s' > %s/hello && dd if=/dev/urandom of=%s/blob bs=1M count=8 "
                     "status=none && sync -f %s" % (payload, mnt, mnt, mnt))
        digest = h1.in_daemon("sha256sum", mnt + "/blob").stdout.split()[0]
        self.assertTrue(self.status(h1)["mounted"])
        # down while Primary is refused; secondary unmounts and detaches.
        refused = self.ctl(h1, "down", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("secondary", refused.stderr)
        self.ctl(h1, "secondary", "r0")
        st = self.status(h1)
        self.assertEqual((st["role"], st["mounted"], st["device"]), ("Secondary", False, ""))

        # h2 takes over and finds the data: every write under protocol C was on its disk.
        self.ctl(h2, "primary", "r0")
        self.ctl(h2, "mount", "r0")
        mnt2 = os.path.join(h2.dir, "mnt")
        self.assertEqual(h2.in_daemon("cat", mnt2 + "/hello").stdout, payload)
        self.assertEqual(h2.in_daemon("sha256sum", mnt2 + "/blob").stdout.split()[0], digest)
        fsck = h2.in_daemon("sh", "-c", "umount %s && e2fsck -fn %s" % (mnt2, self.status(h2)["device"]), check=False)
        self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)
        # Whole devices, not only files: the two copies are identical.
        self.ctl(h2, "secondary", "r0")
        wait_until(lambda: self.status(h1)["out_of_sync_kib"] == 0 and self.status(h2)["out_of_sync_kib"] == 0,
                   what="both in sync")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        # The journal tells the story of the resource.
        events = json.loads(h1.vrrpctl("events", "--json").stdout)["events"]
        texts = [e["text"] for e in events if e["source"] == "replication"]
        self.assertIn("role Secondary -> Primary", texts)
        self.assertIn("role Primary -> Secondary", texts)

    def test_skip_initial_sync_on_two_fresh_identical_disks(self):
        """drbdadm new-current-uuid --clear-bitmap: two freshly created disks
        that hold the same bytes (zeroed files) are declared in sync; both
        are UpToDate at once with nothing resynced, h1 promotes without
        --force, and an online verify confirms the copies are equal."""
        lab = self.lab()
        h1, h2 = self.bring_up_pair(lab)
        refused = self.ctl(h1, "primary", "r0", check=False)
        self.assertIn("UpToDate", refused.stderr)
        received = self.status(h2)["received_kib"]
        self.assertIn("verify r0 checks it", self.ctl(h1, "skip-initial-sync", "r0").stdout)
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                   what="both UpToDate")
        self.assertEqual(self.status(h1)["disk"], "UpToDate")
        self.assertLess(self.status(h2)["received_kib"] - received, 64, "no resync")
        again = self.ctl(h1, "skip-initial-sync", "r0", check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("only for two freshly created disks", again.stderr)
        self.ctl(h1, "primary", "r0")
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "verify", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["verify_done_kib"] == self.status(h1)["size_kib"], timeout=60, what="verify done")
        self.assertEqual(self.status(h1)["verify_out_of_sync_kib"], 0)
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    @staticmethod
    def allocated_kib(host):
        """KiB the backing file of host's r0 occupies on the disk under it."""
        return os.stat(os.path.join(host.dir, "r0.img")).st_blocks // 2

    def test_fstrim_releases_the_space_on_both_nodes(self):
        """Discard/TRIM is replicated: a deleted file's blocks are trimmed
        (fstrim) on the mounted volume, the backing files of both nodes
        shrink by them (holes) and read as zeros there; a trim while the
        link is cut is resynced as zeros; the devices stay identical."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])  # discards the device: holes
        self.ctl(h1, "mount", "r0")
        mnt = os.path.join(h1.dir, "mnt")
        self.put_file(h1, "blob", 24)
        full = {h.name: self.allocated_kib(h) for h in (h1, h2)}
        for h in (h1, h2):
            self.assertGreaterEqual(full[h.name], 24 * 1024, "%s holds the file" % h.name)
        h1.in_daemon("sh", "-c", "rm %s/blob && sync -f %s" % (mnt, mnt))
        trimmed = h1.in_daemon("fstrim", "-v", mnt).stdout
        self.assertIn("trimmed", trimmed)
        for h in (h1, h2):
            self.assertLess(self.allocated_kib(h), full[h.name] - 20 * 1024,
                            "%s released the file's blocks (%s)" % (h.name, trimmed.strip()))
            wait_until(lambda: self.status(h)["discarded_kib"] >= 20 * 1024, what="%s counts discards" % h.name)
        self.assertIn("discarded", self.ctl(h2, "status", "r0").stdout)
        self.assertEqual(self.status(h1)["out_of_sync_kib"], 0)

        # Cut: a file written and trimmed away; the resync carries the zeros.
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices the cut")
        discarded = self.status(h1)["discarded_kib"]
        self.put_file(h1, "gone", 8)
        h1.in_daemon("sh", "-c", "rm %s/gone && sync -f %s && fstrim %s" % (mnt, mnt, mnt))
        # The status is refreshed every second.
        wait_until(lambda: self.status(h1)["discarded_kib"] >= discarded + 8 * 1024 and
                   self.status(h1)["out_of_sync_kib"] >= 8 * 1024, what="trimmed while cut, out of sync")
        lab.restore(h2)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0,
                   timeout=30, what="resync after the cut")
        self.ctl(h1, "umount", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    @staticmethod
    def replication_events(host):
        """The texts of host's replication journal entries, oldest first."""
        return [e["text"] for e in json.loads(host.vrrpctl("events", "--json").stdout)["events"]
                if e["source"] == "replication"]

    def test_protocol_a_pulls_ahead_of_a_congested_link(self):
        """on_congestion pull-ahead (DRBD's Ahead/Behind): h1's link to h2
        is throttled at the switch; a writer faster than the link does not
        wait for it: h1 goes Ahead (its writes to the bitmap), h2 Behind
        with its disk Outdated; once the link is free again the peer is
        resynced and the devices are identical."""
        lab = self.lab()
        # Default link supervision: pings share the TCP stream with the
        # data, so they wait behind what the kernel has queued.
        h1, h2 = self.bring_up_synced(lab, supervision="", extra='protocol = "A"; on_congestion = "pull-ahead"; '
                                                                  'congestion_fill_kib = 1024;')
        subprocess.run(["ip", "netns", "exec", lab.switch, "nft", "-f", "-"], check=True, text=True,
                       input='table bridge slow { chain forward { type filter hook forward priority 0; '
                             'iifname "p1" meta l4proto tcp limit rate over 4 mbytes/second drop; }; }')
        throttled = True
        try:
            h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=48",
                         "oflag=direct", "status=none", timeout=120)
            wait_until(lambda: "replication Established -> Behind" in self.replication_events(h2), timeout=30,
                       what="h2 Behind")
            self.assertIn("replication Established -> Ahead", self.replication_events(h1))
            self.assertIn("disk UpToDate -> Outdated", self.replication_events(h2))
            lab.switch_run("nft", "delete", "table", "bridge", "slow")
            throttled = False
        finally:
            if throttled:
                lab.switch_run("nft", "delete", "table", "bridge", "slow", check=False)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0
                   and self.status(h2)["disk"] == "UpToDate", timeout=60, what="h2 resynced")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_protocol_a_pulls_ahead_of_a_peer_whose_disk_flushes_slowly(self):
        """DRBD's congestion-extents: h2's disk takes 0.4 s per flush, so
        the BarrierAcks that release h1's activity-log extents lag, while
        nothing waits to be sent (a fill of 1 GiB never congests). Writes
        spread over the disk pin 4 extents and h1 pulls ahead (the log
        names congestion_extents); h2 is Behind and Outdated, and once its
        disk is fast again it is resynced to the same data."""
        lab = self.lab()
        h1, h2 = lab.hosts
        device, command = self.faulty_disk(h2)
        extra = ('protocol = "A"; on_congestion = "pull-ahead"; congestion_fill_kib = 1048576; '
                 'congestion_extents = 4;')
        # Default link supervision (5 s ping timeout): the kernel's FUSE
        # holds the file's lock across an fsync, so h2's own writes to its
        # faulty disk wait for each slow flush, and so does its loop.
        self.start(h1, h2, extra=extra, supervision="")
        self.start(h2, h1, fresh=False, device=device, extra=extra, supervision="")
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
            self.ctl(h, "up", "r0")
        wait_until(lambda: self.status(h1)["connection"] == "Connected", timeout=15, what="r0 connected")
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                   timeout=60, what="initial sync")
        command("slow-flushes 400")
        # 4 KiB at the start of 8 of the 4 MiB extents, one writer.
        h1.in_daemon("sh", "-c", "for i in 0 1 2 3 4 5 6 7; do dd if=/dev/urandom of=%s bs=4k count=1 "
                     "seek=$((i * 1024 + 3)) oflag=direct status=none || exit 1; done" % self.status(h1)["device"])
        wait_until(lambda: "replication Established -> Behind" in self.replication_events(h2), timeout=30,
                   what="h2 Behind")
        self.assertIn("replication Established -> Ahead", self.replication_events(h1))
        self.assertIn("disk UpToDate -> Outdated", self.replication_events(h2))
        with open(h1.vrrpd.log_path) as f:
            self.assertRegex(f.read(), r"Established -> Ahead: activity log: [4-8] of 64 extents hold writes the "
                                       r"peer has not confirmed \(congestion_extents 4\)")
        command("slow-flushes 0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0
                   and self.status(h2)["disk"] == "UpToDate", timeout=60, what="h2 resynced")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_resync_after_holds_a_resource_until_the_one_it_waits_for_is_in_sync(self):
        """DRBD's resync-after: r0 and r1 on the pair, r1 with resync_after
        = "r0". Both start with h1's random data and a full sync to h2; r1's
        waits (PausedSyncS/T, paused by "after") until r0's is done, then
        runs, and both copies of both resources are identical."""
        lab = self.lab()
        h1, h2 = self.start_two_resources(lab, 'resync_after = "r0";')
        self.ctl(h1, "primary", "--force", "r1")  # r1 first: it still waits for r0
        self.ctl(h1, "primary", "--force", "r0")
        # r0 resyncs at 12 MiB/s (about 5 s); r1 waits on both nodes.
        wait_until(lambda: replication_status(h1, "r1")["replication"] == "PausedSyncS" and
                   replication_status(h2, "r1")["replication"] == "PausedSyncT", timeout=10, what="r1 paused")
        self.assertIn("after", replication_status(h1, "r1")["resync_paused"])
        self.assertEqual(replication_status(h1, "r0")["replication"], "SyncSource")
        self.assertIn("resync paused by this node's resync_after", h1.vrrpctl("replication", "status", "r1").stdout)
        # Nothing more moves for r1 while r0 resyncs (requests in flight at
        # the pause were answered by now).
        time.sleep(0.5)
        done_while_paused = replication_status(h2, "r1")["resync_done_kib"]
        time.sleep(1.0)
        self.assertEqual(replication_status(h1, "r0")["replication"], "SyncSource", "r0 still resyncing")
        self.assertEqual(replication_status(h2, "r1")["resync_done_kib"], done_while_paused)
        wait_until(lambda: replication_status(h2, "r0")["disk"] == "UpToDate", timeout=30, what="r0 in sync")
        wait_until(lambda: replication_status(h2, "r1")["disk"] == "UpToDate" and
                   replication_status(h1, "r1")["replication"] == "Established", timeout=30, what="r1 in sync")
        with open(h1.vrrpd.log_path) as f:
            self.assertIn("replication r1: resync paused: r0 resyncs on this node (resync_after)", f.read())
        for name in ("r0", "r1"):
            size = replication_status(h1, name)["size_kib"] * 1024
            digests = [sh("sh", "-c", "head -c %d %s | sha256sum" % (size, os.path.join(h.dir, name + ".img")))
                       .stdout.split()[0] for h in (h1, h2)]
            self.assertEqual(digests[0], digests[1], name)

    def two_resources_config(self, host, peer, r1_extra):
        """r0 (resync at 12 MiB/s) and r1 (`r1_extra`) on host."""
        block = ('{ name = "%s"; device = "%s/%s.img"; address = "%s"; port = %d; peer_address = "%s"; '
                 'shared_secret = "s3cret-s3cret"; %s }')
        return 'global = { router_id = "%s"; runtime_dir = "%s/run"; };\nresources = ( %s,\n %s );\n' % (
            host.name, host.dir,
            block % ("r0", host.dir, "r0", host.ipv4, 7789, peer.ipv4, "resync_rate_kib = 12288;"),
            block % ("r1", host.dir, "r1", host.ipv4, 7790, peer.ipv4, r1_extra))

    def start_two_resources(self, lab, r1_extra):
        """r0 and r1 on both hosts, h1's backing files full of random data,
        created, up and connected (no Primary yet)."""
        h1, h2 = lab.hosts
        for h in (h1, h2):
            for name in ("r0", "r1"):
                with open(os.path.join(h.dir, name + ".img"), "wb") as f:
                    if h is h1:
                        f.write(os.urandom((SIZE_MIB - 4) << 20))  # the data; the metadata goes at the end
                    f.truncate(SIZE_MIB << 20)
        for h, peer in ((h1, h2), (h2, h1)):
            h.start_vrrpd(self.two_resources_config(h, peer, r1_extra))
            self.addCleanup(h.stop_vrrpd)
        for h in (h1, h2):
            for name in ("r0", "r1"):
                self.ctl(h, "create-md", name)
                self.ctl(h, "up", name)
        wait_until(lambda: all(replication_status(h1, n)["connection"] == "Connected" for n in ("r0", "r1")),
                   timeout=15, what="both connected")
        return h1, h2

    def test_resync_after_set_by_a_reload_pauses_a_running_resync_and_unset_resumes_it(self):
        """A reload that adds resync_after pauses r1's running resync while
        r0's runs (both nodes reloaded); one that removes it lets r1 go on."""
        lab = self.lab()
        h1, h2 = self.start_two_resources(lab, "resync_rate_kib = 12288;")
        self.ctl(h1, "primary", "--force", "r0")
        self.ctl(h1, "primary", "--force", "r1")
        wait_until(lambda: replication_status(h1, "r1")["replication"] == "SyncSource" and
                   replication_status(h1, "r0")["replication"] == "SyncSource", timeout=10, what="both resync")
        for h, peer in ((h1, h2), (h2, h1)):
            self.reload(h, self.two_resources_config(h, peer, 'resync_rate_kib = 12288; resync_after = "r0";'),
                        "replication r1: resync paused: r0 resyncs on this node (resync_after)")
        wait_until(lambda: replication_status(h1, "r1")["replication"] == "PausedSyncS", timeout=5, what="r1 paused")
        self.assertIn("after", replication_status(h1, "r1")["resync_paused"])
        self.assertEqual(replication_status(h1, "r0")["replication"], "SyncSource")
        for h, peer in ((h1, h2), (h2, h1)):
            self.reload(h, self.two_resources_config(h, peer, "resync_rate_kib = 12288;"),
                        "replication r1: resync may go on: r0 is no longer waited for after a reload (resync_after)")
        self.assertEqual(replication_status(h1, "r0")["replication"], "SyncSource", "r1 went on before r0 was done")
        wait_until(lambda: replication_status(h1, "r1")["replication"] == "SyncSource", timeout=5, what="r1 resumed")
        wait_until(lambda: all(replication_status(h2, n)["disk"] == "UpToDate" for n in ("r0", "r1")), timeout=30,
                   what="both in sync")

    def test_invalidate_remote_replaces_a_silently_damaged_peer_copy(self):
        """drbdadm invalidate-remote: h2's backing file is damaged behind
        the engine's back (no bitmap knows); invalidate-remote on the
        Primary h1 resyncs the whole device to h2, which is Inconsistent
        meanwhile, and the copies are identical again."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        self.ctl(h1, "verify", "r0")  # equal before the damage
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["verify_done_kib"] == self.status(h1)["size_kib"], timeout=60, what="verify done")
        self.assertEqual(self.status(h1)["verify_out_of_sync_kib"], 0)
        with open(os.path.join(h2.dir, "r0.img"), "r+b") as f:
            f.seek(5 << 20)
            f.write(b"rot" * 1000)
        self.assertNotEqual(self.data_digest(h1), self.data_digest(h2))
        refused = self.ctl(h2, "invalidate-remote", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("the peer is Primary", refused.stderr)
        received = self.status(h2)["received_kib"]
        self.assertIn("a full resync to the peer follows", self.ctl(h1, "invalidate-remote", "r0").stdout)
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="full resync to h2")
        self.assertGreaterEqual(self.status(h2)["received_kib"] - received, self.status(h1)["size_kib"])
        self.assertIn("disk UpToDate -> Inconsistent", self.replication_events(h2))
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def bring_up_synced(self, lab, **kw):
        """bring_up_pair, then h1 forced Primary and the initial sync done."""
        h1, h2 = self.bring_up_pair(lab, **kw)
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                   timeout=60, what="initial sync")
        return h1, h2

    def test_link_cut_resyncs_only_what_changed(self):
        lab = self.lab()
        h1, h2 = self.bring_up_pair(lab)
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate", timeout=60, what="initial sync")
        dev = self.status(h1)["device"]
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices the cut")
        # 1 MiB written while cut: 256 blocks of 4 KiB become out of sync.
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + dev, "bs=1M", "count=1", "seek=3", "oflag=direct",
                     "status=none")
        wait_until(lambda: self.status(h1)["out_of_sync_kib"] == 1024, timeout=10, what="1 MiB out of sync")
        before = self.status(h2)["received_kib"]
        lab.restore(h2)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0,
                   timeout=30, what="resync after the cut")
        received = self.status(h2)["received_kib"] - before
        # The resync moved the changed MiB, not the 64 MiB volume.
        self.assertGreaterEqual(received, 1024)
        self.assertLess(received, 4 * 1024, "resync moved %d KiB" % received)
        self.assertEqual(self.status(h2)["disk"], "UpToDate")

    def test_a_demotion_waits_for_the_peer_to_confirm_what_it_was_sent(self):
        """Protocol A answers a write once sent. `vrrpctl replication
        secondary` demotes once the peer has confirmed every write sent to
        it: here frames from h1 are dropped at the switch right after such a
        write, so the demotion waits until link supervision drops the peer.
        h1, still Primary then, starts a new generation for the write and
        demotes; when the link is back, h1 is its source and h2, promoted,
        holds it. (Demoted at once, h1 held the write as a Secondary in the
        generation both shared.)"""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab, extra='protocol = "A";')
        dev = self.status(h1)["device"]
        lab.drop(ports=("p1",))
        dropped = True
        try:
            h1.in_daemon("dd", "if=/dev/urandom", "of=" + dev, "bs=64k", "count=4", "seek=80", "oflag=direct",
                         "status=none", timeout=30)
            self.assertIn("is Secondary", self.ctl(h1, "secondary", "r0").stdout)
            log = h1.log()
            waiting = log.find("secondary: waiting for the peer to confirm")
            new_generation = log.find(": lost the peer while Primary")
            demoted = log.find("secondary: the link dropped before the peer confirmed every write")
            self.assertTrue(0 <= waiting < new_generation < demoted, log[-3000:])
            self.assertEqual(self.status(h1)["out_of_sync_kib"], 256)
            lab.undrop()
            dropped = False
        finally:
            if dropped:
                lab.undrop()
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0
                   and self.status(h2)["replication"] == "Established", timeout=30, what="resync from h1")
        self.assertEqual(self.status(h2)["disk"], "UpToDate")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        self.ctl(h2, "primary", "r0")

    def test_pause_sync_holds_a_resync_until_resumed(self):
        """drbdadm pause-sync / resume-sync: paused on the Primary while in
        sync, it holds the resync that follows a link cut; both nodes show
        it (PausedSyncS / PausedSyncT, and who paused), nothing crosses
        until resume-sync, then the resync finishes."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        self.assertIn("resync paused until", self.ctl(h1, "pause-sync", "r0").stdout)
        self.assertEqual(self.status(h1)["resync_paused"], "user")
        wait_until(lambda: self.status(h2)["resync_paused"] == "peer", what="h2 told of the pause")
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices the cut")
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=4", "seek=8",
                     "oflag=direct", "status=none")
        lab.restore(h2)
        wait_until(lambda: self.status(h2)["replication"] == "PausedSyncT", timeout=30, what="h2 PausedSyncT")
        self.assertEqual(self.status(h1)["replication"], "PausedSyncS")
        self.assertIn("resync paused by the peer (its operator or its resync_after)", h2.vrrpctl("replication", "status", "r0").stdout)
        left = self.status(h2)["out_of_sync_kib"]
        self.assertGreaterEqual(left, 4 * 1024)
        time.sleep(1.5)
        self.assertEqual(self.status(h2)["out_of_sync_kib"], left, "nothing fetched while paused")
        refused = self.ctl(h2, "resume-sync", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("not paused on this node", refused.stderr)
        self.ctl(h1, "resume-sync", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=30, what="resync after resume")
        self.assertEqual(self.status(h2)["resync_paused"], "")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_switchover_to_a_node_still_resyncing(self):
        """A planned switchover while the resync runs (DRBD 9 allows it): h2
        missed files written on h1; its resync is held (pause-sync) so that
        it is still running; h1 unmounts and demotes, h2 is promoted as
        SyncTarget, mounts ext4 and reads the files it does not have yet
        from h1, writes new ones, and the resync finishes under it."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices the cut")
        mnt1 = os.path.join(h1.dir, "mnt")
        digest = self.put_file(h1, "missed", 6)
        self.ctl(h2, "pause-sync", "r0")
        lab.restore(h2)
        wait_until(lambda: self.status(h2)["replication"] == "PausedSyncT", timeout=30, what="h2 SyncTarget, held")
        self.ctl(h1, "secondary", "r0")
        self.ctl(h2, "primary", "r0")
        st = self.status(h2)
        self.assertEqual((st["role"], st["disk"], st["replication"]), ("Primary", "Inconsistent", "PausedSyncT"))
        self.assertGreaterEqual(st["out_of_sync_kib"], 6 * 1024)
        self.ctl(h2, "mount", "r0")
        mnt2 = os.path.join(h2.dir, "mnt")
        self.assertEqual(h2.in_daemon("sha256sum", mnt2 + "/missed").stdout.split()[0], digest,
                         "read through the peer")
        new = self.put_file(h2, "new", 2)
        self.ctl(h2, "resume-sync", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h2)["replication"] == "Established"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="h2's resync finished")
        self.assertEqual(self.status(h2)["role"], "Primary")
        self.ctl(h2, "umount", "r0")
        self.ctl(h2, "secondary", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        self.ctl(h1, "primary", "r0")
        self.ctl(h1, "mount", "r0")
        self.assertEqual(h1.in_daemon("sha256sum", mnt1 + "/new").stdout.split()[0], new)

    def test_restarted_secondary_is_consistent_until_the_handshake(self):
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        self.assertEqual(h2.stop_vrrpd(), 0)
        # The Primary writes while h2 is away; h2 comes back without its link.
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=1", "seek=5",
                     "oflag=direct", "status=none")
        lab.cut(h2)
        self.start(h2, h1, fresh=False)
        wait_until(lambda: self.status(h2)["up"], timeout=15, what="h2 up from its metadata")
        # From its metadata alone h2 cannot know h1 wrote meanwhile.
        self.assertEqual(self.status(h2)["disk"], "Consistent")
        refused = self.ctl(h2, "primary", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("primary refused: disk is Consistent", refused.stderr)
        # The handshake makes it SyncTarget for what h1 wrote, then UpToDate.
        lab.restore(h2)
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=30, what="h2 resynced")
        self.assertIn("SyncTarget", h2.log())
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_online_verify_finds_a_silently_corrupted_block(self):
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        # Bit rot on h2's disk, behind the engine's back: 4 KiB at 8 MiB.
        with open(os.path.join(h2.dir, "r0.img"), "r+b") as f:
            f.seek(8 << 20)
            f.write(b"\xff" * 4096)
        self.ctl(h1, "verify", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["verify_done_kib"] == self.status(h1)["size_kib"],
                   timeout=60, what="verify done")
        # Verify compares digests of 1 MiB steps, then of the differing
        # step's 4 KiB blocks: exactly the bad block is marked out of sync.
        found = self.status(h1)["verify_out_of_sync_kib"]
        self.assertEqual(found, 4)
        self.assertEqual(self.status(h1)["out_of_sync_kib"], found)
        # The peer showed VerifyT meanwhile; VerifyEnd gave it the result.
        self.assertIn("replication Established -> VerifyT: online verify started by the peer", h2.log())
        st2 = self.status(h2)
        self.assertEqual((st2["replication"], st2["verify_out_of_sync_kib"]), ("Established", 4))
        # As in DRBD, the block is resynced at the next connect.
        self.ctl(h1, "disconnect", "r0")
        self.ctl(h1, "connect", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0,
                   timeout=30, what="resync of the corrupted block")
        with open(os.path.join(h1.dir, "r0.img"), "rb") as a, open(os.path.join(h2.dir, "r0.img"), "rb") as b:
            a.seek(8 << 20)
            b.seek(8 << 20)
            self.assertEqual(a.read(4096), b.read(4096))

    @staticmethod
    def put_file(host, name, mib):
        """Writes `mib` MiB of random data to NAME in host's mounted r0
        (fsync'd) and returns its SHA-256."""
        path = os.path.join(host.dir, "mnt", name)
        return host.in_daemon("sh", "-c", "dd if=/dev/urandom of=%s bs=1M count=%d conv=fsync status=none && "
                              "sha256sum %s" % (path, mib, path)).stdout.split()[0]

    def assert_resized_in_sync(self, h1, h2, size):
        """Both nodes replicate `size` bytes, UpToDate and Established with
        nothing out of sync, and h1's device (the Primary's) has that size."""
        for h in (h1, h2):
            st = self.status(h)
            self.assertEqual(st["size_kib"] * 1024, size, h.name)
            self.assertEqual((st["disk"], st["replication"], st["out_of_sync_kib"]), ("UpToDate", "Established", 0),
                             h.name)
        self.assertEqual(int(h1.in_daemon("blockdev", "--getsize64", self.status(h1)["device"]).stdout), size)

    def data_digest(self, host):
        """SHA-256 of the replicated data area of host's backing file."""
        size = self.status(host)["size_kib"] * 1024
        return sh("sh", "-c", "head -c %d %s | sha256sum" % (size, os.path.join(host.dir, "r0.img"))).stdout.split()[0]

    def test_primary_killed_during_writes_resyncs_its_hot_extents(self):
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab, extra='after_sb_0pri = "disconnect";')
        dev = self.status(h1)["device"]
        # Writes all over the volume while the daemon dies under them.
        writer = h1.popen("nsenter", "-t", str(h1.vrrpd.pid), "-m", "-n", "--", "sh", "-c",
                          "while :; do for i in 2 9 17 30 41 50; do dd if=/dev/urandom of=%s bs=64k count=16 "
                          "seek=$((i*16)) oflag=direct status=none || exit 0; done; done" % dev)
        time.sleep(1.0)
        h1.kill_vrrpd()  # SIGKILL: no demotion, no bitmap flush, the activity log is what is left
        writer.wait(timeout=30)
        # h2 noticed; the data it has is what protocol C acknowledged.
        wait_until(lambda: self.status(h2)["connection"] != "Connected", timeout=15, what="h2 sees h1 gone")
        h2_received_before = self.status(h2)["received_kib"]
        # Restart: metadata exists, so the resource comes up by itself; the
        # activity log of the crashed Primary marks its hot extents out of sync.
        self.start(h1, h2, fresh=False, extra='after_sb_0pri = "disconnect";')
        wait_until(lambda: self.status(h1)["up"] and self.status(h1)["connection"] == "Connected",
                   timeout=30, what="h1 back and connected")
        # From its metadata alone the restarted node is only Consistent; the
        # handshake (rule 40: SyncSource of its hot extents) makes it UpToDate.
        self.assertIn("disk Attaching -> Consistent", h1.log())
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0
                   and self.status(h2)["out_of_sync_kib"] == 0, timeout=60, what="resync after the crash")
        self.assertFalse(self.status(h1)["split_brain"])
        # Only the activity log's extents (4 MiB each), not the whole volume, crossed.
        moved = self.status(h2)["received_kib"] - h2_received_before + self.status(h1)["received_kib"]
        self.assertLess(moved, SIZE_MIB * 1024 // 2, "resync moved %d KiB" % moved)
        # Identical devices afterwards.
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_sigkill_with_a_mounted_volume_exits_at_once(self):
        """A daemon alone in its mount namespace (ip netns exec) with ext4
        mounted on its FUSE export: SIGKILL used to hang its exit forever (the
        namespace's unmount flushed through the FUSE server that was exiting)
        and sync(2) on the whole machine with it. The mount-namespace anchor
        keeps the namespace until the daemon's /dev/fuse files are released."""
        lab = self.lab()
        h1, h2 = lab.hosts  # h2 runs nothing: h1 is Primary alone
        self.start(h1, h2)
        anchor = h1.vrrpd_anchor()
        self.assertIsNotNone(anchor, "no vrrpd-anchor child of vrrpd")
        # A graceful stop takes the anchor with it (reaped, not left a zombie).
        self.assertEqual(h1.stop_vrrpd(), 0)
        self.assertFalse(os.path.exists("/proc/%d" % anchor), "the anchor outlived SIGTERM")

        self.start(h1, h2)
        self.ctl(h1, "create-md", "r0")
        self.ctl(h1, "up", "r0")
        self.ctl(h1, "primary", "--force", "r0")
        dev = self.status(h1)["device"]
        h1.in_daemon("mkfs.ext4", "-q", "-F", dev)
        self.ctl(h1, "mount", "r0")
        # Dirty pages in ext4's cache: the teardown's unmount must write them.
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + os.path.join(h1.dir, "mnt", "dirty"), "bs=1M", "count=8",
                     "status=none")
        anchor = h1.vrrpd_anchor()
        self.assertIsNotNone(anchor)
        started = time.monotonic()
        h1.kill_vrrpd(timeout=10)  # plain SIGKILL; fails (after a fusectl abort) if not reaped within 10 s
        took = time.monotonic() - started
        self.assertLess(took, 10.0)
        self.assertFalse(os.path.exists("/proc/%d" % anchor), "the anchor outlived the daemon")
        # sync(2) walks every file system: it hung on the stuck unmount before.
        sh("sync", timeout=60)
        sh("sync", "-f", lab.dir, timeout=60)
        # The loop device went with the namespace (autoclear), the export too.
        loop = os.path.basename(dev)
        wait_until(lambda: not os.path.exists("/sys/block/%s/loop/backing_file" % loop), timeout=10,
                   what="%s detached" % loop)
        with open("/proc/self/mounts") as f:
            self.assertNotIn(os.path.join(h1.dir, "run"), f.read())
        print("\nSIGKILL with a mounted volume: reaped after %.2f s" % took)

    def test_sigkill_during_an_unmount_through_its_own_export_exits(self):
        """The daemon's ops thread is inside umount(2), writing ext4's dirty
        pages through the loop device to the daemon's own FUSE export, and
        those writes wait for a peer that is gone (the link is cut, and a long
        ping timeout keeps them waiting). A SIGKILL then kills the FUSE workers
        but not that thread, which sleeps uninterruptibly and keeps the
        process's files, /dev/fuse among them, from being released: the
        connection never aborted by itself and the daemon was never reaped.
        The anchor sees the daemon's main thread exit and, when the process
        is still not gone a second later, aborts the FUSE connections the
        daemon had told it about."""
        lab = self.lab()
        slow_to_give_up = "ping_interval_ms = 1000; ping_timeout_ms = 30000; connect_interval_ms = 300;"
        h1, h2 = self.bring_up_pair(lab, supervision=slow_to_give_up)
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate", timeout=60, what="initial sync")
        dev = self.status(h1)["device"]
        h1.in_daemon("mkfs.ext4", "-q", "-F", dev)
        self.ctl(h1, "mount", "r0")
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + os.path.join(h1.dir, "mnt", "dirty"), "bs=1M", "count=8",
                     "status=none")
        lab.cut(h2)
        umount = subprocess.Popen([VRRPCTL, "-s", h1.socket, "replication", "umount", "r0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: umount.poll() is not None or (umount.kill(), umount.communicate()))

        def in_uninterruptible_io():
            for tid in os.listdir("/proc/%d/task" % h1.vrrpd.pid):
                with open("/proc/%d/task/%s/stat" % (h1.vrrpd.pid, tid)) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "D":
                        return True
            return False
        wait_until(in_uninterruptible_io, timeout=10, what="a vrrpd thread waiting in the unmount's writes")
        time.sleep(0.5)
        self.assertIsNone(umount.poll(), "the unmount finished although the peer is cut off")
        started = time.monotonic()
        h1.kill_vrrpd(timeout=10)  # fails (after a fusectl abort) if not reaped within 10 s
        took = time.monotonic() - started
        self.assertLess(took, 10.0)
        # The anchor says what it did, where the daemon's messages go.
        self.assertIn("still not gone 1000 ms after its main thread exited", h1.log())
        self.assertIn("aborted FUSE connection(s)", h1.log())
        sh("sync", timeout=60)
        loop = os.path.basename(dev)
        wait_until(lambda: not os.path.exists("/sys/block/%s/loop/backing_file" % loop), timeout=10,
                   what="%s detached" % loop)
        with open("/proc/self/mounts") as f:
            self.assertNotIn(os.path.join(h1.dir, "run"), f.read())
        out, _ = umount.communicate(timeout=10)
        self.assertNotEqual(umount.returncode, 0, out)
        # What the writes that failed leave behind resyncs like any crash.
        lab.restore(h2)
        self.start(h1, h2, fresh=False, supervision=slow_to_give_up)
        wait_until(lambda: self.status(h1)["up"] and self.status(h1)["replication"] == "Established"
                   and self.status(h1)["out_of_sync_kib"] == 0 and self.status(h2)["out_of_sync_kib"] == 0,
                   timeout=60, what="h1 back, connected and resynced")
        self.assertFalse(self.status(h1)["split_brain"])
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        print("\nSIGKILL during an unmount through the daemon's own export: reaped after %.2f s" % took)

    def split(self, lab, h1, h2):
        """Both nodes write while the link is cut: the data diverges."""
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                   timeout=60, what="initial sync")
        self.ctl(h1, "secondary", "r0")
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected" and self.status(h2)["connection"] != "Connected",
                   timeout=15, what="both see the cut")
        for h, mib in ((h1, 4), (h2, 1)):  # h1 changes more than h2
            self.ctl(h, "primary", "r0")
            h.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h)["device"], "bs=1M", "count=%d" % mib,
                        "seek=%d" % (10 if h is h1 else 20), "oflag=direct", "status=none")
            self.ctl(h, "secondary", "r0")
        lab.restore(h2)

    def test_split_brain_is_reported_and_resolved_by_the_operator(self):
        """Also the resource's notify program (DRBD's split-brain,
        after-resync-target and out-of-sync handlers): each node's gets
        RESOURCE r0 EVENT TEXT for the split brain, the resync that resolves
        it (as target on the victim, as source on the survivor) and the
        verify after it."""
        lab = self.lab()
        script = os.path.join(lab.dir, "notify.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\nout="$1"; shift\nprintf "%s|" "$@" >> "$out"; echo >> "$out"\n')
        os.chmod(script, 0o755)
        # after_sb_0pri = disconnect (the default)
        h1, h2 = self.bring_up_pair(lab, extra='notify = "%s {dir}/events.log";' % script)

        def events(host):
            try:
                with open(os.path.join(host.dir, "events.log")) as f:
                    return [line.rstrip("|\n").split("|") for line in f]
            except FileNotFoundError:
                return []

        def has_event(host, what, part):
            return any(e[:3] == ["RESOURCE", "r0", what] and part in e[3] for e in events(host))
        self.split(lab, h1, h2)
        wait_until(lambda: self.status(h1)["split_brain"] and self.status(h2)["split_brain"], timeout=30,
                   what="split brain detected on both")
        for h in (h1, h2):
            st = self.status(h)
            self.assertEqual(st["connection"], "StandAlone", st)
            self.assertIn("split brain detected", st["split_brain_text"])
        self.assertIn("split brain", h1.log())
        # Neither may become Primary while it stands.
        refused = self.ctl(h1, "primary", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("split brain", refused.stderr)
        # The operator picks h2 as the victim; h1's data survives.
        self.ctl(h2, "discard-my-data", "r0")
        self.ctl(h1, "connect", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="resolved by resync")
        self.assertFalse(self.status(h1)["split_brain"])
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        for h in (h1, h2):
            wait_until(lambda: has_event(h, "split-brain", "split brain detected"), timeout=10,
                       what="%s's notify program told of the split brain" % h.name)
        wait_until(lambda: has_event(h2, "resync-finished", "as SyncTarget: this node is UpToDate"), timeout=10,
                   what="h2's notify program told it is UpToDate again")
        wait_until(lambda: has_event(h1, "resync-finished", "as SyncSource: the peer is UpToDate"), timeout=10,
                   what="h1's notify program told the peer is UpToDate again")
        self.ctl(h1, "verify", "r0")
        wait_until(lambda: has_event(h1, "verify", "online verify finished: 0 of %d bytes differ"
                                     % (self.status(h1)["size_kib"] * 1024)), timeout=60, what="verify told")

    def test_before_resync_target_handler_saves_the_target_first(self):
        """DRBD's before-resync-target: h2 misses 4 MiB while cut off; when
        the link is back its handler (here: a copy of the backing file, as
        an LVM snapshot would be) runs before anything is overwritten. While
        it fails, the link is dropped and h2's data stays as it was; once it
        succeeds the resync runs, and the copy holds h2's data from before."""
        lab = self.lab()
        script = os.path.join(lab.dir, "snap.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\ndir="$1"\n[ -e "$dir/fail" ] && exit 3\n'
                    'cp --sparse=always "$dir/r0.img" "$dir/r0.snap" && echo "$2" >> "$dir/snap.log"\n')
        os.chmod(script, 0o755)
        h1, h2 = self.bring_up_synced(lab, extra='before_resync_target_handler = "%s {dir}";' % script)
        self.assertFalse(os.path.exists(os.path.join(h2.dir, "snap.log")), "the initial sync overwrote nothing good")
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 sees the cut")
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=4", "seek=8",
                     "oflag=direct", "status=none")
        before = self.data_digest(h2)
        open(os.path.join(h2.dir, "fail"), "w").close()
        lab.restore(h2)
        wait_until(lambda: "before-resync-target handler failed" in self.status(h2)["last_error"], timeout=30,
                   what="h2's failing handler refuses the resync")
        self.assertIn("exit 3", self.status(h2)["last_error"])
        self.assertEqual(self.data_digest(h2), before, "nothing overwritten without the handler")
        self.assertNotEqual(self.status(h2)["replication"], "SyncTarget")
        os.unlink(os.path.join(h2.dir, "fail"))
        wait_until(lambda: self.status(h2)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="resynced after the handler")
        with open(os.path.join(h2.dir, "snap.log")) as f:
            runs = f.read().split()
        # Once, or again if a handshake after a successful run was lost (its
        # copy is then taken before any overwrite too).
        self.assertGreaterEqual(len(runs), 1)
        self.assertEqual(set(runs), {"r0"}, "the resource name is appended")
        size = self.status(h2)["size_kib"] * 1024
        snap = sh("sh", "-c", "head -c %d %s | sha256sum" % (size, os.path.join(h2.dir, "r0.snap"))).stdout.split()[0]
        self.assertEqual(snap, before, "the copy is h2's data from before the resync")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        events = [e["what"] for e in json.loads(h2.vrrpctl("events", "--json").stdout)["events"]]
        self.assertIn("before-resync-target", events)

    def test_split_brain_policy_discards_the_side_with_fewer_changes(self):
        lab = self.lab()
        h1, h2 = self.bring_up_pair(lab, extra='after_sb_0pri = "discard-least-changes";')
        before = self.data_digest(h1)
        self.split(lab, h1, h2)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0
                   and self.status(h2)["out_of_sync_kib"] == 0, timeout=60, what="resolved by policy")
        text = self.status(h1)["split_brain_text"] + self.status(h2)["split_brain_text"]
        self.assertIn("discard-least-changes", text)
        # h1 wrote 4 MiB, h2 1 MiB: h2's changes were discarded.
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        self.assertNotEqual(self.data_digest(h1), before)

    def faulty_disk(self, host):
        return start_faulty_disk(self, host)

    def pair_with_faulty_h1(self, lab, extra, h2_extra=None):
        h1, h2 = lab.hosts
        device, command = self.faulty_disk(h1)
        self.start(h1, h2, fresh=False, device=device, extra=extra)
        self.start(h2, h1, extra=extra if h2_extra is None else h2_extra)
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
            self.ctl(h, "up", "r0")
        self.ctl(h1, "primary", "--force", "r0")
        try:
            wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                       timeout=60, what="initial sync")
        except AssertionError as e:
            raise AssertionError("%s\nh1: %s\nh2: %s" % (e, self.status(h1), self.status(h2))) from None
        return h1, h2, command

    def chunk_io(self, host):
        """64 KiB of random data in a file on `host`, its SHA-256, and
        write_at(mib) / read_at(mib): one direct dd of it to the volume at
        that MiB (the result, not checked) / the SHA-256 read back there."""
        dev = self.status(host)["device"]
        chunk = os.path.join(host.dir, "chunk")
        with open(chunk, "wb") as f:
            f.write(os.urandom(65536))
        with open(chunk, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()

        def write_at(mib):
            return host.in_daemon("dd", "if=" + chunk, "of=" + dev, "bs=64k", "count=1", "seek=%d" % (mib * 16),
                                  "oflag=direct", "status=none", check=False)

        def read_at(mib):
            return host.in_daemon("sh", "-c", "dd if=%s bs=64k count=1 skip=%d iflag=direct status=none | sha256sum"
                                  % (dev, mib * 16)).stdout.split()[0]
        return digest, write_at, read_at

    def test_a_diskless_primary_survives_a_write_error_of_its_peer_and_a_link_cut(self):
        """h1's disk fails (on-io-error detach): h1 goes on as a Diskless
        Primary served by h2. Then h2's disk (passthrough) refuses one range
        for a moment: the write there fails with EIO on h1, and only that
        write; the link stays, other writes and reads go on, and once h2's
        disk works the write retried lands (DRBD's pass_on with its
        negative ack, where the link used to drop and leave h1 with no
        data at all). Then the link is cut: h1 fails every request until
        it is back, and then connects again without a disk (protocol 10;
        a Diskless node used to be refused at every connect)."""
        lab = self.lab()
        h1, h2 = lab.hosts
        dev1, fail1 = self.faulty_disk(h1)
        dev2, fail2 = self.faulty_disk(h2)
        self.start(h1, h2, fresh=False, device=dev1, extra='on_io_error = "detach";')
        self.start(h2, h1, fresh=False, device=dev2, extra='on_io_error = "passthrough";')
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
            self.ctl(h, "up", "r0")
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["peer_disk"] == "UpToDate",
                   timeout=60, what="initial sync")
        digest, write_at, read_at = self.chunk_io(h1)

        fail1("fail-writes")
        fail1("fail-reads")
        self.assertEqual(write_at(1).returncode, 0, "the write that meets h1's error is served by h2")
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        fail2("fail-writes %d %d" % (20 << 20, 1 << 20))
        self.assertNotEqual(write_at(20).returncode, 0, "the write h2 cannot write fails on h1")
        wait_until(lambda: self.status(h2)["io_errors"] > 0, what="h2 counted its error")
        st1, st2 = self.status(h1), self.status(h2)
        self.assertEqual((st1["role"], st1["disk"], st1["connection"]), ("Primary", "Diskless", "Connected"), st1)
        self.assertEqual((st2["disk"], st2["connection"]), ("UpToDate", "Connected"), st2)
        self.assertEqual(write_at(30).returncode, 0, "writes elsewhere go on")
        self.assertEqual(read_at(30), digest)
        self.assertEqual(read_at(1), digest)
        fail2("heal")
        self.assertEqual(write_at(20).returncode, 0, "the write retried lands")
        self.assertEqual(read_at(20), digest)
        self.assertEqual(self.status(h1)["connection"], "Connected")
        lab.cut(h2)
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices the cut")
        self.assertNotEqual(write_at(40).returncode, 0, "no copy of the data anywhere without the link")
        lab.restore(h2)
        wait_until(lambda: self.status(h1)["replication"] == "Established", timeout=30, what="h1 served again")
        st1 = self.status(h1)
        self.assertEqual((st1["role"], st1["disk"], st1["connection"]), ("Primary", "Diskless", "Connected"), st1)
        self.assertEqual(write_at(40).returncode, 0)
        self.assertEqual(read_at(40), digest)
        self.assertEqual(read_at(30), digest)

    def test_a_diskless_primary_is_served_again_by_its_restarted_peer(self):
        """h1's disk fails (on-io-error detach) and h1 goes on as a Diskless
        Primary served by h2. Then h2's daemon is killed (SIGKILL) and
        started again: it comes up Consistent, and h1, which has no copy of
        its own, connects to it again on the data it left, because h2's
        superblock records that it served h1 (before, that was in h2's
        memory only, and h1 stayed StandAlone until demoted). h2 is UpToDate
        again; what h1 wrote before is read back, and new writes land."""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach";')
        digest, write_at, read_at = self.chunk_io(h1)

        fail("fail-writes")
        fail("fail-reads")
        self.assertEqual(write_at(30).returncode, 0, "the write that meets h1's error is served by h2")
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        wait_until(lambda: self.status(h2)["peer_disk"] == "Diskless", what="h2 heard of it")
        h2.kill_vrrpd()
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices")
        self.assertNotEqual(write_at(40).returncode, 0, "no copy of the data anywhere while h2 is down")
        self.start(h2, h1, fresh=False, extra='on_io_error = "detach";')
        wait_until(lambda: self.status(h1)["replication"] == "Established", timeout=30, what="h1 served again")
        st1, st2 = self.status(h1), self.status(h2)
        self.assertEqual((st1["role"], st1["disk"], st1["peer_disk"]), ("Primary", "Diskless", "UpToDate"), st1)
        self.assertEqual((st2["role"], st2["disk"], st2["peer_disk"]), ("Secondary", "UpToDate", "Diskless"), st2)
        self.assertIn("the Diskless Primary whose data this node holds is back", h2.log())
        self.assertEqual(read_at(30), digest)
        self.assertEqual(write_at(40).returncode, 0)
        self.assertEqual(read_at(40), digest)
        with open(os.path.join(h2.dir, "r0.img"), "rb") as f:
            f.seek(40 << 20)
            self.assertEqual(hashlib.sha256(f.read(65536)).hexdigest(), digest, "on h2's disk")

    def test_io_error_passthrough_reports_marks_and_calls_the_handler(self):
        lab = self.lab()
        h1 = lab.hosts[0]
        handler_log = os.path.join(h1.dir, "handler.log")
        extra = 'on_io_error = "call-handler"; io_error_handler = [ "/bin/sh", "-c", "echo \\"$0 $1\\" >> %s" ];' % handler_log
        h1, h2, fail = self.pair_with_faulty_h1(lab, extra)
        fail("fail-writes %d %d" % (20 << 20, 1 << 20))  # the disk fails 1 MiB at 20 MiB
        dd = h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=64k", "count=1",
                          "seek=%d" % (20 * 16), "oflag=direct", "status=none", check=False)
        self.assertNotEqual(dd.returncode, 0, "the error reaches the writer (passthrough)")
        wait_until(lambda: self.status(h1)["io_errors"] > 0, what="io error counted")
        st = self.status(h1)
        self.assertEqual(st["disk"], "UpToDate")  # a transient error does not end replication
        self.assertEqual(st["connection"], "Connected")
        self.assertGreater(st["out_of_sync_kib"], 0)
        wait_until(lambda: os.path.exists(handler_log), what="the handler ran")
        with open(handler_log) as f:
            self.assertEqual(f.read().split()[0], "r0")
        events = json.loads(h1.vrrpctl("events", "--json").stdout)["events"]
        self.assertIn("io-error", [e["what"] for e in events])
        # The disk heals; the next connect resyncs the marked blocks.
        fail("heal")
        self.ctl(h1, "disconnect", "r0")
        self.ctl(h1, "connect", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0,
                   timeout=30, what="resync after healing")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_a_switchover_after_a_failed_write_serves_what_the_old_primary_served(self):
        """Under passthrough a write that fails on h1's disk still reached
        h2's (its Data leaves first): h1 reads back its old bytes, h2 holds
        the new ones, and h1 records the blocks. `vrrpctl replication
        secondary` writes h1's bytes again on both disks before it demotes
        (the retry the writer did not make), so h2, promoted, serves what
        h1 served, and nothing is left out of sync. (Before, the record
        waited for the next connect, and h2 served the failed write's
        bytes.)"""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "passthrough";')
        digest, write_at, read_at = self.chunk_io(h1)
        self.assertEqual(write_at(20).returncode, 0)
        self.assertEqual(read_at(20), digest)
        fail("fail-writes %d %d" % (20 << 20, 64 << 10))
        failed = h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=64k", "count=1",
                              "seek=%d" % (20 * 16), "oflag=direct", "status=none", check=False)
        self.assertNotEqual(failed.returncode, 0, "the error reaches the writer (passthrough)")
        fail("heal")
        wait_until(lambda: self.status(h1)["out_of_sync_kib"] == 64, what="h1 records the failed write's blocks")
        self.assertEqual(read_at(20), digest, "h1 reads back its own, old bytes")

        def on_h2_disk():
            with open(os.path.join(h2.dir, "r0.img"), "rb") as f:
                f.seek(20 << 20)
                return hashlib.sha256(f.read(65536)).hexdigest()
        self.assertNotEqual(on_h2_disk(), digest, "h2 wrote the failed write's bytes")
        self.assertIn("is Secondary", self.ctl(h1, "secondary", "r0").stdout)
        self.assertEqual(on_h2_disk(), digest, "h1's bytes were written again on h2")
        self.assertEqual(self.status(h1)["out_of_sync_kib"], 0)
        self.assertIn("secondary: writing again on both disks 65536 bytes recorded out of sync here", h1.log())
        self.ctl(h2, "primary", "r0")
        back = h2.in_daemon("sh", "-c", "dd if=%s bs=64k count=1 skip=%d iflag=direct status=none | sha256sum"
                            % (self.status(h2)["device"], 20 * 16)).stdout.split()[0]
        self.assertEqual(back, digest, "the new Primary serves what the old one served")
        self.assertEqual(self.status(h2)["out_of_sync_kib"], 0)
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_io_error_detach_keeps_serving_through_the_peer(self):
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach";')
        fail("fail-writes")
        data = os.urandom(65536)
        src = os.path.join(h1.dir, "block.bin")
        with open(src, "wb") as f:
            f.write(data)
        dev = self.status(h1)["device"]
        h1.in_daemon("dd", "if=" + src, "of=" + dev, "bs=64k", "count=1", "seek=%d" % (30 * 16), "oflag=direct",
                     "status=none")  # succeeds: the peer took it
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 detached its disk")
        st = self.status(h1)
        self.assertEqual((st["role"], st["connection"], st["peer_disk"]), ("Primary", "Connected", "UpToDate"))
        # Reads come from the peer too, and the peer's disk has the data.
        back = h1.in_daemon("sh", "-c", "dd if=%s bs=64k count=1 skip=%d iflag=direct status=none | sha256sum"
                            % (dev, 30 * 16)).stdout.split()[0]
        self.assertEqual(back, sh("sha256sum", src).stdout.split()[0])
        with open(os.path.join(h2.dir, "r0.img"), "rb") as f:
            f.seek(30 << 20)
            self.assertEqual(f.read(65536), data)

    def test_metadata_write_errors_detach_only_while_the_peer_holds_the_data(self):
        """h1's metadata area (internal: after the data) refuses writes,
        its data area does not. On-io-error detach gives the disk up for a
        metadata error only while h2 holds the same data. With the link
        down the disk is h1's only copy: it is kept, and writes fail (EIO)
        until the new generation h1 started for the split is on disk, so
        that no write is answered that a crash would describe wrongly. With
        h2 connected and in sync, the superblock write of a demotion fails:
        h1 goes Diskless and h2 takes over with the data. The disk, healed,
        attaches again and resyncs what it missed. (The timeline names the
        operator's disconnect as the reason of the drop, not the superblock
        error it caused.)"""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach";')
        data_bytes = self.status(h1)["size_kib"] * 1024
        metadata_area = "fail-writes %d %d" % (data_bytes, (SIZE_MIB << 20) - data_bytes)
        digest, write_at, read_at = self.chunk_io(h1)

        # The peer away: the only copy is kept.
        fail(metadata_area)
        self.ctl(h1, "disconnect", "r0")
        wait_until(lambda: "writing the superblock failed" in h1.log(), what="the new generation's save failed")
        self.assertNotEqual(write_at(20).returncode, 0, "no write answered before its generation is on disk")
        st = self.status(h1)
        self.assertEqual((st["role"], st["disk"]), ("Primary", "UpToDate"))
        self.assertGreater(st["io_errors"], 0)
        self.assertNotIn("on-io-error detach", h1.log())
        drops = [e["text"] for e in json.loads(h1.vrrpctl("events", "--json").stdout)["events"]
                 if e["what"] == "connection" and e["text"].startswith("connection Connected ->")]
        self.assertEqual(drops, ["connection Connected -> StandAlone: disconnected by the operator"],
                         "the drop's own reason, not the superblock error of the same moment")
        fail("heal")
        self.assertEqual(write_at(20).returncode, 0, "the superblock is written again before the next write")
        self.assertEqual(read_at(20), digest)
        self.ctl(h1, "connect", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["peer_disk"] == "UpToDate" and self.status(h1)["out_of_sync_kib"] == 0,
                   timeout=30, what="h2 resynced the write made while away")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

        # The peer connected and in sync: the disk is given up.
        fail(metadata_area)
        self.ctl(h1, "secondary", "r0")
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        self.assertIn("writing the superblock failed: ", h1.log())
        self.assertIn("on-io-error detach: the local disk is given up (Diskless)", h1.log())
        # A Diskless Secondary serves nobody: it leaves the link, as after a
        # data write error (test_attach_brings_a_detached_secondary_back...).
        self.assertEqual(self.status(h1)["connection"], "StandAlone")
        self.ctl(h2, "primary", "r0")
        back = h2.in_daemon("sh", "-c", "dd if=%s bs=64k count=1 skip=%d iflag=direct status=none | sha256sum"
                            % (self.status(h2)["device"], 20 * 16)).stdout.split()[0]
        self.assertEqual(back, digest, "h2 serves what h1 wrote")
        h2.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h2)["device"], "bs=64k", "count=4",
                     "seek=%d" % (40 * 16), "oflag=direct", "status=none")
        fail("heal")
        self.ctl(h1, "attach", "r0")
        wait_until(lambda: self.status(h1)["disk"] == "UpToDate" and self.status(h2)["out_of_sync_kib"] == 0,
                   timeout=30, what="h1's disk back and resynced")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_the_only_copy_given_up_gets_back_what_a_failed_flush_lost(self):
        """h1 is Primary with the link down under on-io-error detach, so its
        disk is the only copy of what it writes. Its disk has a volatile
        cache: a write lands, the flush after it fails, and the disk has lost
        the write while reads still return it (Linux's page cache after a
        failed writeback, pages marked clean). The failed flush gives the
        disk up; the Primary keeps what no flush made durable as it read
        back then, and when the disk (healed, its cache evicted: the older
        bytes are what it holds) is attached again, writes it back before
        serving from it, and h2 then gets it by resync."""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach";')
        digest, write_at, read_at = self.chunk_io(h1)
        self.ctl(h1, "disconnect", "r0")
        wait_until(lambda: self.status(h1)["connection"] == "StandAlone", what="h1 alone")

        fail("volatile")
        self.assertEqual(write_at(20).returncode, 0)
        fail("fail-flushes")
        flushed = h1.in_daemon("dd", "if=/dev/null", "of=" + self.status(h1)["device"], "conv=fsync",
                               "status=none", check=False)
        self.assertNotEqual(flushed.returncode, 0, "the flush failed: %s" % flushed.stderr)
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        st = self.status(h1)
        self.assertEqual((st["role"], st["connection"]), ("Primary", "StandAlone"))
        self.assertIn("on-io-error detach: the local disk is given up (Diskless)", h1.log())
        self.assertEqual((st["only_copy_given_up"], st["kept_for_write_back_kib"]), (True, 4096),
                         "the extent of the lost write, held in memory")
        shown = self.ctl(h1, "status", "r0").stdout
        self.assertIn("ONLY COPY GIVEN UP", shown)
        self.assertIn("kept in memory for it", shown)

        def on_disk():
            with open(os.path.join(h1.dir, "r0.img"), "rb") as f:
                f.seek(20 << 20)
                return hashlib.sha256(f.read(65536)).hexdigest()
        self.assertEqual(on_disk(), digest, "still in the disk's cache")
        fail("evict")
        self.assertNotEqual(on_disk(), digest, "the disk lost the write")
        fail("heal")

        attached = self.ctl(h1, "attach", "r0").stdout
        self.assertIn("the only copy of the data, back as it was given up", attached)
        wait_until(lambda: self.status(h1)["disk"] == "UpToDate", what="h1's disk back")
        self.assertEqual(on_disk(), digest, "written back to the disk")
        self.assertEqual(read_at(20), digest, "what the Primary served before")
        self.assertIn("wrote again 4194304 bytes (1 extents) that no flush had made durable", h1.log())
        self.assertFalse(self.status(h1)["only_copy_given_up"])
        self.assertNotIn("ONLY COPY", self.ctl(h1, "status", "r0").stdout)
        self.ctl(h1, "connect", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["peer_disk"] == "UpToDate" and self.status(h1)["out_of_sync_kib"] == 0,
                   timeout=30, what="h2 resynced from h1")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_a_new_disk_attached_under_a_diskless_primary_resyncs_while_mounted(self):
        """DRBD's attach after on-io-error detach, without a failover: h1's
        disk fails under a mounted ext4 and h1 goes on as a Diskless Primary
        served by h2; the disk is replaced (zeroed: no metadata left), gets
        create-md and attach, and resyncs in full from h2 while h1 stays
        Primary and the file system is written and read."""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach"; resync_rate_kib = 16384;')
        mnt = os.path.join(h1.dir, "mnt")
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")

        def put(name, mib):
            return self.put_file(h1, name, mib)

        def read_direct(name):
            # O_DIRECT: from the device (through the engine), not ext4's cache.
            return h1.in_daemon("sh", "-c", "dd if=%s bs=1M iflag=direct status=none | sha256sum"
                                % os.path.join(mnt, name)).stdout.split()[0]

        files = {"before": put("before", 8)}
        fail("fail-writes")
        fail("fail-reads")
        files["diskless"] = put("diskless", 4)  # the write that meets the error succeeds: h2 took it
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        st = self.status(h1)
        self.assertEqual((st["role"], st["peer_disk"]), ("Primary", "UpToDate"))
        self.assertEqual(read_direct("before"), files["before"], "read through the peer")
        # The replacement: a blank disk under the same path.
        fail("heal")
        sh("dd", "if=/dev/zero", "of=" + os.path.join(h1.dir, "r0.img"), "bs=1M", "count=%d" % SIZE_MIB,
           "conv=notrunc,fsync", "status=none")
        refused = self.ctl(h1, "attach", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("create-md r0", refused.stderr)
        self.assertIn("vrrpctl replication attach r0", self.ctl(h1, "create-md", "r0").stdout)
        self.assertIn("resyncs in full from the peer", self.ctl(h1, "attach", "r0").stdout)
        st = self.status(h1)
        self.assertEqual((st["role"], st["disk"], st["replication"]), ("Primary", "Inconsistent", "SyncTarget"), st)
        wait_until(lambda: self.status(h2)["replication"] == "SyncSource", what="h2 SyncSource")
        # While the new disk fills: the file system is written and read.
        files["resync"] = put("resync", 4)
        self.assertEqual(read_direct("diskless"), files["diskless"])
        self.assertEqual(self.status(h1)["replication"], "SyncTarget", "the resync was still running")
        wait_until(lambda: self.status(h1)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h2)["replication"] == "Established", timeout=60, what="the new disk resynced")
        st = self.status(h1)
        self.assertEqual((st["role"], st["out_of_sync_kib"]), ("Primary", 0))
        for name, digest in files.items():
            self.assertEqual(read_direct(name), digest, name)
        events = [e["what"] for e in json.loads(h1.vrrpctl("events", "--json").stdout)["events"]]
        self.assertIn("attach", events)
        self.ctl(h1, "umount", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_a_primary_resyncing_a_new_disk_resumes_from_its_restarted_peer(self):
        """h1's disk fails (on-io-error detach), a blank one is attached under
        the Diskless Primary h1 and resyncs from h2 (h1 drives it, at 4 MiB/s).
        h2's daemon is killed mid-resync: h1, Primary and Inconsistent,
        fails what only h2 holds. h2 starts again Consistent, and its
        superblock says it served h1, so it tells h1 it is UpToDate before
        the bitmaps (protocol 11) and the resync resumes; before, h1 refused
        a Consistent source and stayed StandAlone until demoted."""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach"; resync_rate_kib = 4096;',
                                                h2_extra='on_io_error = "detach";')
        digest, write_at, read_at = self.chunk_io(h1)
        self.assertEqual(write_at(50).returncode, 0)
        fail("fail-writes")
        fail("fail-reads")
        self.assertEqual(write_at(30).returncode, 0, "the write that meets h1's error is served by h2")
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        fail("heal")
        sh("dd", "if=/dev/zero", "of=" + os.path.join(h1.dir, "r0.img"), "bs=1M", "count=%d" % SIZE_MIB,
           "conv=notrunc,fsync", "status=none")
        self.ctl(h1, "create-md", "r0")
        self.assertIn("resyncs in full from the peer", self.ctl(h1, "attach", "r0").stdout)
        wait_until(lambda: self.status(h2)["replication"] == "SyncSource", what="h2 SyncSource")
        time.sleep(2)  # ~8 of 64 MiB
        self.assertEqual(self.status(h1)["replication"], "SyncTarget", "the resync still runs")
        h2.kill_vrrpd()
        wait_until(lambda: self.status(h1)["connection"] != "Connected", timeout=15, what="h1 notices")
        st = self.status(h1)
        self.assertEqual((st["role"], st["disk"]), ("Primary", "Inconsistent"), st)
        self.assertNotEqual(h1.in_daemon("dd", "if=" + st["device"], "of=/dev/null", "bs=64k", "count=1",
                                         "skip=%d" % (50 * 16), "iflag=direct", "status=none",
                                         check=False).returncode, 0, "only h2 holds it while it is down")
        self.start(h2, h1, fresh=False, extra='on_io_error = "detach";')
        wait_until(lambda: self.status(h1)["connection"] == "Connected", timeout=30, what="h1 connected again")
        st1 = self.status(h1)
        self.assertIn(st1["replication"], ("SyncTarget", "Established"), st1)
        self.assertEqual(st1["role"], "Primary")
        self.assertIn("the Primary whose data this node holds is back, resyncing from this node",
                      h2.log())
        wait_until(lambda: self.status(h1)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h2)["replication"] == "Established", timeout=60, what="the new disk resynced")
        self.assertEqual(self.status(h2)["disk"], "UpToDate")
        self.assertEqual(read_at(30), digest, "written while Diskless")
        self.assertEqual(read_at(50), digest, "written before, fetched after the restart")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_planned_disk_swap_on_the_primary_with_detach_and_attach(self):
        """drbdadm detach / attach on the Primary: its disk is taken out while
        ext4 stays mounted and in use (served by h2), a blank one is put in,
        and it is resynced in full while h1 stays Primary."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        mnt = os.path.join(h1.dir, "mnt")
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")
        path = os.path.join(mnt, "f")
        write = "dd if=/dev/urandom of=%s bs=1M count=4 conv=fsync status=none && sha256sum %s" % (path, path)
        self.assertIn("serves the volume through the peer", self.ctl(h1, "detach", "r0").stdout)
        st = self.status(h1)
        self.assertEqual((st["role"], st["disk"], st["connection"]), ("Primary", "Diskless", "Connected"))
        digest = h1.in_daemon("sh", "-c", write).stdout.split()[0]
        sh("dd", "if=/dev/zero", "of=" + os.path.join(h1.dir, "r0.img"), "bs=1M", "count=%d" % SIZE_MIB,
           "conv=notrunc,fsync", "status=none")
        self.ctl(h1, "create-md", "r0")
        self.ctl(h1, "attach", "r0")
        wait_until(lambda: self.status(h1)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established",
                   timeout=60, what="the new disk resynced")
        self.assertEqual(self.status(h1)["role"], "Primary")
        back = h1.in_daemon("sh", "-c", "dd if=%s bs=1M iflag=direct status=none | sha256sum" % path)
        self.assertEqual(back.stdout.split()[0], digest)
        events = [e["what"] for e in json.loads(h1.vrrpctl("events", "--json").stdout)["events"]]
        self.assertIn("detach", events)
        self.ctl(h1, "umount", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_the_disk_given_up_comes_back_with_only_what_it_missed(self):
        """A transient fault of the Primary's disk (on-io-error detach): once
        it works again, attach takes the same disk back under the Primary,
        and only what it missed crosses (its hot extents and what h2
        recorded while h1 was Diskless), not the whole volume, as in DRBD."""
        lab = self.lab()
        h1, h2, fail = self.pair_with_faulty_h1(lab, 'on_io_error = "detach";')
        dev = self.status(h1)["device"]
        fail("fail-writes")
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + dev, "bs=1M", "count=2", "seek=10", "oflag=direct",
                     "status=none")  # succeeds: h2 took it
        wait_until(lambda: self.status(h1)["disk"] == "Diskless", what="h1 gave up its disk")
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + dev, "bs=1M", "count=2", "seek=40", "oflag=direct",
                     "status=none")  # Diskless: only on h2, which records it
        fail("heal")
        received_before = self.status(h1)["received_kib"]
        self.assertIn("only what it missed", self.ctl(h1, "attach", "r0").stdout)
        wait_until(lambda: self.status(h1)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h2)["replication"] == "Established", timeout=60, what="h1's disk resynced")
        st = self.status(h1)
        self.assertEqual((st["role"], st["out_of_sync_kib"]), ("Primary", 0))
        moved = st["received_kib"] - received_before
        self.assertGreaterEqual(moved, 2 * 1024, "at least what h1 wrote while Diskless")
        self.assertLess(moved, SIZE_MIB * 1024 // 4, "not a full resync (%d KiB)" % moved)
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_attach_brings_a_detached_secondary_back_without_down(self):
        """The Secondary's disk fails (on-io-error detach: Diskless,
        StandAlone); once it works again, `attach` takes the same disk back
        with its metadata and reconnects, and only what it missed crosses."""
        lab = self.lab()
        h1, h2 = lab.hosts
        device, fail = self.faulty_disk(h2)
        extra = 'on_io_error = "detach";'
        self.start(h1, h2, extra=extra)
        self.start(h2, h1, fresh=False, device=device, extra=extra)
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
            self.ctl(h, "up", "r0")
        wait_until(lambda: self.status(h1)["connection"] == "Connected", timeout=15, what="r0 connected")
        self.ctl(h1, "primary", "--force", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate", timeout=60, what="initial sync")
        fail("fail-writes")
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=2",
                     "seek=10", "oflag=direct", "status=none")
        wait_until(lambda: self.status(h2)["disk"] == "Diskless", what="h2 gave up its disk")
        self.assertEqual(self.status(h2)["connection"], "StandAlone")
        self.assertGreaterEqual(self.status(h1)["out_of_sync_kib"], 1024)
        received_before = self.status(h2)["received_kib"]
        fail("heal")
        self.assertIn("connecting to the peer", self.ctl(h2, "attach", "r0").stdout)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="h2 back and resynced")
        moved = self.status(h2)["received_kib"] - received_before
        self.assertGreaterEqual(moved, 2 * 1024, "the 2 MiB it missed")
        self.assertLess(moved, 8 * 1024, "a bitmap-based resync, not a full one (%d KiB)" % moved)
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_online_resize_grows_a_mounted_ext4_on_both_nodes(self):
        """drbdadm resize: both backing files grow while ext4 is mounted and
        in use on h1; `resize` grows the volume on both nodes (the internal
        metadata moves to the new end of each file), the device takes the
        new size, resize2fs grows the file system online, the added blocks
        resync to h2, and h2, promoted afterwards, has every file."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        mnt = os.path.join(h1.dir, "mnt")
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")

        def put(name, mib):
            return self.put_file(h1, name, mib)

        def fs_bytes():
            return int(h1.in_daemon("df", "-B1", "--output=size", mnt).stdout.split()[-1])

        files = {"before": put("before", 8)}
        size_before = self.status(h1)["size_kib"] * 1024
        fs_before = fs_bytes()
        refused = self.ctl(h1, "resize", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("did not grow", refused.stderr)
        # Only h1's file grows: h2 refuses, and nothing changes.
        os.truncate(os.path.join(h1.dir, "r0.img"), 2 * SIZE_MIB << 20)
        refused = self.ctl(h1, "resize", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("the peer's backing storage did not grow", refused.stderr)
        self.assertEqual(self.status(h2)["size_kib"] * 1024, size_before)
        os.truncate(os.path.join(h2.dir, "r0.img"), 2 * SIZE_MIB << 20)
        out = self.ctl(h1, "resize", "r0").stdout
        self.assertIn("grown from %d to " % size_before, out)
        st = self.status(h1)
        size_after = st["size_kib"] * 1024
        self.assertGreater(size_after, size_before + (SIZE_MIB << 20) - (1 << 20))
        self.assertEqual(self.status(h2)["size_kib"] * 1024, size_after)
        # The device has the new size as soon as the command returned.
        self.assertEqual(int(h1.in_daemon("blockdev", "--getsize64", st["device"]).stdout), size_after)
        if has_capability(24):  # CAP_SYS_RESOURCE, which ext4's online resize needs
            h1.in_daemon("resize2fs", st["device"])
        else:
            # Containers without it (this test machine's): ext4 grows offline.
            self.ctl(h1, "umount", "r0")
            h1.in_daemon("e2fsck", "-fy", st["device"])
            h1.in_daemon("resize2fs", st["device"])
            self.ctl(h1, "mount", "r0")
        self.assertGreater(fs_bytes(), fs_before + (SIZE_MIB << 20) * 3 // 4)
        # More than the old file system held: the new space is in use.
        files["after"] = put("after", SIZE_MIB)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="the added blocks resynced")
        events = json.loads(h2.vrrpctl("events", "--json").stdout)["events"]
        self.assertIn("resize", [e["what"] for e in events])
        # h2 takes over with everything.
        self.ctl(h1, "secondary", "r0")
        self.ctl(h2, "primary", "r0")
        self.ctl(h2, "mount", "r0")
        mnt2 = os.path.join(h2.dir, "mnt")
        for name, digest in files.items():
            self.assertEqual(h2.in_daemon("sha256sum", os.path.join(mnt2, name)).stdout.split()[0], digest, name)
        dev2 = self.status(h2)["device"]
        fsck = h2.in_daemon("sh", "-c", "umount %s && e2fsck -fn %s" % (mnt2, dev2), check=False)
        self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)
        self.ctl(h2, "secondary", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_larger_replacement_disks_keep_the_volume_size_until_a_resize(self):
        """Both disks are replaced by larger ones, one at a time, as DRBD
        users do: h2's while Secondary, then h1's under the mounted file
        system (detach and attach on the Primary). create-md gives each new
        disk all its room, yet each takes the volume's size and resyncs in
        full; nothing grows until `resize` is asked, which then uses the
        room both new disks have."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        mnt = os.path.join(h1.dir, "mnt")
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")
        files = {"before": self.put_file(h1, "before", 8)}
        size = self.status(h1)["size_kib"] * 1024

        def put_larger_blank_disk(h):
            img = os.path.join(h.dir, "r0.img")
            sh("dd", "if=/dev/zero", "of=" + img, "bs=1M", "count=%d" % SIZE_MIB, "conv=notrunc,fsync",
               "status=none")
            os.truncate(img, (SIZE_MIB + 32) << 20)

        def in_sync():
            return (self.status(h1)["disk"] == "UpToDate" and self.status(h2)["disk"] == "UpToDate"
                    and self.status(h1)["replication"] == "Established" and self.status(h1)["out_of_sync_kib"] == 0)

        def sizes():
            return (self.status(h1)["size_kib"] * 1024, self.status(h2)["size_kib"] * 1024)

        self.ctl(h2, "detach", "r0")
        put_larger_blank_disk(h2)
        self.ctl(h2, "create-md", "r0")
        self.ctl(h2, "attach", "r0")
        wait_until(in_sync, timeout=60, what="h2's new disk synced")
        self.assertEqual(sizes(), (size, size))
        self.ctl(h1, "detach", "r0")
        files["diskless"] = self.put_file(h1, "diskless", 2)
        put_larger_blank_disk(h1)
        self.ctl(h1, "create-md", "r0")
        self.ctl(h1, "attach", "r0")
        files["resync"] = self.put_file(h1, "resync", 2)
        wait_until(in_sync, timeout=60, what="h1's new disk synced")
        self.assertEqual(sizes(), (size, size))
        self.assertEqual(self.status(h1)["role"], "Primary")
        self.assertIn("grown from %d to " % size, self.ctl(h1, "resize", "r0").stdout)
        grown = self.status(h1)["size_kib"] * 1024
        self.assertGreater(grown, size + (31 << 20))
        wait_until(in_sync, timeout=60, what="the added blocks resynced")
        self.assertEqual(sizes(), (grown, grown))
        for name, digest in files.items():
            self.assertEqual(h1.in_daemon("sh", "-c", "dd if=%s bs=1M iflag=direct status=none | sha256sum"
                                          % os.path.join(mnt, name)).stdout.split()[0], digest, name)
        self.ctl(h1, "umount", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_resize_to_a_given_size_and_assume_clean(self):
        """drbdadm resize --size / --assume-clean: both backing files grow by
        sparse (zero-reading) space, as fresh thin volumes do. `resize --size
        X --assume-clean` grows both nodes to exactly X with nothing
        resynced, and an online verify then finds the copies equal (the old
        internal metadata, now inside the data area, was zeroed on both).
        A shrink below the mounted file system and malformed sizes are
        refused. A plain resize takes the rest, resynced, and the mounted
        file keeps its bytes throughout."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        # No lazy inode-table init: ext4 would otherwise write megabytes in
        # the background after the mount, which the traffic check below
        # would count.
        h1.in_daemon("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                     self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")
        digest = self.put_file(h1, "kept", 8)
        size_before = self.status(h1)["size_kib"] * 1024
        for h in (h1, h2):
            os.truncate(os.path.join(h.dir, "r0.img"), 3 * SIZE_MIB << 20)
        # Refusals change nothing.
        shrink = self.ctl(h1, "resize", "r0", "--size", str(size_before - (4 << 20)), check=False)
        self.assertEqual(shrink.returncode, 1)
        self.assertIn("file system on the volume spans %d bytes" % size_before, shrink.stderr)
        odd = self.ctl(h1, "resize", "r0", "--size", str(size_before + 1000), check=False)
        self.assertEqual(odd.returncode, 1)
        self.assertIn("is not a multiple of 4096 bytes", odd.stderr)
        bogus = self.ctl(h1, "resize", "r0", "--size", "1.5G", check=False)
        self.assertEqual(bogus.returncode, 2)
        self.assertIn("--size '1.5G' is not a size", bogus.stderr)
        misplaced = self.ctl(h1, "verify", "r0", "--assume-clean", check=False)
        self.assertEqual(misplaced.returncode, 2)
        self.assertEqual(self.status(h2)["size_kib"] * 1024, size_before)

        received_before = self.status(h2)["received_kib"]
        asked = size_before + (SIZE_MIB << 20)
        out = self.ctl(h1, "resize", "r0", "--size", "%dK" % (asked // 1024), "--assume-clean").stdout
        self.assertIn("grown from %d to %d bytes" % (size_before, asked), out)
        self.assertIn("nothing to resync", out)
        self.assert_resized_in_sync(h1, h2, asked)
        # The added 64 MiB were not sent (what ext4 writes meanwhile is; a
        # quarter of it leaves room for that, well below a resync of it).
        self.assertLess(self.status(h2)["received_kib"] - received_before, 16 * 1024)
        self.ctl(h1, "verify", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["verify_done_kib"] == self.status(h1)["size_kib"], timeout=60, what="verify done")
        self.assertEqual(self.status(h1)["verify_out_of_sync_kib"], 0)

        # A plain resize grows to what both files hold, and resyncs it.
        out = self.ctl(h1, "resize", "r0").stdout
        self.assertIn("the added blocks resync to the peer", out)
        size_after = self.status(h1)["size_kib"] * 1024
        self.assertGreater(size_after, asked + (SIZE_MIB << 20) - (1 << 20))
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="the added blocks resynced")
        self.assertEqual(self.status(h2)["size_kib"] * 1024, size_after)
        mnt = os.path.join(h1.dir, "mnt")
        self.assertEqual(h1.in_daemon("sha256sum", os.path.join(mnt, "kept")).stdout.split()[0], digest)
        self.ctl(h1, "umount", "r0")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_shrink_after_the_file_system_shrank(self):
        """drbdadm resize --size below the current size: refused while the
        ext4 file system still spans the new end, and on the Secondary.
        Once the file system is shrunk (umount, e2fsck, resize2fs), both
        nodes shrink with nothing resynced, the Primary's loop device takes
        the new size, the file is intact after a mount, and a verify finds
        the copies equal. A plain resize then grows back into the space,
        resyncing it."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        dev = self.status(h1)["device_link"]
        h1.in_daemon("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev)
        self.ctl(h1, "mount", "r0")
        digest = self.put_file(h1, "kept", 8)
        size_before = self.status(h1)["size_kib"] * 1024
        asked = 32 << 20
        refused = self.ctl(h1, "resize", "r0", "--size", "32M", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("the ext2/3/4 file system on the volume spans %d bytes, more than --size %d: shrink it first"
                      % (size_before, asked), refused.stderr)
        on_secondary = self.ctl(h2, "resize", "r0", "--size", "32M", check=False)
        self.assertEqual(on_secondary.returncode, 1)
        self.assertIn("the peer is Primary: shrink on the Primary", on_secondary.stderr)
        self.assertEqual(self.status(h2)["size_kib"] * 1024, size_before)

        self.ctl(h1, "umount", "r0")
        h1.in_daemon("e2fsck", "-f", "-p", dev)
        h1.in_daemon("resize2fs", "-f", dev, "%dK" % (asked // 1024))
        received_before = self.status(h2)["received_kib"]
        out = self.ctl(h1, "resize", "r0", "--size", "32M").stdout
        self.assertIn("r0 shrunk from %d to %d bytes on both nodes" % (size_before, asked), out)
        self.assert_resized_in_sync(h1, h2, asked)
        self.assertLess(self.status(h2)["received_kib"] - received_before, 1024, "nothing resynced")
        self.ctl(h1, "mount", "r0")
        self.assertEqual(h1.in_daemon("sha256sum", os.path.join(h1.dir, "mnt", "kept")).stdout.split()[0], digest)
        self.ctl(h1, "umount", "r0")
        self.ctl(h1, "verify", "r0")
        wait_until(lambda: self.status(h1)["replication"] == "Established" and
                   self.status(h1)["verify_done_kib"] == asked // 1024, timeout=60, what="verify done")
        self.assertEqual(self.status(h1)["verify_out_of_sync_kib"], 0)
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))
        # Restarted, h2 keeps the smaller size (it is in its metadata).
        self.assertEqual(h2.stop_vrrpd(), 0)
        self.start(h2, h1, fresh=False)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate",
                   timeout=30, what="h2 back")
        self.assertEqual(self.status(h2)["size_kib"] * 1024, asked)

        # The backing files still hold the old size: a plain resize grows
        # back into it, resynced (neither node trusts that space).
        self.assertIn("grown from %d to %d bytes" % (asked, size_before), self.ctl(h1, "resize", "r0").stdout)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=60, what="the space resynced")
        self.assertEqual(int(h1.in_daemon("blockdev", "--getsize64", self.status(h1)["device"]).stdout), size_before)
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_a_device_grown_while_the_daemon_was_down_keeps_its_metadata(self):
        """h2's backing file grows while its vrrpd is down, so its internal
        metadata is no longer at the end: `up` fails and says how to go on
        (not create-md, which would discard the metadata); `resize` on the
        resource that is down finds the metadata and moves it to the new
        end; `up` then reconnects with a bitmap resync of what h2 missed,
        and once h1's file has grown too an online resize grows both."""
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        size_before = self.status(h1)["size_kib"] * 1024
        self.assertEqual(h2.stop_vrrpd(), 0)
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=1", "seek=5",
                     "oflag=direct", "status=none")
        os.truncate(os.path.join(h2.dir, "r0.img"), 2 * SIZE_MIB << 20)
        self.start(h2, h1, fresh=False)
        wait_until(lambda: "resize r0 finds its metadata" in self.status(h2)["problem"], timeout=15,
                   what="h2's up fails with the way back")
        self.assertFalse(self.status(h2)["up"])
        out = self.ctl(h2, "resize", "r0").stdout
        self.assertIn("metadata of r0 moved from offset", out)
        self.assertIn("bytes of data as before", out)
        received_before = self.status(h2)["received_kib"]
        self.ctl(h2, "up", "r0")
        wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["replication"] == "Established"
                   and self.status(h1)["out_of_sync_kib"] == 0, timeout=30, what="h2 back and resynced")
        moved = self.status(h2)["received_kib"] - received_before
        self.assertLess(moved, 8 * 1024, "a bitmap resync of the MiB it missed, not a full one (%d KiB)" % moved)
        self.assertEqual(self.status(h2)["size_kib"] * 1024, size_before)
        os.truncate(os.path.join(h1.dir, "r0.img"), 2 * SIZE_MIB << 20)
        self.assertIn("grown from %d to " % size_before, self.ctl(h2, "resize", "r0").stdout)
        wait_until(lambda: self.status(h1)["replication"] == "Established" and self.status(h2)["disk"] == "UpToDate"
                   and self.status(h2)["replication"] == "Established", timeout=60, what="the added blocks resynced")
        size_after = self.status(h1)["size_kib"] * 1024
        self.assertGreater(size_after, size_before)
        # h1, the Primary, grew on h2's request: its device follows.
        wait_until(lambda: int(h1.in_daemon("blockdev", "--getsize64", self.status(h1)["device"]).stdout) ==
                   size_after, what="h1's device has the new size")
        self.assertEqual(self.data_digest(h1), self.data_digest(h2))

    def test_replication_check_keeps_a_node_with_stale_data_from_master(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        check = ('checks = ( { name = "data"; kind = "replication"; resource = "r0"; interval_ms = 100; '
                 'timeout_ms = 50; } );\n'
                 'vrrp_instances = ( { name = "VI_1"; interface = "eth0"; virtual_router_id = 51; priority = 200;'
                 ' advert_interval_ms = 100; virtual_addresses = ( "192.0.2.100/24" ); track_checks = ( "data" ); } );\n')
        with open(os.path.join(h1.dir, "r0.img"), "wb") as f:
            f.truncate(SIZE_MIB << 20)
        h1.start_vrrpd(resource_config(h1, h2) + check)
        self.addCleanup(h1.stop_vrrpd)
        # No metadata yet: the resource is not up, so the check is down and VI_1 FAULT.
        wait_until(lambda: h1.state("VI_1") == "FAULT", what="FAULT while r0 is not up")
        self.assertIn("check data is down: resource r0 is not up", h1.instance("VI_1")["fault_reason"])
        self.ctl(h1, "create-md", "r0")
        self.ctl(h1, "up", "r0")
        # Up but Inconsistent (never synced): still not fit to be MASTER.
        last_reason = lambda: json.loads(h1.vrrpctl("checks", "--json").stdout)["checks"][0]["last_reason"]
        wait_until(lambda: last_reason() == "disk Inconsistent, expected UpToDate", what="check sees Inconsistent")
        self.assertEqual(h1.state("VI_1"), "FAULT")
        self.ctl(h1, "primary", "--force", "r0")  # the operator declares this copy good
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="MASTER once UpToDate")
        checks = json.loads(h1.vrrpctl("checks", "--json").stdout)["checks"]
        self.assertEqual(checks[0]["kind"], "replication")
        self.assertIn("UpToDate", checks[0]["last_reason"])

    def test_wrong_secret_is_refused_and_touches_no_data(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        self.start(h1, h2, secret="s3cret-s3cret")
        self.start(h2, h1, secret="another-secret")
        for h in (h1, h2):
            self.ctl(h, "create-md", "r0")
            self.ctl(h, "up", "r0")
        wait_until(lambda: "auth" in (self.status(h1)["last_error"] + self.status(h2)["last_error"]).lower(),
                   timeout=15, what="authentication refused")
        for h in (h1, h2):
            st = self.status(h)
            self.assertNotEqual(st["connection"], "Connected")
            self.assertEqual(st["written_kib"], 0)
            self.assertEqual(st["received_kib"] < 64, True, st)

    @staticmethod
    def start_writer(host, device, seek_mib=0, argv=None):
        """In the background, a 1 MiB direct write to `device`, or `argv`
        (it waits while the daemon holds its I/O); returns the Popen, whose
        output is in its log_path. The lab reaps it after the daemons have
        stopped (which fails held I/O and so ends a waiting dd)."""
        argv = argv or ["dd", "if=/dev/urandom", "of=" + device, "bs=1M", "count=1", "seek=%d" % seek_mib,
                        "oflag=direct", "status=none"]
        return host.popen(*argv)

    @staticmethod
    def output(proc):
        with open(proc.log_path) as f:
            return f.read()

    def test_resource_and_stonith_holds_writes_until_the_peer_is_outdated(self):
        # Replication on eth1, the fence path on eth0. h2 drops off both
        # networks: h1's writes are held (no acknowledgement the peer could
        # lose by being promoted) until the fence path outdates h2; later
        # until the operator's resume-io; and a daemon stopped while holding
        # fails the held writes instead of hanging in the unmount.
        lab = Lab(hosts=2, second_link=True)
        self.addCleanup(lab.close)
        fencing = ('fencing = "resource-and-stonith"; fence_address = "{own_ipv4}"; '
                   'fence_peer_address = "{peer_ipv4}";')
        h1, h2 = self.bring_up_synced(lab, second_link=True,
                                      extra=fencing.replace("resource-and-stonith", "resource-only"))
        # Switched on by a reload, as on a pair already in service.
        for h, peer in ((h1, h2), (h2, h1)):
            self.reload(h, resource_config(h, peer, second_link=True, extra=fencing),
                        "reload: replication resource r0: changed (fencing); applied, fence path opened")
        self.assertEqual(self.status(h1)["fencing_policy"], "resource-and-stonith")
        dev = self.status(h1)["device"]

        def isolate_h2_and_write(seek_mib, hold_s, argv=None):
            """h2 off both networks, h1 suspends; a write on h1 is still
            unanswered hold_s later. Returns the writer."""
            lab.cut(h2)
            lab.cut(h2, port_prefix="q")
            wait_until(lambda: self.status(h1)["io_suspended"], timeout=10, what="h1 suspends I/O")
            self.assertIn("fencing it", self.status(h1)["io_suspended_why"])
            writer = self.start_writer(h1, dev, seek_mib, argv)
            time.sleep(hold_s)
            self.assertIsNone(writer.poll(), "a write was acknowledged while h2 could still be promoted")
            return writer

        def rejoin_h2():
            lab.restore(h2)
            lab.restore(h2, port_prefix="q")
            wait_until(lambda: self.status(h2)["disk"] == "UpToDate" and self.status(h1)["out_of_sync_kib"] == 0,
                       timeout=30, what="h2 resynced")

        writer = isolate_h2_and_write(3, hold_s=3)
        out = self.ctl(h1, "status", "r0").stdout
        self.assertIn("I/O SUSPENDED", out)
        self.assertIn("fencing (resource-and-stonith)", out)
        # The fence path comes back first: h2 is outdated, h1 answers.
        lab.restore(h2)
        wait_until(lambda: writer.poll() is not None, timeout=15, what="the held write answered")
        self.assertEqual(writer.returncode, 0, self.output(writer))
        self.assertEqual(self.status(h2)["disk"], "Outdated")
        self.assertFalse(self.status(h1)["io_suspended"])
        self.assertIn("I/O resumed: the peer is outdated", h1.log())

        # Again, and this time the operator goes on without the peer.
        rejoin_h2()
        writer = isolate_h2_and_write(5, hold_s=1)
        self.assertIn("I/O resumed", self.ctl(h1, "resume-io", "r0").stdout)
        wait_until(lambda: writer.poll() is not None, timeout=15, what="the write answered after resume-io")
        self.assertEqual(writer.returncode, 0, self.output(writer))

        # Again, with ext4 mounted and an fsync held: SIGTERM fails the held
        # writes (the file system sees EIO), the unmount goes through, and
        # the daemon leaves cleanly instead of hanging.
        rejoin_h2()
        h1.in_daemon("mkfs.ext4", "-q", "-F", self.status(h1)["device_link"])
        self.ctl(h1, "mount", "r0")
        mnt = os.path.join(h1.dir, "mnt")
        writer = isolate_h2_and_write(0, hold_s=1, argv=[
            "nsenter", "-t", str(h1.vrrpd.pid), "-m", "--", "dd", "if=/dev/urandom", "of=%s/held" % mnt, "bs=1M",
            "count=1", "conv=fsync", "status=none"])
        log_path = h1.vrrpd.log_path
        self.assertEqual(h1.stop_vrrpd(timeout=20), 0)
        writer.wait(timeout=10)
        self.assertNotEqual(writer.returncode, 0, "the held fsync must not be reported done")
        with open(log_path) as f:
            self.assertIn("I/O suspended and failing: vrrpd is stopping", f.read())

    def test_fence_peer_handler_fences_a_peer_the_fence_path_cannot_reach(self):
        # DRBD's fence-peer handler: h2 is off both networks, the fence path
        # gets no answer; after 3 s the handler runs (here a script standing
        # in for a stonith call) and its exit 7 ("the peer was stonithed")
        # counts as the peer fenced: h1 answers its held writes.
        lab = Lab(hosts=2, second_link=True)
        self.addCleanup(lab.close)
        h1, h2 = lab.hosts
        handler = os.path.join(h1.dir, "stonith-peer")
        calls = os.path.join(h1.dir, "stonith-calls")
        with open(handler, "w") as f:
            f.write('#!/bin/sh\necho "$@" >> %s\nexit 7\n' % calls)
        os.chmod(handler, 0o755)
        fencing = ('fencing = "resource-and-stonith"; fence_address = "{own_ipv4}"; '
                   'fence_peer_address = "{peer_ipv4}"; fence_peer_handler = "%s --really";' % handler)
        h1, h2 = self.bring_up_synced(lab, second_link=True, extra=fencing)
        cut_at = time.monotonic()
        lab.cut(h2)
        lab.cut(h2, port_prefix="q")
        wait_until(lambda: self.status(h1)["io_suspended"], timeout=10, what="h1 suspends I/O")
        writer = self.start_writer(h1, self.status(h1)["device"], 3)
        wait_until(lambda: writer.poll() is not None, timeout=20, what="the held write answered after the handler")
        answered_after = time.monotonic() - cut_at
        self.assertEqual(writer.returncode, 0, self.output(writer))
        with open(calls) as f:
            self.assertEqual(f.read(), "--really r0 %s\n" % h2.ipv4)
        st = self.status(h1)
        self.assertEqual((st["io_suspended"], st["peer_disk"]), (False, "Outdated"))
        self.assertIn("fence_peer_handler exit 7: the peer counts as fenced", h1.log())
        texts = [e["text"] for e in json.loads(h1.vrrpctl("events", "--json").stdout)["events"]
                 if e.get("what") == "fence-handler"]
        self.assertTrue(any(t.startswith("fence_peer_handler started: no answer on the fence path for ")
                            for t in texts), texts)
        print("\n  fence_peer_handler: the held write answered %.2f s after h2 went off both networks"
              % answered_after)

    def reload_config(self, host, peer, protocol="C", mount_dir="mnt", rate_kib=None, with_r1=False):
        """resource_config with the settings the reload tests change; with_r1
        adds a second resource r1 (its own backing file and ports)."""
        extra = 'protocol = "%s";' % protocol
        if rate_kib is not None:
            extra += " resync_rate_kib = %d;" % rate_kib
        supervision = FAST_SUPERVISION if rate_kib is None else \
            FAST_SUPERVISION.replace("ping_timeout_ms = 500", "ping_timeout_ms = 3000")
        text = resource_config(host, peer, extra=extra, supervision=supervision)
        text = text.replace(os.path.join(host.dir, "mnt"), os.path.join(host.dir, mount_dir))
        if with_r1:
            r1 = """, {
  name = "r1"; device = "%s";
  address = "%s"; port = 7791; peer_address = "%s";
  shared_secret = "s3cret-s3cret"; %s
} );
""" % (os.path.join(host.dir, "r1.img"), host.ipv4, peer.ipv4, FAST_SUPERVISION)
            text = text[:text.rindex("} );")] + "}" + r1
        return text

    def reload(self, host, text, expect):
        """Writes the config, reloads, and waits for the daemon to log `expect`
        (the replication threads apply a reload after vrrpctl has its answer)."""
        before = host.log().count(expect)
        host.write_config(text)
        host.vrrpctl("reload")
        wait_until(lambda: host.log().count(expect) > before, timeout=15, what="%s logs %r" % (host.name, expect))

    def test_reload_adjusts_a_running_resource_as_drbdadm_adjust_does(self):
        lab = self.lab()
        h1, h2 = self.bring_up_synced(lab)
        st = self.status(h1)
        self.assertEqual((st["protocol"], st["resync_rate_limit_kib"]), ("C", 102400))
        events_before = len(json.loads(h1.vrrpctl("events", "--json").stdout)["events"])

        # Live settings: applied without touching the link.
        self.reload(h1, self.reload_config(h1, h2, rate_kib=2048),
                    "reload: replication resource r0: changed (resync_rate_kib, ping_timeout_ms); applied")
        st = self.status(h1)
        self.assertEqual((st["resync_rate_limit_kib"], st["connection"], st["role"]), (2048, "Connected", "Primary"))
        self.assertIn("protocol C, resync rate limit 2.0 MiB/s", self.ctl(h1, "status", "r0").stdout)
        events = json.loads(h1.vrrpctl("events", "--json").stdout)["events"][events_before:]
        self.assertFalse([e for e in events if e["text"].startswith("connection ")], events)
        self.assertIn("reload", [e["what"] for e in events if e["source"] == "replication"])

        # Mount settings while mounted: the next mount uses them; the unmount
        # still finds the file system where it is.
        h1.in_daemon("mkfs.ext4", "-q", "-F", st["device_link"])
        self.ctl(h1, "mount", "r0")
        h1.in_daemon("sh", "-c", "echo kept > %s/file && sync" % os.path.join(h1.dir, "mnt"))
        self.reload(h1, self.reload_config(h1, h2, rate_kib=2048, mount_dir="mnt2"),
                    "used at the next mount (mounted on %s now)" % os.path.join(h1.dir, "mnt"))
        self.assertEqual(self.status(h1)["mount_point"], os.path.join(h1.dir, "mnt"))
        self.assertIn(os.path.join(h1.dir, "mnt") + " unmounted", self.ctl(h1, "umount", "r0").stdout)
        self.ctl(h1, "mount", "r0")
        st = self.status(h1)
        self.assertEqual((st["mounted"], st["mount_point"]), (True, os.path.join(h1.dir, "mnt2")))
        self.assertEqual(h1.in_daemon("cat", os.path.join(h1.dir, "mnt2", "file")).stdout, "kept\n")
        self.ctl(h1, "umount", "r0")

        # The protocol, changed on one node and then the other: the first
        # reconnects and is refused (both StandAlone, the mismatch named);
        # the second reconnects; the first, reloaded again, connects too.
        self.reload(h1, self.reload_config(h1, h2, protocol="A", rate_kib=2048, mount_dir="mnt2"),
                    "link reconnected with the new settings")
        wait_until(lambda: "protocol" in self.status(h1)["last_error"] + self.status(h2)["last_error"],
                   timeout=15, what="the protocol mismatch refused")
        wait_until(lambda: self.status(h1)["connection"] == "StandAlone" == self.status(h2)["connection"],
                   timeout=15, what="both StandAlone")
        self.reload(h2, self.reload_config(h2, h1, protocol="A"), "link reconnected with the new settings")
        self.reload(h1, self.reload_config(h1, h2, protocol="A", rate_kib=2048, mount_dir="mnt2"),
                    "): connecting again")
        wait_until(lambda: self.status(h1)["replication"] == "Established" == self.status(h2)["replication"],
                   timeout=20, what="connected again with protocol A")
        self.assertEqual((self.status(h1)["protocol"], self.status(h2)["protocol"]), ("A", "A"))
        self.assertEqual(self.status(h1)["role"], "Primary")
        # Writes under protocol A still reach the peer.
        h1.in_daemon("dd", "if=/dev/urandom", "of=" + self.status(h1)["device"], "bs=1M", "count=1", "seek=7",
                     "oflag=direct", "status=none")
        wait_until(lambda: self.status(h1)["out_of_sync_kib"] == 0 and self.status(h2)["disk"] == "UpToDate",
                   timeout=15, what="in sync")
        self.ctl(h1, "secondary", "r0")
        wait_until(lambda: self.data_digest(h1) == self.data_digest(h2), timeout=10, what="identical disks")

    def test_reload_adds_and_removes_resources(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        self.start(h1, h2)
        with open(os.path.join(h1.dir, "r1.img"), "wb") as f:
            f.truncate(SIZE_MIB << 20)
        # Added: set up at once; without metadata yet it says what to run.
        self.reload(h1, self.reload_config(h1, h2, with_r1=True), "reload: replication resource r1: added, but not up")
        self.assertIn("create-md", replication_status(h1, "r1")["problem"])
        self.ctl(h1, "create-md", "r1")
        self.ctl(h1, "up", "r1")
        self.assertTrue(replication_status(h1, "r1")["up"])
        # Removed: taken down and forgotten; r0 is untouched.
        self.reload(h1, self.reload_config(h1, h2),
                    "reload: replication resource r1: removed from the configuration: taken down and forgotten")
        gone = self.ctl(h1, "status", "r1", check=False)
        self.assertNotEqual(gone.returncode, 0)
        self.assertIn("no replication resource named 'r1'", gone.stderr)
        self.assertIn("r0", self.ctl(h1, "status").stdout)
        # A resource the operator took down stays down through a reload that changes it.
        self.ctl(h1, "create-md", "r0")
        self.ctl(h1, "up", "r0")
        self.ctl(h1, "down", "r0")
        self.reload(h1, self.reload_config(h1, h2, rate_kib=4096),
                    "reload: replication resource r0: changed (resync_rate_kib, ping_timeout_ms); it is down")
        self.assertFalse(self.status(h1)["up"])
        self.ctl(h1, "up", "r0")
        self.assertEqual(self.status(h1)["resync_rate_limit_kib"], 4096)

        # A daemon started without any resource gets its first one by a reload.
        h2.start_vrrpd('global = { router_id = "h2"; runtime_dir = "%s"; };\n' % os.path.join(h2.dir, "run"))
        self.addCleanup(h2.stop_vrrpd)
        self.assertNotEqual(self.ctl(h2, "status", "r0", check=False).returncode, 0)
        with open(os.path.join(h2.dir, "r0.img"), "wb") as f:
            f.truncate(SIZE_MIB << 20)
        self.reload(h2, self.reload_config(h2, h1), "reload done")
        wait_until(lambda: "create-md" in self.status(h2)["problem"], timeout=15, what="h2's r0 set up")
        self.ctl(h2, "create-md", "r0")
        self.ctl(h2, "up", "r0")
        wait_until(lambda: self.status(h2)["connection"] == "Connected", timeout=15, what="h2's r0 connected to h1")

if __name__ == "__main__":
    unittest.main()
