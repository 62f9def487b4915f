"""The write-lifecycle store protocol. Every method that changes state takes the audit events
that describe the change and commits them **in the same transaction** (SPEC §9, DESIGN).

Atomicity rules the backends guarantee (and the contract suite proves):
* ``create_draft`` with an idempotency record inserts the key, the draft, the optional started
  execution and the events together, or — when an unexpired record for ``(app_id, key)`` exists —
  inserts nothing and returns that record. An expired record is replaced.
* ``start_execution`` and ``transition_draft`` are compare-and-set on the draft status: of two
  concurrent callers expecting the same status exactly one succeeds.
* ``add_approval`` refuses a second vote by the same approver (``KeyError``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from opp.store.records import AuditEvent
from opp.store.write_records import (
    ApprovalRecord,
    DraftQuery,
    DraftRecord,
    ExecutionRecord,
    IdempotencyRecord,
    PreflightRecord,
)

__all__ = ["WriteStore"]


class WriteStore(Protocol):
    async def create_preflight(self, preflight: PreflightRecord, events: list[AuditEvent]) -> None: ...

    async def get_preflight(self, preflight_id: str) -> PreflightRecord | None: ...

    async def create_draft(
        self,
        draft: DraftRecord,
        idempotency: IdempotencyRecord | None,
        execution: ExecutionRecord | None,
        events: list[AuditEvent],
    ) -> IdempotencyRecord | None:
        """Insert all, or nothing and return the existing unexpired idempotency record."""
        ...

    async def get_draft(self, draft_id: str) -> DraftRecord | None: ...

    async def list_drafts(self, query: DraftQuery) -> list[DraftRecord]:
        """Newest first (creation order), filtered, ``limit`` capped at 200."""
        ...

    async def transition_draft(
        self, draft_id: str, expected: tuple[str, ...], changes: dict[str, Any], events: list[AuditEvent]
    ) -> DraftRecord | None:
        """CAS: apply ``changes`` (field → value, ``updated_at`` included by the caller) when the
        draft's status is in ``expected``; return the updated draft, or None (nothing written,
        events not appended) when it is not."""
        ...

    async def start_execution(
        self,
        draft_id: str,
        expected: tuple[str, ...],
        changes: dict[str, Any],
        execution: ExecutionRecord,
        events: list[AuditEvent],
    ) -> bool:
        """CAS like ``transition_draft`` that also inserts the ``started`` execution."""
        ...

    async def finish_execution(
        self,
        execution: ExecutionRecord,
        draft_changes: dict[str, Any],
        events: list[AuditEvent],
    ) -> None:
        """Record the final execution (replacing the started one) and update its draft."""
        ...

    async def add_approval(self, approval: ApprovalRecord, events: list[AuditEvent]) -> int:
        """Record a vote; return how many distinct ``approve`` votes the draft now has.
        ``KeyError`` if this approver already voted on this draft (nothing written)."""
        ...

    async def list_approvals(self, draft_id: str) -> list[ApprovalRecord]: ...

    async def get_idempotency(self, app_id: str, key: str) -> IdempotencyRecord | None: ...

    async def latest_execution(self, draft_id: str) -> ExecutionRecord | None: ...

    async def list_executions(self, *, status: str | None = None, limit: int = 200) -> list[ExecutionRecord]:
        """Newest first; ``status='started'`` lists unfinished executions for operators."""
        ...

    async def expire_drafts(self, now: dt.datetime, make_events: Any) -> list[DraftRecord]:
        """Move pending drafts whose ``expires_at`` ≤ ``now`` to ``expired``; ``make_events(draft)``
        returns the events to commit with each transition. Returns the drafts expired."""
        ...

    async def purge(self, now: dt.datetime) -> int:
        """Delete expired preflights and idempotency records; return how many rows went."""
        ...
