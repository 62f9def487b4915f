"""The JSONL sink: a verifiable replica of the chain, without duplicates, gaps or torn lines."""

from __future__ import annotations

import fcntl
from pathlib import Path

from opp.audit.jsonl_sink import JsonlSink, open_jsonl_sink
from opp.audit.sources import jsonl_events
from opp.audit.verify import verify_chain
from opp.audit.writer import AuditWriter
from opp.store import Store

from .conftest import make_event


async def test_sync_appends_what_was_committed_since_the_last_line(store: Store, tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "logs" / "audit.jsonl", store.audit, batch_size=2)
    await store.audit.append([make_event() for _ in range(3)])
    assert await sink.sync() == 3
    assert await sink.sync() == 0
    await store.audit.append([make_event() for _ in range(2)])
    other_worker = JsonlSink(sink.path, store.audit)
    assert await other_worker.sync() == 2
    assert await sink.sync() == 0
    report = verify_chain(jsonl_events(sink.path))
    assert report.ok and report.verified == 5


async def test_a_torn_last_line_is_cut_and_rewritten(store: Store, tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "audit.jsonl", store.audit)
    await store.audit.append([make_event() for _ in range(2)])
    await sink.sync()
    await store.audit.append([make_event()])
    line = (await store.audit.read_chain(2, 1))[0]
    with open(sink.path, "ab") as file:
        file.write(b'{"id":"' + line.id.encode())  # a crash mid-line
    assert await sink.sync() == 1
    assert verify_chain(jsonl_events(sink.path)).verified == 3


async def test_a_worker_holding_the_lock_makes_the_others_skip(store: Store, tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "audit.jsonl", store.audit)
    await store.audit.append([make_event()])
    with open(sink.path, "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert await sink.sync() == 0
    assert await sink.sync() == 1


async def test_the_writer_feeds_the_sink_after_each_flush(store: Store, tmp_path: Path) -> None:
    sink = open_jsonl_sink("audit.jsonl", str(tmp_path), store.audit)
    assert sink is not None and open_jsonl_sink(None, str(tmp_path), store.audit) is None
    writer = AuditWriter(store, sink=sink)
    writer.emit(make_event())
    writer.emit(make_event())
    await writer.flush()
    await store.audit.append([make_event(action="agent.action.execute")])  # committed with a write
    await writer.flush()  # an empty flush still syncs
    lines = list(jsonl_events(tmp_path / "audit.jsonl"))
    assert len(lines) == 3 and '"agent.action.execute"' in lines[-1].body
    assert verify_chain(lines).ok
