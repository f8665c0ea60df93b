#!/usr/bin/env python3
"""A/B of two vrrpd binaries: sequential writes to a protocol C volume's
block device, one fresh pair per binary and round, alternating.

Each round starts a protocol C pair of 2 GiB volumes (the bench's lab: two
daemons in network namespaces on this machine), waits for the initial sync,
and runs `dd if=/dev/zero of=<the Primary's loop device> bs=1M count=1024
oflag=direct` --runs times on the Primary; then the same with the other
binary. Below the file system, so the figures are the engine's data path
alone. Prints each run's MB/s and, at the end, min/median/max per binary.

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
                r = h1.in_daemon("dd", "if=/dev/zero", "of=" + device, "bs=1M", "count=1024", "oflag=direct",
                                 timeout=300)
                # "... copied, 1.6 s, 671 MB/s"
                last = r.stderr.strip().splitlines()[-1]
                value, unit = last.split(",")[-1].split()
                results.append(float(value) * {"kB/s": 0.001, "MB/s": 1, "GB/s": 1000}[unit])
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
            print("%s: %s MB/s" % (b, " ".join("%.0f" % x for x in runs)), flush=True)
    for b in binaries:
        v = sorted(figures[b])
        print("%s: min %.0f median %.0f max %.0f MB/s over %d runs" % (b, v[0], v[len(v) // 2], v[-1], len(v)))


if __name__ == "__main__":
    main()
