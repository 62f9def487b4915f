#!/usr/bin/env bash
# Install Debian packages with apt-get, as root, keeping their services from starting (the tests
# start their own servers: nginx, PostgreSQL, redis-server). Shared by the ci-install-*.sh scripts.
# Usage: ci-apt-install.sh CALLER [--with-recommends] PACKAGE...   (no PACKAGE: nothing to do)
set -euo pipefail
caller=$1
shift
recommends=--no-install-recommends
if [ "${1:-}" = "--with-recommends" ]; then
  recommends=""
  shift
fi
[ "$#" -gt 0 ] || exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$caller: missing $* and cannot apt-get install them (need root on Debian/Ubuntu)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 = "action forbidden": no distro service (nginx on :80, postgresql, redis) starts.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
apt-get install -y -q $recommends "$@"
