"""Quorum with a witness (issue 5): two data nodes h1, h2 own r0 and a web
service through VRRP instance VI_1 (VRRP on eth0, replication on eth1, as in
test_failover_faults.py) and h3 runs vrrpd as the witness (witness_server)
on the service network. The double failure that two nodes cannot tell from a
dead peer, a full partition between h1 and h2:

- with the witness, both still reaching it: h2 becomes VRRP MASTER but its
  claim is refused (h1 holds and renews the lease), so it never promotes;
  h1 keeps the data, the service and the VIP;
- with the witness, h1 isolated from everything: h1 loses the peer and the
  witness, steps down after its lease; the witness gives the lock to h2 one
  lease later, and h2 takes over;
- with the witness down, a hand-over (maintenance on h1) promotes h2 on the
  vote of its connected replication peer; when h1 dies too, h2 has one vote
  of three and steps down;
- without a witness, the same full partition gives two primaries: the
  documented gap that the witness closes.

Run: cd tests/system && python3 test_witness.py -v"""

import time
import unittest

from lab import wait_until
import test_failover_faults as faults

VIP = faults.VIP

SECRET = "witness-s3cret"
LEASE_MS = 2000


def witness_config(host):
    return """global = { router_id = "%s"; witness_server = { address = "%s"; shared_secret = "%s"; lease_ms = %d; }; };
""" % (host.name, host.ipv4, SECRET, LEASE_MS)


def data_node_global(witness_address):
    return 'witness = { address = "%s"; shared_secret = "%s"; lease_ms = %d; };' % (witness_address, SECRET, LEASE_MS)


class WitnessTest(faults.FaultsPair):

    def witness_pair(self):
        def start_witness(lab):
            w = lab.hosts[2]
            w.start_vrrpd(witness_config(w))
            self.addCleanup(w.stop_vrrpd)
        # The witness is h3, whose service-network address is 192.0.2.13 (lab.py).
        return self.pair(second_link=True, global_extra=data_node_global("192.0.2.13"),
                         h2_extra="    takeover_timeout_ms = 3000; fault_hold_ms = 1000;\n", on_lab=start_witness)

    def test_full_partition_with_the_witness_keeps_one_primary(self):
        lab, h1, h2, client = self.witness_pair()
        self.assertEqual(h1.instance("VI_1")["failover"]["quorum_held"], True)
        lab.drop(between=[("p1", "p2"), ("q1", "q2")])  # h1 and h2 cut apart; both still reach h3
        wait_until(lambda: h2.state("VI_1") in ("MASTER", "FAULT"), timeout=5, what="h2 stops hearing h1")
        states = self.assert_h1_alone_primary_for(h1, h2, 8)
        failed = [e for e in self.events(h2, "failover") if e["what"] == "takeover-failed"]
        self.assertTrue(failed)
        self.assertIn("the witness gives VI_1 to h1", failed[0]["text"])
        print("\n  full partition, witness reachable: h2 went %s, refused: %s" % ("/".join(sorted(states)),
                                                                               failed[0]["text"]))

    def test_isolated_primary_steps_down_and_the_witness_lets_the_peer_take_over(self):
        lab, h1, h2, client = self.witness_pair()
        cut_at = time.monotonic()
        # h1 loses everything, without carrier loss: frames dropped at the switch.
        lab.drop(between=[("p1", "p2"), ("p1", "p3"), ("q1", "q2")])
        wait_until(lambda: self.rstatus(h1)["role"] == "Secondary", timeout=20, what="h1 steps down")
        stepped = [e for e in self.events(h1, "failover") if e["what"] == "step-down"]
        self.assertTrue(stepped, self.events(h1, "failover"))
        self.assertIn("no majority", stepped[0]["text"])
        wait_until(lambda: h2.has_address(VIP), timeout=30, what="VIP on h2")
        took = time.monotonic() - cut_at
        self.assertEqual(self.rstatus(h2)["role"], "Primary")
        self.assertFalse(h1.has_address(VIP))
        self.assertEqual(self.fetch(client), "served from r0\n")
        print("\n  isolated primary: h1 stepped down (%s); h2 served on the VIP %.1f s after the cut"
              % (stepped[0]["text"][:60], took))

    def test_with_the_witness_down_the_connected_peer_is_the_second_vote(self):
        lab, h1, h2, client = self.witness_pair()
        lab.hosts[2].stop_vrrpd()  # the witness is down; h3 stays up as the client
        # A planned hand-over: h1 steps down but stays up and connected.
        h1.vrrpctl("maintenance", "VI_1", "on")
        wait_until(lambda: h2.has_address(VIP), timeout=30, what="VIP on h2")
        texts = [e["text"] for e in self.events(h2, "failover")]
        self.assertTrue(any("majority with the connected replication peer" in t for t in texts), texts)
        self.assertEqual(self.fetch(client), "served from r0\n")
        # Active on the peer's vote for longer than a lease.
        end = time.monotonic() + 2 * LEASE_MS / 1000.0
        while time.monotonic() < end:
            self.assertEqual(self.rstatus(h2)["role"], "Primary")
            time.sleep(0.2)
        self.assertTrue(h2.has_address(VIP))
        # Then the peer goes too: one vote of three, so h2 steps down and
        # does not promote again while it has no majority.
        h1.kill_vrrpd()
        wait_until(lambda: self.rstatus(h2)["role"] == "Secondary", timeout=20, what="h2 steps down")
        stepped = [e for e in self.events(h2, "failover") if e["what"] == "step-down"]
        self.assertTrue(stepped, self.events(h2, "failover"))
        self.assertIn("no majority", stepped[0]["text"])
        end = time.monotonic() + 4
        while time.monotonic() < end:
            self.assertEqual(self.rstatus(h2)["role"], "Secondary")
            self.assertFalse(h2.has_address(VIP))
            time.sleep(0.2)
        refused = [e["text"] for e in self.events(h2, "failover") if e["what"] == "takeover-failed"]
        print("\n  witness down: hand-over on the peer's vote; after the peer died too h2 stepped down (%s) and "
              "was refused %d time(s)" % (stepped[0]["text"][:40], len(refused)))

    def test_full_partition_without_a_witness_gives_two_primaries(self):
        lab, h1, h2, client = self.pair(second_link=True, h2_extra="    takeover_timeout_ms = 5000;\n")
        lab.drop(between=[("p1", "p2"), ("q1", "q2")])
        wait_until(lambda: self.rstatus(h2)["role"] == "Primary", timeout=30, what="h2 promotes")
        # The gap the witness closes: both sides Primary, each thinking the other dead.
        self.assertEqual(self.rstatus(h1)["role"], "Primary")
        print("\n  full partition without a witness: h1 and h2 both Primary (split brain at the next connect)")


if __name__ == "__main__":
    unittest.main()
