#!/usr/bin/env bash
# Quick start: installs dependencies, builds, and runs the built-in example:
# two vrrpd nodes in network namespaces elect a master, then the master's
# link is cut and the VIP moves, with vrrpctl status shown at each step; then
# the pair fails over a mirrored ext4 volume with its data.
# Everything it creates is removed at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/install-deps.sh
tests/build.sh
exec python3 tests/system/demo.py
