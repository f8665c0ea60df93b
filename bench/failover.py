#!/usr/bin/env python3
"""Failover benchmark: vrrpd pair vs keepalived pair, as a client sees it.

Three network namespaces on one bridge (tests/system/lab.py): h1 (master,
priority 200) and h2 (backup, priority 100) run the same implementation
(never mixed), VRRPv3 IPv4, VIP 192.0.2.100/24; each runs a tiny UDP
responder on 0.0.0.0:PORT that answers with its own host name. h3 runs a
client that sends a datagram to VIP:PORT every 5 ms and logs, on
CLOCK_MONOTONIC, every reply (send time, receive time, who), every VRRP
advert it hears (224.0.0.18: source, priority) and every ARP packet (so the
new master's gratuitous ARP). The fault (link cut of h1 at the switch, or
SIGTERM to h1's daemon) is injected after the pair has settled with h1 as
master, right after one of h1's adverts (--phase random: anywhere in the
interval); t0 is taken with CLOCK_MONOTONIC in this process right before the
fault (one clock for all namespaces on one machine). Each run uses a fresh lab.

To make two namespaces on one 2-core machine behave more like two machines,
h1's daemon and responder are pinned to CPU 0 and h2's to CPU 1 (--no-pin),
and the client and responders run SCHED_FIFO (--no-rt) so that the measuring
side is not delayed by the daemons. keepalived runs with -G (no syslog), as
vrrpd runs with -S: without a syslog daemon glibc writes each keepalived log
line to /dev/console, which stalls it for milliseconds.

Per run:
  takeover = first reply from h2 - t0
  outage   = first reply from h2 - last reply from h1
  detect   = first advert from h2 - reference advert from h1, where the
             reference is h1's last advert (link cut) or h1's priority-0
             advert (SIGTERM): what RFC 5798 specifies as the master-down
             interval / skew time, independent of the fault's phase.
  garp     = first gratuitous ARP from h2 - first advert from h2
  own      = (vrrpd only) h2's last_transition from vrrpctl, relative to t0

Run as root:
  python3 bench/failover.py [--runs N] [--intervals 1000,100]
                            [--faults cut,sigterm] [--json out.json]
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in tests/system
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))
import lab as labmod  # noqa: E402
from lab import Lab, instance_config, native_config, wait_until  # noqa: E402

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
VIP = "192.0.2.100"
VIP_CIDR = VIP + "/24"
PORT = 4790
VRID = 51
PRIO_MASTER, PRIO_BACKUP = 200, 100
PROBE_MS = 5
SETTLE_S = 1.0          # client must get replies from h1 for this long before the fault
SETTLE_TIMEOUT_S = 15.0
POST_S = 0.5            # keep listening this long after the first reply from h2


def mono():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


@contextlib.contextmanager
def pinned(cpus):
    """Processes started inside inherit this CPU affinity (None: no change)."""
    if cpus is None:
        yield
        return
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


# --------------------------------------------------------------------------
# Scripts run inside the namespaces (python3 stdlib only).

RESPONDER = r'''
import os, socket, sys, time
name, port, duration, rt = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
if rt:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
end = time.clock_gettime(time.CLOCK_MONOTONIC) + duration
prefix = name.encode() + b" "
while True:
    left = end - time.clock_gettime(time.CLOCK_MONOTONIC)
    if left <= 0:
        break
    s.settimeout(min(left, 0.5))
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    try:
        s.sendto(prefix + data, addr)
    except OSError:
        pass
'''

CLIENT = r'''
# Client: probes VIP:port every PROBE ms; logs (CLOCK_MONOTONIC seconds)
#   R recv_t send_t seq who      a reply
#   A recv_t src priority vrid   a VRRP advert heard on 224.0.0.18
#   G recv_t op sender_mac sender_ip target_ip   an ARP packet
#   X t errno                    a failed send
#   E sent N errors N            at exit
import errno, os, select, signal, socket, struct, sys, time
vip, port, probe_ms, duration, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rt = int(sys.argv[6])
if rt:  # the client stands for another machine: the lab's daemons must not delay it
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))
mono = lambda: time.clock_gettime(time.CLOCK_MONOTONIC)
stop = False
def on_term(signum, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

f = open(out, "w", buffering=1)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setblocking(False)
vrrp = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
mreq = struct.pack("4s4si", socket.inet_aton("224.0.0.18"), socket.inet_aton("0.0.0.0"),
                   socket.if_nametoindex("eth0"))
vrrp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
vrrp.setblocking(False)
arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
arp.bind(("eth0", 0))
arp.setblocking(False)

period = probe_ms / 1000.0
start = mono()
end = start + duration
next_send = start
seq = 0
errors = 0
while not stop:
    now = mono()
    if now >= end:
        break
    if now >= next_send:
        seq += 1
        try:
            udp.sendto(b"%d %.6f" % (seq, now), (vip, port))
        except OSError as e:
            errors += 1
            f.write("X %.6f %d\n" % (now, e.errno or 0))
        next_send += period
        if next_send <= now:  # fell behind: no burst
            next_send = now + period
    timeout = max(0.0, min(next_send, end) - mono())
    try:
        ready, _, _ = select.select([udp, vrrp, arp], [], [], timeout)
    except InterruptedError:
        continue
    for s in ready:
        while True:
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            t = mono()
            if s is udp:
                parts = data.split()
                if len(parts) == 3:
                    f.write("R %.6f %s %s %s\n" % (t, parts[2].decode(), parts[1].decode(), parts[0].decode()))
            elif s is vrrp:
                ihl = (data[0] & 0x0F) * 4
                if len(data) >= ihl + 4:
                    src = socket.inet_ntoa(data[12:16])
                    f.write("A %.6f %s %d %d\n" % (t, src, data[ihl + 2], data[ihl + 1]))
            else:
                a = data[14:]
                if len(a) >= 28 and a[2:4] == b"\x08\x00":
                    op = struct.unpack("!H", a[6:8])[0]
                    sha = ":".join("%02x" % b for b in a[8:14])
                    f.write("G %.6f %d %s %s %s\n" % (t, op, sha, socket.inet_ntoa(a[14:18]), socket.inet_ntoa(a[24:28])))
f.write("E sent %d errors %d rt %d\n" % (seq, errors, os.sched_getscheduler(0) == os.SCHED_FIFO))
f.close()
'''


class ClientLog:
    """Reads the client's log incrementally (it is written while we read)."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.partial = b""
        self.replies = []   # (recv_t, send_t, seq, who)
        self.adverts = []   # (t, src, prio, vrid)
        self.arps = []      # (t, op, sha, spa, tpa)
        self.errors = []    # (t, errno)
        self.summary = None

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        self.off += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            p = line.decode().split()
            if not p:
                continue
            if p[0] == "R":
                self.replies.append((float(p[1]), float(p[2]), int(p[3]), p[4]))
            elif p[0] == "A":
                self.adverts.append((float(p[1]), p[2], int(p[3]), int(p[4])))
            elif p[0] == "G":
                self.arps.append((float(p[1]), int(p[2]), p[3], p[4], p[5]))
            elif p[0] == "X":
                self.errors.append((float(p[1]), int(p[2])))
            elif p[0] == "E":
                self.summary = {"sent": int(p[2]), "send_errors": int(p[4]), "rt": p[6:7] == ["1"]}


# --------------------------------------------------------------------------
# The two implementations.

def rfc_figures(interval_ms):
    skew = (256 - PRIO_BACKUP) * interval_ms / 256.0
    return {"master_down_ms": 3 * interval_ms + skew, "skew_ms": skew}


class VrrpdPair:
    name = "vrrpd"

    def __init__(self, interval_ms):
        self.interval_ms = interval_ms
        self.h1 = self.h2 = None

    def config(self, prio):
        return native_config(instance_config(name="VI_1", vrid=VRID, priority=prio, interval_ms=self.interval_ms,
                                             vips=(VIP_CIDR,), extra="    version = 3;"))

    def start(self, host, prio):
        setattr(self, host.name, host)
        host.start_vrrpd(self.config(prio))

    def roles_ok(self):
        try:
            return self.h1.state("VI_1") == "MASTER" and self.h2.state("VI_1") == "BACKUP"
        except Exception:
            return False

    def kill_master(self):
        self.h1.vrrpd.send_signal(signal.SIGTERM)

    def own_view(self, host):
        try:
            inst = json.loads(host.vrrpctl("show", "VI_1", "--json").stdout)
        except Exception as e:  # noqa: BLE001
            return {"error": str(e)}
        t = inst.get("last_transition", {})
        return {"state": inst.get("state"), "from": t.get("from"), "to": t.get("to"),
                "reason": t.get("reason"), "time_realtime_ms": t.get("time_ms"),
                "priority_zero_received": inst.get("stats", {}).get("priority_zero_received"),
                "garp_sent": inst.get("stats", {}).get("garp_sent")}

    def stop(self):
        for h in (self.h1, self.h2):
            if h is None:
                continue
            try:
                h.stop_vrrpd(signal.SIGTERM, timeout=5)
            except Exception:  # noqa: BLE001
                pass  # Lab.close() kills what is left


class KeepalivedPair:
    name = "keepalived"

    def __init__(self, interval_ms):
        self.interval_ms = interval_ms
        self.procs = {}
        self.h1 = self.h2 = None

    def config(self, prio):
        advert_int = "%g" % (self.interval_ms / 1000.0)
        return """global_defs {
    router_id bench_%d
    vrrp_version 3
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int %s
    virtual_ipaddress {
        %s
    }
}
""" % (prio, VRID, prio, advert_int, VIP_CIDR)

    def start(self, host, prio):
        setattr(self, host.name, host)
        path = host.write_config(self.config(prio), "keepalived.conf")
        d = host.dir
        # -G (no syslog) like vrrpd's -S: this machine has no syslog daemon, and
        # glibc's syslog() then writes every line to /dev/console, which blocks
        # keepalived for milliseconds per line (seen with strace).
        self.procs[host.name] = host.popen(
            KEEPALIVED, "-n", "-l", "-D", "-G", "-P", "-f", path, "-p", os.path.join(d, "ka.pid"),
            "-r", os.path.join(d, "ka-vrrp.pid"), "-c", os.path.join(d, "ka-check.pid"))
        time.sleep(0.05)
        p = self.procs[host.name]
        if p.poll() is not None:
            raise RuntimeError("keepalived on %s exited with %d" % (host.name, p.returncode))

    def roles_ok(self):
        return True  # checked through the VIP and the adverts

    def kill_master(self):
        self.procs["h1"].send_signal(signal.SIGTERM)

    def own_view(self, host):
        return None

    def stop(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # Lab.close() kills it
        # The VRRP child must not outlive its parent (Lab.close() SIGKILLs the parent only).
        for h in (self.h1, self.h2):
            if h is None:
                continue
            for name in ("ka-vrrp.pid", "ka.pid"):
                try:
                    pid = int(open(os.path.join(h.dir, name)).read().split()[0])
                    cmdline = open("/proc/%d/cmdline" % pid, "rb").read()
                    if b"keepalived" in cmdline and h.dir.encode() in cmdline:  # ours
                        os.kill(pid, signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass


# --------------------------------------------------------------------------

def settled(pair, log, h1, h2, interval_ms):
    """h1 holds the VIP, h2 does not, only h1 adverts (priority 200), and the
    client got replies only from h1, without gaps, for the last SETTLE_S."""
    now = mono()
    log.poll()
    if not log.replies or log.replies[0][0] > now - SETTLE_S:
        return False
    recent = [r for r in log.replies if r[0] >= now - SETTLE_S]
    if len(recent) < 0.5 * SETTLE_S * 1000 / PROBE_MS:
        return False
    if any(r[3] != "h1" for r in recent):
        return False
    idx = len(log.replies) - len(recent)
    times = ([log.replies[idx - 1][0]] if idx > 0 else []) + [r[0] for r in recent] + [now]
    if max(b - a for a, b in zip(times, times[1:])) > 0.05:
        return False
    window = max(SETTLE_S, 2.5 * interval_ms / 1000.0)
    ads = [a for a in log.adverts if a[0] >= now - window and a[3] == VRID]
    if not ads or any(a[1] != h1.ipv4 or a[2] != PRIO_MASTER for a in ads):
        return False
    return h1.has_address(VIP) and not h2.has_address(VIP) and pair.roles_ok()


def first(seq, pred):
    for x in seq:
        if pred(x):
            return x
    return None


def analyse(log, t0, fault, h1, h2, macs, interval_ms):
    rfc = rfc_figures(interval_ms)
    rfc_ms = rfc["master_down_ms"] if fault == "cut" else rfc["skew_ms"]
    r = {"rfc_ms": rfc_ms, "t0": t0}
    fr = first(log.replies, lambda x: x[3] == "h2" and x[0] > t0)
    r["h2_replies_before_fault"] = sum(1 for x in log.replies if x[3] == "h2" and x[0] <= t0)
    r["probes_sent"] = log.summary["sent"] if log.summary else None
    r["send_errors"] = len(log.errors)
    if fr is None:
        r["error"] = "no reply from h2 after the fault"
        return r
    r["first_h2_reply"] = fr[0]
    r["takeover_ms"] = (fr[0] - t0) * 1000
    h1_before = [x for x in log.replies if x[3] == "h1" and x[0] < fr[0]]
    if h1_before:
        r["last_h1_reply"] = h1_before[-1][0]
        r["outage_ms"] = (fr[0] - h1_before[-1][0]) * 1000
    r["h1_replies_after_takeover"] = sum(1 for x in log.replies if x[3] == "h1" and x[0] > fr[0])
    r["h1_replies_after_t0"] = sum(1 for x in log.replies if x[3] == "h1" and x[0] > t0)
    # Protocol view from h3's raw sockets.
    ads = [a for a in log.adverts if a[3] == VRID]
    h1_before_t0 = [a for a in ads if a[1] == h1.ipv4 and a[2] > 0 and a[0] <= t0]
    if h1_before_t0:
        r["phase_ms"] = (t0 - h1_before_t0[-1][0]) * 1000  # t0 - h1's last advert before the fault
    fa = first(ads, lambda a: a[1] == h2.ipv4 and a[0] > t0)
    if fault == "cut":
        before = [a for a in ads if a[1] == h1.ipv4 and a[2] > 0 and (fa is None or a[0] < fa[0])]
        ref = before[-1] if before else None
    else:
        ref = first(ads, lambda a: a[1] == h1.ipv4 and a[2] == 0 and a[0] > t0)
    r["h1_priority0_adverts"] = sum(1 for a in ads if a[1] == h1.ipv4 and a[2] == 0 and a[0] > t0)
    if ref:
        r["ref_advert"] = ref[0]
        r["ref_advert_after_t0_ms"] = (ref[0] - t0) * 1000
    if fa:
        r["first_h2_advert"] = fa[0]
        r["first_h2_advert_ms"] = (fa[0] - t0) * 1000
        if ref:
            r["detect_ms"] = (fa[0] - ref[0]) * 1000
    garp = first(log.arps, lambda g: g[0] > t0 and g[3] == VIP and g[2] == macs["h2"])
    if garp:
        r["first_h2_garp_ms"] = (garp[0] - t0) * 1000
        if fa:
            r["garp_after_advert_ms"] = (garp[0] - fa[0]) * 1000
    r["h2_garps"] = sum(1 for g in log.arps if g[0] > t0 and g[3] == VIP and g[2] == macs["h2"])
    r["takeover_ratio"] = r["takeover_ms"] / rfc_ms
    if "detect_ms" in r:
        r["detect_ratio"] = r["detect_ms"] / rfc_ms
    return r


def mac_of(host):
    return json.loads(host.run("ip", "-j", "link", "show", "dev", "eth0").stdout)[0]["address"]


def one_run(impl, fault, interval_ms, clock_offset, opts, tag=""):
    pair = (VrrpdPair if impl == "vrrpd" else KeepalivedPair)(interval_ms)
    rfc = rfc_figures(interval_ms)
    interval_s = interval_ms / 1000.0
    startup_timeout = rfc["master_down_ms"] / 1000.0 + 8
    takeover_timeout = rfc["master_down_ms"] / 1000.0 + 3
    client_duration = SETTLE_TIMEOUT_S + (2 * interval_s + 1) + takeover_timeout + POST_S + 2
    result = {"impl": impl, "fault": fault, "interval_ms": interval_ms}
    with Lab(hosts=3) as lab:
        h1, h2, h3 = lab.hosts
        try:
            resp = os.path.join(lab.dir, "responder.py")
            client = os.path.join(lab.dir, "client.py")
            with open(resp, "w") as f:
                f.write(RESPONDER)
            with open(client, "w") as f:
                f.write(CLIENT)
            macs = {h.name: mac_of(h) for h in (h1, h2)}
            for h, prio in ((h1, PRIO_MASTER), (h2, PRIO_BACKUP)):
                with pinned(opts.cpus.get(h.name)):
                    h.popen(sys.executable, resp, h.name, str(PORT), str(startup_timeout + client_duration + 5),
                            str(opts.rt))
                    pair.start(h, prio)
            wait_until(lambda: h1.has_address(VIP) and not h2.has_address(VIP), timeout=startup_timeout,
                       interval=0.05, what="%s: h1 MASTER with the VIP" % impl)
            out = os.path.join(h3.dir, "client.out")
            cp = h3.popen(sys.executable, client, VIP, str(PORT), str(PROBE_MS), "%.3f" % client_duration, out,
                          str(opts.rt))
            log = ClientLog(out)
            wait_until(lambda: settled(pair, log, h1, h2, interval_ms), timeout=SETTLE_TIMEOUT_S,
                       interval=0.05, what="%s: settled with h1 as master" % impl)
            if opts.phase == "random":
                time.sleep(random.uniform(0, interval_s))
            else:
                # Fault right after one of h1's adverts: every run then starts at
                # the same point of h2's master-down timer (else the takeover
                # measured from t0 varies by up to one interval with the phase).
                n0 = len(log.adverts)
                wait_until(lambda: log.poll() or any(a[1] == h1.ipv4 for a in log.adverts[n0:]),
                           timeout=2 * interval_s + 1, interval=0.001, what="%s: an advert from h1" % impl)
            t0 = mono()
            if fault == "cut":
                lab.cut(h1)
            else:
                pair.kill_master()
            t_fault_done = mono()
            deadline = t0 + takeover_timeout
            got = None
            while mono() < deadline:
                log.poll()
                got = first(reversed(log.replies), lambda x: x[3] == "h2" and x[0] > t0)
                if got:
                    break
                time.sleep(0.005)
            if got:
                time.sleep(POST_S)
            own = pair.own_view(h2)
            cp.send_signal(signal.SIGTERM)
            try:
                cp.wait(timeout=5)
            except subprocess.TimeoutExpired:
                cp.kill()
            log.poll()
            result.update(analyse(log, t0, fault, h1, h2, macs, interval_ms))
            result["fault_cmd_ms"] = (t_fault_done - t0) * 1000
            if own:
                if own.get("time_realtime_ms"):
                    own["transition_after_t0_ms"] = own["time_realtime_ms"] / 1000.0 - clock_offset - t0
                    own["transition_after_t0_ms"] *= 1000
                result["own_view"] = own
        finally:
            pair.stop()
            if opts.logs:
                dest = os.path.join(opts.logs, tag)
                shutil.copytree(lab.dir, dest, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.sock", "*.py"))
    return result


def clock_offset():
    """CLOCK_REALTIME - CLOCK_MONOTONIC in seconds (to place vrrpd's
    wall-clock transition times on the monotonic timeline)."""
    best = None
    for _ in range(20):
        a = mono()
        r = time.clock_gettime(time.CLOCK_REALTIME)
        b = mono()
        if best is None or b - a < best[0]:
            best = (b - a, r - (a + b) / 2)
    return best[1]


# --------------------------------------------------------------------------
# Report.

def fmt_stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-", None
    med = statistics.median(vals)
    return ("%.0f [%.0f-%.0f]" % (med, min(vals), max(vals)) if med >= 100 else
            "%.1f [%.1f-%.1f]" % (med, min(vals), max(vals))), med


def report(results, impls, faults, intervals):
    lines = []
    hdr = ("%-10s %-7s %6s %3s | %-20s %-20s %-20s | %7s %8s %8s | %-11s" %
           ("impl", "fault", "int", "n", "takeover ms", "outage ms", "detect ms",
            "RFC ms", "tko/RFC", "det/RFC", "garp ms"))
    lines.append("median [min-max] over n runs; takeover = first h2 reply - t0; outage = first h2 reply - "
                 "last h1 reply;")
    lines.append("detect = first h2 advert - h1's last advert (cut) / h1's priority-0 advert (sigterm); "
                 "RFC = master-down interval (cut) / skew time (sigterm);")
    lines.append("garp = first gratuitous ARP from h2 - first advert from h2; the client probes every %d ms, so "
                 "takeover and outage have %d ms resolution" % (PROBE_MS, PROBE_MS))
    lines.append(hdr)
    lines.append("-" * len(hdr))
    medians = {}
    for fault in faults:
        for iv in intervals:
            for impl in impls:
                rs = [r for r in results if r["impl"] == impl and r["fault"] == fault and r["interval_ms"] == iv]
                if not rs:
                    continue
                ok = [r for r in rs if "takeover_ms" in r]
                tko, tko_med = fmt_stats([r.get("takeover_ms") for r in ok])
                out, out_med = fmt_stats([r.get("outage_ms") for r in ok])
                det, det_med = fmt_stats([r.get("detect_ms") for r in ok])
                garp, _ = fmt_stats([r.get("garp_after_advert_ms") for r in ok])
                rfc_ms = rs[0]["rfc_ms"]
                medians[(impl, fault, iv)] = (tko_med, out_med, det_med)
                n = "%d" % len(ok) if len(ok) == len(rs) else "%d/%d" % (len(ok), len(rs))
                lines.append("%-10s %-7s %4dms %3s | %-20s %-20s %-20s | %7.1f %8s %8s | %-11s" % (
                    impl, fault, iv, n, tko, out, det, rfc_ms,
                    "%.3f" % (tko_med / rfc_ms) if tko_med is not None else "-",
                    "%.3f" % (det_med / rfc_ms) if det_med is not None else "-", garp))
    if "vrrpd" in impls and "keepalived" in impls:
        lines.append("")
        hdr2 = "%-7s %6s | %-28s | %-28s | %-28s" % ("fault", "int", "takeover vrrpd/keepalived",
                                                      "outage vrrpd/keepalived", "detect vrrpd/keepalived")
        lines.append("ratio of medians (vrrpd / keepalived; < 1 means vrrpd is faster)")
        lines.append(hdr2)
        lines.append("-" * len(hdr2))
        for fault in faults:
            for iv in intervals:
                a, b = medians.get(("vrrpd", fault, iv)), medians.get(("keepalived", fault, iv))
                if not a or not b:
                    continue
                cells = []
                for x, y in zip(a, b):
                    if x is None or not y:
                        cells.append("-")
                    else:
                        fmt = "%.0f / %.0f = %.3f" if max(x, y) >= 1000 else "%.1f / %.1f = %.3f"
                        cells.append(fmt % (x, y, x / y))
                lines.append("%-7s %4dms | %-28s | %-28s | %-28s" % (fault, iv, *cells))
    return "\n".join(lines)


def run_line(r, i, n):
    s = "%-10s %-7s %5dms run %d/%d: " % (r["impl"], r["fault"], r["interval_ms"], i, n)
    if "takeover_ms" not in r:
        return s + "FAILED: " + r.get("error", "?")
    if "phase_ms" in r:
        s += "phase %5.1f ms, " % r["phase_ms"]
    s += "takeover %7.1f ms (%.3f x RFC %.1f)" % (r["takeover_ms"], r["takeover_ratio"], r["rfc_ms"])
    if "outage_ms" in r:
        s += ", outage %7.1f ms" % r["outage_ms"]
    if "detect_ms" in r:
        s += ", detect %7.1f ms (%.3f x RFC)" % (r["detect_ms"], r["detect_ratio"])
    if "garp_after_advert_ms" in r:
        s += ", garp +%.1f ms" % r["garp_after_advert_ms"]
    own = r.get("own_view")
    if own and "transition_after_t0_ms" in own:
        s += "; h2 vrrpd: %s->%s at t0%+.0f ms (%s)" % (own["from"], own["to"], own["transition_after_t0_ms"],
                                                       own["reason"])
    notes = []
    if r.get("h1_replies_after_takeover"):
        notes.append("%d h1 replies after takeover" % r["h1_replies_after_takeover"])
    if r.get("h2_replies_before_fault"):
        notes.append("%d h2 replies before fault" % r["h2_replies_before_fault"])
    if r["fault"] == "sigterm" and not r.get("h1_priority0_adverts"):
        notes.append("no priority-0 advert seen from h1")
    if notes:
        s += " [" + "; ".join(notes) + "]"
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per combination (default 3)")
    ap.add_argument("--intervals", default="1000,100", help="advert intervals in ms (default 1000,100)")
    ap.add_argument("--faults", default="cut,sigterm", help="cut and/or sigterm (default both)")
    ap.add_argument("--impls", default="vrrpd,keepalived", help="vrrpd and/or keepalived (default both)")
    ap.add_argument("--json", metavar="FILE", help="write raw per-run results to FILE")
    ap.add_argument("--logs", metavar="DIR", help="keep every run's daemon logs and client log under DIR")
    ap.add_argument("--seed", type=int, help="random seed for the fault phase")
    ap.add_argument("--phase", choices=("advert", "random"), default="advert",
                    help="inject the fault right after an advert from h1 (default) or at a random point "
                         "of h1's advert interval")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin h1's processes to CPU 0 and h2's to CPU 1")
    ap.add_argument("--no-rt", action="store_true",
                    help="run the client and the responders with normal (not SCHED_FIFO) priority")
    args = ap.parse_args()

    intervals = [int(x) for x in args.intervals.split(",") if x]
    faults = [x for x in args.faults.split(",") if x]
    impls = [x for x in args.impls.split(",") if x]
    if any(f not in ("cut", "sigterm") for f in faults) or any(i not in ("vrrpd", "keepalived") for i in impls):
        ap.error("faults: cut,sigterm; impls: vrrpd,keepalived")
    if any(not 10 <= iv <= 40950 or iv % 10 for iv in intervals):
        ap.error("intervals: 10..40950 ms in steps of 10 (VRRPv3)")
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    if os.geteuid() != 0:
        sys.exit("failover.py needs root (network namespaces)")
    if "keepalived" in impls and not os.path.exists(KEEPALIVED):
        sys.exit("keepalived is not installed")
    if args.seed is not None:
        random.seed(args.seed)
    cpus = sorted(os.sched_getaffinity(0))
    args.cpus = {} if args.no_pin or len(cpus) < 2 else {"h1": {cpus[0]}, "h2": {cpus[1]}}
    args.rt = 0 if args.no_rt else 10

    # SIGTERM ends the benchmark like Ctrl-C: the Lab removes everything.
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    # Snapshot the binaries: someone may rebuild while the benchmark runs.
    snap = tempfile.mkdtemp(prefix="vrrpd-bench-bin-")
    meta = {}
    try:
        for attr in ("VRRPD", "VRRPCTL"):
            src = os.path.abspath(getattr(labmod, attr))
            if not os.path.exists(src):
                sys.exit("%s not found (build first, or set %s_BIN)" % (src, attr))
            dst = os.path.join(snap, os.path.basename(src))
            shutil.copy2(src, dst)
            setattr(labmod, attr, dst)
            meta[attr.lower() + "_binary"] = src
            meta[attr.lower() + "_mtime"] = datetime.datetime.fromtimestamp(os.path.getmtime(src)).isoformat(
                timespec="seconds")
        meta["vrrpd_version"] = subprocess.run([labmod.VRRPD, "-v"], capture_output=True, text=True,
                                               timeout=10).stdout.strip()
        if "keepalived" in impls:
            kv = subprocess.run([KEEPALIVED, "-v"], capture_output=True, text=True, timeout=10)
            meta["keepalived_version"] = (kv.stdout + kv.stderr).strip().splitlines()[0]
        meta.update({"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                     "kernel": platform.release(), "cpus": os.cpu_count(),
                     "loadavg_start": os.getloadavg(), "runs": args.runs, "intervals_ms": intervals,
                     "faults": faults, "impls": impls, "probe_ms": PROBE_MS,
                     "pinning": {k: sorted(v) for k, v in args.cpus.items()}, "client_rt_priority": args.rt,
                     "phase": args.phase})
        print("# %s, kernel %s, %d CPUs, load %.2f %.2f %.2f" % (meta["date"], meta["kernel"], meta["cpus"],
                                                                 *meta["loadavg_start"]))
        print("# %s; %s" % (meta["vrrpd_version"], meta.get("keepalived_version", "-")))
        offset = clock_offset()
        if args.logs:
            os.makedirs(args.logs, exist_ok=True)
        results = []
        started = mono()
        # Interleave implementations so background load drifts hit both alike.
        for run in range(1, args.runs + 1):
            for iv in intervals:
                for fault in faults:
                    for impl in impls:
                        tag = "%s-%s-%dms-run%d" % (impl, fault, iv, run)
                        try:
                            r = one_run(impl, fault, iv, offset, args, tag)
                        except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as e:
                            r = {"impl": impl, "fault": fault, "interval_ms": iv, "error": str(e),
                                 "rfc_ms": rfc_figures(iv)["master_down_ms" if fault == "cut" else "skew_ms"]}
                        r["run"] = run
                        results.append(r)
                        print(run_line(r, run, args.runs), flush=True)
        meta["elapsed_s"] = mono() - started
        meta["loadavg_end"] = os.getloadavg()
        print()
        print(report(results, impls, faults, intervals))
        print("\n# %d runs in %.0f s; load at end %.2f %.2f %.2f" % (len(results), meta["elapsed_s"],
                                                                      *meta["loadavg_end"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"meta": meta, "results": results}, f, indent=1)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        shutil.rmtree(snap, ignore_errors=True)


if __name__ == "__main__":
    main()
