"""CPU and allocations per request, in one process, for each governed path (no HTTP server, no wrk).

Usage: python -m benchmarks.request_profile [--requests 4000] [--concurrency 32] [--no-allocations]
       [--store sqlite|postgres+redis] [--paths read preflight draft auto-execute]

The worker's own app (``opp.http.asgi.app_from_env``, exactly what ``opp serve`` runs, on a SQLite
store in a temporary directory, examples/ledger/gateway.yaml with its per-key+IP quota raised so it
never refuses) is driven through ASGI directly: ``--concurrency`` requests at a time (as under
load: the store's group commit batches them), ``--requests`` in all, after a warm-up. For each of
``read`` (``GET /ledgers``, opaque key), ``preflight`` (``transaction.delete``), ``draft`` and
``auto-execute`` (``transaction.create`` without / with ``execute``):

* ``cpu_us``: process CPU time per request (``time.process_time``: every thread, the audit
  writer's included);
* ``allocations`` and ``peak_kib``: memory blocks allocated per request (Python's object allocator
  and ``malloc``, counted by memray with ``trace_python_allocators``) and the traced peak, in a
  second pass under the tracker (which slows it, so CPU is measured without it).

``--store postgres+redis`` runs the same on a replica's store instead (``store.kind: postgres`` and
the rate-limit counters on ``redis:``, throwaway servers started here as by benchmarks/scale_out.py):
the CPU is the replica's own, not the servers'.

Writes benchmarks/request_profile.json (``request_profile_postgres.json`` for PostgreSQL). The
figures of docs/PERFORMANCE.md's "Per request" tables come from here, run on the commit before
and after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.write_throughput import write_bodies

ROOT = Path(__file__).resolve().parents[1]
Scope = dict[str, Any]
PATHS = ("read", "preflight", "draft", "auto-execute")


def _scope(method: str, path: str, token: str, body: bytes) -> tuple[Scope, bytes]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    return scope, body


async def _call(app: Any, scope: Scope, body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope, headers=list(scope["headers"])), receive, send)
    return status


async def _drive(app: Any, request: tuple[Scope, bytes], total: int, concurrency: int) -> None:
    for start in range(0, total, concurrency):
        statuses = await asyncio.gather(
            *(_call(app, *request) for _ in range(min(concurrency, total - start)))
        )
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"{request[0]['path']}: statuses {sorted(set(statuses))}")


async def _lifespan(app: Any) -> Callable[[], Awaitable[None]]:
    """Start the app's lifespan; returns the shutdown."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started, stopped = asyncio.Event(), asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()
        if message["type"].startswith("lifespan.shutdown"):
            stopped.set()

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await started.wait()

    async def shutdown() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped.wait()
        await task

    return shutdown


def _requests(token: str) -> dict[str, tuple[Scope, bytes]]:
    requests = {"read": _scope("GET", "/api/agent/v1/ledgers", token, b"")}
    for name, (route, body) in write_bodies().items():
        requests[name] = _scope("POST", f"/api/agent/v1/{route}", token, json.dumps(body).encode())
    return requests


async def _profile(args: argparse.Namespace, token: str, out: Path) -> dict[str, dict[str, float]]:
    from opp.http.asgi import app_from_env  # noqa: PLC0415 - reads OPP_CONFIG, set by main()

    app = app_from_env()
    shutdown = await _lifespan(app)
    results: dict[str, dict[str, float]] = {}
    try:
        for name, request in _requests(token).items():
            if name not in args.paths:
                continue
            await _drive(app, request, min(args.requests, 500), args.concurrency)  # warm-up
            cpu = time.process_time()
            await _drive(app, request, args.requests, args.concurrency)
            results[name] = {"cpu_us": round((time.process_time() - cpu) / args.requests * 1e6, 1)}
            if args.allocations:
                results[name].update(await _allocations(app, request, args, out / f"{name}.memray"))
    finally:
        await shutdown()
    return results


async def _allocations(
    app: Any, request: tuple[Scope, bytes], args: argparse.Namespace, capture: Path
) -> dict[str, float]:
    import memray  # noqa: PLC0415 - only for this pass

    with memray.Tracker(str(capture), trace_python_allocators=True):
        await _drive(app, request, args.requests, args.concurrency)
    metadata = memray.FileReader(str(capture)).metadata
    return {
        "allocations": round(metadata.total_allocations / args.requests, 1),
        "peak_kib": round(metadata.peak_memory / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-allocations", dest="allocations", action="store_false")
    parser.add_argument("--store", choices=("sqlite", "postgres+redis"), default="sqlite")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=PATHS, help="default: all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        config = Path(tmp) / "gateway.yaml"
        document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
        document["rate_limits"]["rules"] = [
            {"id": "per-key-ip", "per": ["key", "ip"], "limit": "100000000/minute"}
        ]
        cli = [sys.executable, "-m", "opp"]
        if args.store == "postgres+redis":
            document |= _replica_store(Path(tmp), servers)
            document["rate_limits"]["storage"] = "redis"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        if args.store == "postgres+redis":
            subprocess.run([*cli, "migrate", str(config)], check=True, capture_output=True)
        token = subprocess.run([*cli, "token", str(config)], check=True, capture_output=True, text=True)
        admin = subprocess.run(
            [*cli, "token", str(config), "--admin"], check=True, capture_output=True, text=True
        )
        os.environ.update({"OPP_CONFIG": str(config), "OPP_LOG_LEVEL": "error"})
        asyncio.run(_open_window(config, admin.stdout.strip()))
        results = asyncio.run(_profile(args, token.stdout.strip(), Path(tmp)))
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, check=False, capture_output=True, text=True, cwd=ROOT)
    print(f"commit {commit.stdout.strip()}, {args.requests} requests, {args.concurrency} at a time")
    print(f"{'path':<14}{'cpu µs':>10}{'allocs':>10}{'peak KiB':>10}")
    for name, r in results.items():
        print(f"{name:<14}{r['cpu_us']:>10.0f}{r.get('allocations', 0):>10.0f}{r.get('peak_kib', 0):>10.0f}")
    report = {"commit": commit.stdout.strip(), "store": args.store, "requests": args.requests}
    report["concurrency"] = args.concurrency
    name = "request_profile.json" if args.store == "sqlite" else "request_profile_postgres.json"
    (ROOT / "benchmarks" / name).write_text(json.dumps({**report, "results": results}, indent=2) + "\n")
    return 0


def _replica_store(tmp: Path, servers: contextlib.ExitStack) -> dict[str, Any]:
    """Throwaway PostgreSQL and Redis servers (stopped with ``servers``); the config sections."""
    from tests.support.postgres import running_postgres  # noqa: PLC0415 - only for this store
    from tests.support.redis import RedisServer  # noqa: PLC0415

    redis_server = RedisServer("redis-server", tmp / "redis")
    redis_server.start()
    servers.callback(redis_server.stop)
    postgres = servers.enter_context(contextlib.contextmanager(running_postgres)())
    (tmp / "database-url").write_text(postgres.create_database())
    (tmp / "redis-url").write_text(redis_server.url)
    return {"store": {"kind": "postgres", "url_file": "database-url"}, "redis": {"url_file": "redis-url"}}


async def _open_window(config: Path, admin: str) -> None:
    """Open the demo app's auto-execute window through the admin plane, in process."""
    from opp.http.asgi import app_from_env  # noqa: PLC0415

    app = app_from_env()
    shutdown = await _lifespan(app)
    try:
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
        body = json.dumps({"writes": {"enabled": True, "expires_at": expires}}).encode()
        scope, _ = _scope("PATCH", "/api/agent-admin/v1/apps/app_demo/auto-execute", admin, body)
        if (status := await _call(app, scope, body)) != 200:
            raise RuntimeError(f"opening the auto-execute window: {status}")
    finally:
        await shutdown()
    del config


if __name__ == "__main__":
    raise SystemExit(main())
