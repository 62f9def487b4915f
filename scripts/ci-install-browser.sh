#!/usr/bin/env bash
# Install the browser of the reviewer-console tests (tests/console) on a fresh Debian machine:
# Debian's `chromium`, driven by Playwright for Python through `executable_path` (Playwright never
# downloads a browser). Installed only when missing and only as root.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
bash "$(dirname "$0")/ci-apt-install.sh" ci-install-browser --with-recommends chromium
