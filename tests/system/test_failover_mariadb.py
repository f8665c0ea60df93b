"""Zero-loss MariaDB failover (issue 5): Debian's mariadbd with its data
directory on the replicated volume r0, started and stopped by vrrpd as a
service of the VRRP instance that owns r0, reached by a client host through
the VIP. The client inserts rows one autocommitted statement at a time and
records every acknowledged commit. The master is killed (kill -9 of its
daemon and of its mariadbd, as when the node dies) or its link is cut; after
the backup has taken over (promote, mount, InnoDB crash recovery, VIP), every
acknowledged row is in the table, CHECK TABLE passes, and the client goes on
through the same VIP. Prints the client-observed outage.

Run: cd tests/system && python3 test_failover_mariadb.py -v"""

import json
import os
import shutil
import subprocess
import threading
import time
import unittest

from lab import Lab, instance_config, wait_until
from test_failover_faults import script_service
from test_replication import prepare_formatted_volume, replication_status, resource_config

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"
ADMIN = shutil.which("mariadb-admin") or "/usr/bin/mariadb-admin"
SIZE_MIB = 160
VIP = "192.0.2.100"

# The service: mariadbd on the volume, with node-local socket and pid file.
# start initialises the data directory on first use and starts mariadbd in
# its own session; status pings it over the socket; stop asks it to shut
# down and waits for it to exit.
SERVICE_SCRIPT = r"""#!/bin/sh
# usage: db.sh start|stop|status MOUNT RUNDIR
set -u
cmd=$1 mnt=$2 run=$3
data=$mnt/mysql
case $cmd in
start)
  mkdir -p "$run"
  if [ ! -d "$data/mysql" ]; then
    %(install_db)s --no-defaults --datadir="$data" --user=root --auth-root-authentication-method=normal \
      --skip-test-db > "$run/install.log" 2>&1 || exit 1
  fi
  setsid %(mariadbd)s --no-defaults --datadir="$data" --socket="$run/db.sock" --port=3306 \
    --bind-address=0.0.0.0 --user=root --pid-file="$run/db.pid" --log-error="$run/error.log" \
    --skip-name-resolve --innodb-buffer-pool-size=16M --innodb-log-file-size=8M \
    --skip-innodb-use-native-aio --innodb-flush-log-at-trx-commit=1 < /dev/null > /dev/null 2>&1 &
  ;;
status)
  exec %(admin)s --no-defaults -S "$run/db.sock" -uroot --connect-timeout=1 ping
  ;;
stop)
  [ -f "$run/db.pid" ] || exit 0
  pid=$(cat "$run/db.pid")
  %(admin)s --no-defaults -S "$run/db.sock" -uroot shutdown 2>/dev/null || kill "$pid" 2>/dev/null
  for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  exit 1
  ;;
esac
""" % {"install_db": INSTALL_DB, "mariadbd": MARIADBD, "admin": ADMIN}


def pair_config(host, peer, priority, resource_extra=""):
    services = script_service("db", os.path.join(host.dir, "db.sh"),
                              [os.path.join(host.dir, "mnt"), os.path.join(host.dir, "db")],
                              start_timeout_ms=60000, stop_timeout_ms=40000)
    inst = instance_config(priority=priority, interval_ms=100,
                           extra='    resources = "r0"; services = "db"; preempt = false;\n'
                                 '    takeover_timeout_ms = 20000; release_timeout_ms = 45000;\n')
    return (resource_config(host, peer, extra=resource_extra) + services +
            "vrrp_instances = (\n%s\n);\n" % inst)


class Client:
    """Inserts rows 1, 2, 3, ... through the VIP from the client host, one
    connection and one autocommitted INSERT per row, and records which were
    acknowledged and when."""

    def __init__(self, host):
        self.host = host
        self.acked = []      # (row, monotonic time of the acknowledgement)
        self.failed = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.next_row = 1

    def insert(self, row):
        r = subprocess.run(["ip", "netns", "exec", self.host.ns, CLIENT, "--no-defaults", "-h", VIP, "-uapp",
                            "-papp-secret", "--connect-timeout=1", "-e",
                            "INSERT INTO app.rows (id) VALUES (%d)" % row],
                           capture_output=True, text=True, timeout=30)
        return r.returncode == 0

    def run(self):
        while not self.stop_flag.is_set():
            row = self.next_row
            self.next_row += 1
            if self.insert(row):
                self.acked.append((row, time.monotonic()))
            else:
                self.failed += 1
                time.sleep(0.02)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=60)

    def outage_around(self, t):
        """The longest gap between two acknowledgements around time t."""
        times = [a[1] for a in self.acked]
        gaps = [(b - a) for a, b in zip(times, times[1:]) if a <= t + 1 and b >= t]
        return max(gaps) if gaps else None


@unittest.skipUnless(os.access(MARIADBD, os.X_OK), "mariadbd is not installed (tests/install-deps.sh installs it)")
class MariaDBFailoverTest(unittest.TestCase):
    def rstatus(self, host):
        return replication_status(host)

    def sql(self, host, statement, check=True):
        r = subprocess.run([CLIENT, "--no-defaults", "-S", os.path.join(host.dir, "db", "db.sock"), "-uroot",
                            "-N", "-B", "-e", statement], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("%s on %s failed: %s" % (statement, host.name, r.stderr.strip()))
        return r.stdout

    def takeover_text(self, host):
        evs = json.loads(host.vrrpctl("events", "--json").stdout)["events"]
        done = [e["text"] for e in evs if e["source"] == "failover" and e["what"] == "takeover-done"]
        return done[-1] if done else "(no takeover)"

    def pair(self, resource_extra=""):
        lab = Lab(hosts=3)
        self.addCleanup(lab.close)
        h1, h2, client = lab.hosts
        for h, peer in ((h1, h2), (h2, h1)):
            with open(os.path.join(h.dir, "r0.img"), "wb") as f:
                f.truncate(SIZE_MIB << 20)
            with open(os.path.join(h.dir, "db.sh"), "w") as f:
                f.write(SERVICE_SCRIPT)
            h.start_vrrpd(resource_config(h, peer, extra=resource_extra))
            self.addCleanup(self.kill_mariadb, h)  # after the daemon's own stop, if it could not
            self.addCleanup(h.stop_vrrpd)  # graceful: stops mariadbd, unmounts, detaches
        prepare_formatted_volume(h1, h2, sync_timeout=60)
        h1.write_config(pair_config(h1, h2, 200, resource_extra))
        h2.write_config(pair_config(h2, h1, 100, resource_extra))
        h1.vrrpctl("reload")
        wait_until(lambda: h1.state("VI_1") == "MASTER", what="h1 MASTER")
        h2.vrrpctl("reload")
        # The first start initialises the data directory on the volume.
        wait_until(lambda: h1.has_address(VIP), timeout=90, what="VIP on h1 after mariadbd started")
        self.sql(h1, "CREATE DATABASE app; CREATE TABLE app.rows (id INT PRIMARY KEY) ENGINE=InnoDB; "
                     "CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret'; GRANT ALL ON app.* TO 'app'@'%';")
        return lab, h1, h2, client

    def kill_mariadb(self, host):
        try:
            with open(os.path.join(host.dir, "db", "db.pid")) as f:
                os.kill(int(f.read()), 9)
        except (OSError, ValueError):
            pass

    def check_no_lost_commit(self, client, h2, fault_at, what):
        wait_until(lambda: h2.has_address(VIP), timeout=60, what="VIP on h2")
        # The client goes on through the same VIP.
        acked_before = len(client.acked)
        wait_until(lambda: len(client.acked) >= acked_before + 20, timeout=60, what="inserts through h2")
        client.stop()
        acked = [row for row, _ in client.acked]
        stored = {int(x) for x in self.sql(h2, "SELECT id FROM app.rows").split()}
        lost = sorted(set(acked) - stored)
        self.assertEqual(lost, [], "acknowledged rows missing after the failover")
        check = self.sql(h2, "CHECK TABLE app.rows")
        self.assertIn("\tstatus\tOK", check)
        outage = client.outage_around(fault_at)
        print("\n  %s: %d rows acknowledged, none lost; client outage %.2f s; %d failed attempts; h2: %s"
              % (what, len(acked), outage, client.failed, self.takeover_text(h2)))

    def inserting_client(self, host):
        """The client, started, once it has 30 acknowledged rows through h1."""
        client = Client(host)
        client.start()
        self.addCleanup(client.stop)
        wait_until(lambda: len(client.acked) >= 30, timeout=60, what="inserts through h1")
        return client

    def test_kill_9_of_the_master_loses_no_acknowledged_commit(self):
        lab, h1, h2, client_host = self.pair()
        client = self.inserting_client(client_host)
        fault_at = time.monotonic()
        # The node dies: its daemon and its database, with no clean shutdown.
        self.kill_mariadb(h1)
        h1.kill_vrrpd()
        self.check_no_lost_commit(client, h2, fault_at, "kill -9")

    def test_link_cut_of_the_master_loses_no_acknowledged_commit(self):
        lab, h1, h2, client_host = self.pair(resource_extra='after_sb_0pri = "discard-zero-changes"; '
                                                           'after_sb_1pri = "discard-secondary";')
        client = self.inserting_client(client_host)
        fault_at = time.monotonic()
        lab.cut(h1)
        self.check_no_lost_commit(client, h2, fault_at, "link cut")
        # h1 stepped down on carrier loss: mariadbd stopped, r0 demoted.
        wait_until(lambda: self.rstatus(h1)["role"] == "Secondary", timeout=60, what="h1 demoted")
        lab.restore(h1)
        wait_until(lambda: self.rstatus(h1)["disk"] == "UpToDate" and self.rstatus(h1)["connection"] == "Connected",
                   timeout=60, what="h1 back in sync")


if __name__ == "__main__":
    unittest.main()
