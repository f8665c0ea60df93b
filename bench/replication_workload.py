#!/usr/bin/env python3
"""The I/O that bench/replication.py measures, run inside the namespace that
sees the file system under test (it is started with nsenter). Prints one JSON
object.

  seq   sequential 1 MiB writes with O_DIRECT (page-aligned buffer), then one
        fsync: MB/s over the whole run, per-write latency percentiles
  sync  4 KiB writes each followed by fdatasync, at random 4 KiB offsets in a
        preallocated file: ops/s and latency percentiles (what a database
        commit costs)
  trim  both files deleted, the file system synced, then one FITRIM of the
        whole file system (fstrim): seconds and MB/s of the bytes it
        trimmed (all free space: the deleted files, written on every copy,
        and never-written space)
"""

import fcntl
import json
import mmap
import os
import random
import struct
import sys
import time


def percentiles(samples_ns):
    s = sorted(samples_ns)

    def p(q):
        return s[min(len(s) - 1, int(q * len(s)))] / 1e6  # ms

    return {"p50_ms": p(0.50), "p90_ms": p(0.90), "p99_ms": p(0.99), "max_ms": s[-1] / 1e6}


def seq(path, total_mib):
    buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT needs
    buf.write(os.urandom(1 << 20))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
    lat = []
    t0 = time.perf_counter_ns()
    for i in range(total_mib):
        a = time.perf_counter_ns()
        os.pwritev(fd, [buf], i << 20)
        lat.append(time.perf_counter_ns() - a)
    os.fsync(fd)
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    os.close(fd)
    out = {"mib": total_mib, "seconds": elapsed, "mb_s": total_mib * 1.048576 / elapsed}
    out.update(percentiles(lat))
    return out


def sync(path, count, span_mib=16):
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.posix_fallocate(fd, 0, span_mib << 20)
    os.fsync(fd)
    rng = random.Random(1)
    lat = []
    t0 = time.perf_counter_ns()
    for _ in range(count):
        off = rng.randrange(span_mib * 256) * 4096
        a = time.perf_counter_ns()
        os.pwrite(fd, block, off)
        os.fdatasync(fd)
        lat.append(time.perf_counter_ns() - a)
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    os.close(fd)
    out = {"count": count, "seconds": elapsed, "ops_s": count / elapsed}
    out.update(percentiles(lat))
    return out


FITRIM = 0xC0185879  # _IOWR('X', 121, struct fstrim_range { u64 start, len, minlen; })


def trim(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.sync()
        t0 = time.perf_counter_ns()
        out = fcntl.ioctl(fd, FITRIM, struct.pack("QQQ", 0, (1 << 64) - 1, 0))
        elapsed = (time.perf_counter_ns() - t0) / 1e9
    finally:
        os.close(fd)
    trimmed = struct.unpack("QQQ", out)[1]
    return {"bytes": trimmed, "seconds": elapsed, "mb_s": trimmed / 1e6 / elapsed}


def main():
    directory, seq_mib, sync_count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    result = {"seq": seq(os.path.join(directory, "seq.bin"), seq_mib),
              "sync": sync(os.path.join(directory, "sync.bin"), sync_count)}
    os.unlink(os.path.join(directory, "seq.bin"))
    os.unlink(os.path.join(directory, "sync.bin"))
    result["trim"] = trim(directory)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
