"""Write-path throughput: preflights, draft creation and auto-executed actions, against real `opp serve`.

Usage: python benchmarks/write_throughput.py [--workers 2] [--duration 10] [--connections 32] [--rounds 1]

With wrk (Debian package ``wrk``) and a small Lua script POSTing to the agent plane:
  * ``preflight``     ``POST /preflight`` for ``transaction.delete`` of ``txn_2`` (high risk): the
                      backend read, impact and State Witness hashes, the preflight record and its
                      audit events committed together;
  * ``draft``         ``POST /actions`` ``transaction.create`` without ``execute``: a draft and its
                      audit events, committed in one transaction;
  * ``auto-execute``  ``transaction.create`` with ``execute: true`` in an open ``writes`` window:
                      draft + started execution + idempotency-free backend call + completion.
Prints requests/s, p50 and p99; writes benchmarks/write_results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.read_ratio import ROOT, free_port, options, running, wrk
from benchmarks.rounds import Results, medians, rounds_note, run_rounds, summary

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = '{body}'
"""
PAYLOAD = {
    "ledgerId": "ledger_main",
    "kind": "expense",
    "amount": 3.5,
    "title": "bench",
    "occurredOn": dt.date.today().isoformat(),
}
"""A ``transaction.create`` payload the demo accepts."""


def write_bodies() -> dict[str, tuple[str, dict[str, Any]]]:
    """The write cases of the benchmarks: name → (agent route under ``/api/agent/v1/``, JSON body)."""
    create = {"action": "transaction.create", "payload": PAYLOAD}
    return {
        "preflight": ("preflight", {"action": "transaction.delete", "payload": {"transactionId": "txn_2"}}),
        "draft": ("actions", {**create, "execute": False}),
        "auto-execute": ("actions", {**create, "execute": True}),
    }


def run(config: Path, workers: int, duration: int, connections: int) -> dict[str, dict[str, float]]:
    cli = [sys.executable, "-m", "opp"]
    token = subprocess.run(
        [*cli, "token", str(config)], check=True, capture_output=True, text=True
    ).stdout.strip()
    admin = subprocess.run(
        [*cli, "token", str(config), "--admin"], check=True, capture_output=True, text=True
    ).stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, float]] = {}
    with running(
        [*cli, "serve", str(config), "--port", str(port), "--workers", str(workers), "--log-level", "error"],
        f"{base}/healthz",
    ):
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
        httpx.patch(
            f"{base}/api/agent-admin/v1/apps/app_demo/auto-execute",
            headers={"Authorization": f"Bearer {admin}"},
            json={"writes": {"enabled": True, "expires_at": expires}},
        ).raise_for_status()
        for name, (route, body) in write_bodies().items():
            script = config.parent / f"{name}.lua"
            script.write_text(LUA.format(token=token, body=json.dumps(body)))
            results[name] = wrk(f"{base}/api/agent/v1/{route}", duration, connections, script=str(script))
    return results


def main() -> int:
    args = options(__doc__.splitlines()[0] if __doc__ else None, connections=32)
    if args is None:
        return 2
    each = run_rounds(args.rounds, lambda: _measure(args))
    results = medians(each)
    load = f"wrk -t2 -c{args.connections} -d{args.duration}s"
    print(f"server: granian, workers={args.workers}, {load}{rounds_note(each)}")
    print(f"{'write':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, r in results.items():
        print(f"{name:<14}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}")
    written = json.dumps(summary(args, each), indent=2)
    (ROOT / "benchmarks" / "write_results.json").write_text(written + "\n")
    return 0


def _measure(args: argparse.Namespace) -> Results:
    """One round: a fresh server on a fresh copy of the demo config, every write case in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.yaml"
        document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
        document["rate_limits"]["rules"] = []  # measure the write path, not 429s
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        return run(config, args.workers, args.duration, args.connections)


if __name__ == "__main__":
    sys.exit(main())
