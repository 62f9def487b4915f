#!/usr/bin/env bash
# Install opp and its runtime dependencies from uv.lock (hash-checked) into PREFIX/venv: a
# self-contained, non-editable virtual environment with `opp` in PREFIX/venv/bin.
#
#   scripts/image-install.sh PREFIX
#
# The Dockerfile's build stage runs it (PREFIX=/opt/opp); tests/image/test_image_install.py runs it
# into a scratch prefix and starts `opp serve` from there, so the image's contents are tested where
# no container daemon exists. Extras: postgres and redis (what the Helm chart deploys).
# Environment: PYTHON (default python3) makes the venv; UV names an existing uv binary (default:
# uv pinned by hash in requirements/uv.txt, installed into a throwaway PREFIX/.build venv).
set -euo pipefail

prefix=${1:?usage: scripts/image-install.sh PREFIX}
src=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

uv=${UV:-}
if [ -z "$uv" ]; then
  "$python" -m venv "$prefix/.build"
  "$prefix/.build/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    --require-hashes -r "$src/requirements/uv.txt"
  uv="$prefix/.build/bin/uv"
fi

"$python" -m venv "$prefix/venv"
cd "$src"
UV_PROJECT_ENVIRONMENT="$prefix/venv" UV_PYTHON_DOWNLOADS=never "$uv" sync \
  --locked --no-editable --no-progress --quiet --extra postgres --extra redis
rm -rf "$prefix/.build"
# The runtime never writes bytecode (read-only root filesystem); compile it now.
"$prefix/venv/bin/python" -m compileall -q "$prefix/venv/lib" >/dev/null
"$prefix/venv/bin/opp" --version
