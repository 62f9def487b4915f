#!/usr/bin/env bash
# Install the browser of the reviewer-console tests (tests/console) on a fresh Debian machine:
# Debian's `chromium`, driven by Playwright for Python through `executable_path` (Playwright never
# downloads a browser). Installed only when missing and only as root.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-install-browser: chromium is missing and cannot be apt-get installed (need root on Debian)" >&2
  exit 1
fi
apt-get update -q
apt-get install -y -q chromium
