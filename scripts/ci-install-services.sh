#!/usr/bin/env bash
# Install the servers of the scale-out tests (tests/scaleout) on a fresh Debian/Ubuntu machine:
# PostgreSQL (the `postgres` store) and redis-server (shared rate limits and DPoP replay cache).
# Packages are installed only when missing and only as root. The tests start their own throwaway
# servers (tests/support/postgres.py, tests/support/redis.py), so the distro services are kept from
# starting during the install.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
need=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
if [ -n "$need" ]; then
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ci-install-services: missing$need and cannot apt-get install them (need root on Debian/Ubuntu)" >&2
    exit 1
  fi
  # policy-rc.d exit 101 = "action forbidden": no postgresql or redis-server service is started.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends $need
fi
