"""µs that metrics (and the live-reload wrapper) add to one governed read, in-process.

Usage: python benchmarks/observability_overhead.py [--repeat 7] [--requests 3000]

Drives the ASGI app directly (no HTTP, no client) with ``GET /api/agent/v1/ledgers`` on the demo
config (rate limits off, audit on, memory store), in three forms, interleaved round by round:

* ``bare``: the Litestar app of :func:`opp.http.app.create_app` (the engine's own policy and
  backend timers, which are always on, included);
* ``metrics``: that app wrapped by :func:`opp.http.metrics.instrument` (request counter,
  latency histogram, status and reason code);
* ``swappable``: the whole worker app, :class:`opp.http.reload.SwappableApp` (generation
  dispatch and in-flight counting around the instrumented app).

It also times the recorder calls alone (what the engine pays for policy and backend timings), and
one flush and one render of the registry. Each figure is the median over ``--repeat`` rounds.
Prints a table and writes benchmarks/observability_results.json.
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
    document = yaml.safe_load((ROOT / "gateway.yaml").read_text())
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


def _recorder_us(calls: int = 200_000) -> dict[str, float]:
    start = time.perf_counter()
    for _ in range(calls):
        began = time.perf_counter()
        RECORDER.policy("ledger.list", time.perf_counter() - began)
    policy = (time.perf_counter() - start) / calls * 1e6
    start = time.perf_counter()
    for _ in range(calls):
        RECORDER.request("/api/agent/v1/ledgers", "ledger.list", "common.success", 200, 0.0001)
    request = (time.perf_counter() - start) / calls * 1e6
    RECORDER.drain()
    return {"policy_timer_and_record_us": round(policy, 3), "request_record_us": round(request, 3)}


async def measure(repeat: int, requests: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="opp-observability-bench-"))
    source = PlanSource(str(_config(folder)))
    plan = source.compile()
    runtime = Runtime(plan, store=MemoryStore(), clock=FrozenClock(dt.datetime.now(dt.UTC)), ids=IdFactory())
    await runtime.start()
    await runtime.integrations.bootstrap()
    _, token = await runtime.integrations.add_key("app_demo", "bench")
    bare = create_app(plan, runtime)
    apps: dict[str, App] = {
        "bare": bare,  # type: ignore[dict-item]
        "metrics": instrument(bare, plan),
        "swappable": SwappableApp(runtime, source, build=create_app),
    }
    for app in apps.values():
        assert await _request(app, token) == 200
        await _per_request_us(app, token, requests // 10)  # warm up
    rounds: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(repeat):
        for name, app in apps.items():
            rounds[name].append(await _per_request_us(app, token, requests))
            RECORDER.drain()
    start = time.perf_counter()
    flush()
    body = render()
    render_ms = (time.perf_counter() - start) * 1e3
    await runtime.stop()
    median = {name: statistics.median(values) for name, values in rounds.items()}
    return {
        "per_request_us": {name: round(value, 1) for name, value in median.items()},
        "metrics_overhead_us": round(median["metrics"] - median["bare"], 1),
        "swappable_overhead_us": round(median["swappable"] - median["bare"], 1),
        "recorder": _recorder_us(),
        "flush_and_render_ms": round(render_ms, 2),
        "exposition_bytes": len(body),
        "requests_per_round": requests,
        "rounds": repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.repeat, args.requests))
    for name, value in result["per_request_us"].items():
        print(f"{name:>10}: {value:7.1f} µs per governed read")
    print(f"metrics add {result['metrics_overhead_us']} µs; the reload wrapper and metrics together "
          f"{result['swappable_overhead_us']} µs")  # fmt: skip
    print(f"recorder calls: {result['recorder']}; flush+render {result['flush_and_render_ms']} ms")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
