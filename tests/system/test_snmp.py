"""SNMP with Debian's net-snmp: vrrpd as an AgentX subagent of a real snmpd
(started by the test with its own config, AgentX socket in the lab directory
and a UDP port inside a host namespace), notifications received by a real
snmptrapd (its own config, logging to a file), and the daemon's VRRP timing
while the master agent is absent, restarts, or the trap receiver is
unreachable.

MIB text: Debian main has no SNMPv2-SMI & co. (snmp-mibs-downloader is
non-free), so the walks and traps are checked with numeric OIDs (-On), and
the MIB files are loaded by snmptranslate with the small self-written
base-module stand-ins in tests/system/mibs/.
"""

import json
import os
import re
import signal
import time
import unittest

from lab import Lab, instance_config, native_config, sh, wait_until
from test_replication import resource_config, start_faulty_disk
from test_witness import data_node_global, witness_config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
MIB_PATH = ":".join([os.path.join(HERE, "mibs"), os.path.join(ROOT, "etc"), "/usr/share/snmp/mibs"])

VRRPV3 = ".1.3.6.1.2.1.207"
OPS = VRRPV3 + ".1.1.1.1."    # vrrpv3OperationsEntry
STATS = VRRPV3 + ".1.2.5.1."  # vrrpv3StatisticsEntry
VRRPD = ".1.3.6.1.4.1.99999"
TRAP_OID = ".1.3.6.1.6.3.1.1.4.1.0"
NEW_MASTER = VRRPV3 + ".0.1"
PROTO_ERROR = VRRPV3 + ".0.2"
PROMOTION_REFUSED = VRRPD + ".0.2"
SPLIT_BRAIN = VRRPD + ".0.3"
RESYNC_FINISHED = VRRPD + ".0.4"
DISK_ERROR = VRRPD + ".0.5"
INSTANCE_FAULT = VRRPD + ".0.1"
R0 = ".2.114.48"  # string index "r0"


def snmp_env(host):
    """No MIB loading (numeric OIDs only) and persistent files in the lab."""
    env = dict(os.environ)
    env["MIBS"] = ""
    env["SNMP_PERSISTENT_DIR"] = os.path.join(host.dir, "snmp-persist")
    return env


def parse_value(text):
    """'Hex-STRING: C0 00 02 0B' -> bytes, 'INTEGER: 3' -> 3, 'STRING: "x"' -> b'x'."""
    kind, _, rest = text.partition(": ")
    rest = rest.strip()
    if kind == "Hex-STRING":
        return bytes.fromhex(rest.replace(" ", ""))
    if kind == "STRING":
        return rest.strip('"').encode()
    if kind in ("INTEGER", "Gauge32", "Counter32", "Counter64", "Unsigned32"):
        return int(re.match(r"-?\d+", rest).group(0))
    if kind == "Timeticks":
        return int(re.search(r"\((\d+)\)", rest).group(1))
    if kind == "OID":
        return rest
    if text.strip() == '""':
        return b""
    return rest


def ip_bytes(addr):
    return bytes(int(x) for x in addr.split("."))


class Snmpd:
    """Debian's snmpd as the AgentX master in a host namespace."""

    def __init__(self, host, trap_sink=None):
        self.host = host
        self.socket = os.path.join(host.dir, "agentx.sock")
        self.address = host.ipv4
        self.conf = os.path.join(host.dir, "snmpd.conf")
        lines = ["master agentx", "agentXSocket " + self.socket, "agentXPerms 0600 0700",
                 "agentaddress udp:%s:161" % self.address, "rocommunity public default"]
        if trap_sink:
            lines.append("trap2sink %s public" % trap_sink)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.makedirs(os.path.join(host.dir, "snmp-persist"), exist_ok=True)
        self.proc = None

    def start(self):
        self.proc = self.host.popen("snmpd", "-f", "-C", "-c", self.conf, "-Lf", os.path.join(self.host.dir, "snmpd.log"),
                                    "-p", os.path.join(self.host.dir, "snmpd.pid"), env=snmp_env(self.host))
        wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, what="snmpd AgentX socket")
        if self.proc.poll() is not None:
            raise AssertionError("snmpd exited: " + open(os.path.join(self.host.dir, "snmpd.log")).read())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def walk(self, oid, from_host=None):
        """{oid: value} of an SNMPv2c walk through this snmpd."""
        h = from_host or self.host
        r = sh("ip", "netns", "exec", h.ns, "env", "MIBS=", "snmpwalk", "-v2c", "-c", "public", "-On",
               "-t", "1", "-r", "1", self.address, oid, check=False)
        out = {}
        for line in r.stdout.splitlines():
            name, sep, value = line.partition(" = ")
            if sep:
                out[name.strip()] = parse_value(value)
        return out


class Snmptrapd:
    """Debian's snmptrapd in a host namespace, one line per notification."""

    def __init__(self, host, ports=(162,), v3_user=None):
        self.host = host
        self.log = os.path.join(host.dir, "snmptrapd.log")
        conf = os.path.join(host.dir, "snmptrapd.conf")
        lines = ["authCommunity log public"]
        if v3_user:
            lines += ["createUser %s SHA authpass1 AES privpass1" % v3_user, "authUser log %s" % v3_user]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.makedirs(os.path.join(host.dir, "snmp-persist"), exist_ok=True)
        listen = ",".join("udp:%s:%d" % (host.ipv4, p) for p in ports)
        self.proc = host.popen("snmptrapd", "-f", "-C", "-c", conf, "-Lf", self.log, "-On",
                               "-F", "TRAP %P|%V|%v\n", "-p", os.path.join(host.dir, "snmptrapd.pid"), listen,
                               env=snmp_env(host))
        wait_until(lambda: "NET-SNMP version" in self.text(),
                   what="snmptrapd ready")

    def text(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log) as f:
            return f.read()

    def traps(self):
        """[(security text, {oid: value})] in arrival order."""
        out = []
        for line in self.text().splitlines():
            if True:
                if not line.startswith("TRAP "):
                    continue
                head, *vbs = line.rstrip("\n").split("|")
                binds = {}
                for vb in vbs:
                    name, _, value = vb.partition(" = ")
                    binds[name.strip()] = parse_value(value)
                out.append((head, binds))
        return out

    def of(self, trap_oid):
        return [(h, b) for h, b in self.traps() if b.get(TRAP_OID) == trap_oid]


def send_advert_with_ttl(host, ttl, vrid=51, priority=50, vip="192.0.2.100"):
    """One VRRPv3 advert from host to 224.0.0.18 with the given IP TTL (a
    correct one has 255): the receivers count a TTL error."""
    code = r"""
import socket, struct, sys
src, vrid, prio, vip, ttl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
msg = struct.pack("!BBBBHH", 0x31, vrid, prio, 1, 100, 0) + socket.inet_aton(vip)
pseudo = socket.inet_aton(src) + socket.inet_aton("224.0.0.18") + struct.pack("!BBH", 0, 112, len(msg))
msg = msg[:6] + struct.pack("!H", csum(pseudo + msg)) + msg[8:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
s.sendto(msg, ("224.0.0.18", 0))
"""
    host.run("python3", "-c", code, host.ipv4, str(vrid), str(priority), vip, str(ttl))


def if_index(host, dev="eth0"):
    return int(host.run("cat", "/sys/class/net/%s/ifindex" % dev).stdout)


def snmp_global(socket=None, receivers="", ping_ms=1000, enable=True):
    s = "snmp = { enable = %s; agentx_ping_interval_ms = %d; " % ("true" if enable else "false", ping_ms)
    if socket:
        s += 'agentx_socket = "%s"; ' % socket
    if receivers:
        s += "trap_receivers = ( %s ); " % receivers
    return s + "};"


def traps_resource_config(host, peer, receiver=None, global_extra=""):
    """resource_config() with v2c traps to `receiver` (default: the peer)
    and the AgentX subagent off."""
    receiver = receiver or peer
    return resource_config(host, peer, global_extra=global_extra).replace(
        "};\nresources", snmp_global(receivers='{ address = "%s"; }' % receiver.ipv4, enable=False) +
        " };\nresources", 1)


def owner_of_r0(extra=""):
    """VI_1 at priority 200 owning r0, held FAULT for a minute after a failed takeover."""
    return ('vrrp_instances = ( { name = "VI_1"; interface = "eth0"; virtual_router_id = 51; priority = 200;'
            ' advert_interval_ms = 100; virtual_addresses = ( "192.0.2.100/24" ); resources = ( "r0" );'
            ' %s fault_hold_ms = 60000; } );\n' % extra)


class SnmpTest(unittest.TestCase):
    def lab(self, hosts):
        lab = Lab(hosts=hosts)
        self.addCleanup(lab.close)
        return lab

    def start_vrrpd(self, host, text):
        host.start_vrrpd(text)
        self.addCleanup(host.stop_vrrpd)

    def test_mib_files_load_with_snmptranslate(self):
        """etc/VRRPD-MIB.txt and Debian's VRRPv3-MIB (module VRRPV3-MIB,
        from the keepalived package) load without errors or warnings."""
        for module, name, oid in (("VRRPD-MIB", "vrrpdDiskError", VRRPD + ".0.5"),
                                  ("VRRPD-MIB", "vrrpdResourceOutOfSyncKiB", VRRPD + ".1.2.1.9"),
                                  ("VRRPV3-MIB", "vrrpv3NewMaster", NEW_MASTER),
                                  ("VRRPV3-MIB", "vrrpv3StatisticsProtoErrReason", STATS + "6")):
            r = sh("snmptranslate", "-M", MIB_PATH, "-m", module, "-Pw", "-On", module + "::" + name, check=False)
            # On its first run on a machine, net-snmp says so when it makes
            # its persistent directories (/var/lib/snmp/...): not about the MIB.
            warnings = [line for line in r.stderr.splitlines() if not line.startswith("Created directory: ")]
            self.assertEqual((r.returncode, warnings), (0, []), name)
            self.assertEqual(r.stdout.strip(), oid)

    def test_walk_shows_instances_and_failover_sends_new_master(self):
        lab = self.lab(3)
        h1, h2, nms = lab.hosts
        trapd = Snmptrapd(nms)
        agents = {}
        for h in (h1, h2):
            agents[h.name] = Snmpd(h, trap_sink=nms.ipv4)
            agents[h.name].start()
        for h, prio in ((h1, 200), (h2, 100)):
            self.start_vrrpd(h, native_config(
                instance_config(priority=prio, interval_ms=100),
                global_extra=snmp_global(agents[h.name].socket)))
        wait_until(lambda: h1.state("VI_1") == "MASTER" and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        idx1, idx2 = ".%d.51.1" % if_index(h1), ".%d.51.1" % if_index(h2)
        wait_until(lambda: agents["h2"].walk(VRRPV3).get(OPS + "3" + idx2) == ip_bytes(h1.ipv4),
                   what="h2's walk names h1 as master")
        w1, w2 = agents["h1"].walk(VRRPV3), agents["h2"].walk(VRRPV3)
        self.assertEqual(w1[OPS + "6" + idx1], 3)  # master(3)
        self.assertEqual(w1[OPS + "7" + idx1], 200)
        self.assertEqual(w1[OPS + "3" + idx1], ip_bytes(h1.ipv4))
        self.assertEqual(w1[OPS + "4" + idx1], ip_bytes(h1.ipv4))
        self.assertEqual(w1[OPS + "9" + idx1], 10)  # 100 ms in centiseconds
        self.assertEqual(w1[OPS + "5" + idx1], bytes([0, 0, 0x5e, 0, 1, 51]))
        self.assertEqual(w1[STATS + "1" + idx1], 1)  # one transition to master
        self.assertEqual(w2[OPS + "6" + idx2], 2)  # backup(2)
        self.assertEqual(w2[OPS + "7" + idx2], 100)
        self.assertGreater(w2[STATS + "3" + idx2], 0)  # adverts received
        self.assertEqual(w2[STATS + "1" + idx2], 0)
        # The associated address table lists the VIP.
        self.assertEqual(w2[VRRPV3 + ".1.1.2.1.2" + idx2 + ".4.192.0.2.100"], 1)
        # h1's own start produced a NewMaster through its snmpd.
        wait_until(lambda: trapd.of(NEW_MASTER), what="h1's vrrpv3NewMaster at snmptrapd")
        # An advert that crossed a router (TTL 1): both count it, a
        # vrrpv3ProtoError with ipTtlError(1) follows within a refresh.
        send_advert_with_ttl(nms, 1)
        errors = wait_until(lambda: len(trapd.of(PROTO_ERROR)) >= 2 and trapd.of(PROTO_ERROR), timeout=5,
                            what="vrrpv3ProtoError from both nodes")
        self.assertEqual(sorted(b.get(STATS + "6" + idx1, b.get(STATS + "6" + idx2)) for h, b in errors), [1, 1])
        self.assertEqual(agents["h1"].walk(VRRPV3)[STATS + "5" + idx1], 1)  # vrrpv3StatisticsIpTtlErrors
        self.assertEqual(h2.state("VI_1"), "BACKUP")  # the bad advert changed nothing

        lab.cut(h1)
        wait_until(lambda: h2.state("VI_1") == "MASTER", what="h2 takes over")
        new = wait_until(lambda: [b for h, b in trapd.of(NEW_MASTER) if b.get(OPS + "3" + idx2) == ip_bytes(h2.ipv4)],
                         what="h2's vrrpv3NewMaster at snmptrapd")[0]
        self.assertEqual(new[STATS + "2" + idx2], 3)  # masterNoResponse(3)
        self.assertEqual(list(new)[:2], [".1.3.6.1.2.1.1.3.0", TRAP_OID])  # sysUpTime.0, snmpTrapOID.0
        w2 = agents["h2"].walk(VRRPV3)
        self.assertEqual(w2[OPS + "6" + idx2], 3)
        self.assertEqual(w2[OPS + "3" + idx2], ip_bytes(h2.ipv4))
        self.assertEqual(w2[STATS + "1" + idx2], 1)
        self.assertEqual(w2[STATS + "2" + idx2], 3)
        # The project MIB shows the same instance by name, with the reason.
        p2 = agents["h2"].walk(VRRPD)
        vi1 = ".4.86.73.95.49"  # "VI_1"
        self.assertEqual(p2[VRRPD + ".1.1.1.2" + vi1], 3)
        self.assertEqual(p2[VRRPD + ".1.1.1.7" + vi1], b"master down timer expired")
        # h1 comes back with the higher priority and preempts h2, which is
        # still speaking: preempted(2), not masterNoResponse(3).
        lab.restore(h1)
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 preempts")
        wait_until(lambda: [b for h, b in trapd.of(NEW_MASTER)
                            if b.get(OPS + "3" + idx1) == ip_bytes(h1.ipv4) and b.get(STATS + "2" + idx1) == 2],
                   what="h1's vrrpv3NewMaster with preempted(2)")
        self.assertEqual(agents["h1"].walk(VRRPV3)[STATS + "2" + idx1], 2)

    def faulty_disk(self, host):
        return start_faulty_disk(self, host, 64)

    def test_refused_promotion_and_disk_error_reach_v2c_and_v3_receivers(self):
        """No AgentX master at all: the notifications go straight to the
        receivers, a v2c trap and a v3 authPriv inform each."""
        lab = self.lab(2)
        h1, nms = lab.hosts
        trapd = Snmptrapd(nms, ports=(162, 10162), v3_user="vrrpd")
        device, fail = self.faulty_disk(h1)  # before vrrpd: its mount namespace copies the mount
        receivers = ('{ address = "%s"; community = "public"; }, '
                     '{ address = "%s:10162"; version = "3"; user = "vrrpd"; auth = "SHA"; auth_pass = "authpass1"; '
                     'priv = "AES"; priv_pass = "privpass1"; inform = true; }' % (nms.ipv4, nms.ipv4))
        self.start_vrrpd(h1, """global = { router_id = "h1"; runtime_dir = "%s"; %s };
resources = ( { name = "r0"; device = "%s"; address = "%s"; port = 7789; peer_address = "%s";
  shared_secret = "s3cret-s3cret"; connect_interval_ms = 300; } );
""" % (os.path.join(h1.dir, "run"), snmp_global(os.path.join(h1.dir, "no-master.sock"), receivers), device,
       h1.ipv4, nms.ipv4))
        h1.vrrpctl("replication", "create-md", "r0")
        h1.vrrpctl("replication", "up", "r0")
        # Inconsistent data (never synced): primary is refused.
        refused = h1.vrrpctl("replication", "primary", "r0", check=False)
        self.assertEqual(refused.returncode, 1)
        got = wait_until(lambda: len(trapd.of(PROMOTION_REFUSED)) == 2 and trapd.of(PROMOTION_REFUSED),
                         what="vrrpdPromotionRefused as v2c trap and v3 inform")
        self.assertEqual(sorted("SNMP v3" in h for h, b in got), [False, True])
        self.assertTrue(any("user vrrpd" in h or "vrrpd" in h for h, b in got if "SNMP v3" in h), got)
        for _, b in got:
            self.assertEqual(b[VRRPD + ".1.2.1.4" + R0], b"Inconsistent")
            self.assertIn(b"vrrpctl replication primary r0", b[VRRPD + ".1.4.1.0"])
        # The operator forces it; then the disk fails a write.
        h1.vrrpctl("replication", "primary", "--force", "r0")
        fail("fail-writes")
        dev = json.loads(h1.vrrpctl("replication", "status", "r0", "--json").stdout)["resources"][0]["device"]
        h1.in_daemon("dd", "if=/dev/zero", "of=" + dev, "bs=64k", "count=1", "oflag=direct", "status=none",
                     check=False)
        got = wait_until(lambda: len(trapd.of(DISK_ERROR)) >= 2 and trapd.of(DISK_ERROR),
                         what="vrrpdDiskError at both receivers")
        for _, b in got:
            self.assertGreaterEqual(b[VRRPD + ".1.2.1.10" + R0], 1)  # io errors
            self.assertIn(b"disk I/O error", b[VRRPD + ".1.4.1.0"])
        # The absent master was reported, but not at every 1 s ping.
        time.sleep(3)
        agentx_lines = [l for l in h1.log().splitlines() if "SNMP:" in l and "agentx" in l.lower()]
        self.assertLessEqual(len(agentx_lines), 2, agentx_lines)

    def test_vrrp_keeps_its_timing_while_snmpd_is_absent_restarts_and_receivers_are_unreachable(self):
        """h1 (MASTER, 100 ms adverts) runs the agent; its snmpd starts late,
        is killed and restarted, and its trap receivers do not exist (a v3
        inform waits for engine discovery, a v2c trap goes nowhere). h2
        (BACKUP) must hear every advert in time: it never takes over."""
        lab = self.lab(2)
        h1, h2 = lab.hosts
        snmpd = Snmpd(h1)  # started later
        nowhere = ('{ address = "192.0.2.99"; version = "3"; user = "u"; auth = "SHA"; auth_pass = "authpass1"; '
                   'inform = true; }, { address = "192.0.2.98"; }')
        self.start_vrrpd(h1, native_config(instance_config(priority=200, interval_ms=100),
                                           global_extra=snmp_global(snmpd.socket, nowhere)))
        self.start_vrrpd(h2, native_config(instance_config(priority=100, interval_ms=100)))
        wait_until(lambda: h1.state("VI_1") == "MASTER" and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        stats = lambda h: json.loads(h.vrrpctl("stats", "--json").stdout)["instances"]["VI_1"]
        before, started = stats(h2), time.monotonic()
        idx = ".%d.51.1" % if_index(h1)
        time.sleep(2)  # no master agent at all
        snmpd.start()
        wait_until(lambda: snmpd.walk(VRRPV3).get(OPS + "6" + idx) == 3, timeout=10,
                   what="the subagent connects to the late snmpd")
        snmpd.kill()
        time.sleep(2)
        snmpd.start()
        wait_until(lambda: snmpd.walk(VRRPV3).get(OPS + "6" + idx) == 3, timeout=10,
                   what="the subagent reconnects to the restarted snmpd")
        h1.vrrpctl("maintenance", "VI_1", "on")  # notifications to the unreachable receivers
        wait_until(lambda: h2.state("VI_1") == "MASTER", what="h2 MASTER while h1 is in maintenance")
        h1.vrrpctl("maintenance", "VI_1", "off")
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 preempts back")
        # While h1 was master on its own, h2 never timed out on it: exactly the
        # two transitions asked for, and adverts kept coming.
        after, elapsed = stats(h2), time.monotonic() - started
        self.assertEqual(after["transitions"] - before["transitions"], 2, after)
        self.assertGreater(after["adverts_received"] - before["adverts_received"], elapsed / 0.1 * 0.5)
        self.assertEqual(stats(h1)["became_master"], 2)
        # An absent master agent is not logged at every 1 s ping.
        snmp_lines = [l for l in h1.log().splitlines() if " SNMP: " in l]
        self.assertLessEqual(len(snmp_lines), 12, "\n".join(snmp_lines))

    def test_takeover_refused_at_primary_notifies_refusal_and_fault(self):
        """An instance that owns r0 wins the election, but r0 has no metadata
        yet: its takeover fails at `primary`, so vrrpdPromotionRefused and
        vrrpdInstanceFault go out (and vrrpv3NewMaster before them)."""
        lab = self.lab(2)
        h1, nms = lab.hosts
        trapd = Snmptrapd(nms)
        with open(os.path.join(h1.dir, "r0.img"), "wb") as f:
            f.truncate(16 << 20)
        text = traps_resource_config(h1, nms)
        text += owner_of_r0()
        self.start_vrrpd(h1, text)
        refused = wait_until(lambda: trapd.of(PROMOTION_REFUSED), what="vrrpdPromotionRefused")[0][1]
        self.assertIn(b"VI_1: takeover failed: primary r0", refused[VRRPD + ".1.4.1.0"])
        fault = wait_until(lambda: trapd.of(INSTANCE_FAULT), what="vrrpdInstanceFault")[0][1]
        vi1 = ".4.86.73.95.49"
        self.assertEqual(fault[VRRPD + ".1.1.1.2" + vi1], 4)  # fault(4)
        self.assertIn(b"takeover failed: primary r0", fault[VRRPD + ".1.1.1.8" + vi1])
        self.assertEqual(h1.state("VI_1"), "FAULT")

    def test_takeover_refused_at_the_witness_claim_notifies_refusal(self):
        """With a witness, the takeover's first step claims the witness's
        lease. A witness that has just started gives fresh leases to nobody
        for two lease times (an old holder may still renew), so h1's claim is
        refused until its takeover times out: vrrpdPromotionRefused names r0
        and the witness's answer."""
        lab = self.lab(2)
        h1, nms = lab.hosts
        trapd = Snmptrapd(nms)
        self.start_vrrpd(nms, witness_config(nms))
        with open(os.path.join(h1.dir, "r0.img"), "wb") as f:
            f.truncate(16 << 20)
        text = traps_resource_config(h1, nms, global_extra=data_node_global(nms.ipv4))
        text += owner_of_r0("takeover_timeout_ms = 1000;")
        self.start_vrrpd(h1, text)
        refused = wait_until(lambda: trapd.of(PROMOTION_REFUSED), what="vrrpdPromotionRefused")[0][1]
        self.assertIn(b"VI_1: takeover failed: claim VI_1", refused[VRRPD + ".1.4.1.0"])
        self.assertIn(b"the witness gives VI_1 to nobody yet", refused[VRRPD + ".1.4.1.0"])
        self.assertEqual(h1.state("VI_1"), "FAULT")
        self.assertEqual(json.loads(h1.vrrpctl("replication", "status", "r0", "--json").stdout)["resources"][0]["role"],
                         "Secondary")

    def test_resync_finished_and_split_brain_are_notified(self):
        """Two nodes mirror r0 and send v2c traps to a third: the initial
        sync's end and a split brain (both wrote while the link was cut)."""
        lab = self.lab(3)
        h1, h2, nms = lab.hosts
        trapd = Snmptrapd(nms)
        for h, peer in ((h1, h2), (h2, h1)):
            with open(os.path.join(h.dir, "r0.img"), "wb") as f:
                f.truncate(16 << 20)
            text = traps_resource_config(h, peer, receiver=nms)
            self.start_vrrpd(h, text)
        status = lambda h: json.loads(h.vrrpctl("replication", "status", "r0", "--json").stdout)["resources"][0]
        for h in (h1, h2):
            h.vrrpctl("replication", "create-md", "r0")
            h.vrrpctl("replication", "up", "r0")
        wait_until(lambda: status(h1)["connection"] == "Connected" and status(h2)["connection"] == "Connected",
                   timeout=15, what="r0 connected")
        h1.vrrpctl("replication", "primary", "--force", "r0")  # the initial full sync h1 -> h2
        got = wait_until(lambda: len(trapd.of(RESYNC_FINISHED)) >= 2 and trapd.of(RESYNC_FINISHED), timeout=60,
                         what="vrrpdResyncFinished from both nodes")
        for _, b in got:
            self.assertEqual(b[VRRPD + ".1.2.1.4" + R0], b"UpToDate")
            self.assertEqual(b[VRRPD + ".1.2.1.9" + R0], 0)  # nothing out of sync
        # Diverge: each side is Primary and writes while the link is cut.
        h1.vrrpctl("replication", "secondary", "r0")
        lab.cut(h2)
        wait_until(lambda: status(h1)["connection"] != "Connected" and status(h2)["connection"] != "Connected",
                   timeout=15, what="both see the cut")
        for h in (h1, h2):
            h.vrrpctl("replication", "primary", "r0")
            h.in_daemon("dd", "if=/dev/urandom", "of=" + status(h)["device"], "bs=1M", "count=1", "oflag=direct",
                        "status=none")
            h.vrrpctl("replication", "secondary", "r0")
        lab.restore(h2)
        got = wait_until(lambda: len(trapd.of(SPLIT_BRAIN)) >= 2 and trapd.of(SPLIT_BRAIN), timeout=30,
                         what="vrrpdSplitBrain from both nodes")
        for _, b in got:
            self.assertIn(b"split brain", b[VRRPD + ".1.4.1.0"])


if __name__ == "__main__":
    unittest.main()
