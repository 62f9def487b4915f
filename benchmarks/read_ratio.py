"""Bare Litestar route vs governed ``GET /api/agent/v1/ledgers``, same server, same workers, one run.

Usage: python benchmarks/read_ratio.py [--workers 2] [--duration 10] [--connections 64] [--rounds 1]

Runs wrk (Debian package ``wrk``) against, in turn:
  1. ``bare``      a Litestar JSON route (benchmarks/bare_app.py) under granian;
  2. ``governed``  ``opp serve`` on the demo config with ``ledger.list``'s CEL item filter removed:
                   opaque key lookup (SQLite), scopes, tenant-scoped backend call, audit on;
  3. ``governed-noaudit`` the same with ``audit.enabled: false`` (what the audit costs);
     ``governed+ratelimit`` the same with one never-refusing per-key+IP quota (what admission
     costs; with 2 workers the counters are shared through SQLite);
  4. ``governed+cel`` the demo config as shipped (CEL ``filter_items`` rule evaluated per ledger).
Prints requests/s, p50 and p99 for each and the ratios governed/bare; writes benchmarks/results.json.
With ``--rounds N`` the sequence runs N times and each figure is the median (benchmarks/rounds.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.rounds import Results, median_ratio, medians, rounds_note, run_rounds, summary

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(cmd: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=1)
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"server did not start: {cmd}")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(
    url: str, duration: int, connections: int, header: str | None = None, script: str | None = None
) -> dict[str, float]:
    extra = (["-H", header] if header else []) + (["-s", script] if script else [])
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url]
    subprocess.run(["wrk", "-t1", "-c8", "-d2s", *extra, url], check=True, capture_output=True)  # warm-up
    return parse_wrk(url, subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def parse_wrk(url: str, out: str) -> dict[str, float]:
    """Requests/s, p50 and p99 from wrk's ``--latency`` report (any non-2xx response is an error)."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx responses")

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99")}


def bare(workers: int, duration: int, connections: int) -> dict[str, float]:
    """wrk against the bare Litestar route (benchmarks/bare_app.py) under granian."""
    port = free_port()
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "error", "benchmarks.bare_app:app"]
    with running(cmd, f"http://127.0.0.1:{port}/bare"):
        return wrk(f"http://127.0.0.1:{port}/bare", duration, connections)


def config_copy(tmp: Path, name: str, strip_cel: bool, audit: bool = True, rate_limit: bool = False) -> Path:
    data = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    data["audit"]["enabled"] = audit
    # The demo's 240/min quota would turn a benchmark into a 429 benchmark: off, or (to measure
    # admission itself) one rule per key+IP high enough never to refuse.
    rules = [{"id": "bench", "per": ["key", "ip"], "limit": "1000000000/minute"}] if rate_limit else []
    data["rate_limits"]["rules"] = rules
    if strip_cel:
        for tool in data["tools"]:
            if tool["name"] == "ledger.list":
                tool.pop("filter_items", None)
    folder = tmp / name
    folder.mkdir()
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def governed(config: Path, workers: int, duration: int, connections: int) -> dict[str, float]:
    token = subprocess.run(
        [sys.executable, "-m", "opp", "token", str(config)], check=True, capture_output=True, text=True
    ).stdout.strip()
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "opp",
        "serve",
        str(config),
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "error",
    ]
    with running(cmd, f"http://127.0.0.1:{port}/healthz"):
        return wrk(
            f"http://127.0.0.1:{port}/api/agent/v1/ledgers",
            duration,
            connections,
            f"Authorization: Bearer {token}",
        )


def options(description: str | None = None, connections: int = 64) -> argparse.Namespace | None:
    """``--workers --duration --connections --rounds`` (None, after saying why, when wrk is missing)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=connections)
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every case this many times, interleaved; report medians"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return None
    return args


def report(args: argparse.Namespace, each: list[Results], filename: str) -> None:
    """Print each case's medians over the rounds with its ratio to ``bare``; write ``benchmarks/FILENAME``."""
    results = medians(each)
    load = f"wrk -t2 -c{args.connections} -d{args.duration}s"
    print(f"server: granian, workers={args.workers}, {load}{rounds_note(each)}")
    print(f"{'route':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'ratio':>8}")
    for name, r in results.items():
        ratio = median_ratio(each, name)
        print(f"{name:<20}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{ratio:>8.2f}")
    written = summary(args, each)
    for name in results:
        if name != "bare":
            written["ratio_" + re.sub(r"[^a-z0-9]+", "_", name)] = round(median_ratio(each, name), 3)
    (ROOT / "benchmarks" / filename).write_text(json.dumps(written, indent=2) + "\n")


def main() -> int:
    args = options()
    if args is None:
        return 2
    report(args, run_rounds(args.rounds, lambda: _measure(args)), "results.json")
    return 0


def _measure(args: argparse.Namespace) -> Results:
    results: Results = {"bare": bare(args.workers, args.duration, args.connections)}
    with tempfile.TemporaryDirectory() as tmp:
        results["governed"] = governed(
            config_copy(Path(tmp), "plain", True), args.workers, args.duration, args.connections
        )
        results["governed-noaudit"] = governed(
            config_copy(Path(tmp), "noaudit", True, audit=False),
            args.workers,
            args.duration,
            args.connections,
        )
        results["governed+ratelimit"] = governed(
            config_copy(Path(tmp), "ratelimit", True, rate_limit=True),
            args.workers,
            args.duration,
            args.connections,
        )
        results["governed+cel"] = governed(
            config_copy(Path(tmp), "cel", False), args.workers, args.duration, args.connections
        )
    return results


if __name__ == "__main__":
    sys.exit(main())
