#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs dependencies,
# builds, runs unit tests and system tests (network namespaces, real
# keepalived) through ctest. Needs root. Set VRRPD_SANITIZE=1 to build and run
# everything under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/install-deps.sh
if [ "${VRRPD_SANITIZE:-0}" = 1 ]; then
  export BUILD_DIR=${BUILD_DIR:-build-asan}
  tests/build.sh -DVRRPD_SANITIZE=ON
else
  export BUILD_DIR=${BUILD_DIR:-build}
  tests/build.sh
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
