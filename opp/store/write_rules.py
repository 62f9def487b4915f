"""Backend-independent semantics of the write-lifecycle store (:mod:`opp.store.write_protocols`).

The memory and SQL backends share the row codecs of the write records, how a draft's ``changes``
are checked and encoded, how large a page may be and when an idempotency record still holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec

from opp.store.codec import RecordCodec
from opp.store.records import AuditEvent
from opp.store.write_protocols import WriteStore
from opp.store.write_records import (
    ApprovalRecord,
    DraftRecord,
    ExecutionRecord,
    IdempotencyRecord,
    PreflightRecord,
)

__all__ = [
    "APPROVALS",
    "DRAFTS",
    "EXECUTIONS",
    "EXPIRED",
    "IDEMPOTENCY",
    "MAX_WRITE_PAGE",
    "PENDING",
    "PREFLIGHTS",
    "check_created_together",
    "encode_draft_changes",
    "expire_each",
    "idempotency_holds",
    "page_size",
]

PREFLIGHTS = RecordCodec(PreflightRecord)
DRAFTS = RecordCodec(DraftRecord)
APPROVALS = RecordCodec(ApprovalRecord)
EXECUTIONS = RecordCodec(ExecutionRecord)
IDEMPOTENCY = RecordCodec(IdempotencyRecord)

_DRAFT_FIELD_TYPES = {field.name: field.type for field in msgspec.structs.fields(DraftRecord)}

MAX_WRITE_PAGE = 200
"""The most drafts (or executions) one listing returns, whatever ``limit`` asks for."""

PENDING = "draft"
"""The status of a draft awaiting approval (SPEC §7.1)."""

EXPIRED = "expired"


def page_size(limit: int) -> int:
    """``limit`` clamped to ``1..MAX_WRITE_PAGE``."""
    return max(1, min(limit, MAX_WRITE_PAGE))


def encode_draft_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The column values of a draft update (``ValueError`` for an unknown field or the id).

    Every backend calls this before writing anything, so a bad change fails the same way
    everywhere (a naive datetime included) and leaves the store untouched.
    """
    if "id" in changes:
        raise ValueError("a draft's id cannot change")
    columns = DRAFTS.encode_fields(changes)
    for name, value in changes.items():
        try:
            msgspec.convert(value, _DRAFT_FIELD_TYPES[name], strict=True)
        except msgspec.ValidationError as exc:
            raise ValueError(f"draft field {name!r}: {exc}") from exc
    return columns


def check_created_together(
    draft: DraftRecord, idempotency: IdempotencyRecord | None, execution: ExecutionRecord | None
) -> None:
    """``ValueError`` unless the idempotency record and execution of a new draft point at it."""
    for record in (idempotency, execution):
        if record is not None and record.draft_id != draft.id:
            raise ValueError(f"{type(record).__name__} of draft {record.draft_id!r} given with {draft.id!r}")


async def expire_each(
    writes: WriteStore,
    due: list[DraftRecord],
    now: dt.datetime,
    make_events: Callable[[DraftRecord], list[AuditEvent]],
) -> list[DraftRecord]:
    """Expire each pending draft of ``due`` in its own transaction (``expire_drafts``).

    A draft approved or withdrawn since it was selected loses the compare-and-set and is skipped.
    ``make_events`` receives the draft as it will be stored.
    """
    changes: dict[str, Any] = {"status": EXPIRED, "updated_at": now}
    expired: list[DraftRecord] = []
    for draft in due:
        events = make_events(msgspec.structs.replace(draft, **changes))
        updated = await writes.transition_draft(draft.id, (PENDING,), changes, events)
        if updated is not None:
            expired.append(updated)
    return expired


def idempotency_holds(existing: IdempotencyRecord, now: dt.datetime) -> bool:
    """Whether ``existing`` still claims its key at ``now`` (else a new request may replace it)."""
    return existing.expires_at > now
