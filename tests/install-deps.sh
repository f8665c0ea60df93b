#!/usr/bin/env bash
# Installs what vrrpd needs to build and to run its tests on Debian 12:
# compilers and libraries, plus the real peers and tools the system tests
# start (keepalived, tcpdump, nftables, iproute2, snmpd, snmptrapd). Idempotent;
# needs root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libnl-3-dev libnl-route-3-dev libmnl-dev libconfig++-dev libssl-dev nlohmann-json3-dev
  libgtest-dev googletest
  python3 iproute2 nftables tcpdump keepalived dnsmasq-base procps util-linux mount
  libmariadb-dev mariadb-server libfuse3-dev fuse3 e2fsprogs
  libsystemd-dev dbus-daemon python3-dbus python3-gi
  libsnmp-dev snmpd snmptrapd snmp
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # keepalived's and mariadb-server's packages try to start their services;
  # the tests start their own instances, so tell invoke-rc.d not to (exit
  # 101 = action forbidden) for the duration of the install only.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  status=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
  if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ $status != 0 ]; then exit $status; fi
fi
# Make sure no packaged keepalived or mariadb service runs next to the ones
# the tests start in their namespaces.
pkill -x keepalived 2>/dev/null || true
pkill -x mariadbd 2>/dev/null || true
