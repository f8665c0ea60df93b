#!/usr/bin/env python3
"""The built-in example: a vrrpd pair in network namespaces.

Act 1, VRRP: node-a (priority 200) and node-b (priority 100) share VIP
192.0.2.100 and 2001:db8::100 on a bridge in a "switch" namespace. The demo
shows the election, cuts node-a's link (the VIP moves to node-b), restores it
(node-a preempts back), stops node-a with SIGTERM (priority-0 advert, fast
takeover), printing `vrrpctl status` at each step.

Act 2, failover with data: the same pair mirrors a 64 MiB volume r0 (ext4)
and a third host runs vrrpd as the witness (and is the client). The VRRP
instance owns r0 and a small web service that vrrpd starts in the volume's
directory, so the master has r0 Primary and mounted, the witness's lease and
the service running before it takes the VIP. A file is written on node-a and
the client reads it through the VIP; node-a is stopped with SIGTERM; node-b
promotes, mounts, starts the service and takes the VIP, and the client reads
the same file; node-a comes back, catches up as SyncTarget and preempts back.
The timeline comes from node-b's event journal (`vrrpctl events`).
Everything is removed at the end.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, instance_config, native_config, wait_until  # noqa: E402
from test_replication import prepare_formatted_volume, replication_status, resource_config  # noqa: E402
from test_failover_faults import SERVICE_SCRIPT, PORT, web_service  # noqa: E402


NAMES = {"h1": "node-a", "h2": "node-b", "h3": "witness"}
WITNESS_SECRET = "demo-witness-secret"


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


def witness_global(witness):
    return 'witness = { address = "%s"; shared_secret = "%s"; lease_ms = 3000; };' % (witness.ipv4, WITNESS_SECRET)


def data_config(host, peer, priority, witness):
    """r0, the web service (programs, no shell) and VI_db owning both."""
    services = web_service(host)
    inst = instance_config("VI_db", vrid=61, priority=priority, interval_ms=100, vips=("192.0.2.100/24",),
                           extra='    resources = "r0"; services = "web";')
    return (resource_config(host, peer, global_extra=witness_global(witness)) + services +
            "vrrp_instances = (\n%s\n);\n" % inst)


def fetch(client):
    """orders.txt through the VIP, as the client host sees it."""
    r = client.run("python3", "-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                   "'http://192.0.2.100:%d/orders.txt', timeout=1).read().decode())" % PORT, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def show_data(title, hosts):
    print("\n=== %s" % title)
    for h in hosts:
        print("--- %s: vrrpctl status; vrrpctl replication status" % NAMES[h.name])
        print(h.vrrpctl("status").stdout.rstrip())
        print(h.vrrpctl("replication", "status").stdout.rstrip())


def act_two():
    print("\n\n##### Act 2: failover with data (a mirrored ext4 volume and a web service owned by the VRRP")
    print("##### instance, a witness on a third host)")
    with Lab(hosts=3) as lab:
        a, b, w = lab.hosts
        rstatus = replication_status
        try:
            w.start_vrrpd('global = { router_id = "witness"; witness_server = { address = "%s"; '
                          'shared_secret = "%s"; lease_ms = 3000; }; };\n' % (w.ipv4, WITNESS_SECRET))
            print("The witness runs on %s (vrrpd with witness_server); it is also the client" % w.ipv4)
            for h, peer in ((a, b), (b, a)):
                with open(os.path.join(h.dir, "r0.img"), "wb") as f:
                    f.truncate(64 << 20)
                with open(os.path.join(h.dir, "web.sh"), "w") as f:
                    f.write(SERVICE_SCRIPT)
                h.start_vrrpd(resource_config(h, peer, global_extra=witness_global(w)))
            print("Preparing r0 once, as with drbdadm: create-md and up on both, primary --force on node-a,")
            print("initial sync, mkfs.ext4, secondary")
            t0 = time.monotonic()
            prepare_formatted_volume(a, b)
            print(">>> r0 in sync and formatted after %.0f ms" % ((time.monotonic() - t0) * 1000))

            print("\nAdding VI_db (owns r0 and the web service) with a reload on both nodes")
            print("(a witness that has just started grants a fresh claim only two leases, 6 s, after its start:")
            print(" it might have restarted while a node held the lock, and gives that node time to renew)")
            a.write_config(data_config(a, b, 200, w))
            b.write_config(data_config(b, a, 100, w))
            a.vrrpctl("reload")
            b.vrrpctl("reload")
            timed("node-a is MASTER: witness lease, r0 Primary and mounted, web started, then the VIP",
                  lambda: a.has_address("192.0.2.100") and rstatus(a)["mounted"])
            mnt = os.path.join(a.dir, "mnt")
            a.in_daemon("sh", "-c", "echo 'order 1001: 3 widgets' > %s/orders.txt && sync -f %s" % (mnt, mnt))
            print(">>> wrote %s/orders.txt on node-a" % mnt)
            wait_until(lambda: fetch(w) is not None, timeout=10, what="the web service on the VIP")
            print(">>> the client reads http://192.0.2.100:%d/orders.txt: %r" % (PORT, fetch(w)))
            show_data("node-a serves the data", (a, b))

            print("\nStopping node-a with SIGTERM: VIP down, unmount, demote, then node-b takes over")
            a.stop_vrrpd()
            timed("the client reads orders.txt from node-b through the VIP", lambda: fetch(w) is not None)
            print(">>> the client reads: %r (served by node-b from its copy)" % fetch(w))
            b.in_daemon("sh", "-c", "echo 'order 1002: 1 gadget' >> %s/orders.txt && sync -f %s" % (os.path.join(b.dir, "mnt"), os.path.join(b.dir, "mnt")))
            print(">>> node-b appends order 1002 while node-a is away")

            print("\nRestarting node-a: it catches up from node-b's bitmap, then preempts back (priority 200)")
            a.start_vrrpd(data_config(a, b, 200, w))
            timed("node-a is MASTER again with the data",
                  lambda: a.has_address("192.0.2.100") and rstatus(a)["mounted"] and not b.has_address("192.0.2.100"))
            wait_until(lambda: fetch(w) is not None, timeout=15, what="the web service on node-a")
            print(">>> the client reads: %r (served by node-a again)" % fetch(w))
            show_data("Back to normal", (a, b))

            print("\n--- node-b's event journal: the incident timeline (vrrpctl events)")
            print(b.vrrpctl("events").stdout.rstrip())
        finally:
            for h in (a, b, w):
                if h.vrrpd:
                    h.stop_vrrpd(timeout=60)


if __name__ == "__main__":
    main()
