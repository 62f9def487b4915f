"""Where stored audit events are read from for verification and export: SQLite, PostgreSQL or JSONL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opp.audit.verify import StoredEvent
from opp.store.sql import AUDIT_COLUMNS
from opp.store.sqlite.audit import SqliteAuditLog

if TYPE_CHECKING:
    from opp.store.postgres.audit import PostgresAuditLog

__all__ = ["jsonl_events", "postgres_events", "sqlite_events"]

_BATCH = 1000


def sqlite_events(log: SqliteAuditLog, batch: int = _BATCH) -> Iterator[StoredEvent]:
    """Every stored event in insertion order, with the columns copied beside its body."""
    after = 0
    while rows := log.stored_rows(after, batch):
        yield from _stored(rows)
        after = int(rows[-1][0])


async def postgres_events(log: PostgresAuditLog, batch: int = _BATCH) -> AsyncIterator[StoredEvent]:
    """Every stored event in insertion order, with the columns copied beside its body."""
    after = 0
    while rows := await log.stored_rows(after, batch):
        for event in _stored(rows):
            yield event
        after = int(rows[-1][0])


def _stored(rows: Sequence[Sequence[Any]]) -> Iterator[StoredEvent]:
    for row in rows:
        columns = dict(zip(AUDIT_COLUMNS, row[1:], strict=True))
        body = columns.pop("body")
        yield StoredEvent(body, columns)


def jsonl_events(path: str | Path) -> Iterator[StoredEvent]:
    """Every event of a JSONL file (an export or the JSONL sink), in line order."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield StoredEvent(line.rstrip("\n"))
