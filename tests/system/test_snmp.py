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

import os
import re
import signal
import subprocess
import time
import unittest

from lab import Lab, instance_config, native_config, sh, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
MIB_PATH = ":".join([os.path.join(HERE, "mibs"), os.path.join(ROOT, "etc"), "/usr/share/snmp/mibs"])

VRRPV3 = ".1.3.6.1.2.1.207"
OPS = VRRPV3 + ".1.1.1.1."    # vrrpv3OperationsEntry
STATS = VRRPV3 + ".1.2.5.1."  # vrrpv3StatisticsEntry
VRRPD = ".1.3.6.1.4.1.99999"
TRAP_OID = ".1.3.6.1.6.3.1.1.4.1.0"
NEW_MASTER = VRRPV3 + ".0.1"
PROMOTION_REFUSED = VRRPD + ".0.2"
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


def if_index(host, dev="eth0"):
    return int(host.run("cat", "/sys/class/net/%s/ifindex" % dev).stdout)


def snmp_global(socket=None, receivers="", ping_ms=1000, enable=True):
    s = "snmp = { enable = %s; agentx_ping_interval_ms = %d; " % ("true" if enable else "false", ping_ms)
    if socket:
        s += 'agentx_socket = "%s"; ' % socket
    if receivers:
        s += "trap_receivers = ( %s ); " % receivers
    return s + "};"


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
            self.assertEqual((r.returncode, r.stderr), (0, ""), name)
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


if __name__ == "__main__":
    unittest.main()
