#!/usr/bin/env bash
# Install the third-party peers of the interoperability tests (tests/interop) on a fresh
# Debian/Ubuntu machine: Node.js + npm (oidc-provider, oauth4webapi), nginx (mTLS terminator)
# and openssl (test certificates). Debian packages are installed only when missing and only as
# root; then `npm ci` installs the pinned npm packages from tests/interop/node/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

need=""
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# shellcheck disable=SC2086  # word-splitting $need into package names is intended
bash scripts/ci-apt-install.sh ci-install-interop $need

cd tests/interop/node
npm ci --no-audit --no-fund
