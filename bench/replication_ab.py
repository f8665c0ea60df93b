#!/usr/bin/env python3
"""A/B of two vrrpd binaries: sequential writes to a protocol C volume's
block device, one fresh pair per binary and round, alternating.

Each round starts a protocol C pair of 2 GiB volumes (the bench's lab: two
daemons in network namespaces on this machine), waits for the initial sync,
and runs `dd if=/dev/zero of=<the Primary's loop device> bs=1M count=1024
oflag=direct` --runs times on the Primary; then the same with the other
binary. Below the file system, so the figures are the engine's data path
alone. Prints each run's MB/s and the CPU time each daemon used during it
(seconds per GiB written, all threads: the engine loop, FUSE, flushes), and
at the end min/median/max per binary.

Run as root from the repository root after a build:
  python3 bench/replication_ab.py BINARY_A BINARY_B [--rounds 3] [--runs 4]
(for example a copy of build/vrrpd/vrrpd made before a change, and the
current one).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))
import lab as lab_module  # noqa: E402
import replication as bench  # noqa: E402
from lab import Lab, wait_until  # noqa: E402


class Run:
    """One dd: MB/s, and the CPU seconds each daemon (all its threads) used
    meanwhile, which is per GiB since each dd writes 1 GiB."""

    def __init__(self, mb_s, primary_cpu, secondary_cpu):
        self.mb_s = mb_s
        self.primary_cpu = primary_cpu
        self.secondary_cpu = secondary_cpu


def cpu_seconds(pid):
    """utime + stime of a process, all threads, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(values, unit, fmt="%.0f"):
    v = sorted(values)
    return ("min " + fmt + " median " + fmt + " max " + fmt + " %s") % (v[0], v[len(v) // 2], v[-1], unit)


class PairArgs:
    size_mib = 2048
    tcp_congestion = ""


def run_pair(binary, runs):
    lab_module.VRRPD = binary
    results = []
    with Lab(hosts=2) as lab:
        h1, h2 = lab.hosts
        try:
            bench.start_pair(lab, PairArgs(), "C")
            wait_until(lambda: bench.status(h1)["connection"] == "Connected", timeout=30, what="connected")
            bench.ctl(h1, "primary", "--force", "r0")
            wait_until(lambda: bench.status(h2)["disk"] == "UpToDate", timeout=600, interval=0.05,
                       what="initial sync")
            device = bench.status(h1)["device"]
            for _ in range(runs):
                cpu_before = [cpu_seconds(h.vrrpd.pid) for h in (h1, h2)]
                r = h1.in_daemon("dd", "if=/dev/zero", "of=" + device, "bs=1M", "count=1024", "oflag=direct",
                                 timeout=300)
                cpu = [cpu_seconds(h.vrrpd.pid) - b for h, b in zip((h1, h2), cpu_before)]
                # "... copied, 1.6 s, 671 MB/s"
                last = r.stderr.strip().splitlines()[-1]
                value, unit = last.split(",")[-1].split()
                results.append(Run(float(value) * {"kB/s": 0.001, "MB/s": 1, "GB/s": 1000}[unit], *cpu))
        finally:
            for h in (h1, h2):
                if h.vrrpd:
                    h.stop_vrrpd(timeout=60)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary_a")
    ap.add_argument("binary_b")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=4)
    args = ap.parse_args()
    binaries = [os.path.abspath(args.binary_a), os.path.abspath(args.binary_b)]
    figures = {b: [] for b in binaries}
    for _ in range(args.rounds):
        for b in binaries:
            runs = run_pair(b, args.runs)
            figures[b] += runs
            print("%s: %s MB/s; CPU s/GiB Primary %s, Secondary %s" % (
                b, " ".join("%.0f" % r.mb_s for r in runs), " ".join("%.2f" % r.primary_cpu for r in runs),
                " ".join("%.2f" % r.secondary_cpu for r in runs)), flush=True)
    for b in binaries:
        runs = figures[b]
        print("%s, %d runs: %s; CPU Primary %s, Secondary %s" % (
            b, len(runs), summary([r.mb_s for r in runs], "MB/s"),
            summary([r.primary_cpu for r in runs], "s/GiB", "%.2f"),
            summary([r.secondary_cpu for r in runs], "s/GiB", "%.2f")))


if __name__ == "__main__":
    main()
