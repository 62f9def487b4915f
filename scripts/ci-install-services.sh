#!/usr/bin/env bash
# Install the servers of the scale-out tests (tests/scaleout) on a fresh Debian/Ubuntu machine:
# PostgreSQL (the `postgres` store) and redis-server (shared rate limits and DPoP replay cache).
# Packages are installed only when missing and only as root. The tests start their own throwaway
# servers (tests/support/postgres.py, tests/support/redis.py), so the distro services are kept from
# starting during the install.
set -euo pipefail

need=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
# shellcheck disable=SC2086  # word-splitting $need into package names is intended
bash "$(dirname "$0")/ci-apt-install.sh" ci-install-services $need
