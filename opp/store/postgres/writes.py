"""The PostgreSQL :class:`~opp.store.write_protocols.WriteStore`: SQLite's semantics across replicas.

SQLite serialises every writer on the file (``BEGIN IMMEDIATE``). PostgreSQL runs transactions
concurrently (READ COMMITTED), so each guarantee of :mod:`opp.store.write_protocols` is kept by
the narrowest lock that gives it:

* **Idempotency** — ``create_draft`` with a key first takes ``pg_advisory_xact_lock`` on a hash of
  ``(app_id, key)``: concurrent requests with the same key, on any replica, check-then-insert one at
  a time, so exactly one inserts and the others return its record.
* **Compare-and-set** — ``UPDATE drafts … WHERE id = ? AND status IN (…)``: a second updater waits
  for the first one's row lock, re-checks the condition on the committed row and updates nothing.
* **Quorum** — ``add_approval`` locks the draft row (``SELECT … FOR UPDATE``) before it inserts the
  vote and counts, so concurrent votes on one draft are counted one after the other and the vote
  that completes the quorum sees every earlier one.
* **Audit** — events go through :func:`~opp.store.postgres.audit.insert_events` last in each
  transaction (one chain, sealed under the chain lock, committed with the change).
* **Group commit** — preflights, drafts and finished executions are committed in batches
  (:mod:`.group_commit`): one transaction, one chain lock and one events insert for all the
  requests of a turn of the event loop, each unit's failure still its own. Their locks are taken
  in one order (``order``: idempotency keys, then the rows of executions this replica runs).
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import AsyncCursor

from opp.store.codec import encode_timestamp
from opp.store.postgres.audit import insert_events
from opp.store.postgres.database import PostgresDatabase
from opp.store.postgres.group_commit import Deferred, PostgresGroupCommit, Step, Then
from opp.store.postgres.lookups import BatchedLookup
from opp.store.records import AuditEvent
from opp.store.sql import draft_update, draft_where, insert, postgres, select
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

__all__ = ["PostgresWrites"]

_Events = builtins.list[AuditEvent]

_INSERT_PREFLIGHT = postgres(insert("preflights", PREFLIGHTS))
_SELECT_PREFLIGHTS = select("preflights", PREFLIGHTS)
_INSERT_DRAFT = postgres(insert("drafts", DRAFTS))
_SELECT_DRAFTS = select("drafts", DRAFTS)
_INSERT_APPROVAL = postgres(insert("draft_approvals", APPROVALS, "ON CONFLICT DO NOTHING"))
_SELECT_APPROVALS = select("draft_approvals", APPROVALS)
_INSERT_EXECUTION = postgres(insert("executions", EXECUTIONS))
_SELECT_EXECUTIONS = select("executions", EXECUTIONS)
_REPLACE_EXECUTION = (
    "UPDATE executions SET "  # noqa: S608
    + ", ".join(f"{column} = %s" for column in EXECUTIONS.columns)
    + " WHERE id = %s RETURNING id"
)
_INSERT_IDEMPOTENCY = postgres(insert("idempotency_keys", IDEMPOTENCY))
_SELECT_IDEMPOTENCY = select("idempotency_keys", IDEMPOTENCY) + " WHERE app_id = %s AND key = %s"
_LOOKUP_IDEMPOTENCY = (
    select("idempotency_keys", IDEMPOTENCY)  # noqa: S608 - column names, no input
    + " WHERE (app_id, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
)
_LOOKUP_PREFLIGHTS = f"{_SELECT_PREFLIGHTS} WHERE id = ANY(%s::text[])"
_IDEMPOTENCY_APP, _IDEMPOTENCY_KEY = (IDEMPOTENCY.columns.index(name) for name in ("app_id", "key"))
_LOCK_IDEMPOTENCY_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s || chr(10) || %s, 0))"
_COUNT_APPROVES = "SELECT COUNT(*) FROM draft_approvals WHERE draft_id = %s AND decision = 'approve'"


@contextlib.contextmanager
def _conflicts_as_key_errors(what: str) -> Iterator[None]:
    """A duplicate id or a missing parent row is a ``KeyError``, as in the other backends."""
    try:
        yield
    except psycopg.IntegrityError as exc:
        raise KeyError(f"{what}: {exc.sqlstate}") from exc


async def _update_draft(
    cursor: AsyncCursor[Any], draft_id: str, expected: tuple[str, ...] | None, columns: dict[str, Any]
) -> bool:
    """Apply encoded ``columns`` while the draft's status is in ``expected``; False if it is not."""
    sql, params = draft_update(draft_id, expected, columns, returning=True)
    return await _one(cursor, postgres(sql), params) is not None


async def _one(cursor: AsyncCursor[Any], sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    await cursor.execute(sql, params)
    row: tuple[Any, ...] | None = await cursor.fetchone()
    return row


class PostgresWrites:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self.group_commit = PostgresGroupCommit(db)
        """Preflights, drafts and finished executions share transactions (:mod:`.group_commit`)."""
        self.claims: BatchedLookup[tuple[str, str]] = BatchedLookup(
            db,
            _LOOKUP_IDEMPOTENCY,
            lambda keys: [[app for app, _ in keys], [key for _, key in keys]],
            lambda row: (row[_IDEMPOTENCY_APP], row[_IDEMPOTENCY_KEY]),
        )
        """Idempotency claims looked up together (:mod:`.lookups`)."""
        self.preflights: BatchedLookup[str] = BatchedLookup(
            db, _LOOKUP_PREFLIGHTS, lambda ids: [ids], lambda row: str(row[0])
        )
        """Preflights looked up together."""

    async def create_preflight(self, preflight: PreflightRecord, events: builtins.list[AuditEvent]) -> None:
        row = PREFLIGHTS.encode(preflight)

        async def unit(cursor: AsyncCursor[Any]) -> tuple[None, _Events]:
            await cursor.execute(_INSERT_PREFLIGHT, row)
            return None, events

        with _conflicts_as_key_errors(f"preflight {preflight.id!r}"):
            await self.group_commit.submit(unit)

    async def get_preflight(self, preflight_id: str) -> PreflightRecord | None:
        row = await self.preflights.get(preflight_id)
        return PREFLIGHTS.decode(row) if row else None

    async def create_draft(
        self,
        draft: DraftRecord,
        idempotency: IdempotencyRecord | None,
        execution: ExecutionRecord | None,
        events: builtins.list[AuditEvent],
    ) -> IdempotencyRecord | None:
        check_created_together(draft, idempotency, execution)
        row = DRAFTS.encode(draft)

        async def insert_all(cursor: AsyncCursor[Any]) -> tuple[None, _Events]:
            await cursor.execute(_INSERT_DRAFT, row)
            if idempotency is not None:
                await cursor.execute(_INSERT_IDEMPOTENCY, IDEMPOTENCY.encode(idempotency))
            if execution is not None:
                await cursor.execute(_INSERT_EXECUTION, EXECUTIONS.encode(execution))
            return None, events

        async def unit(cursor: AsyncCursor[Any]) -> Step[IdempotencyRecord | None]:
            if idempotency is None:
                return await insert_all(cursor)
            key = (idempotency.app_id, idempotency.key)
            await cursor.execute(_LOCK_IDEMPOTENCY_KEY, key)
            claim = cursor.connection.cursor()  # its own: a cursor keeps only its last result
            await claim.execute(_SELECT_IDEMPOTENCY, key)  # read under the lock, answered later

            async def proceed() -> tuple[IdempotencyRecord | None, _Events]:
                found = await claim.fetchone()
                existing = IDEMPOTENCY.decode(found) if found else None
                if existing is not None and idempotency_holds(existing, draft.created_at):
                    return existing, []
                await cursor.execute("DELETE FROM idempotency_keys WHERE app_id = %s AND key = %s", key)
                return await insert_all(cursor)

            return Then(proceed), []

        # Units sorted by key take the idempotency locks in one order on every replica.
        order = "" if idempotency is None else f"k:{idempotency.app_id}\n{idempotency.key}"
        with _conflicts_as_key_errors(f"draft {draft.id!r}"):
            return await self.group_commit.submit(unit, order)

    async def get_draft(self, draft_id: str) -> DraftRecord | None:
        rows = await self._db.read(f"{_SELECT_DRAFTS} WHERE id = %s", (draft_id,))
        return DRAFTS.decode(rows[0]) if rows else None

    async def list_drafts(self, query: DraftQuery) -> builtins.list[DraftRecord]:
        where, params = draft_where(query)
        sql = postgres(f"{_SELECT_DRAFTS}{where} ORDER BY create_order DESC LIMIT ?")
        return [DRAFTS.decode(row) for row in await self._db.read(sql, [*params, page_size(query.limit)])]

    async def transition_draft(
        self,
        draft_id: str,
        expected: tuple[str, ...],
        changes: dict[str, Any],
        events: builtins.list[AuditEvent],
    ) -> DraftRecord | None:
        columns = encode_draft_changes(changes)
        with _conflicts_as_key_errors(f"draft {draft_id!r}"):
            async with self._db.transaction(pipelined=True) as cursor:
                if not await _update_draft(cursor, draft_id, expected, columns):
                    return None
                await insert_events(cursor, events)
                row = await _one(cursor, f"{_SELECT_DRAFTS} WHERE id = %s", (draft_id,))
        assert row is not None
        return DRAFTS.decode(row)

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
        with _conflicts_as_key_errors(f"execution {execution.id!r}"):
            async with self._db.transaction(pipelined=True) as cursor:
                if not await _update_draft(cursor, draft_id, expected, columns):
                    return False
                await cursor.execute(_INSERT_EXECUTION, row)
                await insert_events(cursor, events)
        return True

    async def finish_execution(
        self,
        execution: ExecutionRecord,
        draft_changes: dict[str, Any],
        events: builtins.list[AuditEvent],
    ) -> None:
        columns = encode_draft_changes(draft_changes)
        row = EXECUTIONS.encode(execution)

        async def unit(cursor: AsyncCursor[Any]) -> Step[None]:
            replaced = cursor.connection.cursor()  # its own: a cursor keeps only its last result
            await replaced.execute(_REPLACE_EXECUTION, (*row, execution.id))
            sql, params = draft_update(execution.draft_id, None, columns)
            await cursor.execute(postgres(sql), params)

            async def check() -> None:
                if await replaced.fetchone() is None:
                    raise KeyError(f"execution {execution.id!r} does not exist")

            return Deferred(check), events

        with _conflicts_as_key_errors(f"execution {execution.id!r}"):
            await self.group_commit.submit(unit, f"x:{execution.draft_id}")

    async def add_approval(self, approval: ApprovalRecord, events: builtins.list[AuditEvent]) -> int:
        row = APPROVALS.encode(approval)
        with _conflicts_as_key_errors(f"approval of {approval.draft_id!r}"):
            async with self._db.transaction() as cursor:
                await cursor.execute("SELECT 1 FROM drafts WHERE id = %s FOR UPDATE", (approval.draft_id,))
                await cursor.execute(_INSERT_APPROVAL, row)
                if not cursor.rowcount:
                    raise KeyError(f"{approval.approver!r} already voted on {approval.draft_id!r}")
                await insert_events(cursor, events)
                counted = await _one(cursor, _COUNT_APPROVES, (approval.draft_id,))
        return int(counted[0]) if counted else 0

    async def list_approvals(self, draft_id: str) -> builtins.list[ApprovalRecord]:
        sql = f"{_SELECT_APPROVALS} WHERE draft_id = %s ORDER BY created_at, approver"
        return [APPROVALS.decode(row) for row in await self._db.read(sql, (draft_id,))]

    async def get_idempotency(self, app_id: str, key: str) -> IdempotencyRecord | None:
        row = await self.claims.get((app_id, key))
        return IDEMPOTENCY.decode(row) if row else None

    async def latest_execution(self, draft_id: str) -> ExecutionRecord | None:
        sql = f"{_SELECT_EXECUTIONS} WHERE draft_id = %s ORDER BY create_order DESC LIMIT 1"
        rows = await self._db.read(sql, (draft_id,))
        return EXECUTIONS.decode(rows[0]) if rows else None

    async def list_executions(
        self, *, status: str | None = None, limit: int = 200
    ) -> builtins.list[ExecutionRecord]:
        where, params = ("", []) if status is None else (" WHERE status = %s", [status])
        sql = f"{_SELECT_EXECUTIONS}{where} ORDER BY create_order DESC LIMIT %s"
        return [EXECUTIONS.decode(row) for row in await self._db.read(sql, [*params, page_size(limit)])]

    async def expire_drafts(
        self, now: dt.datetime, make_events: Callable[[DraftRecord], builtins.list[AuditEvent]]
    ) -> builtins.list[DraftRecord]:
        sql = f"{_SELECT_DRAFTS} WHERE status = %s AND expires_at <= %s ORDER BY create_order"
        due = [DRAFTS.decode(row) for row in await self._db.read(sql, (PENDING, encode_timestamp(now)))]
        return await expire_each(self, due, now, make_events)

    async def purge(self, now: dt.datetime) -> int:
        at = encode_timestamp(now)
        async with self._db.transaction() as cursor:
            await cursor.execute("DELETE FROM preflights WHERE expires_at <= %s", (at,))
            preflights = cursor.rowcount
            await cursor.execute("DELETE FROM idempotency_keys WHERE expires_at <= %s", (at,))
            keys = cursor.rowcount
        return int(preflights) + int(keys)
