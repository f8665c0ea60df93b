#!/usr/bin/env bash
# Installs what vrrpd needs to build and to run its tests on Debian 12:
# compilers and libraries, plus the real peers and tools the system tests
# start (keepalived, tcpdump, nftables, iproute2). Idempotent; needs root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libnl-3-dev libnl-route-3-dev libmnl-dev libconfig++-dev libssl-dev nlohmann-json3-dev
  libgtest-dev googletest
  python3 iproute2 nftables tcpdump keepalived dnsmasq-base procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # keepalived's package may try to start its service; there is no init here
  # to do so on a test machine, and the tests start their own instances.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Make sure no packaged keepalived service runs against our test namespaces.
pkill -x keepalived 2>/dev/null || true
