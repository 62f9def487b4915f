"""SQLite audit log: append-only, newest-first listing with filters and cursor pagination.

``audit_events.insert_order`` (an autoincrement integer) records insertion order, so "newest" means
"appended last" even when clocks of several workers disagree. The pagination cursor is the event
id of the last item of the previous page; the next page holds the events appended before it.

Each event is stored whole as JSON in ``body``; the columns that listing filters on are copied
beside it. One text column instead of twenty makes an insert about a third cheaper, and the body
is the natural input of the hash chain that makes the log tamper-evident.

Hash chain: every insert of events — the batched appends here and the events committed with a
state change by :mod:`sqlite_writes` and :mod:`sqlite_records` — goes through
:func:`insert_events`, which reads the chain head and seals the events (``seq``, ``prev_hash``,
``hash``, see :mod:`opp.audit.chain`) inside the caller's ``BEGIN IMMEDIATE`` transaction. The write
lock is held from the head read to the commit, so workers sharing the file extend one chain and
``insert_order`` follows ``seq``. ``audit_anchors`` remembers the last event of an archived prefix
so the chain goes on (and verifies) after the prefix is deleted.
"""

from __future__ import annotations

import builtins
import datetime as dt
import sqlite3
from typing import Any

import msgspec

from opp.audit.chain import EMPTY_CHAIN, ChainHead, seal_after
from opp.store.codec import encode_timestamp
from opp.store.records import AuditEvent, AuditQuery
from opp.store.rules import audit_page_size
from opp.store.sql import (
    AUDIT_COLUMNS,
    INSERT_EVENT,
    SELECT_CHAIN_HEAD,
    SELECT_EVENT_BODIES,
    SELECT_STORED_EVENTS,
    audit_row,
    audit_where,
)
from opp.store.sqlite.database import SqliteDatabase

__all__ = ["COLUMNS", "SqliteAuditLog", "insert_events"]

COLUMNS = AUDIT_COLUMNS
"""The stored columns after ``insert_order``, in table order."""
_INSERT_EVENT = INSERT_EVENT
_SELECT_EVENTS = SELECT_EVENT_BODIES
_SELECT_HEAD = SELECT_CHAIN_HEAD
_SELECT_STORED = SELECT_STORED_EVENTS
_decoder = msgspec.json.Decoder(AuditEvent)
_row = audit_row


def chain_head(connection: sqlite3.Connection) -> ChainHead:
    """The last sealed event, or the newest anchor once its prefix is archived; call under the write lock."""
    row = connection.execute(_SELECT_HEAD).fetchone()
    return EMPTY_CHAIN if row is None else ChainHead(int(row[0]), str(row[1]))


def insert_events(
    connection: sqlite3.Connection, events: builtins.list[AuditEvent]
) -> builtins.list[AuditEvent]:
    """Seal ``events`` after the chain head and insert them; returns them as stored.

    The only way events enter ``audit_events``. Call inside a ``BEGIN IMMEDIATE`` transaction.
    """
    if not events:
        return []
    sealed = seal_after(chain_head(connection), events)
    connection.executemany(_INSERT_EVENT, [_row(event) for event in sealed])
    return sealed


class SqliteAuditLog:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, events: builtins.list[AuditEvent]) -> None:
        if not events:
            return
        try:
            await self._db.write_in_background(lambda connection: insert_events(connection, events))
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise KeyError("an audit event with one of these ids already exists") from exc

    async def read_chain(self, after_seq: int, limit: int) -> builtins.list[AuditEvent]:
        rows = self._db.read(f"{_SELECT_EVENTS} WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))
        return [_decoder.decode(row[0]) for row in rows]

    def stored_rows(self, after_insert_order: int, limit: int) -> builtins.list[tuple[Any, ...]]:
        """Raw rows ``(insert_order, *COLUMNS)`` in insertion order, for verification."""
        sql = f"{_SELECT_STORED} WHERE insert_order > ? ORDER BY insert_order LIMIT ?"
        return self._db.read(sql, (after_insert_order, limit))

    def anchor(self) -> ChainHead | None:
        """The newest anchor (the last event of an archived prefix), if a prefix was archived."""
        rows = self._db.read("SELECT seq, hash FROM audit_anchors ORDER BY seq DESC LIMIT 1")
        return None if not rows else ChainHead(int(rows[0][0]), str(rows[0][1]))

    async def archive_through(self, seq: int, at: dt.datetime, note: str = "") -> ChainHead:
        """Delete the events with ``seq`` up to ``seq`` and record the last one as the anchor.

        Raises:
            KeyError: no event has this ``seq``.
        """

        def archive(connection: sqlite3.Connection) -> ChainHead:
            row = connection.execute("SELECT id, hash FROM audit_events WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                raise KeyError(f"no audit event with seq {seq}")
            connection.execute(
                "INSERT INTO audit_anchors (seq, hash, event_id, created_at, note) VALUES (?, ?, ?, ?, ?)",
                (seq, row[1], row[0], encode_timestamp(at), note),
            )
            connection.execute("DELETE FROM audit_events WHERE seq <= ? OR seq IS NULL", (seq,))
            return ChainHead(seq, str(row[1]))

        with self._db.write() as connection:
            return archive(connection)

    async def list(self, query: AuditQuery) -> builtins.list[AuditEvent]:
        where, params = audit_where(query)
        sql = f"{_SELECT_EVENTS}{where} ORDER BY insert_order DESC LIMIT ?"
        rows = self._db.read(sql, [*params, audit_page_size(query)])
        return [_decoder.decode(row[0]) for row in rows]
