#!/usr/bin/env python3
"""The built-in example: a vrrpd pair in network namespaces.

node-a (priority 200) and node-b (priority 100) share VIP 192.0.2.100 and
2001:db8::100 on a bridge in a "switch" namespace. The demo shows the
election, cuts node-a's link (the VIP moves to node-b), restores it (node-a
preempts back), stops node-a with SIGTERM (priority-0 advert, fast takeover),
printing `vrrpctl status` at each step. Everything is removed at the end.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, instance_config, native_config, wait_until  # noqa: E402


NAMES = {"h1": "node-a", "h2": "node-b"}


def show(title, hosts):
    print("\n=== %s" % title)
    for h in hosts:
        print("--- %s: vrrpctl status" % NAMES[h.name])
        print(h.vrrpctl("status").stdout.rstrip())
        print("    addresses on eth0: %s" % ", ".join(a for a in h.addresses() if not a.startswith("fe80")))


def timed(what, predicate):
    t0 = time.monotonic()
    wait_until(predicate, timeout=15, what=what)
    print(">>> %s after %.0f ms" % (what, (time.monotonic() - t0) * 1000))


def main():
    with Lab(hosts=2) as lab:
        a, b = lab.hosts
        cfg = lambda prio: native_config(
            instance_config("VI_web", vrid=51, priority=prio, interval_ms=100, vips=("192.0.2.100/24",)),
            instance_config("VI_web6", vrid=52, priority=prio, interval_ms=100, vips=("2001:db8::100/64",)))
        print("Starting node-a (priority 200) and node-b (priority 100), adverts every 100 ms")
        a.start_vrrpd(cfg(200))
        b.start_vrrpd(cfg(100))
        timed("node-a is MASTER", lambda: a.has_address("192.0.2.100") and b.state("VI_web") == "BACKUP")
        show("Elected", (a, b))

        print("\nCutting node-a's link at the switch")
        lab.cut(a)
        timed("node-b holds the VIP", lambda: b.has_address("192.0.2.100"))
        show("After the link cut", (a, b))

        print("\nRestoring node-a's link")
        lab.restore(a)
        timed("node-a preempts back", lambda: a.has_address("192.0.2.100") and not b.has_address("192.0.2.100"))

        print("\nStopping node-a with SIGTERM (it sends a priority-0 advert)")
        a.stop_vrrpd()
        timed("node-b takes over", lambda: b.has_address("192.0.2.100"))
        show("After SIGTERM", (b,))
        print("\n--- node-b's log (transitions)")
        for line in b.log().splitlines():
            if "->" in line:
                print(line)
    print("\nDemo done; namespaces and processes removed.")


if __name__ == "__main__":
    main()
