#!/usr/bin/env python3
"""The built-in example: a vrrpd pair in network namespaces.

Act 1, VRRP: node-a (priority 200) and node-b (priority 100) share VIP
192.0.2.100 and 2001:db8::100 on a bridge in a "switch" namespace. The demo
shows the election, cuts node-a's link (the VIP moves to node-b), restores it
(node-a preempts back), stops node-a with SIGTERM (priority-0 advert, fast
takeover), printing `vrrpctl status` at each step.

Act 2, failover with data: the same pair mirrors a 64 MiB volume r0 (ext4);
the VRRP instance owns it, so the master has r0 Primary and mounted before it
takes the VIP. A file is written on node-a; node-a is stopped with SIGTERM;
node-b promotes and mounts r0, finds the file and takes the VIP; node-a comes
back, catches up as SyncTarget and preempts back. The timeline comes from
node-b's event journal (`vrrpctl events`). Everything is removed at the end.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, instance_config, native_config, wait_until  # noqa: E402
from test_replication import resource_config  # noqa: E402


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
    act_two()
    print("\nDemo done; namespaces, mounts, loop devices and processes removed.")


def data_config(host, peer, priority):
    inst = instance_config("VI_db", vrid=61, priority=priority, interval_ms=100, vips=("192.0.2.100/24",),
                           extra='    resources = "r0";\n'
                                 # A returning node waits before it preempts: time for its
                                 # replication handshake (see README, Failover with data).
                                 '    preempt_delay_ms = 2000;')
    return resource_config(host, peer) + "vrrp_instances = (\n%s\n);\n" % inst


def show_data(title, hosts):
    print("\n=== %s" % title)
    for h in hosts:
        print("--- %s: vrrpctl status; vrrpctl replication status" % NAMES[h.name])
        print(h.vrrpctl("status").stdout.rstrip())
        print(h.vrrpctl("replication", "status").stdout.rstrip())


def act_two():
    print("\n\n##### Act 2: failover with data (a mirrored ext4 volume owned by the VRRP instance)")
    with Lab(hosts=2) as lab:
        a, b = lab.hosts
        try:
            for h, peer in ((a, b), (b, a)):
                with open(os.path.join(h.dir, "r0.img"), "wb") as f:
                    f.truncate(64 << 20)
                h.start_vrrpd(resource_config(h, peer))
            print("Preparing r0 once, as with drbdadm: create-md and up on both, primary --force on node-a,")
            print("initial sync, mkfs.ext4, secondary")
            for h in (a, b):
                h.vrrpctl("replication", "create-md", "r0")
                h.vrrpctl("replication", "up", "r0")
            rstatus = lambda h: json.loads(h.vrrpctl("replication", "status", "r0", "--json").stdout)["resources"][0]
            wait_until(lambda: rstatus(a)["connection"] == "Connected", timeout=15, what="r0 connected")
            a.vrrpctl("replication", "primary", "--force", "r0")
            timed("initial sync of 64 MiB done", lambda: rstatus(b)["disk"] == "UpToDate")
            a.in_daemon("mkfs.ext4", "-q", "-F", rstatus(a)["device_link"])
            a.vrrpctl("replication", "secondary", "r0")

            print("\nAdding the VRRP instance VI_db (owns r0) with a reload on both nodes")
            a.write_config(data_config(a, b, 200))
            b.write_config(data_config(b, a, 100))
            a.vrrpctl("reload")
            b.vrrpctl("reload")
            timed("node-a is MASTER with r0 Primary and mounted, then the VIP",
                  lambda: a.has_address("192.0.2.100") and rstatus(a)["mounted"])
            mnt = os.path.join(a.dir, "mnt")
            a.in_daemon("sh", "-c", "echo 'order 1001: 3 widgets' > %s/orders.txt && sync -f %s" % (mnt, mnt))
            print(">>> wrote %s/orders.txt on node-a" % mnt)
            show_data("node-a serves the data", (a, b))

            print("\nStopping node-a with SIGTERM: VIP down, unmount, demote, then node-b takes over")
            a.stop_vrrpd()
            timed("node-b holds the VIP with r0 mounted",
                  lambda: b.has_address("192.0.2.100") and rstatus(b)["mounted"])
            text = b.in_daemon("cat", os.path.join(b.dir, "mnt", "orders.txt")).stdout.strip()
            print(">>> node-b reads orders.txt from its copy: %r" % text)
            b.in_daemon("sh", "-c", "echo 'order 1002: 1 gadget' >> %s/orders.txt && sync -f %s" % (os.path.join(b.dir, "mnt"), os.path.join(b.dir, "mnt")))
            print(">>> node-b appends order 1002 while node-a is away")

            print("\nRestarting node-a: it catches up from node-b's bitmap, then preempts back (priority 200)")
            a.start_vrrpd(data_config(a, b, 200))
            timed("node-a is MASTER again with the data",
                  lambda: a.has_address("192.0.2.100") and rstatus(a)["mounted"] and not b.has_address("192.0.2.100"))
            text = a.in_daemon("cat", os.path.join(a.dir, "mnt", "orders.txt")).stdout.strip()
            print(">>> node-a reads orders.txt: %r" % text)
            show_data("Back to normal", (a, b))

            print("\n--- node-b's event journal: the incident timeline (vrrpctl events)")
            print(b.vrrpctl("events").stdout.rstrip())
        finally:
            for h in (a, b):
                if h.vrrpd:
                    h.stop_vrrpd(timeout=60)


if __name__ == "__main__":
    main()
