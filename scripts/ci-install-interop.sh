#!/usr/bin/env bash
# Install the third-party peers of the interoperability tests (tests/interop) on a fresh
# Debian/Ubuntu machine: Node.js + npm (oidc-provider, oauth4webapi), nginx (mTLS terminator)
# and openssl (test certificates). Debian packages are installed only when missing and only as
# root; then `npm ci` installs the pinned npm packages from tests/interop/node/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=""
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
if [ -n "$need" ]; then
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ci-install-interop: missing$need and cannot apt-get install them (need root on Debian/Ubuntu)" >&2
    exit 1
  fi
  # Keep the distro's nginx service from starting on port 80 during the install (the tests start
  # nginx themselves with their own config): policy-rc.d exit 101 = "action forbidden".
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends $need
fi

cd tests/interop/node
npm ci --no-audit --no-fund
