"""Test hosts for system tests: network namespaces joined by a bridge.

A "switch" namespace holds bridge br0 (a bridge in the root namespace does
not forward unicast IP on these machines). Each host namespace has eth0 (and
optionally eth1 on a second bridge) whose peer is a port of the bridge, so a
test can cut a host's link from the switch side. Only documentation addresses
are used: 192.0.2.0/24, 198.51.100.0/24 and 2001:db8::/32.

Everything a Lab creates (namespaces, processes, temp files) is removed by
close(), which runs also when a test fails or is interrupted.
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("VRRPD_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
VRRPD = os.environ.get("VRRPD_BIN", os.path.join(BUILD, "vrrpd", "vrrpd"))
VRRPCTL = os.environ.get("VRRPCTL_BIN", os.path.join(BUILD, "vrrpd", "vrrpctl"))
FAULTY_DISK = os.environ.get("FAULTY_DISK_BIN", os.path.join(BUILD, "tests", "faulty_disk"))


def sh(*args, check=True, capture=True, timeout=30):
    """Runs a command (a list of words, never a shell string)."""
    r = subprocess.run(list(args), capture_output=capture, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate() until it is true; raises AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def _set_child_subreaper(on):
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def _reap(pid, timeout, what):
    """Waits for a child (or an adopted orphan) to exit and reaps it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not ours (reaped elsewhere)
        if done:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s (pid %d) did not exit within %.0f s" % (what, pid, timeout))
        time.sleep(0.02)


def _fuse_connections(pid):
    """The fusectl connection numbers of the FUSE mounts in pid's mount namespace."""
    conns = []
    try:
        with open("/proc/%d/mountinfo" % pid) as f:
            for line in f:
                fields = line.split()
                fstype = fields[fields.index("-") + 1]
                if fstype.startswith("fuse") and fstype != "fusectl":
                    conns.append(fields[2].split(":")[1])
    except (OSError, ValueError, IndexError):
        pass
    return conns


def _abort_fuse_connections(conns):
    """Aborts FUSE connections through a fusectl mounted for the purpose (the
    host's /sys/fs/fuse/connections is not necessarily mounted)."""
    if not conns:
        return
    ctl = tempfile.mkdtemp(prefix="vrrpd-fusectl-")
    try:
        sh("mount", "-t", "fusectl", "none", ctl)
        for c in conns:
            try:
                with open(os.path.join(ctl, c, "abort"), "w") as f:
                    f.write("1")
            except OSError:
                pass
        sh("umount", "-l", ctl, check=False)
    finally:
        os.rmdir(ctl)


class Host:
    """One test host: a namespace with eth0 (and eth1) on the lab's bridges."""

    def __init__(self, lab, name, index):
        self.lab = lab
        self.name = name
        self.ns = lab.prefix + name
        self.index = index
        self.ipv4 = "192.0.2.%d" % (10 + index)
        self.ipv4_b = "198.51.100.%d" % (10 + index)
        self.ipv6 = "2001:db8::%d" % (10 + index)
        self.dir = os.path.join(lab.dir, name)
        os.makedirs(self.dir)
        self.procs = []
        self.vrrpd = None
        self.crashes = []  # what stop_vrrpd() saw go wrong

    def run(self, *args, check=True, timeout=30):
        return sh("ip", "netns", "exec", self.ns, *args, check=check, timeout=timeout)

    def in_daemon(self, *args, check=True, timeout=60):
        """Runs a command in vrrpd's network and mount namespaces. `ip netns
        exec` gives every process its own mount namespace, so the file systems
        vrrpd mounts are visible only from inside its own."""
        return sh("nsenter", "-t", str(self.vrrpd.pid), "-m", "-n", "--", *args, check=check, timeout=timeout)

    def popen(self, *args, **kw):
        log = open(os.path.join(self.dir, os.path.basename(args[0]) + ".%d.log" % len(self.procs)), "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + list(args), stdout=log,
                             stderr=subprocess.STDOUT, **kw)
        p.log_path = log.name
        p.log_file = log
        self.procs.append(p)
        return p

    # --- addresses -----------------------------------------------------
    def addresses(self, dev="eth0"):
        out = self.run("ip", "-j", "addr", "show", "dev", dev).stdout
        data = json.loads(out)
        return [a["local"] + "/" + str(a["prefixlen"]) for a in data[0].get("addr_info", [])] if data else []

    def has_address(self, addr, dev="eth0"):
        return any(a.split("/")[0] == addr for a in self.addresses(dev))

    # --- vrrpd ---------------------------------------------------------
    @property
    def socket(self):
        return os.path.join(self.dir, "vrrpd.sock")

    def write_config(self, text, name="vrrpd.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_vrrpd(self, config_text, fmt="native", extra=()):
        path = self.write_config(config_text)
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # left by a daemon killed with SIGKILL; wait for the new one
        args = [VRRPD, "-n", "-l", "-D", "-S", "-f", path, "--config-format", fmt,
                "-p", os.path.join(self.dir, "vrrpd.pid"), "--control-socket", self.socket] + list(extra)
        self.vrrpd = self.popen(*args)
        wait_until(lambda: os.path.exists(self.socket) or self.vrrpd.poll() is not None,
                   what="%s vrrpd control socket" % self.name)
        if self.vrrpd.poll() is not None:
            raise AssertionError("vrrpd on %s exited with %d:\n%s" % (self.name, self.vrrpd.returncode,
                                                                      self.log()))
        return self.vrrpd

    def stop_vrrpd(self, sig=signal.SIGTERM, timeout=10):
        if self.vrrpd and self.vrrpd.poll() is None:
            self.vrrpd.send_signal(sig)
            self.vrrpd.wait(timeout=timeout)
            if sig in (signal.SIGTERM, signal.SIGINT) and self.vrrpd.returncode < 0:
                # A clean stop that crashed (Lab.close() fails the test).
                self.crashes.append("vrrpd on %s died of signal %d while stopping after signal %d; the end of "
                                    "its log:\n%s" % (self.name, -self.vrrpd.returncode, sig, self.log()[-2000:]))
        rc = self.vrrpd.returncode if self.vrrpd else None
        self.vrrpd = None
        return rc

    def vrrpd_anchor(self):
        """The pid of vrrpd's mount-namespace anchor (vrrpd/daemon/mount_ns_anchor.h), or None."""
        for c in _children(self.vrrpd.pid):
            if _comm(c) == "vrrpd-anchor":
                return c
        return None

    def kill_vrrpd(self, timeout=10):
        """SIGKILL, as a crash, and waits for the process to be reaped. The
        daemon's mount-namespace anchor keeps the namespace (ip netns exec
        gives the daemon its own) until the daemon has released its /dev/fuse
        files, so the kernel's unmount of the volume's ext4 then fails fast
        instead of waiting for the dying FUSE server (replication README,
        "SIGKILL and the mount namespace"). If the exit still hangs, the dead
        daemon's FUSE connections are aborted through fusectl (what an
        operator would do) so that the lab can be cleaned up, and the test
        fails. The anchor, an orphan once the daemon is gone, is adopted
        (child subreaper) and reaped, so that no zombie is left."""
        pid = self.vrrpd.pid
        anchor = self.vrrpd_anchor()
        conns = _fuse_connections(pid)
        _set_child_subreaper(True)
        try:
            self.vrrpd.kill()
            try:
                self.vrrpd.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _abort_fuse_connections(conns)
                try:
                    self.vrrpd.wait(timeout=30)
                    if anchor is not None:
                        _reap(anchor, 10, "the mount-namespace anchor of vrrpd on %s" % self.name)
                except (subprocess.TimeoutExpired, AssertionError):
                    pass
                raise AssertionError("vrrpd on %s (pid %d) was not reaped within %.0f s of SIGKILL: its exit hung "
                                     "(the mount namespace teardown waiting for its own FUSE export?); FUSE "
                                     "connections %s aborted through fusectl to clean up"
                                     % (self.name, pid, timeout, conns or "(none found)")) from None
            if anchor is not None:
                _reap(anchor, timeout, "the mount-namespace anchor of vrrpd on %s" % self.name)
        finally:
            _set_child_subreaper(False)
        return self.vrrpd.returncode

    def log(self):
        if not self.vrrpd and not self.procs:
            return ""
        p = self.vrrpd or self.procs[-1]
        with open(p.log_path) as f:
            return f.read()

    def vrrpctl(self, *args, check=True):
        try:
            return sh(VRRPCTL, "-s", self.socket, *args, check=check)
        except RuntimeError as e:
            # A daemon that died is the news, not the refused connection.
            if self.vrrpd is not None and self.vrrpd.poll() is not None:
                raise RuntimeError("%s\nvrrpd on %s had exited with %d; the end of its log:\n%s"
                                   % (e, self.name, self.vrrpd.returncode, self.log()[-3000:])) from None
            raise

    def status(self):
        return json.loads(self.vrrpctl("status", "--json").stdout)

    def instance(self, name):
        for i in self.status()["instances"]:
            if i["name"] == name:
                return i
        raise KeyError(name)

    def status_checks(self):
        return json.loads(self.vrrpctl("checks", "--json").stdout)["checks"]

    def state(self, name):
        return self.instance(name)["state"]

    def close(self):
        if self.vrrpd is not None and self.vrrpd.poll() is None:
            try:
                self.kill_vrrpd()
            except AssertionError as e:
                print("lab cleanup: %s" % e, file=sys.stderr)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            p.log_file.close()


class Lab:
    """A switch namespace and N hosts. Use as a context manager."""

    counter = 0

    def __init__(self, hosts=2, second_link=False):
        Lab.counter += 1
        # Namespace names must be unique across concurrently running tests.
        self.prefix = "vt%d_%d_" % (os.getpid() % 100000, Lab.counter)
        self.dir = tempfile.mkdtemp(prefix="vrrpd-lab-")
        self.switch = self.prefix + "sw"
        self._loops_before = self._loop_backing_files()
        self.hosts = []
        self._namespaces = []
        try:
            self._add_ns(self.switch)
            sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", self.switch, "link", "set", "br0", "up")
            if second_link:
                sh("ip", "-n", self.switch, "link", "add", "br1", "type", "bridge")
                sh("ip", "-n", self.switch, "link", "set", "br1", "up")
            for i in range(1, hosts + 1):
                self.hosts.append(self._add_host("h%d" % i, i, second_link))
        except BaseException:
            self.close()
            raise

    def _add_ns(self, ns):
        sh("ip", "netns", "add", ns)
        self._namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        # No duplicate address detection: link-local addresses usable at once.
        for key in ("net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", key + "=0")

    def _add_host(self, name, index, second_link):
        host = Host(self, name, index)
        self._add_ns(host.ns)
        links = [("eth0", "br0", host.ipv4, "p%d" % index)]
        if second_link:
            links.append(("eth1", "br1", host.ipv4_b, "q%d" % index))
        for dev, bridge, addr, port in links:
            sh("ip", "link", "add", dev, "netns", host.ns, "type", "veth", "peer", "name", port,
               "netns", self.switch)
            sh("ip", "-n", self.switch, "link", "set", port, "master", bridge)
            sh("ip", "-n", self.switch, "link", "set", port, "up")
            sh("ip", "-n", host.ns, "addr", "add", addr + "/24", "dev", dev)
            if dev == "eth0":
                sh("ip", "-n", host.ns, "addr", "add", host.ipv6 + "/64", "dev", dev, "nodad")
            sh("ip", "-n", host.ns, "link", "set", dev, "up")
        return host

    # --- faults --------------------------------------------------------
    def cut(self, host, port_prefix="p"):
        """Cuts host's link at the switch: the host sees carrier loss."""
        sh("ip", "-n", self.switch, "link", "set", "%s%d" % (port_prefix, host.index), "down")

    def restore(self, host, port_prefix="p"):
        sh("ip", "-n", self.switch, "link", "set", "%s%d" % (port_prefix, host.index), "up")

    def drop(self, ports=(), between=()):
        """Drops frames at the switch with every link up (no carrier loss):
        all of each port in `ports`, and those between each (port, port)
        pair in `between`, both ways. undrop() ends it."""
        rules = ['iifname "%s" drop; oifname "%s" drop;' % (p, p) for p in ports]
        rules += ['iifname "%s" oifname "%s" drop; iifname "%s" oifname "%s" drop;' % (a, b, b, a)
                  for a, b in between]
        subprocess.run(["ip", "netns", "exec", self.switch, "nft", "-f", "-"], check=True, text=True,
                       input="table bridge faults { chain forward_drop { type filter hook forward priority 0; "
                             "%s }; }" % " ".join(rules))

    def undrop(self):
        sh("ip", "netns", "exec", self.switch, "nft", "delete", "table", "bridge", "faults")

    def switch_run(self, *args, check=True):
        return sh("ip", "netns", "exec", self.switch, *args, check=check)

    # What a daemon built with -DVRRPD_SANITIZE=ON prints when it finds a
    # bug; such a daemon goes on (UBSan) or exits at the end (LeakSanitizer),
    # so a test would not notice without looking.
    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: ")

    def _sanitizer_reports(self):
        found = []
        for h in self.hosts:
            for p in h.procs:
                if not os.path.basename(p.log_path).startswith("vrrpd."):
                    continue
                try:
                    with open(p.log_path, errors="replace") as f:
                        lines = f.read().splitlines()
                except OSError:
                    continue
                for i, line in enumerate(lines):
                    if any(m in line for m in self.SANITIZER_MARKERS):
                        found.append("%s (%s):\n%s" % (h.name, os.path.basename(p.log_path),
                                                         "\n".join(lines[i:i + 12])))
                        break
        return found

    def close(self):
        for h in self.hosts:
            h.close()
        reports = self._sanitizer_reports() + [c for h in self.hosts for c in h.crashes]
        # Whatever still runs in the lab's namespaces (a service's daemon in
        # its own session, outliving a killed vrrpd) goes with them.
        for ns in self._namespaces:
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        self._release_volumes()
        for ns in reversed(self._namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self._namespaces = []
        if os.environ.get("VRRPD_KEEP_LAB"):
            print("lab files kept in", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("vrrpd crashed or a sanitizer reported a bug in it:\n" + "\n\n".join(reports))

    @staticmethod
    def _loop_backing_files():
        """{loop device name: its backing file as the kernel names it}."""
        out = {}
        for dev in os.listdir("/sys/block"):
            try:
                with open(os.path.join("/sys/block", dev, "loop", "backing_file")) as f:
                    out[dev] = f.read().strip()
            except OSError:
                continue
        return out

    def _release_volumes(self):
        """Safety net after the daemons are gone: mounts under the lab's
        directory (in this mount namespace) and loop devices whose backing
        file is under it, as left by a daemon killed with SIGKILL. A daemon's
        export file is NAME/fuse/dev on a FUSE mount in the daemon's own mount
        namespace; once that namespace is gone the kernel names the file just
        "/dev", so such a loop device that appeared during this lab is one of
        ours too (a live one of another lab shows its full path)."""
        with open("/proc/self/mounts") as f:
            points = [l.split()[1].replace("\\040", " ") for l in f]
        for p in reversed(points):
            if p.startswith(self.dir + "/"):
                sh("umount", "-l", p, check=False)
        for dev, path in self._loop_backing_files().items():
            orphaned_export = path == "/dev" and self._loops_before.get(dev) != path
            if path.startswith(self.dir + "/") or orphaned_export:
                sh("losetup", "-d", "/dev/" + dev, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def instance_config(name="VI_1", vrid=51, priority=100, interval_ms=100, vips=("192.0.2.100/24",),
                    interface="eth0", extra=""):
    """One vrrp_instances entry in the native format."""
    vip_list = ", ".join('"%s"' % v for v in vips)
    return """  {
    name = "%s";
    interface = "%s";
    virtual_router_id = %d;
    priority = %d;
    advert_interval_ms = %d;
    virtual_addresses = ( %s );
%s
  }""" % (name, interface, vrid, priority, interval_ms, vip_list, extra)


def native_config(*instances, global_extra="", tail=""):
    return "global = { router_id = \"test\"; %s };\nvrrp_instances = (\n%s\n);\n%s" % (
        global_extra, ",\n".join(instances), tail)
