"""µs per rate-limit hit: `limits` strategies, storages and APIs, with 1 and 10,000 active keys.

Usage: python benchmarks/rate_limit_cost.py [--repeat 3] [--hits 20000]

Measures what admission control costs on the hot path before trusting the library:
the sync and async in-memory storages for the fixed window, moving window and sliding window
counter; opp's mmap and SQLite storages (``mmap://``, ``sqlite://``, shared by workers) for the
strategies they support;
and one full ``Admission.check_request`` (the gateway's own call, default rule). "10,000 keys"
spreads the hits round-robin over 10,000 counters that all stay live, as 10,000 clients would.
Sync figures are the larger of wall-clock and process CPU time (which includes the
memory storage's expiry thread); async figures let the storage's expiry task run between hits.
Each figure is the best of ``--repeat`` runs. Prints a table and writes
benchmarks/rate_limit_results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import limits
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.aio.strategies import STRATEGIES as ASYNC_STRATEGIES
from limits.storage import MemoryStorage
from limits.strategies import STRATEGIES

from opp.admission import Admission, AdmissionPlan, LimitRule, MmapStorage, SqliteStorage
from opp.auth.principal import Principal
from opp.store.records import AppRecord

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "rate_limit_results.json"
KEY_COUNTS = (1, 10_000)


def _keys(count: int) -> list[str]:
    return [f"key_{index:05d}" for index in range(count)]


def _item(keys: int, hits: int) -> limits.RateLimitItem:
    """A quota just large enough that every timed hit is counted and none is refused (the moving
    window keeps one entry per hit, so a needlessly large quota would inflate its cost)."""
    return limits.parse(f"{hits // keys + 2} per hour")


def sync_cost(strategy: str, storage_factory: Callable[[], object], keys: int, hits: int) -> float:
    limiter = STRATEGIES[strategy](storage_factory())  # type: ignore[arg-type]
    item, names = _item(keys, hits), _keys(keys)
    for name in names:  # every counter live before timing
        limiter.hit(item, name)
    start, cpu = time.perf_counter(), time.process_time()
    for index in range(hits):
        limiter.hit(item, names[index % keys])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    # the sync memory storage sweeps expired keys in a timer thread: count the CPU it takes too
    return max(wall, cpu) / hits * 1e6


def async_cost(strategy: str, keys: int, hits: int) -> float:
    """Yields to the event loop after each hit, as a server does between requests, so the storage's
    expiry task (scheduled from the hits) runs and its cost is counted; the cost of the bare yield
    is measured alone and subtracted."""

    async def run() -> float:
        limiter = ASYNC_STRATEGIES[strategy](AsyncMemoryStorage())
        item, names = _item(keys, hits), _keys(keys)
        for name in names:
            await limiter.hit(item, name)
        start = time.perf_counter()
        for index in range(hits):
            await limiter.hit(item, names[index % keys])
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(hits):
            await asyncio.sleep(0)
        return (elapsed - (time.perf_counter() - start)) / hits * 1e6

    return asyncio.run(run())


def admission_cost(keys: int, hits: int) -> float:
    rule = LimitRule(id="per-key-ip", per=("key", "ip"), item=_item(keys, hits))
    admission = Admission(AdmissionPlan(request_rules=(rule,)))
    principals = [_principal(name) for name in _keys(keys)]

    async def run() -> float:
        for principal in principals:
            await admission.check_request(principal, "127.0.0.1")
        start = time.perf_counter()
        for index in range(hits):
            await admission.check_request(principals[index % keys], "127.0.0.1")
        return (time.perf_counter() - start) / hits * 1e6

    return asyncio.run(run())


def _principal(key: str) -> Principal:
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    app = AppRecord(id="app_bench", name="bench", scope="workspace", created_at=epoch, updated_at=epoch)
    return Principal(
        app=app, key=None, actor_user_id="u", tenant="org_bench", scopes=frozenset(),
        sub=key, client_id="app_bench", claims={},
    )  # fmt: skip


def measure(repeat: int, hits: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    folder = Path(tempfile.mkdtemp(prefix="opp-ratelimit-bench-"))

    def sqlite_storage() -> SqliteStorage:
        path = folder / f"counters-{time.perf_counter_ns()}.sqlite3"
        return SqliteStorage(f"sqlite:///{path}")

    def mmap_storage() -> MmapStorage:
        return MmapStorage(f"mmap:///{folder}/counters-{time.perf_counter_ns()}.counters")

    cases: list[tuple[str, str, str, Callable[[int, int], float]]] = []
    for strategy in STRATEGIES:
        cases.append(("memory", "sync", strategy, lambda k, n, s=strategy: sync_cost(s, MemoryStorage, k, n)))
        cases.append(("memory", "async", strategy, lambda k, n, s=strategy: async_cost(s, k, n)))
    for strategy in ("fixed-window", "sliding-window-counter"):
        cases.append(("mmap", "sync", strategy, lambda k, n, s=strategy: sync_cost(s, mmap_storage, k, n)))
        cases.append(
            ("sqlite", "sync", strategy, lambda k, n, s=strategy: sync_cost(s, sqlite_storage, k, n))
        )
    cases.append(("memory", "Admission", "fixed-window", admission_cost))
    for storage, api, strategy, run in cases:
        for keys in KEY_COUNTS:
            # the slow combinations get fewer hits so the whole run stays under a minute or two
            count = max(500, hits // 10) if (api == "async" or storage == "sqlite") else hits
            best = min(run(keys, count) for _ in range(repeat))
            rows.append(
                {"storage": storage, "api": api, "strategy": strategy, "keys": keys, "us_per_hit": best}
            )
            print(f"{storage:7} {api:9} {strategy:23} {keys:>6} keys  {best:9.1f} µs/hit", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hits", type=int, default=20_000)
    args = parser.parse_args()
    rows = measure(args.repeat, args.hits)
    RESULTS.write_text(
        json.dumps(
            {"python": platform.python_version(), "limits": limits.__version__, "results": rows}, indent=2
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
