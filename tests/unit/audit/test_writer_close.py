"""The audit writer's loop stops on close() whatever it is doing, and flushes what is queued."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from opp.audit.writer import AuditWriter
from opp.store.factory import open_store
from opp.store.memory import MemoryStore
from opp.store.records import AuditEvent, AuditQuery


def _event(event_id: str) -> AuditEvent:
    return AuditEvent(
        id=event_id, action="a", status="success", code="common.success", created_at=dt.datetime.now(dt.UTC)
    )


async def test_close_right_after_start_flushes_and_returns() -> None:
    store = MemoryStore()
    writer = AuditWriter(store, flush_interval=3600)
    await writer.start()
    writer.emit(_event("aud_1"))
    await asyncio.wait_for(writer.close(), 5)
    assert [e.id for e in await store.audit.list(AuditQuery())] == ["aud_1"]


async def test_close_many_times_in_a_row_never_hangs() -> None:
    for n in range(50):
        store = MemoryStore()
        writer = AuditWriter(store, flush_interval=0.001)
        await writer.start()
        writer.emit(_event(f"aud_{n}"))
        await asyncio.sleep(0)  # let the loop start: close() must stop it wherever it is
        await asyncio.wait_for(writer.close(), 5)
        assert [
            task.get_name() for task in asyncio.all_tasks() if task.get_name() == "opp-audit-writer"
        ] == []
        assert [e.id for e in await store.audit.list(AuditQuery())] == [f"aud_{n}"]


async def test_flush_from_another_threads_loop_runs_on_the_serving_loop(tmp_path: Path) -> None:
    """A test client's blocking portal serves the app on its own loop while the test flushes.

    The SQLite store commits off the loop, so the two loops really contend for the writer's lock.
    """
    from anyio.from_thread import start_blocking_portal

    store = open_store("sqlite", str(tmp_path / "opp.db"))
    writer = AuditWriter(store, flush_interval=0.001)
    with start_blocking_portal() as portal:
        portal.call(store.open)
        portal.call(writer.start)
        for n in range(200):
            writer.emit(_event(f"aud_{n}"))
            await asyncio.wait_for(writer.flush(), 5)
        portal.call(writer.close)
        found = portal.call(store.audit.list, AuditQuery(limit=500))
        portal.call(store.close)
    assert len(found) == 200


async def test_a_failed_last_used_update_does_not_store_the_events_twice() -> None:
    """The pool ran dry after the events were appended: only the key touches are retried (the
    events again would be duplicates, refused on every later flush, and nothing new would land)."""
    store = MemoryStore()
    writer = AuditWriter(store, flush_interval=3600)
    failures = [RuntimeError("no connection")]
    touch = store.keys.touch

    async def flaky_touch(touched: dict[str, dt.datetime]) -> None:
        if failures:
            raise failures.pop()
        await touch(touched)

    store.keys.touch = flaky_touch  # type: ignore[method-assign]
    writer.emit(_event("aud_1"))
    writer.touch_key("key_1", dt.datetime.now(dt.UTC))
    with pytest.raises(RuntimeError):
        await writer.flush()
    writer.emit(_event("aud_2"))
    await writer.flush()  # would raise KeyError (aud_1 already stored) if aud_1 were queued again
    assert sorted(e.id for e in await store.audit.list(AuditQuery())) == ["aud_1", "aud_2"]
