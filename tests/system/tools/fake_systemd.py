#!/usr/bin/python3
"""A stand-in for systemd's Manager on a private D-Bus bus, for the services
test: org.freedesktop.systemd1 with Subscribe, StartUnit and StopUnit. Each
job ends 100 ms later with a JobRemoved signal whose result is "failed" for
units named fail*.service and "done" otherwise. Every call is appended to
LOG as "StartUnit web.service replace".

usage: fake_systemd.py BUS_ADDRESS LOG
(Debian's python3-dbus and python3-gi, so /usr/bin/python3.)"""

import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

MANAGER = "org.freedesktop.systemd1.Manager"


class Manager(dbus.service.Object):
    def __init__(self, bus, log):
        super().__init__(bus, "/org/freedesktop/systemd1")
        self.log = log
        self.next_job = 1

    def record(self, line):
        with open(self.log, "a") as f:
            f.write(line + "\n")

    @dbus.service.method(MANAGER, in_signature="", out_signature="")
    def Subscribe(self):
        pass

    def job(self, method, unit, mode):
        self.record("%s %s %s" % (method, unit, mode))
        job_id = self.next_job
        self.next_job += 1
        path = "/org/freedesktop/systemd1/job/%d" % job_id
        result = "failed" if unit.startswith("fail") else "done"
        GLib.timeout_add(100, lambda: (self.JobRemoved(job_id, path, unit, result), False)[1])
        return dbus.ObjectPath(path)

    @dbus.service.method(MANAGER, in_signature="ss", out_signature="o")
    def StartUnit(self, unit, mode):
        return self.job("StartUnit", unit, mode)

    @dbus.service.method(MANAGER, in_signature="ss", out_signature="o")
    def StopUnit(self, unit, mode):
        return self.job("StopUnit", unit, mode)

    @dbus.service.signal(MANAGER, signature="uoss")
    def JobRemoved(self, job_id, path, unit, result):
        pass


def main():
    address, log = sys.argv[1], sys.argv[2]
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    name = dbus.service.BusName("org.freedesktop.systemd1", bus)
    manager = Manager(bus, log)
    manager.record("ready")
    GLib.MainLoop().run()
    del name


if __name__ == "__main__":
    main()
