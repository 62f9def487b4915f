"""One host on SQLite vs replicas on PostgreSQL + Redis, against bare Litestar, in one run.

Usage: python -m benchmarks.scale_out [--workers 2] [--duration 10] [--connections 64] [--rounds 1]

The same CPU budget for every setup: ``--workers`` processes.
  1. ``bare``            the Litestar JSON route (benchmarks/bare_app.py) under granian, N workers;
  2. ``sqlite …``        one ``opp serve --workers N`` on the SQLite store (rate-limit counters and
                         the DPoP replay cache shared through memory-mapped files next to it);
  3. ``postgres+redis …`` N ``opp serve`` replicas with 1 worker each on one PostgreSQL database
                         and one Redis (``store.kind: postgres``, ``redis:``), both throwaway
                         servers started here (tests/support/postgres.py, tests/support/redis.py).
For 2 and 3: ``read`` is the governed ``GET /api/agent/v1/ledgers`` (opaque key lookup, scopes,
tenant-scoped backend call, audit on, one never-refusing per-key+IP quota: a counter hit per
request), ``draft`` is ``transaction.create`` without ``execute`` (a draft and its audit events in
one transaction), ``auto-execute`` the same with ``execute: true`` in an open window (draft,
started execution, backend call, completion).

Every case is measured by one wrk per process at once (``-t1``, the connections split between
them): for the replicas one per replica (no load balancer in between), for the single servers all
on the same port. Requests/s is their sum, p50 and p99 the larger of them, ``timeouts`` the
requests wrk gave up on after 2 s (not counted in requests/s). Writes
benchmarks/scale_out_results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.read_ratio import ROOT, free_port, options, parse_wrk, report, running
from benchmarks.rounds import Results, run_rounds
from benchmarks.write_throughput import LUA, write_bodies
from opp.auth.tokens import hash_token
from tests.support.postgres import find_bindir, running_postgres
from tests.support.redis import RedisServer

CLI = [sys.executable, "-m", "opp"]


def wrk_all(urls: list[str], duration: int, connections: int, extra: list[str]) -> dict[str, float]:
    """One wrk per URL, all at once, ``connections`` split between them; rps summed, latencies max."""

    def one(url: str) -> dict[str, float]:
        share = max(1, connections // len(urls))
        subprocess.run(["wrk", "-t1", "-c4", "-d2s", *extra, url], check=True, capture_output=True)
        command = ["wrk", "-t1", f"-c{share}", f"-d{duration}s", "--latency", *extra, url]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
        return {**parse_wrk(url, out), "timeouts": float(timeouts.group(1)) if timeouts else 0.0}

    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        parts = list(pool.map(one, urls))
    return {
        "rps": sum(part["rps"] for part in parts),
        "p50_ms": max(part["p50_ms"] for part in parts),
        "p99_ms": max(part["p99_ms"] for part in parts),
        "timeouts": sum(part["timeouts"] for part in parts),
    }


def _config(directory: Path, admin: str, overrides: dict[str, Any] | None = None) -> Path:
    """The demo config, one never-refusing quota, no CEL item filter, a declared admin credential."""
    document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    document["rate_limits"]["rules"] = [{"id": "bench", "per": ["key", "ip"], "limit": "1000000000/minute"}]
    for tool in document["tools"]:
        if tool["name"] == "ledger.list":
            tool.pop("filter_items", None)  # as read_ratio's "governed": no CEL item filter
    document.setdefault("admin", {})["credentials"] = [
        {"name": "bench-admin", "roles": ["admin"], "token_sha256": hash_token(admin)}
    ]
    document.update(overrides or {})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def replica_config(directory: Path, admin: str, database_url: str, redis_url: str) -> Path:
    """:func:`_config` for replicas: the store on PostgreSQL (migrated), the counters in Redis."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "database-url").write_text(database_url)
    (directory / "redis-url").write_text(redis_url)
    overrides = {
        "store": {"kind": "postgres", "url_file": "database-url"},
        "redis": {"url_file": "redis-url"},
    }
    config = _config(directory, admin, overrides)
    document = yaml.safe_load(config.read_text())
    document["rate_limits"]["storage"] = "redis"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    subprocess.run([*CLI, "migrate", str(config)], check=True, capture_output=True)
    return config


@contextlib.contextmanager
def _servers(config: Path, ports: list[int], workers: int) -> Iterator[list[str]]:
    """``opp serve`` on each port (``workers`` each), until the block exits; yields the base URLs."""
    with contextlib.ExitStack() as stack:
        for port in ports:
            command = [*CLI, "serve", str(config), "--port", str(port), "--workers", str(workers)]
            stack.enter_context(
                running([*command, "--log-level", "error"], f"http://127.0.0.1:{port}/healthz")
            )
        yield [f"http://127.0.0.1:{port}" for port in ports]


def open_window(base_url: str, admin: str) -> None:
    """Open the demo app's auto-execute window for writes, for an hour."""
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    httpx.patch(
        f"{base_url}/api/agent-admin/v1/apps/app_demo/auto-execute",
        headers={"Authorization": f"Bearer {admin}"},
        json={"writes": {"enabled": True, "expires_at": expires}},
        timeout=30,
    ).raise_for_status()


def _measure(
    label: str, config: Path, admin: str, urls: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    token = subprocess.run(
        [*CLI, "token", str(config)], check=True, capture_output=True, text=True
    ).stdout.strip()
    open_window(urls[0], admin)
    targets = urls if len(urls) == args.workers else urls * args.workers  # one wrk per process
    results: dict[str, Any] = {}
    read = ["-H", f"Authorization: Bearer {token}"]
    ledgers = [url + "/api/agent/v1/ledgers" for url in targets]
    results[f"{label} read"] = wrk_all(ledgers, args.duration, args.connections, read)
    for name in ("draft", "auto-execute"):
        script = config.parent / f"{name}.lua"
        script.write_text(LUA.format(token=token, body=json.dumps(write_bodies()[name][1])))
        actions = [url + "/api/agent/v1/actions" for url in targets]
        results[f"{label} {name}"] = wrk_all(actions, args.duration, args.connections, ["-s", str(script)])
    return results


def _bare(args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    command += ["--workers", str(args.workers), "--log-level", "error", "benchmarks.bare_app:app"]
    with running(command, f"http://127.0.0.1:{port}/bare"):
        return wrk_all([f"http://127.0.0.1:{port}/bare"] * args.workers, args.duration, args.connections, [])


def main() -> int:
    args = options(__doc__.splitlines()[0] if __doc__ else None)
    if args is None:
        return 2
    if find_bindir() is None:
        print("PostgreSQL binaries not found: apt-get install postgresql", file=sys.stderr)
        return 2
    each = run_rounds(args.rounds, lambda: _measure_all(args))
    share = max(1, args.connections // args.workers)
    print(f"sqlite: 1 host x {args.workers} workers; postgres+redis: {args.workers} replicas x 1 worker")
    print(f"load: {args.workers} x wrk -t1 -c{share} at once (the line below names the total connections)")
    timeouts = [{name: int(r["timeouts"]) for name, r in round_.items() if r["timeouts"]} for round_ in each]
    print("timeouts:", timeouts if len(each) > 1 else timeouts[0])
    report(args, each, "scale_out_results.json")
    return 0


def _measure_all(args: argparse.Namespace) -> Results:
    """One round: bare, then the SQLite host, then the replicas on fresh PostgreSQL and Redis."""
    admin = f"opa_{secrets.token_urlsafe(32)}"
    results: Results = {"bare": _bare(args)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sqlite = _config(root / "sqlite", admin)
        with _servers(sqlite, [free_port()], args.workers) as urls:
            results.update(_measure("sqlite", sqlite, admin, urls, args))
        redis_server = RedisServer("redis-server", root / "redis")
        redis_server.start()
        try:
            with contextlib.contextmanager(running_postgres)() as postgres:
                replicas = replica_config(
                    root / "replicas", admin, postgres.create_database(), redis_server.url
                )
                ports = [free_port() for _ in range(args.workers)]
                with _servers(replicas, ports, 1) as urls:
                    results.update(_measure("postgres+redis", replicas, admin, urls, args))
        finally:
            redis_server.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())
