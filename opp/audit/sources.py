"""Where stored audit events are read from for verification and export: SQLite or a JSONL file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from opp.audit.verify import StoredEvent
from opp.store.sqlite.audit import COLUMNS, SqliteAuditLog

__all__ = ["jsonl_events", "sqlite_events"]

_BATCH = 1000


def sqlite_events(log: SqliteAuditLog, batch: int = _BATCH) -> Iterator[StoredEvent]:
    """Every stored event in insertion order, with the columns copied beside its body."""
    after = 0
    while rows := log.stored_rows(after, batch):
        for row in rows:
            columns = dict(zip(COLUMNS, row[1:], strict=True))
            body = columns.pop("body")
            yield StoredEvent(body, columns)
        after = int(rows[-1][0])


def jsonl_events(path: str | Path) -> Iterator[StoredEvent]:
    """Every event of a JSONL file (an export or the JSONL sink), in line order."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield StoredEvent(line.rstrip("\n"))
