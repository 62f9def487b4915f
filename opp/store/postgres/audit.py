"""PostgreSQL audit log: one hash chain, however many replicas append to it at once.

Every insert of events — the batched appends here and the events committed with a state change
by :mod:`opp.store.postgres.writes` and :mod:`opp.store.postgres.records` — goes through
:func:`insert_events` inside the caller's transaction. It first takes the transaction-level
advisory lock :data:`CHAIN_LOCK` (``pg_advisory_xact_lock``), then reads the chain head and seals
the events onto it (:mod:`opp.audit.chain`). The lock is held until the transaction commits or
rolls back, so appenders on every replica queue there and extend ONE chain: no two events get the
same ``seq`` or ``prev_hash``, and ``insert_order`` (an identity column, allocated after the lock)
follows ``seq``. The events still commit in the same transaction as the state change they
describe. A transaction takes the lock only at its end (after its row changes), so it never
waits for a row while holding the chain.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import msgspec
import psycopg
from psycopg import AsyncCursor

from opp.audit.chain import EMPTY_CHAIN, ChainHead, seal_after
from opp.store.codec import encode_timestamp
from opp.store.postgres.database import PostgresDatabase
from opp.store.records import AuditEvent, AuditQuery
from opp.store.rules import audit_page_size
from opp.store.sql import (
    AUDIT_COLUMNS,
    SELECT_CHAIN_HEAD,
    SELECT_EVENT_BODIES,
    SELECT_STORED_EVENTS,
    audit_row,
    audit_where,
    postgres,
)

__all__ = ["CHAIN_LOCK", "PostgresAuditLog", "insert_events"]

CHAIN_LOCK = 0x6F7070_61756474
"""The ``pg_advisory_xact_lock`` key serialising appends to the audit hash chain."""

_FIELDS = ", ".join(
    f"(row->>{index})::bigint" if column == "seq" else f"row->>{index}"
    for index, column in enumerate(AUDIT_COLUMNS)
)
INSERT_FROM_JSON = (
    f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)})"  # noqa: S608 - column names, no input
    f" SELECT {_FIELDS} FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS event (row, n) ORDER BY n"
)
"""Every event of a batch in one statement and one parameter: a JSON array of their rows
(``[[id, action, …], …]``), inserted in the batch's order.

The rows are encoded by msgspec in one call and PostgreSQL parses them once (``jsonb``). One
array parameter per column instead cost psycopg's Python array dumping per element (a tenth of
a replica's store CPU on writes); a multi-row ``VALUES`` list has a new text for every batch
size and more than psycopg's 50 cached parameters, so it was parsed again for every batch (8 %
of a replica's CPU on governed reads); ``executemany`` costs a statement per event. The text
never changes, so PostgreSQL prepares its plan."""
_rows = msgspec.json.Encoder().encode
_decoder = msgspec.json.Decoder(AuditEvent)


async def chain_head(cursor: AsyncCursor[Any]) -> ChainHead:
    """The last sealed event, or the newest anchor; call while holding :data:`CHAIN_LOCK`."""
    await cursor.execute(SELECT_CHAIN_HEAD)
    row = await cursor.fetchone()
    return EMPTY_CHAIN if row is None else ChainHead(int(row[0]), str(row[1]))


async def insert_events(
    cursor: AsyncCursor[Any], events: builtins.list[AuditEvent]
) -> builtins.list[AuditEvent]:
    """Lock the chain, seal ``events`` after its head and insert them; returns them as stored.

    The only way events enter ``audit_events``. Call inside a transaction, after its row changes.
    """
    if not events:
        return []
    await cursor.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
    sealed = seal_after(await chain_head(cursor), events)
    await cursor.execute(INSERT_FROM_JSON, (_rows(list(map(audit_row, sealed))).decode(),))
    return sealed


class PostgresAuditLog:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def append(self, events: builtins.list[AuditEvent]) -> None:
        if not events:
            return
        try:
            async with self._db.transaction(pipelined=True) as cursor:
                await insert_events(cursor, events)
        except psycopg.errors.UniqueViolation as exc:
            raise KeyError("an audit event with one of these ids already exists") from exc

    async def read_chain(self, after_seq: int, limit: int) -> builtins.list[AuditEvent]:
        sql = f"{SELECT_EVENT_BODIES} WHERE seq > %s ORDER BY seq LIMIT %s"
        return [_decoder.decode(row[0]) for row in await self._db.read(sql, (after_seq, limit))]

    async def stored_rows(self, after_insert_order: int, limit: int) -> builtins.list[tuple[Any, ...]]:
        """Raw rows ``(insert_order, *AUDIT_COLUMNS)`` in insertion order, for verification."""
        sql = f"{SELECT_STORED_EVENTS} WHERE insert_order > %s ORDER BY insert_order LIMIT %s"
        return await self._db.read(sql, (after_insert_order, limit))

    async def anchor(self) -> ChainHead | None:
        """The newest anchor (the last event of an archived prefix), if a prefix was archived."""
        rows = await self._db.read("SELECT seq, hash FROM audit_anchors ORDER BY seq DESC LIMIT 1")
        return None if not rows else ChainHead(int(rows[0][0]), str(rows[0][1]))

    async def archive_through(self, seq: int, at: dt.datetime, note: str = "") -> ChainHead:
        """Delete the events with ``seq`` up to ``seq`` and record the last one as the anchor.

        Raises:
            KeyError: no event has this ``seq``.
        """
        async with self._db.transaction() as cursor:
            await cursor.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
            await cursor.execute("SELECT id, hash FROM audit_events WHERE seq = %s", (seq,))
            row = await cursor.fetchone()
            if row is None:
                raise KeyError(f"no audit event with seq {seq}")
            await cursor.execute(
                "INSERT INTO audit_anchors (seq, hash, event_id, created_at, note)"
                " VALUES (%s, %s, %s, %s, %s)",
                (seq, row[1], row[0], encode_timestamp(at), note),
            )
            await cursor.execute("DELETE FROM audit_events WHERE seq <= %s OR seq IS NULL", (seq,))
        return ChainHead(seq, str(row[1]))

    async def list(self, query: AuditQuery) -> builtins.list[AuditEvent]:
        where, params = audit_where(query)
        sql = postgres(f"{SELECT_EVENT_BODIES}{where} ORDER BY insert_order DESC LIMIT ?")
        rows = await self._db.read(sql, [*params, audit_page_size(query)])
        return [_decoder.decode(row[0]) for row in rows]
