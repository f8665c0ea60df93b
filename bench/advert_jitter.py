#!/usr/bin/env python3
"""Advert timing at a 10 ms interval, vrrpd against keepalived, under load.

A single master (vrrpd, then keepalived as the baseline, same conditions,
same run) advertises every 10 ms. tcpdump in the switch namespace timestamps
every VRRP packet on the bridge; the bench reports the gaps between adverts
(median, p99, p99.9, max, and the share later than 15 ms) for each load:

  idle      nothing else running
  cpu       two busy-looping processes (one per core) at the same nice level
  control   vrrpctl status 100 times a second (vrrpd only: keepalived has no
            equivalent; for keepalived the slot measures idle again)
  links     a veth interface in the host flapping 50 times a second, which
            floods the daemon with netlink link and address events
  checks    30 hung exec checks (/bin/sleep 5, killed at a 500 ms timeout,
            every second) in both daemons, plus for vrrpd 30 DNS checks
            against an address where nothing answers (every 100 ms)

Only documentation addresses inside namespaces the bench creates.
Usage: python3 bench/advert_jitter.py [--seconds 10] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "system"))
from lab import Lab, instance_config, native_config, sh, wait_until, VRRPCTL  # noqa: E402

KEEPALIVED_CONF = """global_defs {
    router_id bench
    vrrp_version 3
    script_user root
    enable_script_security
}
%s
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 200
    advert_int 0.01
    virtual_ipaddress {
        192.0.2.100/24
    }
    %s
}
"""
HUNG_EXEC = 30
HUNG_DNS = 30


def keepalived_config(with_checks):
    if not with_checks:
        return KEEPALIVED_CONF % ("", "")
    scripts = "\n".join('vrrp_script hung%d {\n    script "/bin/sleep 5"\n    interval 1\n    timeout 0.5\n'
                        '    weight 1\n}' % i for i in range(HUNG_EXEC))
    track = "track_script {\n%s\n    }" % "\n".join("        hung%d" % i for i in range(HUNG_EXEC))
    return KEEPALIVED_CONF % (scripts, track)


def vrrpd_config(with_checks):
    if not with_checks:
        return native_config(instance_config(priority=200, interval_ms=10))
    checks = ['{ name = "exec%d"; kind = "exec"; program = "/bin/sleep 5"; interval_ms = 1000; timeout_ms = 500; }'
              % i for i in range(HUNG_EXEC)]
    checks += ['{ name = "dns%d"; kind = "dns"; address = "192.0.2.250"; query_name = "svc.example"; '
               'interval_ms = 100; timeout_ms = 90; }' % i for i in range(HUNG_DNS)]
    tracked = ", ".join('{ name = "%s%d"; weight = 1; }' % (k, i) for k, n in (("exec", HUNG_EXEC), ("dns", HUNG_DNS))
                        for i in range(n))
    return native_config(instance_config(priority=200, interval_ms=10, extra="track_checks = ( %s );" % tracked),
                         tail="checks = (\n%s\n);\n" % ",\n".join(checks))


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def capture(lab, seconds):
    """Timestamps (s) of VRRP packets seen on the bridge for `seconds`."""
    p = subprocess.Popen(["ip", "netns", "exec", lab.switch, "tcpdump", "-l", "-n", "-tt", "-i", "br0",
                          "ip proto 112"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stamps = []
    deadline = time.monotonic() + seconds

    def reader():
        for line in p.stdout:
            try:
                stamps.append(float(line.split()[0]))
            except (ValueError, IndexError):
                pass
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(max(0.0, deadline - time.monotonic()))
    p.terminate()
    p.wait(timeout=5)
    t.join(timeout=5)
    return stamps[5:]  # drop the first few while tcpdump settles


class Load:
    """Starts and stops one kind of background load."""

    def __init__(self, kind, host, impl):
        self.kind, self.host, self.impl = kind, host, impl
        self.procs = []
        self.stop_flag = threading.Event()
        self.threads = []

    def __enter__(self):
        if self.kind == "cpu":
            for _ in range(os.cpu_count() or 2):
                self.procs.append(subprocess.Popen([sys.executable, "-c",
                                                    "import time\nend=time.time()+120\nwhile time.time()<end: pass"]))
        elif self.kind == "control" and self.impl == "vrrpd":
            def spam():
                while not self.stop_flag.is_set():
                    subprocess.run([VRRPCTL, "-s", self.host.socket, "status"], capture_output=True)
                    time.sleep(0.01)
            self.threads.append(threading.Thread(target=spam, daemon=True))
        elif self.kind == "links":
            self.host.run("ip", "link", "add", "flap0", "type", "veth", "peer", "name", "flap1")
            self.host.run("ip", "addr", "add", "203.0.113.1/24", "dev", "flap0")
            def flap():
                n = 0
                while not self.stop_flag.is_set():
                    sh("ip", "-n", self.host.ns, "link", "set", "flap0", "down" if n % 2 else "up", check=False)
                    n += 1
                    time.sleep(0.02)
            self.threads.append(threading.Thread(target=flap, daemon=True))
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=10)
        for p in self.procs:
            p.kill()
            p.wait()
        if self.kind == "links":
            self.host.run("ip", "link", "del", "flap0", check=False)
        return False


def measure_one(impl, kind, seconds):
    """A fresh host with one master advertising every 10 ms under `kind` of load."""
    with Lab(hosts=1) as lab:
        h1 = lab.hosts[0]
        if impl == "vrrpd":
            h1.start_vrrpd(vrrpd_config(kind == "checks"))
        else:
            path = h1.write_config(keepalived_config(kind == "checks"), "keepalived.conf")
            h1.popen("keepalived", "-n", "-l", "-G", "-P", "-f", path, "-p", os.path.join(h1.dir, "ka.pid"),
                     "-r", os.path.join(h1.dir, "ka-vrrp.pid"), "-c", os.path.join(h1.dir, "ka-check.pid"))
        wait_until(lambda: h1.has_address("192.0.2.100"), timeout=10, what="%s MASTER" % impl)
        time.sleep(1.0)
        with Load(kind, h1, impl):
            time.sleep(0.5)
            stamps = capture(lab, seconds)
    gaps = [(b - a) * 1000.0 for a, b in zip(stamps, stamps[1:])]
    if not gaps:
        raise RuntimeError("no adverts captured for %s/%s" % (impl, kind))
    return {
        "adverts": len(stamps),
        "median_ms": statistics.median(gaps),
        "p99_ms": percentile(gaps, 99),
        "p999_ms": percentile(gaps, 99.9),
        "max_ms": max(gaps),
        "late_15ms_pct": 100.0 * sum(1 for g in gaps if g > 15.0) / len(gaps),
    }


def measure(impl, loads, seconds):
    return {kind: measure_one(impl, kind, seconds) for kind in loads}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="capture time per load (default 10)")
    ap.add_argument("--loads", default="idle,cpu,control,links,checks")
    ap.add_argument("--json", help="write raw results here")
    args = ap.parse_args()
    loads = args.loads.split(",")
    all_results = {impl: measure(impl, loads, args.seconds) for impl in ("vrrpd", "keepalived")}
    print("\nAdvert gaps at a 10 ms interval (ms), %.0f s per load" % args.seconds)
    print("%-10s %-8s %7s %7s %7s %7s %7s %8s" % ("impl", "load", "adverts", "median", "p99", "p99.9", "max",
                                                 ">15ms %"))
    for impl, res in all_results.items():
        for kind in loads:
            r = res[kind]
            print("%-10s %-8s %7d %7.2f %7.2f %7.2f %7.2f %8.3f" % (impl, kind, r["adverts"], r["median_ms"],
                                                                r["p99_ms"], r["p999_ms"], r["max_ms"],
                                                                r["late_15ms_pct"]))
    print("\nvrrpd / keepalived (p99 gap, max gap):")
    for kind in loads:
        v, k = all_results["vrrpd"][kind], all_results["keepalived"][kind]
        print("  %-8s p99 %.2f  max %.2f" % (kind, v["p99_ms"] / k["p99_ms"], v["max_ms"] / k["max_ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_results, f, indent=2)


if __name__ == "__main__":
    main()
