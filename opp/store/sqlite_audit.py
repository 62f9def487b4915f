"""SQLite audit log: append-only, newest-first listing with filters and cursor pagination.

``audit_events.insert_order`` (an autoincrement integer) records insertion order, so "newest" means
"appended last" even when clocks of several workers disagree. The pagination cursor is the event
id of the last item of the previous page; the next page holds the events appended before it.

Each event is stored whole as JSON in ``body``; the columns that listing filters on are copied
beside it. One text column instead of twenty makes an insert about a third cheaper, and the body
is the natural input of the hash chain that makes the log tamper-evident.
"""

from __future__ import annotations

import builtins
import sqlite3
from typing import Any

import msgspec

from opp.store.codec import encode_timestamp
from opp.store.records import AuditEvent, AuditQuery
from opp.store.rules import AUDIT_EQUALITY_FILTERS, audit_page_size
from opp.store.sqlite_database import SqliteDatabase

__all__ = ["SqliteAuditLog"]

COLUMNS = ("id", "action", "status", "code", "tool", "app_id", "created_at", "body")
_INSERT_EVENT = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608
_SELECT_EVENTS = "SELECT body FROM audit_events"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AuditEvent)


def _row(event: AuditEvent) -> tuple[Any, ...]:
    body = _encoder.encode(event).decode()
    created = encode_timestamp(event.created_at)
    return (event.id, event.action, event.status, event.code, event.tool, event.app_id, created, body)


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
        rows = [_row(event) for event in events]
        try:
            await self._db.write_in_background(lambda connection: connection.executemany(_INSERT_EVENT, rows))
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise KeyError("an audit event with one of these ids already exists") from exc

    async def list(self, query: AuditQuery) -> builtins.list[AuditEvent]:
        where, params = _where(query)
        sql = f"{_SELECT_EVENTS}{where} ORDER BY insert_order DESC LIMIT ?"
        rows = self._db.read(sql, [*params, audit_page_size(query)])
        return [_decoder.decode(row[0]) for row in rows]
