#!/usr/bin/env bash
# The README's first command on this fresh clone, as a new user runs it: `make serve` installs only
# the runtime dependencies from uv.lock (into its own venv here, so the dev extras of `make test`
# cannot hide a missing runtime dependency), serves the demo, and the hints it prints run as printed.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${SMOKE_PORT:-18080}"
venv=.venv-runtime
log="$(mktemp)"
started=$(date +%s)
setsid make serve VENV="$venv" PORT="$port" >"$log" 2>&1 &
group=$!
stop() { kill -TERM -- "-$group" 2>/dev/null || true; wait "$group" 2>/dev/null || true; }
trap stop EXIT

for _ in $(seq 1 600); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/healthz"; then break; fi
  if ! kill -0 "$group" 2>/dev/null; then cat "$log" >&2; echo "smoke: make serve exited" >&2; exit 1; fi
  sleep 0.5
done
curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" || { cat "$log" >&2; echo "smoke: not serving" >&2; exit 1; }
echo "smoke: make serve answered /healthz after $(( $(date +%s) - started )) s"

hint=$(sed -n 's/^Get a token for it:  TOKEN=\$(\(.*\))$/\1/p' "$log")
then_cmd=$(sed -n 's/^Then:  \(curl .*\)$/\1/p' "$log")
[ -n "$hint" ] && [ -n "$then_cmd" ] || { cat "$log" >&2; echo "smoke: no start-up hint" >&2; exit 1; }
TOKEN=$(eval "$hint")
export TOKEN
answer=$(eval "$then_cmd")
case "$answer" in
  *'"ok":true'*ledger_main*) echo "smoke: the printed hint commands ran as printed" ;;
  *) echo "smoke: unexpected answer: $answer" >&2; exit 1 ;;
esac
stop
trap - EXIT
rm -rf .opp "$log"
