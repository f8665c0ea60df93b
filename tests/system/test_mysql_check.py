"""The mysql health check against real MariaDB servers: each host's network
namespace runs its own private mariadbd (Debian's mariadb-server, started
and stopped by the test), and the VIP follows the healthy database: server
stopped, read_only switched on, replication broken, TLS not offered."""

import os
import shutil
import signal
import subprocess
import unittest

from lab import Lab, instance_config, native_config, wait_until

VIP = "192.0.2.100"
MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"
CHECK_USER, CHECK_PASSWORD = "vrrpd", "check-pw"
REPL_USER, REPL_PASSWORD = "repl", "repl-pw"


class MariaDB:
    """A private mariadbd in one host's namespace: its own datadir, socket and
    port 3306 on every address of the namespace (the namespace is private)."""

    def __init__(self, host, test, tls=False):
        self.host = host
        self.dir = os.path.join(host.dir, "mysql")
        self.datadir = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.proc = None
        self.tls_args = []
        os.makedirs(self.dir)
        if tls:  # a throwaway self-signed certificate (the check does not verify it)
            cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=%s" % host.name, "-days", "1", "-keyout", key, "-out", cert],
                           check=True, capture_output=True, timeout=60)
            self.tls_args = ["--ssl-cert=" + cert, "--ssl-key=" + key]
        subprocess.run([INSTALL_DB, "--no-defaults", "--datadir=" + self.datadir, "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        # Killed even when the test fails: the lab kills its hosts' processes,
        # and this runs first so that mariadbd may end cleanly.
        test.addCleanup(self.stop)
        self.start()
        # The check's account (SLAVE MONITOR for SHOW ALL SLAVES STATUS) and a
        # replication account, kept out of the binary log so that a replica
        # does not replay them.
        self.sql("SET sql_log_bin=0; "
                 "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT SLAVE MONITOR ON *.* TO '%s'@'%%'; "
                 "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT REPLICATION SLAVE ON *.* TO '%s'@'%%';"
                 % (CHECK_USER, CHECK_PASSWORD, CHECK_USER, REPL_USER, REPL_PASSWORD, REPL_USER))

    def start(self):
        self.proc = self.host.popen(
            MARIADBD, "--no-defaults", "--datadir=" + self.datadir, "--socket=" + self.sock,
            "--port=3306", "--bind-address=0.0.0.0", "--user=root",
            "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
            "--log-error=" + os.path.join(self.dir, "error.log"),
            "--server-id=%d" % self.host.index, "--log-bin=mysql-bin", "--skip-name-resolve",
            "--innodb-buffer-pool-size=16M", "--skip-innodb-use-native-aio", *self.tls_args)
        wait_until(lambda: self.proc.poll() is not None or self.sql("SELECT 1", check=False).returncode == 0,
                   timeout=60, interval=0.2, what="mariadbd on %s" % self.host.name)
        if self.proc.poll() is not None:
            raise AssertionError("mariadbd on %s exited with %d:\n%s" % (self.host.name, self.proc.returncode,
                                                                      self.error_log()))

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def sql(self, statement, check=True):
        """Runs statements as root over the server's socket."""
        r = subprocess.run([CLIENT, "--no-defaults", "-S", self.sock, "-uroot", "-N", "-B", "-e", statement],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("%s on %s failed: %s" % (statement, self.host.name, r.stderr.strip()))
        return r

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""


def mysql_check(name="db", extra=""):
    return ('{ name = "%s"; kind = "mysql"; address = "127.0.0.1"; user = "%s"; password = "%s"; '
            'interval_ms = 200; timeout_ms = 200; fall = 1; rise = 1; weight = 0; %s }'
            % (name, CHECK_USER, CHECK_PASSWORD, extra))


def config(priority, check, vip=VIP, vrid=51):
    name = check.split('"')[1]
    return native_config(
        instance_config(priority=priority, vrid=vrid, vips=(vip + "/24",),
                        extra='track_checks = ( "%s" );' % name),
        tail="checks = (\n%s\n);\n" % check)


def check_status(host, name):
    for c in host.status_checks():
        if c["name"] == name:
            return c
    raise KeyError(name)


@unittest.skipUnless(os.access(MARIADBD, os.X_OK), "mariadbd is not installed (tests/install-deps.sh installs it)")
class MysqlCheckTest(unittest.TestCase):
    def lab(self):
        lab = Lab(hosts=2)
        self.addCleanup(lab.close)
        return lab

    def databases(self, lab):
        return [MariaDB(h, self) for h in lab.hosts]

    def assert_master(self, master, backup):
        wait_until(lambda: master.has_address(VIP) and master.state("VI_1") == "MASTER", timeout=15,
                   what="%s MASTER" % master.name)
        wait_until(lambda: backup.state("VI_1") in ("BACKUP", "FAULT") and not backup.has_address(VIP),
                   timeout=15, what="%s without the VIP" % backup.name)

    def test_stopped_server_faults_master_and_restart_preempts_back(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        db1, _ = self.databases(lab)
        h1.start_vrrpd(config(200, mysql_check()))
        h2.start_vrrpd(config(100, mysql_check()))
        self.assert_master(h1, h2)
        wait_until(lambda: check_status(h1, "db")["last_reason"] == "SELECT 1 ok", what="h1 check healthy")
        self.assertEqual(check_status(h1, "db")["target"], "vrrpd@127.0.0.1:3306")

        db1.stop()
        wait_until(lambda: h1.state("VI_1") == "FAULT", what="h1 FAULT")
        # With fall = 1 the first failed check faults the master. It may be
        # one that connected while the server was shutting down and lost the
        # connection during SELECT 1; once the server is gone, connects fail.
        self.assertRegex(h1.instance("VI_1")["fault_reason"],
                         r"^check db is down: (connect: |query failed: Lost connection)")
        wait_until(lambda: "Can't connect to server on '127.0.0.1'" in check_status(h1, "db")["last_reason"],
                   what="h1's check reports the refused connect")
        self.assert_master(h2, h1)

        db1.start()
        self.assert_master(h1, h2)
        self.assertIn("Check(db) DOWN -> UP (SELECT 1 ok)", h1.log())

    def test_expect_writable_follows_read_only(self):
        lab = self.lab()
        h1, h2 = lab.hosts
        db1, _ = self.databases(lab)
        check = mysql_check(extra='expect_role = "writable";')
        h1.start_vrrpd(config(200, check))
        h2.start_vrrpd(config(100, check))
        self.assert_master(h1, h2)
        wait_until(lambda: check_status(h1, "db")["last_reason"] == "SELECT 1 ok, writable",
                   what="h1 writable")

        db1.sql("SET GLOBAL read_only=1")
        wait_until(lambda: h1.state("VI_1") == "FAULT", what="h1 FAULT")
        self.assertIn("check db is down: read_only is ON, expected writable", h1.instance("VI_1")["fault_reason"])
        self.assert_master(h2, h1)

        db1.sql("SET GLOBAL read_only=0")
        self.assert_master(h1, h2)

    def test_tls_check_needs_a_server_that_offers_tls(self):
        # Only h1's server offers TLS: h2, although preferred, goes FAULT.
        lab = self.lab()
        h1, h2 = lab.hosts
        MariaDB(h1, self, tls=True)
        MariaDB(h2, self)
        check = mysql_check(extra="tls = true;")
        h1.start_vrrpd(config(100, check))
        h2.start_vrrpd(config(200, check))
        wait_until(lambda: h2.state("VI_1") == "FAULT", what="h2 FAULT")
        self.assertIn("check db is down: connect: TLS required, but the server does not offer it",
                      h2.instance("VI_1")["fault_reason"])
        self.assert_master(h1, h2)
        wait_until(lambda: check_status(h1, "db")["last_reason"] == "SELECT 1 ok", what="h1 check healthy over TLS")
        self.assertEqual(check_status(h1, "db")["target"], "vrrpd@127.0.0.1:3306 tls")

    def test_broken_replication_moves_the_read_vip(self):
        # h2's server replicates from h1's over the lab network. A "read"
        # VIP prefers h2 while it is a healthy replica; h1 stands by.
        lab = self.lab()
        h1, h2 = lab.hosts
        db1, db2 = self.databases(lab)
        db2.sql("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=3306, MASTER_USER='%s', MASTER_PASSWORD='%s', "
                "MASTER_CONNECT_RETRY=1; START SLAVE; SET GLOBAL read_only=1" % (h1.ipv4, REPL_USER, REPL_PASSWORD))
        replica = mysql_check("replica", 'expect_role = "read-only"; max_replica_lag_s = 10;')
        h2.start_vrrpd(config(200, replica))
        h1.start_vrrpd(config(100, mysql_check("replica")))  # h1 stands by while its server lives
        try:
            wait_until(lambda: check_status(h2, "replica")["last_reason"] ==
                       "SELECT 1 ok, read-only, replica lag 0 s", timeout=20, what="h2 a healthy replica")
        except AssertionError:
            print(db2.sql("SHOW SLAVE STATUS\\G", check=False).stdout)
            raise
        self.assert_master(h2, h1)

        db2.sql("STOP SLAVE IO_THREAD")
        wait_until(lambda: h2.state("VI_1") == "FAULT", what="h2 FAULT")
        self.assertIn("check replica is down: replica IO thread not running (No)",
                      h2.instance("VI_1")["fault_reason"])
        self.assert_master(h1, h2)

        # Writes on the primary while the IO thread is stopped; it resumes and
        # catches up: healthy again, and h2 preempts back.
        db1.sql("CREATE DATABASE app; CREATE TABLE app.t (i INT PRIMARY KEY); INSERT INTO app.t VALUES (1)")
        db2.sql("START SLAVE IO_THREAD")
        self.assert_master(h2, h1)
        wait_until(lambda: db2.sql("SELECT i FROM app.t", check=False).stdout.strip() == "1",
                   what="the row replicated")


if __name__ == "__main__":
    unittest.main()
