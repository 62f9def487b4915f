"""µs that metrics (and the live-reload wrapper) add to one governed read, in-process.

Usage: python benchmarks/observability_overhead.py [--repeat 7] [--requests 3000]

A governed read costs 100-150 µs here and varies by more than the few µs under test between runs
on a shared machine, so the overhead is measured where it is added, each part in a tight loop
(best of ``--repeat`` rounds):

* ``wrapper``: :func:`opp.http.metrics.instrument` around an ASGI app that answers at once
  (timer, status capture, route/tool labels, one ``RECORDER.request``), minus the bare app;
* ``swappable``: :class:`opp.http.reload.SwappableApp` dispatch (generation pick, in-flight
  count) on top of that;
* ``engine timers``: the policy and backend timers the engine runs on every governed read
  (``perf_counter`` twice and one recorder call, each).

Then the whole governed read (``GET /api/agent/v1/ledgers`` on the demo config, rate limits off,
audit on, memory store, ASGI called directly) through the bare Litestar app and through the full
worker app, interleaved in short slices; the medians are reported for scale, not for the
difference. Also one flush plus render of the registry. Prints a table and writes
benchmarks/observability_results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from opp.clock import FrozenClock, IdFactory
from opp.http.app import create_app
from opp.http.metrics import instrument
from opp.http.reload import PlanSource, SwappableApp
from opp.http.runtime import Runtime
from opp.observability.exposition import flush, render
from opp.observability.metrics import RECORDER
from opp.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "observability_results.json"
App = Callable[[Any, Any, Any], Awaitable[None]]


def _config(folder: Path) -> Path:
    document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    document.pop("rate_limits", None)  # a quota would refuse the benchmark's traffic
    target = folder / "gateway.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


async def _request(app: App, token: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/agent/v1/ledgers",
        "raw_path": b"/api/agent/v1/ledgers",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _per_request_us(app: App, token: str, requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        await _request(app, token)
    return (time.perf_counter() - start) / requests * 1e6


def _engine_timers_us(calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        began = time.perf_counter()
        RECORDER.policy("ledger.list", time.perf_counter() - began)
        began = time.perf_counter()
        RECORDER.backend("ledger.list", "ok", time.perf_counter() - began)
    RECORDER.drain()
    return (time.perf_counter() - start) / calls * 1e6


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})


def _best(values: list[float]) -> float:
    return round(min(values), 2)


async def _wrappers(
    plan: Any, source: PlanSource, runtime: Runtime, repeat: int, calls: int
) -> dict[str, float]:
    apps: dict[str, App] = {
        "bare": _answer,
        "instrumented": instrument(_answer, plan),
        "swappable": SwappableApp(runtime, source, build=lambda _plan, _runtime: _answer),
    }
    rounds: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(repeat):
        for name, app in apps.items():
            rounds[name].append(await _per_request_us(app, "-", calls))
        RECORDER.drain()
    bare = _best(rounds["bare"])
    return {
        "answer_only_us": bare,
        "wrapper_us": round(_best(rounds["instrumented"]) - bare, 2),
        "swappable_dispatch_us": round(_best(rounds["swappable"]) - _best(rounds["instrumented"]), 2),
        "engine_timers_us": _best([_engine_timers_us(calls) for _ in range(repeat)]),
    }


async def _governed_reads(
    plan: Any, source: PlanSource, runtime: Runtime, token: str, repeat: int, requests: int
) -> dict[str, float]:
    apps: dict[str, App] = {
        "bare": create_app(plan, runtime),  # type: ignore[dict-item]
        "worker": SwappableApp(runtime, source, build=create_app),
    }
    for app in apps.values():
        assert await _request(app, token) == 200
    slices: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(repeat * 10):
        for name, app in apps.items():
            slices[name].append(await _per_request_us(app, token, max(requests // 10, 1)))
        RECORDER.drain()
        await asyncio.sleep(0.06)  # let the audit writer commit, as a server would between requests
    return {name: round(statistics.median(values), 1) for name, values in slices.items()}


async def measure(repeat: int, requests: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="opp-observability-bench-"))
    source = PlanSource(str(_config(folder)))
    plan = source.compile()
    runtime = Runtime(plan, store=MemoryStore(), clock=FrozenClock(dt.datetime.now(dt.UTC)), ids=IdFactory())
    await runtime.start()
    await runtime.integrations.bootstrap()
    _, token = await runtime.integrations.add_key("app_demo", "bench")
    parts = await _wrappers(plan, source, runtime, repeat, requests * 10)
    reads = await _governed_reads(plan, source, runtime, token, repeat, requests)
    start = time.perf_counter()
    flush()
    body = render()
    render_ms = (time.perf_counter() - start) * 1e3
    await runtime.audit.flush()
    await runtime.stop()
    return {
        "overhead_us": {**parts, "total_us": round(
            parts["wrapper_us"] + parts["swappable_dispatch_us"] + parts["engine_timers_us"], 2
        )},
        "governed_read_median_us": reads,
        "flush_and_render_ms": round(render_ms, 2),
        "exposition_bytes": len(body),
        "requests_per_round": requests,
        "rounds": repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.repeat, args.requests))
    for name, value in result["overhead_us"].items():
        print(f"{name:>22}: {value:6.2f} µs")
    for name, value in result["governed_read_median_us"].items():
        print(f"governed read, {name:>7}: {value:6.1f} µs (median)")
    print(f"flush + render: {result['flush_and_render_ms']} ms for {result['exposition_bytes']} bytes")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
