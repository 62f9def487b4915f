"""The in-memory :class:`~opp.store.write_protocols.WriteStore` (unit tests).

Behaves like the SQLite one (both pass ``tests/unit/store/test_write_store_contract.py``). Each
method checks and converts everything that can fail first — changes, records, audit events —
and only then mutates, without awaiting in between: a change and its events apply all or nothing.
Insertion order of the dicts is creation order, as the autoincrement columns are in SQL.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from opp.store.records import AuditEvent
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

__all__ = ["MemoryWrites"]

_DRAFT_FILTERS = ("app_id", "status", "action", "risk")


class PreparedAudit(Protocol):
    """The two-step append of the memory audit log: check and convert, then commit."""

    def prepare(self, events: builtins.list[AuditEvent]) -> builtins.list[AuditEvent]: ...

    def extend(self, prepared: builtins.list[AuditEvent]) -> None: ...


def _matches(draft: DraftRecord, query: DraftQuery) -> bool:
    return all(
        getattr(query, name) is None or getattr(draft, name) == getattr(query, name)
        for name in _DRAFT_FILTERS
    )


class MemoryWrites:
    def __init__(self, audit: PreparedAudit) -> None:
        self._audit = audit
        self._preflights: dict[str, PreflightRecord] = {}
        self._drafts: dict[str, DraftRecord] = {}
        self._draft_positions: dict[str, int] = {}
        self._approvals: dict[tuple[str, str], ApprovalRecord] = {}
        self._executions: dict[str, ExecutionRecord] = {}
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}

    async def create_preflight(self, preflight: PreflightRecord, events: builtins.list[AuditEvent]) -> None:
        stored = PREFLIGHTS.round_trip(preflight)
        if preflight.id in self._preflights:
            raise KeyError(f"preflight {preflight.id!r} already exists")
        prepared = self._audit.prepare(events)
        self._preflights[preflight.id] = stored
        self._audit.extend(prepared)

    async def get_preflight(self, preflight_id: str) -> PreflightRecord | None:
        return self._preflights.get(preflight_id)

    async def create_draft(
        self,
        draft: DraftRecord,
        idempotency: IdempotencyRecord | None,
        execution: ExecutionRecord | None,
        events: builtins.list[AuditEvent],
    ) -> IdempotencyRecord | None:
        check_created_together(draft, idempotency, execution)
        stored_draft = DRAFTS.round_trip(draft)
        stored_key = None if idempotency is None else IDEMPOTENCY.round_trip(idempotency)
        stored_execution = None if execution is None else EXECUTIONS.round_trip(execution)
        if stored_key is not None:
            existing = self._idempotency.get((stored_key.app_id, stored_key.key))
            if existing is not None and idempotency_holds(existing, draft.created_at):
                return existing
        if draft.id in self._drafts or (execution is not None and execution.id in self._executions):
            raise KeyError(f"draft {draft.id!r} or its execution already exists")
        prepared = self._audit.prepare(events)
        self._draft_positions[draft.id] = len(self._drafts)
        self._drafts[draft.id] = stored_draft
        if stored_key is not None:
            self._idempotency[(stored_key.app_id, stored_key.key)] = stored_key
        if stored_execution is not None:
            self._executions[stored_execution.id] = stored_execution
        self._audit.extend(prepared)
        return None

    async def get_draft(self, draft_id: str) -> DraftRecord | None:
        return self._drafts.get(draft_id)

    async def list_drafts(self, query: DraftQuery) -> builtins.list[DraftRecord]:
        drafts = list(self._drafts.values())
        end = len(drafts) if query.cursor is None else self._draft_positions.get(query.cursor, 0)
        matching = (draft for draft in reversed(drafts[:end]) if _matches(draft, query))
        size = page_size(query.limit)
        return [draft for _, draft in zip(range(size), matching, strict=False)]

    async def transition_draft(
        self,
        draft_id: str,
        expected: tuple[str, ...],
        changes: dict[str, Any],
        events: builtins.list[AuditEvent],
    ) -> DraftRecord | None:
        updated = self._changed(draft_id, expected, changes)
        if updated is None:
            return None
        prepared = self._audit.prepare(events)
        self._drafts[draft_id] = updated
        self._audit.extend(prepared)
        return updated

    async def start_execution(
        self,
        draft_id: str,
        expected: tuple[str, ...],
        changes: dict[str, Any],
        execution: ExecutionRecord,
        events: builtins.list[AuditEvent],
    ) -> bool:
        stored = EXECUTIONS.round_trip(execution)
        updated = self._changed(draft_id, expected, changes)
        if updated is None:
            return False
        if execution.id in self._executions:
            raise KeyError(f"execution {execution.id!r} already exists")
        prepared = self._audit.prepare(events)
        self._drafts[draft_id] = updated
        self._executions[execution.id] = stored
        self._audit.extend(prepared)
        return True

    async def finish_execution(
        self,
        execution: ExecutionRecord,
        draft_changes: dict[str, Any],
        events: builtins.list[AuditEvent],
    ) -> None:
        stored = EXECUTIONS.round_trip(execution)
        updated = self._changed(execution.draft_id, None, draft_changes)
        if execution.id not in self._executions:
            raise KeyError(f"execution {execution.id!r} does not exist")
        prepared = self._audit.prepare(events)
        self._executions[execution.id] = stored
        if updated is not None:
            self._drafts[execution.draft_id] = updated
        self._audit.extend(prepared)

    async def add_approval(self, approval: ApprovalRecord, events: builtins.list[AuditEvent]) -> int:
        stored, vote = APPROVALS.round_trip(approval), (approval.draft_id, approval.approver)
        if approval.draft_id not in self._drafts or vote in self._approvals:
            raise KeyError(f"{approval.approver!r} already voted on {approval.draft_id!r}, or no such draft")
        prepared = self._audit.prepare(events)
        self._approvals[vote] = stored
        self._audit.extend(prepared)
        return sum(
            1 for a in self._approvals.values() if a.draft_id == approval.draft_id and a.decision == "approve"
        )

    async def list_approvals(self, draft_id: str) -> builtins.list[ApprovalRecord]:
        votes = [approval for approval in self._approvals.values() if approval.draft_id == draft_id]
        return sorted(votes, key=lambda approval: (approval.created_at, approval.approver))

    async def get_idempotency(self, app_id: str, key: str) -> IdempotencyRecord | None:
        return self._idempotency.get((app_id, key))

    async def latest_execution(self, draft_id: str) -> ExecutionRecord | None:
        return next((e for e in reversed(self._executions.values()) if e.draft_id == draft_id), None)

    async def list_executions(
        self, *, status: str | None = None, limit: int = 200
    ) -> builtins.list[ExecutionRecord]:
        matching = (e for e in reversed(self._executions.values()) if status is None or e.status == status)
        return [execution for _, execution in zip(range(page_size(limit)), matching, strict=False)]

    async def expire_drafts(
        self, now: dt.datetime, make_events: Callable[[DraftRecord], builtins.list[AuditEvent]]
    ) -> builtins.list[DraftRecord]:
        due = [
            draft for draft in self._drafts.values() if draft.status == PENDING and draft.expires_at <= now
        ]
        return await expire_each(self, due, now, make_events)

    async def purge(self, now: dt.datetime) -> int:
        preflights = [p.id for p in self._preflights.values() if p.expires_at <= now]
        keys = [k for k, record in self._idempotency.items() if record.expires_at <= now]
        for preflight_id in preflights:
            del self._preflights[preflight_id]
        for key in keys:
            del self._idempotency[key]
        return len(preflights) + len(keys)

    def _changed(
        self, draft_id: str, expected: tuple[str, ...] | None, changes: dict[str, Any]
    ) -> DraftRecord | None:
        """The draft with ``changes`` applied, or None if unknown or (with ``expected``) not in it."""
        encode_draft_changes(changes)
        draft = self._drafts.get(draft_id)
        if draft is None or (expected is not None and draft.status not in expected):
            return None
        return DRAFTS.round_trip(msgspec.structs.replace(draft, **changes))
