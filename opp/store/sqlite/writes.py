"""The SQLite :class:`~opp.store.write_protocols.WriteStore`.

Every state change runs in one ``BEGIN IMMEDIATE`` transaction on the store's main connection,
together with its audit events — inserted (and sealed onto the hash chain) by the audit log's own
:func:`~opp.store.sqlite.audit.insert_events`, so ``store.audit.list()`` returns them like any
appended batch. ``BEGIN IMMEDIATE`` takes the write
lock first, so the compare-and-set updates (``WHERE id = ? AND status IN (…)``, decided by the row
count) and the idempotency check-then-insert are serialised across every worker on the file.
``drafts.create_order`` and ``executions.create_order`` (autoincrement) give "newest first".
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from opp.store.codec import encode_timestamp
from opp.store.records import AuditEvent
from opp.store.sql import draft_update, draft_where, insert, select
from opp.store.sqlite.audit import insert_events
from opp.store.sqlite.database import SqliteDatabase
from opp.store.write_records import (
    ApprovalRecord,
    DraftQuery,
    DraftRecord,
    ExecutionRecord,
    IdempotencyRecord,
    PreflightRecord,
)
from opp.store.write_rules import (
    APPROVALS,
    DRAFTS,
    EXECUTIONS,
    IDEMPOTENCY,
    PENDING,
    PREFLIGHTS,
    check_created_together,
    encode_draft_changes,
    expire_each,
    idempotency_holds,
    page_size,
)

__all__ = ["SqliteWrites"]


_INSERT_PREFLIGHT = insert("preflights", PREFLIGHTS)
_SELECT_PREFLIGHTS = select("preflights", PREFLIGHTS)
_INSERT_DRAFT = insert("drafts", DRAFTS)
_SELECT_DRAFTS = select("drafts", DRAFTS)
_INSERT_APPROVAL = insert("draft_approvals", APPROVALS) + " ON CONFLICT DO NOTHING"
_SELECT_APPROVALS = select("draft_approvals", APPROVALS)
_INSERT_EXECUTION = insert("executions", EXECUTIONS)
_SELECT_EXECUTIONS = select("executions", EXECUTIONS)
_REPLACE_EXECUTION = (
    "UPDATE executions SET "  # noqa: S608
    + ", ".join(f"{column} = ?" for column in EXECUTIONS.columns)
    + " WHERE id = ?"
)
_INSERT_IDEMPOTENCY = insert("idempotency_keys", IDEMPOTENCY)
_SELECT_IDEMPOTENCY = select("idempotency_keys", IDEMPOTENCY) + " WHERE app_id = ? AND key = ?"
_COUNT_APPROVES = "SELECT COUNT(*) FROM draft_approvals WHERE draft_id = ? AND decision = 'approve'"


@contextlib.contextmanager
def _conflicts_as_key_errors(what: str) -> Iterator[None]:
    """A duplicate id or a missing parent row is a ``KeyError``, as in the memory backend."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise KeyError(f"{what}: {exc}") from exc


def _update_draft(
    connection: sqlite3.Connection, draft_id: str, expected: tuple[str, ...] | None, columns: dict[str, Any]
) -> bool:
    """Apply encoded ``columns`` to the draft, only while its status is in ``expected`` (if given).

    False (nothing changed) when the draft is unknown or in another status.
    """
    sql, params = draft_update(draft_id, expected, columns)
    cursor = connection.execute(sql, params)
    return cursor.fetchone() is not None if not columns else bool(cursor.rowcount)


class SqliteWrites:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create_preflight(self, preflight: PreflightRecord, events: builtins.list[AuditEvent]) -> None:
        row = PREFLIGHTS.encode(preflight)

        def unit(connection: sqlite3.Connection) -> None:
            connection.execute(_INSERT_PREFLIGHT, row)
            insert_events(connection, events)

        with _conflicts_as_key_errors(f"preflight {preflight.id!r}"):
            await self._db.transact(unit)

    async def get_preflight(self, preflight_id: str) -> PreflightRecord | None:
        rows = self._db.read(f"{_SELECT_PREFLIGHTS} WHERE id = ?", (preflight_id,))
        return PREFLIGHTS.decode(rows[0]) if rows else None

    async def create_draft(
        self,
        draft: DraftRecord,
        idempotency: IdempotencyRecord | None,
        execution: ExecutionRecord | None,
        events: builtins.list[AuditEvent],
    ) -> IdempotencyRecord | None:
        check_created_together(draft, idempotency, execution)
        row = DRAFTS.encode(draft)
        key_row = None if idempotency is None else IDEMPOTENCY.encode(idempotency)
        execution_row = None if execution is None else EXECUTIONS.encode(execution)

        def unit(connection: sqlite3.Connection) -> IdempotencyRecord | None:
            if idempotency is not None:
                found = connection.execute(
                    _SELECT_IDEMPOTENCY, (idempotency.app_id, idempotency.key)
                ).fetchall()
                existing = IDEMPOTENCY.decode(found[0]) if found else None
                if existing is not None and idempotency_holds(existing, draft.created_at):
                    return existing
                connection.execute(
                    "DELETE FROM idempotency_keys WHERE app_id = ? AND key = ?",
                    (idempotency.app_id, idempotency.key),
                )
            connection.execute(_INSERT_DRAFT, row)
            if key_row is not None:
                connection.execute(_INSERT_IDEMPOTENCY, key_row)
            if execution_row is not None:
                connection.execute(_INSERT_EXECUTION, execution_row)
            insert_events(connection, events)
            return None

        with _conflicts_as_key_errors(f"draft {draft.id!r}"):
            return await self._db.transact(unit)

    async def get_draft(self, draft_id: str) -> DraftRecord | None:
        rows = self._db.read(f"{_SELECT_DRAFTS} WHERE id = ?", (draft_id,))
        return DRAFTS.decode(rows[0]) if rows else None

    async def list_drafts(self, query: DraftQuery) -> builtins.list[DraftRecord]:
        where, params = draft_where(query)
        sql = f"{_SELECT_DRAFTS}{where} ORDER BY create_order DESC LIMIT ?"
        return [DRAFTS.decode(row) for row in self._db.read(sql, [*params, page_size(query.limit)])]

    async def transition_draft(
        self,
        draft_id: str,
        expected: tuple[str, ...],
        changes: dict[str, Any],
        events: builtins.list[AuditEvent],
    ) -> DraftRecord | None:
        columns = encode_draft_changes(changes)

        def unit(connection: sqlite3.Connection) -> Any:
            if not _update_draft(connection, draft_id, expected, columns):
                return None
            insert_events(connection, events)
            return connection.execute(f"{_SELECT_DRAFTS} WHERE id = ?", (draft_id,)).fetchone()

        with _conflicts_as_key_errors(f"draft {draft_id!r}"):
            row = await self._db.transact(unit)
        return None if row is None else DRAFTS.decode(row)

    async def start_execution(
        self,
        draft_id: str,
        expected: tuple[str, ...],
        changes: dict[str, Any],
        execution: ExecutionRecord,
        events: builtins.list[AuditEvent],
    ) -> bool:
        columns = encode_draft_changes(changes)
        row = EXECUTIONS.encode(execution)

        def unit(connection: sqlite3.Connection) -> bool:
            if not _update_draft(connection, draft_id, expected, columns):
                return False
            connection.execute(_INSERT_EXECUTION, row)
            insert_events(connection, events)
            return True

        with _conflicts_as_key_errors(f"execution {execution.id!r}"):
            return await self._db.transact(unit)

    async def finish_execution(
        self,
        execution: ExecutionRecord,
        draft_changes: dict[str, Any],
        events: builtins.list[AuditEvent],
    ) -> None:
        columns = encode_draft_changes(draft_changes)
        row = EXECUTIONS.encode(execution)

        def unit(connection: sqlite3.Connection) -> None:
            if not connection.execute(_REPLACE_EXECUTION, (*row, execution.id)).rowcount:
                raise KeyError(f"execution {execution.id!r} does not exist")
            _update_draft(connection, execution.draft_id, None, columns)
            insert_events(connection, events)

        with _conflicts_as_key_errors(f"execution {execution.id!r}"):
            await self._db.transact(unit)

    async def add_approval(self, approval: ApprovalRecord, events: builtins.list[AuditEvent]) -> int:
        row = APPROVALS.encode(approval)

        def unit(connection: sqlite3.Connection) -> int:
            if not connection.execute(_INSERT_APPROVAL, row).rowcount:
                raise KeyError(f"{approval.approver!r} already voted on {approval.draft_id!r}")
            insert_events(connection, events)
            return int(connection.execute(_COUNT_APPROVES, (approval.draft_id,)).fetchone()[0])

        with _conflicts_as_key_errors(f"approval of {approval.draft_id!r}"):
            return await self._db.transact(unit)

    async def list_approvals(self, draft_id: str) -> builtins.list[ApprovalRecord]:
        sql = f"{_SELECT_APPROVALS} WHERE draft_id = ? ORDER BY created_at, approver"
        return [APPROVALS.decode(row) for row in self._db.read(sql, (draft_id,))]

    async def get_idempotency(self, app_id: str, key: str) -> IdempotencyRecord | None:
        rows = self._db.read(_SELECT_IDEMPOTENCY, (app_id, key))
        return IDEMPOTENCY.decode(rows[0]) if rows else None

    async def latest_execution(self, draft_id: str) -> ExecutionRecord | None:
        sql = f"{_SELECT_EXECUTIONS} WHERE draft_id = ? ORDER BY create_order DESC LIMIT 1"
        rows = self._db.read(sql, (draft_id,))
        return EXECUTIONS.decode(rows[0]) if rows else None

    async def list_executions(
        self, *, status: str | None = None, limit: int = 200
    ) -> builtins.list[ExecutionRecord]:
        where, params = ("", []) if status is None else (" WHERE status = ?", [status])
        sql = f"{_SELECT_EXECUTIONS}{where} ORDER BY create_order DESC LIMIT ?"
        return [EXECUTIONS.decode(row) for row in self._db.read(sql, [*params, page_size(limit)])]

    async def expire_drafts(
        self, now: dt.datetime, make_events: Callable[[DraftRecord], builtins.list[AuditEvent]]
    ) -> builtins.list[DraftRecord]:
        sql = f"{_SELECT_DRAFTS} WHERE status = ? AND expires_at <= ? ORDER BY create_order"
        due = [DRAFTS.decode(row) for row in self._db.read(sql, (PENDING, encode_timestamp(now)))]
        return await expire_each(self, due, now, make_events)

    async def purge(self, now: dt.datetime) -> int:
        at = encode_timestamp(now)
        with self._db.write() as connection:
            preflights = connection.execute("DELETE FROM preflights WHERE expires_at <= ?", (at,)).rowcount
            keys = connection.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (at,)).rowcount
        return int(preflights) + int(keys)
