#!/usr/bin/env python3
"""Replication benchmark: what the mirrored volume costs, against ext4 on a
plain loop device over the same backing storage, measured in the same run.

Cases (each on fresh sparse backing files in the lab's directory, all on the
same file system; ext4 with default mkfs options, mounted noatime):
  raw         ext4 on a loop device (direct I/O) over the plain backing file:
              the baseline every other case is divided by
  standalone  the vrrpd volume (FUSE export -> loop -> ext4), Primary, no peer
  protocol C  connected to a peer in another namespace, protocol C
  protocol A  the same with protocol A
  C, peer tmpfs  protocol C with the peer's backing file on a tmpfs: the two
              copies no longer share one disk (the nearest this machine
              comes to a second machine's disk; its flushes are free)
  C, Diskless  protocol C, the Primary's disk detached after the initial
              sync (the degraded mode after on-io-error detach): every
              read and write goes to the peer, a write is answered at the
              peer's BarrierAck (written and flushed there)
Workload (bench/replication_workload.py, run in the namespace that sees the
mount): sequential 1 MiB O_DIRECT writes (MB/s, per-write latency), then 4 KiB
writes each followed by fdatasync at random offsets (ops/s, latency
percentiles: what a database commit costs), then both files deleted and one
fstrim of the file system (MB/s trimmed: the replicated discard).
Also, with protocol C: the initial full sync (MB/s) and the resync after
writing --resync-mib while the link was cut (seconds, MB/s, KiB moved).
The resync rate limit is raised to 4 GiB/s so the engine, not the limiter,
is measured.

Two namespaces on one machine share its 2 cores and its disk: "the peer"
here costs CPU and disk bandwidth on the same machine, which a real pair
does not. Read ratios, not absolute figures.

Run as root from the repository root after a build:
  python3 bench/replication.py [--size-mib 512] [--seq-mib 256] [--sync-count 2000]
                               [--resync-mib 64] [--tcp-congestion cubic] [--rounds 3]
                               [--cases 'protocol C,C, Diskless'] [--json out.json]
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))
from lab import Lab, sh, wait_until  # noqa: E402

WORKLOAD = os.path.join(HERE, "replication_workload.py")


def config(host, peer, protocol, tcp_congestion=""):
    return """global = { router_id = "%s"; runtime_dir = "%s"; };
resources = ( {
  name = "r0"; device = "%s";
  address = "%s"; port = 7789; peer_address = "%s";
  shared_secret = "bench-secret"; protocol = "%s"; resync_rate_kib = 4194304;
  connect_interval_ms = 300;%s
  mount_point = "%s"; fs_type = "ext4"; mount_options = "noatime";
} );
""" % (host.name, os.path.join(host.dir, "run"), os.path.join(host.dir, "r0.img"), host.ipv4, peer.ipv4,
       protocol, ' tcp_congestion = "%s";' % tcp_congestion if tcp_congestion else "",
       os.path.join(host.dir, "mnt"))


def make_backing(host, size_mib):
    with open(os.path.join(host.dir, "r0.img"), "wb") as f:
        f.truncate(size_mib << 20)


def ctl(host, *args):
    return host.vrrpctl("replication", *args)


def status(host):
    return json.loads(host.vrrpctl("replication", "status", "r0", "--json").stdout)["resources"][0]


def run_workload(runner, directory, args):
    out = runner("python3", WORKLOAD, directory, str(args.seq_mib), str(args.sync_count)).stdout
    return json.loads(out)


def case_raw(args):
    with Lab(hosts=1) as lab:
        h = lab.hosts[0]
        make_backing(h, args.size_mib)
        dev = sh("losetup", "-f", "--show", "--direct-io=on", os.path.join(h.dir, "r0.img")).stdout.strip()
        mnt = os.path.join(h.dir, "mnt")
        os.makedirs(mnt)
        try:
            sh("mkfs.ext4", "-q", "-F", dev)
            sh("mount", "-o", "noatime", dev, mnt)
            try:
                return run_workload(lambda *a: sh(*a, timeout=600), mnt, args)
            finally:
                sh("umount", mnt)
        finally:
            sh("losetup", "-d", dev, check=False)


def start_pair(lab, args, protocol, peer=True):
    h1, h2 = lab.hosts
    nodes = [(h1, h2), (h2, h1)] if peer else [(h1, h2)]
    for h, p in nodes:
        make_backing(h, args.size_mib)
        h.start_vrrpd(config(h, p, protocol, getattr(args, "tcp_congestion", "")))
        ctl(h, "create-md", "r0")
        ctl(h, "up", "r0")
    return h1, h2


def case_volume(args, protocol, peer, measure_resync=False, peer_tmpfs=False, diskless=False):
    result = {}
    with Lab(hosts=2) as lab:
        h1, h2 = lab.hosts
        tmpfs = os.path.join(h2.dir, "disk") if peer_tmpfs else None
        try:
            if tmpfs:
                # The peer's backing file on its own (memory) file system:
                # its writes and flushes no longer queue on the disk this
                # node uses, as with a second machine. Its flushes cost
                # nothing, which a real disk's would (in parallel with ours).
                os.makedirs(tmpfs)
                sh("mount", "-t", "tmpfs", "-o", "size=%dm" % (args.size_mib + 64), "tmpfs", tmpfs)
                os.symlink(os.path.join(tmpfs, "r0.img"), os.path.join(h2.dir, "r0.img"))
            start_pair(lab, args, protocol, peer)
            if peer:
                wait_until(lambda: status(h1)["connection"] == "Connected", timeout=30, what="connected")
            t0 = time.monotonic()
            ctl(h1, "primary", "--force", "r0")
            if peer:
                wait_until(lambda: status(h2)["disk"] == "UpToDate", timeout=600, interval=0.05,
                           what="initial sync")
                seconds = time.monotonic() - t0
                size_mib = status(h1)["size_kib"] / 1024
                result["initial_sync"] = {"mib": size_mib, "seconds": seconds, "mb_s": size_mib * 1.048576 / seconds}
            if diskless:
                ctl(h1, "detach", "r0")
                wait_until(lambda: status(h1)["disk"] == "Diskless", timeout=30, what="h1 Diskless")
            dev = status(h1)["device"]
            h1.in_daemon("mkfs.ext4", "-q", "-F", dev, timeout=300)
            ctl(h1, "mount", "r0")
            mnt = os.path.join(h1.dir, "mnt")
            result.update(run_workload(lambda *a: h1.in_daemon(*a, timeout=900), mnt, args))
            if measure_resync:
                lab.cut(h2)
                wait_until(lambda: status(h1)["connection"] != "Connected", timeout=60, what="link down")
                h1.in_daemon("dd", "if=/dev/urandom", "of=" + mnt + "/resync.bin", "bs=1M",
                             "count=%d" % args.resync_mib, "oflag=direct", "conv=fsync", "status=none", timeout=300)
                time.sleep(0.3)  # the daemon's status snapshot is refreshed every 250 ms
                oos_kib = status(h1)["out_of_sync_kib"]
                before = status(h2)["received_kib"]
                t0 = time.monotonic()
                lab.restore(h2)
                # Also when the handshake decided (SyncSource seen): the
                # reconnect (connect_interval_ms) and the handshake are not
                # resync throughput.
                marks = {}

                def resynced():
                    st = status(h1)
                    if "sync" not in marks and st["connection"] == "Connected":
                        marks["sync"] = time.monotonic()
                    return st["out_of_sync_kib"] == 0 and st["replication"] == "Established"

                wait_until(resynced, timeout=600, interval=0.02, what="resync")
                t1 = time.monotonic()
                seconds = t1 - t0
                sync_seconds = t1 - marks.get("sync", t0)
                moved = status(h2)["received_kib"] - before
                result["resync"] = {"written_mib": args.resync_mib, "out_of_sync_kib": oos_kib,
                                    "received_kib": moved, "seconds": seconds,
                                    "mb_s": moved * 1.024 / 1000 / seconds,
                                    "connected_seconds": sync_seconds,
                                    "connected_mb_s": moved * 1.024 / 1000 / sync_seconds}
            ctl(h1, "secondary", "r0")
        finally:
            for h in (h1, h2):
                if h.vrrpd:
                    h.stop_vrrpd(timeout=60)
            if tmpfs:
                sh("umount", tmpfs, check=False)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--seq-mib", type=int, default=256)
    ap.add_argument("--sync-count", type=int, default=2000)
    ap.add_argument("--resync-mib", type=int, default=64)
    ap.add_argument("--tcp-congestion", default="",
                    help="the link's TCP congestion control (resource key tcp_congestion); default: the system's")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run all cases this many times, one round after the other, each round with its own raw "
                         "baseline; the summary gives the median (and range) of the rounds' ratios, which drift "
                         "of the machine between rounds does not skew")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated cases to run after raw (default: all): " + ", ".join(CASES))
    ap.add_argument("--json")
    args = ap.parse_args()
    # Case names contain ", ": split on commas and join the pieces that
    # make up a known name.
    names, piece = [], ""
    for part in args.cases.split(","):
        piece = part.strip() if not piece else piece + ", " + part.strip()
        if piece in CASES:
            names.append(piece)
            piece = ""
    if piece or not names:
        sys.exit("--cases: unknown case %r; valid: %s" % (piece or args.cases, "; ".join(CASES)))
    args.cases = names
    if os.geteuid() != 0:
        sys.exit("run as root")
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")

    rounds = []
    for i in range(args.rounds):
        rounds.append(run_cases(args))
        if args.rounds > 1:
            print("\nround %d of %d" % (i + 1, args.rounds))
        report(args, rounds[-1])
    if args.rounds > 1:
        summarize(rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": rounds[0], "rounds": rounds}, f, indent=2)


CASES = {
    "standalone": lambda args: case_volume(args, "C", peer=False),
    "protocol C": lambda args: case_volume(args, "C", peer=True, measure_resync=True),
    "protocol A": lambda args: case_volume(args, "A", peer=True),
    "C, peer tmpfs": lambda args: case_volume(args, "C", peer=True, peer_tmpfs=True),
    "C, Diskless": lambda args: case_volume(args, "C", peer=True, diskless=True),
}


def run_cases(args):
    results = {"raw": case_raw(args)}  # always: the baseline
    for name in args.cases:
        results[name] = CASES[name](args)
    return results


def report(args, results):
    base = results["raw"]
    print("\nvolume %d MiB; sequential %d MiB of 1 MiB O_DIRECT writes; %d x 4 KiB write+fdatasync"
          % (args.size_mib, args.seq_mib, args.sync_count))
    print("%-13s %9s %7s %9s %9s %7s %9s %9s %9s %9s %7s" % (
        "case", "seq MB/s", "ratio", "seq p99", "sync op/s", "ratio", "sync p50", "sync p90", "sync p99",
        "trim MB/s", "ratio"))
    for name, r in results.items():
        print("%-13s %9.1f %6.0f%% %7.2fms %9.0f %6.0f%% %7.2fms %7.2fms %7.2fms %9.0f %6.0f%%" % (
            name, r["seq"]["mb_s"], 100 * r["seq"]["mb_s"] / base["seq"]["mb_s"], r["seq"]["p99_ms"],
            r["sync"]["ops_s"], 100 * r["sync"]["ops_s"] / base["sync"]["ops_s"], r["sync"]["p50_ms"],
            r["sync"]["p90_ms"], r["sync"]["p99_ms"], r["trim"]["mb_s"],
            100 * r["trim"]["mb_s"] / base["trim"]["mb_s"]))
    if "protocol C" in results:
        c = results["protocol C"]
        print("initial full sync (protocol C): %.0f MiB in %.1f s = %.1f MB/s" % (
            c["initial_sync"]["mib"], c["initial_sync"]["seconds"], c["initial_sync"]["mb_s"]))
        rs = c["resync"]
        print("resync after %d MiB written while cut: %d KiB out of sync, %d KiB received: %.2f s = %.1f MB/s "
              "(received) from the link's return; %.2f s = %.1f MB/s once connected" % (
                  rs["written_mib"], rs["out_of_sync_kib"], rs["received_kib"], rs["seconds"], rs["mb_s"],
                  rs["connected_seconds"], rs["connected_mb_s"]))
    print("link TCP congestion control: %s" % (args.tcp_congestion or "system default (%s)" % open(
        "/proc/sys/net/ipv4/tcp_congestion_control").read().strip()))
    print("load average at the end: %s" % open("/proc/loadavg").read().strip())


def summarize(rounds):
    """Per case, the median and range over the rounds of each round's ratio
    to that round's raw case, and of the absolute figures."""
    def med(values):
        v = sorted(values)
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

    print("\nover %d rounds: median (min-max) of each round's ratio to its own raw" % len(rounds))
    print("%-14s %9s %17s %9s %17s %9s %17s" % ("case", "seq MB/s", "seq ratio", "sync op/s", "sync ratio",
                                                  "trim MB/s", "trim ratio"))
    for name in rounds[0]:
        line = [name]
        for key, value in (("seq", "mb_s"), ("sync", "ops_s"), ("trim", "mb_s")):
            absolute = [r[name][key][value] for r in rounds]
            ratio = [100 * r[name][key][value] / r["raw"][key][value] for r in rounds]
            line += [med(absolute), med(ratio), min(ratio), max(ratio)]
        print(("%-14s" + " %9.1f %5.0f%% (%3.0f-%3.0f%%)" * 3) % tuple(line))


if __name__ == "__main__":
    main()
