"""Governed MCP ``tools/call`` of a read next to the governed REST read and bare Litestar, one run.

Usage: python benchmarks/mcp_ratio.py [--workers 2] [--duration 10] [--connections 64] [--rounds 1]

Runs wrk (Debian package ``wrk``) against, in turn:
  1. ``bare``            the bare Litestar JSON route (benchmarks/bare_app.py) under granian;
  2. ``rest-governed``   ``GET /api/agent/v1/ledgers`` on the demo config with ``ledger.list``'s CEL
                         item filter removed (opaque key, scopes, tenant-scoped backend call, audit on);
  3. ``mcp-2025``        the same tool as ``POST /mcp`` ``tools/call`` in the 2025-11-25 wire form
                         (stateless, no session): the SDK's transport + the same engine call;
  4. ``mcp-2026``        the same in the 2026-07-28 form (``MCP-Protocol-Version`` and the per-request
                         ``_meta`` envelope, the SDK's single-exchange path).
The server for 2-4 is one ``opp serve`` (same key, same process count). Prints requests/s, p50, p99
and each ratio to bare; writes benchmarks/mcp_results.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.read_ratio import bare, config_copy, free_port, options, report, running, wrk
from benchmarks.rounds import Results, run_rounds

_CALL = {"name": "ledger.list", "arguments": {}}
_ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _script(folder: Path, name: str, token: str, modern: bool) -> str:
    params = {**_CALL, "_meta": _ENVELOPE} if modern else _CALL
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
    }
    if modern:
        headers |= {
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "ledger.list",
        }
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def main() -> int:
    args = options(__doc__)
    if args is None:
        return 2
    report(args, run_rounds(args.rounds, lambda: _measure(args)), "mcp_results.json")
    return 0


def _measure(args: argparse.Namespace) -> Results:
    results = {"bare": bare(args.workers, args.duration, args.connections)}
    with tempfile.TemporaryDirectory() as tmp:
        config = config_copy(Path(tmp), "plain", True)
        token = subprocess.run(
            [sys.executable, "-m", "opp", "token", str(config)], check=True, capture_output=True, text=True
        ).stdout.strip()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "opp", "serve", str(config), "--port", str(port)]
        cmd += ["--workers", str(args.workers), "--log-level", "error"]
        with running(cmd, f"{base}/healthz"):
            runs = (args.duration, args.connections)
            results["rest-governed"] = wrk(
                f"{base}/api/agent/v1/ledgers", *runs, f"Authorization: Bearer {token}"
            )
            for name, modern in (("mcp-2025", False), ("mcp-2026", True)):
                script = _script(Path(tmp), name, token, modern)
                results[name] = wrk(f"{base}/mcp", *runs, script=script)
    return results


if __name__ == "__main__":
    sys.exit(main())
