#!/usr/bin/env python3
"""Failover with data, end to end: from the fault to the service answering on
the VIP again, split into its parts, for advert intervals of 1 s and 100 ms.

The pair is the one of tests/system/test_failover_faults.py: two daemons in
network namespaces owning the replicated volume r0 (32 MiB, ext4) and a web
service (python3 http.server started by vrrpd in the volume's directory, with
a status program that asks it for its index), plus a client host that
fetches a file from the volume through the VIP every 20 ms. Each run uses a
fresh lab; the fault is kill -9 of the master's daemon (and of its service,
as when the node dies), a cut of the master's switch port, or "silent": the
master's frames dropped at the switch and then its daemon killed (power
loss: no FIN reaches the peer), with the default link supervision;
"silent-ping" is the same with the takeover's probe pushed out of the way
(probe_timeout_ms = 30000), so that the ping timeout ends the link: the
baseline the probe is measured against.

Parts, from the backup's event journal (wall clock, ms) and the client:
  detection  fault -> the backup's BACKUP -> MASTER transition
  promote    `primary r0` step (includes waiting for a refusal to pass)
  mount      `mount r0` step
  service    `start web` step (start program + readiness polls)
  vip        takeover done -> the client's first good answer (VIP added,
             GARP, the client's ARP cache, its next poll)
  total      fault -> the client's first good answer

Run: python3 bench/failover_data.py [--runs N] [--faults kill,cut,silent,silent-ping] [--intervals 1000,100]
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from test_failover_faults import FaultsPair  # noqa: E402  (the pair and the client)


def wall(ts):
    """Journal time "2026-11-30T04:27:26.123Z" -> seconds since the epoch."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def one_run(fault, interval_ms):
    t = FaultsPair()
    try:
        extra = ('after_sb_0pri = "discard-zero-changes"; after_sb_1pri = "discard-secondary";'
                 if fault == "cut" else "")
        # "silent" runs with the replication link's default supervision
        # (ping 1 s, ping timeout 5 s, probe 1 s); the others with the
        # fault tests' fast one (ping 1 s, ping timeout 0.5 s).
        # "silent-ping" is the baseline without the takeover's probe: its
        # timeout set beyond the ping timeout, which then ends the link.
        kw = {"supervision": ""} if fault.startswith("silent") else {}
        if fault == "silent-ping":
            extra = "probe_timeout_ms = 30000;"
        lab, h1, h2, client = t.pair(resource_extra=extra, interval_ms=interval_ms, **kw)
        time.sleep(1.0)  # settled: h2 has heard a few adverts
        fault_wall = time.time()
        fault_mono = time.monotonic()
        if fault in ("kill", "silent", "silent-ping"):
            if fault.startswith("silent"):
                # Power loss: nothing more of h1 reaches anyone, not even
                # the FIN of its replication connection.
                lab.drop(ports=["p1"])
            # The daemon crashes first (its sockets close: unless silenced,
            # the peer sees the replication link drop at once), then its
            # service goes too.
            h1.kill_vrrpd()
            with open(os.path.join(h1.dir, "web.pid")) as f:
                os.kill(int(f.read()), 9)
        else:
            lab.cut(h1)
        deadline = fault_mono + 60
        while time.monotonic() < deadline:
            if t.fetch(client, timeout=0.2) == "served from r0\n":
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("no answer on the VIP within 60 s")
        answered_wall = fault_wall + (time.monotonic() - fault_mono)
        evs = json.loads(h2.vrrpctl("events", "--json").stdout)["events"]
        master = [e for e in evs if e["source"] == "vrrp" and e["what"] == "transition"
                  and e["detail"].get("to") == "MASTER" and wall(e["time"]) >= fault_wall - 0.01]
        steps = {e["detail"]["op"]: e["detail"]["duration_ms"] / 1000.0 for e in evs
                 if e["source"] == "failover" and e["what"] == "step" and e["detail"].get("ok")
                 and wall(e["time"]) >= fault_wall}
        done = [e for e in evs if e["source"] == "failover" and e["what"] == "takeover-done"
                and wall(e["time"]) >= fault_wall]
        if not master or not done:
            raise RuntimeError("journal without the takeover: %s" % evs[-10:])
        return {"detection": wall(master[0]["time"]) - fault_wall,
                "promote": steps.get("primary", 0.0), "mount": steps.get("mount", 0.0),
                "service": steps.get("start", 0.0),
                "vip": max(0.0, answered_wall - wall(done[-1]["time"])),
                "total": answered_wall - fault_wall}
    finally:
        t.doCleanups()


COLUMNS = ["detection", "promote", "mount", "service", "vip", "total"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--faults", default="kill,cut")
    ap.add_argument("--intervals", default="1000,100")
    args = ap.parse_args()
    print("fault        advert   n   " + "  ".join("%9s" % c for c in COLUMNS) + "   (median seconds; min-max of total)")
    for fault in args.faults.split(","):
        for interval in (int(x) for x in args.intervals.split(",")):
            runs = []
            for _ in range(args.runs):
                r = one_run(fault, interval)
                runs.append(r)
                print("  run %-11s %5d ms: %s" % (fault, interval, " ".join("%s %.3f" % (c, r[c]) for c in COLUMNS)),
                      flush=True)
            med = {c: statistics.median(r[c] for r in runs) for c in COLUMNS}
            tot = [r["total"] for r in runs]
            print("%-11s %5d ms %3d   " % (fault, interval, len(runs)) +
                  "  ".join("%9.3f" % med[c] for c in COLUMNS) + "   %.3f-%.3f" % (min(tot), max(tot)), flush=True)


if __name__ == "__main__":
    main()
