"""Audit append throughput with the hash chain on, durable: SQLite file, WAL, synchronous=NORMAL.

Usage: python benchmarks/audit_throughput.py [--seconds 3] [--batches 1,100,500]

For each batch size, appends realistic read-path events (about 600 bytes of JSON each) through
``SqliteStore.audit.append`` — the path the batched ``AuditWriter`` uses: one ``BEGIN IMMEDIATE``
transaction per batch on the background writer connection, reading the chain head, sealing every
event (``seq``, ``prev_hash``, ``hash`` = SHA-256 of RFC 8785 JSON) and inserting it. For
reference it also measures the same inserts with the chain fields left empty (what the table cost
before the chain), and the sealing alone per event, with the fast canonicaliser and with the
``rfc8785`` reference. Writes benchmarks/audit_results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import itertools
import json
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opp.audit.chain import GENESIS_HASH, seal, stored_value
from opp.store import AuditEvent, SqliteStore
from opp.store.sqlite.audit import _INSERT_EVENT, _row
from opp.writes.jcs import canonical_json

_ids = itertools.count()
T0 = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)


def event() -> AuditEvent:
    n = next(_ids)
    return AuditEvent(
        id=f"aud_{n:012d}",
        action="agent.transaction.list.read",
        status="success",
        code="common.success",
        created_at=T0 + dt.timedelta(microseconds=n),
        app_id="app_demo",
        key_id="key_demo",
        actor_user_id="user_demo",
        request_id=f"req_{n:012d}",
        ip="127.0.0.1",
        user_agent="python-httpx/0.28.1",
        tool="transaction.list",
        tenant="ledger_main",
        principal={"sub": "user_demo", "client_id": "app_demo"},
        policy={"matched": ["allow-own-ledger", "business-hours"]},
        details={
            "args": {"ledgerId": "ledger_main", "page": 1, "pageSize": 50},
            "redacted": [],
            "latency_ms": 3,
        },
    )


async def appended_per_second(path: str, batch: int, seconds: float, chained: bool) -> float:
    store = SqliteStore(path)
    await store.open()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous = NORMAL")
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        events = [event() for _ in range(batch)]
        if chained:
            await store.audit.append(events)
        else:  # the same rows, chain columns left NULL: the table's cost without the chain
            rows = [_row(item) for item in events]
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(_INSERT_EVENT, rows)
            raw.execute("COMMIT")
        count += batch
    elapsed = time.perf_counter() - start
    raw.close()
    await store.close()
    return count / elapsed


def microseconds_per_call(work: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batches", default="1,100,500")
    args = parser.parse_args()
    sample = event()
    value = stored_value(seal(sample, 1, GENESIS_HASH))
    results: dict[str, object] = {
        "machine": f"{platform.machine()} {platform.python_version()}, sqlite {sqlite3.sqlite_version}",
        "event_json_bytes": len(canonical_json(value)),
        "seal_us": round(microseconds_per_call(lambda: seal(sample, 1, GENESIS_HASH), 5000), 1),
        "rfc8785_hash_us": round(
            microseconds_per_call(lambda: hashlib.sha256(canonical_json(value)).hexdigest(), 500), 1
        ),
        "events_per_second": {},
    }
    rates: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for batch in (int(size) for size in args.batches.split(",")):
            for chained in (True, False):
                path = str(Path(directory, f"audit-{batch}-{chained}.db"))
                rate = asyncio.run(appended_per_second(path, batch, args.seconds, chained))
                rates.setdefault(f"batch {batch}", {})["chain" if chained else "no chain"] = round(rate)
    results["events_per_second"] = rates
    print(json.dumps(results, indent=2))
    Path(__file__).with_name("audit_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
