"""Health checks deciding who is master: a TCP listener, dnsmasq answering
DNS, and a keepalived-style vrrp_script; each failure moves the VIP to the
healthy node, and recovery moves it back where preemption says so."""

import os
import signal
import time
import unittest

from lab import Lab, instance_config, native_config, wait_until

VIP = "192.0.2.100"
LISTENER = """import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
"""


def check_block(*checks):
    return "checks = (\n%s\n);\n" % ",\n".join(checks)


class ChecksTest(unittest.TestCase):
    def lab(self, hosts=2, **kw):
        lab = Lab(hosts=hosts, **kw)
        self.addCleanup(lab.close)
        return lab

    def start_listener(self, host, port=8080):
        path = os.path.join(host.dir, "listener.py")
        with open(path, "w") as f:
            f.write(LISTENER)
        p = host.popen("/usr/bin/python3", path, str(port))
        wait_until(lambda: "127.0.0.1:%d" % port in host.run("ss", "-ltn").stdout, what="listener up")
        return p

    def start_dnsmasq(self, host, answer):
        """dnsmasq on the host's own address, authoritative for svc.example."""
        p = host.popen("/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-daemon", "--no-resolv", "--no-hosts",
                       "--port=53", "--listen-address=" + host.ipv4, "--bind-interfaces",
                       "--pid-file=" + os.path.join(host.dir, "dnsmasq.pid"),
                       "--address=/svc.example/" + answer, "--local=/svc.example/", "--log-queries")
        wait_until(lambda: "%s:53" % host.ipv4 in host.run("ss", "-lun").stdout, what="dnsmasq up")
        return p

    def test_tcp_check_down_faults_master_and_recovery_preempts_back(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        listeners = {h: self.start_listener(h) for h in (h1, h2)}
        def cfg(host, prio):
            # The check's notify program records its arguments.
            notify = '[ "/bin/sh", "-c", "echo \\"$*\\" >> %s", "sh" ]' % os.path.join(host.dir, "check-notify.log")
            return native_config(
                instance_config(priority=prio, extra='track_checks = ( "web" );'),
                tail=check_block('{ name = "web"; kind = "tcp"; address = "127.0.0.1"; port = 8080; '
                                 'interval_ms = 100; timeout_ms = 50; fall = 2; rise = 2; notify = %s; }' % notify))
        h1.start_vrrpd(cfg(h1, 200))
        h2.start_vrrpd(cfg(h2, 100))
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        listeners[h1].kill()
        listeners[h1].wait()
        wait_until(lambda: h1.state("VI_1") == "FAULT", what="h1 FAULT")
        inst = h1.instance("VI_1")
        self.assertIn("check web is down: connect: Connection refused", inst["fault_reason"])
        wait_until(lambda: h2.has_address(VIP), what="h2 takes over")
        checks = h1.vrrpctl("checks", "--json")
        import json
        web = json.loads(checks.stdout)["checks"][0]
        self.assertEqual(web["state"], "DOWN")
        self.assertEqual(web["tracked_by"], ["VI_1"])
        self.assertGreaterEqual(web["consecutive_failures"], 2)
        self.start_listener(h1)
        wait_until(lambda: h1.has_address(VIP), what="h1 preempts back")
        wait_until(lambda: not h2.has_address(VIP), what="h2 released")
        self.assertIn("Check(web) DOWN -> UP", h1.log())
        # The journal has the whole story in order: check down, FAULT, check up, MASTER again.
        events = json.loads(h1.vrrpctl("events", "--json").stdout)["events"]
        story = [(e["what"], e["detail"].get("to", "")) for e in events
                 if e["what"] in ("check-down", "check-up") or e["detail"].get("to") in ("FAULT", "MASTER")]
        self.assertEqual(story, [("transition", "MASTER"), ("check-down", ""), ("transition", "FAULT"),
                                 ("check-up", ""), ("transition", "MASTER")], events)
        # The check's notify program ran for each change, in order.
        with open(os.path.join(h1.dir, "check-notify.log")) as f:
            calls = f.read().splitlines()
        self.assertEqual([c.split()[:3] for c in calls], [["CHECK", "web", "DOWN"], ["CHECK", "web", "UP"]], calls)
        self.assertIn("Connection refused", calls[0])
        down = [e for e in events if e["what"] == "check-down"][0]
        self.assertEqual(down["subject"], "web")
        self.assertIn("Connection refused", down["text"])

    def test_dns_check_with_dnsmasq(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        dns = {h: self.start_dnsmasq(h, "192.0.2.200") for h in (h1, h2)}
        def cfg(host, prio):
            return native_config(
                instance_config(priority=prio, extra='track_checks = ( { name = "dns"; weight = -150; } );'),
                tail=check_block(
                    '{ name = "dns"; kind = "dns"; address = "%s"; query_name = "svc.example"; query_type = "A";'
                    ' expect_answers = [ "192.0.2.200" ]; interval_ms = 100; timeout_ms = 80; }' % host.ipv4))
        h1.start_vrrpd(cfg(h1, 200))
        h2.start_vrrpd(cfg(h2, 100))
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        # dnsmasq stops: h1's priority drops to 50 and h2 preempts.
        dns[h1].send_signal(signal.SIGTERM)
        dns[h1].wait()
        wait_until(lambda: h1.instance("VI_1")["priority"] == 50, what="h1 priority 50")
        wait_until(lambda: h2.has_address(VIP), what="h2 takes over")
        self.assertIn("check dns down -150", h1.instance("VI_1")["priority_detail"])
        # dnsmasq back but answering the wrong address: still down.
        dns[h1] = self.start_dnsmasq(h1, "192.0.2.201")
        wait_until(lambda: "answer lacks 192.0.2.200" in h1.vrrpctl("checks").stdout, what="wrong answer seen")
        time.sleep(0.5)
        self.assertEqual(h1.state("VI_1"), "BACKUP")
        # The right answer again: h1 recovers its priority and preempts.
        dns[h1].send_signal(signal.SIGTERM)
        dns[h1].wait()
        self.start_dnsmasq(h1, "192.0.2.200")
        wait_until(lambda: h1.has_address(VIP), what="h1 preempts back")

    def test_keepalived_vrrp_script_maps_to_exec_check(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        flag = os.path.join(lab.dir, "h1-healthy")
        open(flag, "w").close()
        def ka(host, prio, path):
            return """vrrp_script chk {
    script "/usr/bin/test -f %s"
    interval 0.2
    timeout 0.1
    fall 1
    rise 1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
    virtual_ipaddress { 192.0.2.100/24 }
    track_script { chk }
}
""" % (path, prio)
        h1.start_vrrpd(ka(h1, 200, flag), fmt="keepalived")
        h2.start_vrrpd(ka(h2, 100, "/etc/hostname"), fmt="keepalived")
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        os.unlink(flag)
        wait_until(lambda: h1.state("VI_1") == "FAULT" and h2.has_address(VIP), what="failover on script failure")
        self.assertIn("exit status 1", h1.instance("VI_1")["fault_reason"])
        open(flag, "w").close()
        wait_until(lambda: h1.has_address(VIP), what="h1 back")

    def test_hung_checks_do_not_stop_adverts(self):
        # 30 DNS checks against an address where nothing answers; the master
        # keeps advertising every 100 ms (the backup never takes over).
        lab = self.lab()
        h1, h2 = lab.hosts
        checks = ['{ name = "hung%d"; kind = "dns"; address = "192.0.2.250"; query_name = "svc.example"; '
                  'interval_ms = 100; timeout_ms = 90; }' % i for i in range(30)]
        tracked = ", ".join('{ name = "hung%d"; weight = 1; }' % i for i in range(30))
        h1.start_vrrpd(native_config(instance_config(priority=200, extra="track_checks = ( %s );" % tracked),
                                     tail=check_block(*checks)))
        h2.start_vrrpd(native_config(instance_config(priority=199)))
        wait_until(lambda: h1.has_address(VIP) and h2.state("VI_1") == "BACKUP", what="h1 MASTER")
        before = h2.instance("VI_1")["stats"]["adverts_received"]
        time.sleep(3.0)
        after = h2.instance("VI_1")
        self.assertEqual(after["state"], "BACKUP")
        self.assertEqual(after["stats"]["transitions"], 1)  # only INIT -> BACKUP
        self.assertGreaterEqual(after["stats"]["adverts_received"] - before, 27)  # ~30 in 3 s
        hung = [c for c in h1.status_checks() if c["name"].startswith("hung")]
        self.assertTrue(all(c["state"] == "DOWN" for c in hung))
        self.assertTrue(all("timed out" in c["last_reason"] for c in hung), hung[0])


if __name__ == "__main__":
    unittest.main()
