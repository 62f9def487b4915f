"""SQLite audit log: append-only, newest-first listing with filters and cursor pagination.

``audit_events.insert_order`` (an autoincrement integer) records insertion order, so "newest" means
"appended last" even when clocks of several workers disagree. The pagination cursor is the event
id of the last item of the previous page; the next page holds the events appended before it.
"""

from __future__ import annotations

import builtins
import sqlite3
from typing import Any

from opp.store.codec import RecordCodec, encode_timestamp
from opp.store.records import AuditEvent, AuditQuery
from opp.store.rules import AUDIT_EQUALITY_FILTERS, audit_page_size
from opp.store.sqlite_database import SqliteDatabase

__all__ = ["SqliteAuditLog"]

EVENTS = RecordCodec(AuditEvent)

_INSERT_EVENT = (
    f"INSERT INTO audit_events ({EVENTS.column_list}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in EVENTS.columns)})"
)
_SELECT_EVENTS = f"SELECT {EVENTS.column_list} FROM audit_events"  # noqa: S608


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for ``query``."""
    conditions: list[str] = []
    params: list[Any] = []
    for name in AUDIT_EQUALITY_FILTERS:
        value = getattr(query, name)
        if value is not None:
            conditions.append(f"{name} = ?")
            params.append(value)
    if query.since is not None:
        conditions.append("created_at >= ?")
        params.append(encode_timestamp(query.since))
    if query.until is not None:
        conditions.append("created_at < ?")
        params.append(encode_timestamp(query.until))
    if query.cursor is not None:
        # An unknown cursor yields NULL, which matches nothing: an empty page, not the first one.
        conditions.append("insert_order < (SELECT insert_order FROM audit_events WHERE id = ?)")
        params.append(query.cursor)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), params


class SqliteAuditLog:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, events: builtins.list[AuditEvent]) -> None:
        if not events:
            return
        rows = [EVENTS.encode(event) for event in events]
        try:
            with self._db.write() as connection:
                connection.executemany(_INSERT_EVENT, rows)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise KeyError("an audit event with one of these ids already exists") from exc

    async def list(self, query: AuditQuery) -> builtins.list[AuditEvent]:
        where, params = _where(query)
        sql = f"{_SELECT_EVENTS}{where} ORDER BY insert_order DESC LIMIT ?"
        rows = self._db.read(sql, [*params, audit_page_size(query)])
        return [EVENTS.decode(row) for row in rows]
