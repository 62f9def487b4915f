"""The audit writer's loop stops on close() whatever it is doing, and flushes what is queued."""

from __future__ import annotations

import asyncio
import datetime as dt

from opp.audit.writer import AuditWriter
from opp.store.memory import MemoryStore
from opp.store.records import AuditEvent, AuditQuery


async def test_close_right_after_start_flushes_and_returns() -> None:
    store = MemoryStore()
    writer = AuditWriter(store, flush_interval=3600)
    await writer.start()
    writer.emit(
        AuditEvent(
            id="aud_1",
            action="a",
            status="success",
            code="common.success",
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    await asyncio.wait_for(writer.close(), 5)
    assert [e.id for e in await store.audit.list(AuditQuery())] == ["aud_1"]


async def test_close_many_times_in_a_row_never_hangs() -> None:
    for _ in range(50):
        writer = AuditWriter(MemoryStore(), flush_interval=0.001)
        await writer.start()
        await asyncio.sleep(0)
        await asyncio.wait_for(writer.close(), 5)
