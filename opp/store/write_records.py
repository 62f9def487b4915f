"""Records of the write lifecycle (SPEC §1, §7): preflights, drafts, approvals, executions and
idempotency keys. Frozen Structs shared by every store backend."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

__all__ = [
    "ApprovalRecord",
    "DraftQuery",
    "DraftRecord",
    "DraftStatus",
    "ExecutionRecord",
    "IdempotencyRecord",
    "PreflightRecord",
]

DraftStatus = Literal["draft", "confirmed", "canceled", "failed", "expired"]


class PreflightRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A ``preflightId`` handle: bound to app + key + actor, valid until ``expires_at``."""

    id: str
    app_id: str
    key_id: str | None
    actor_user_id: str
    action: str
    payload: dict[str, Any]
    impact: dict[str, Any]
    impact_hash: str
    state_witness: dict[str, Any] | None = None
    state_witness_hash: str | None = None
    created_at: dt.datetime
    expires_at: dt.datetime


class DraftRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    app_id: str
    key_id: str | None
    actor_user_id: str
    tenant: str | None = None
    action: str
    risk: Literal["low", "medium", "high"]
    payload: dict[str, Any]
    status: DraftStatus
    requires_confirmation: bool = False
    auto_execute_requested: bool = False
    request_id: str | None = None
    idempotency_key: str | None = None
    justification: str | None = None
    preflight: dict[str, Any] | None = None
    """The impact computed for this draft."""
    preflight_hash: str | None = None
    preflight_state_witness: dict[str, Any] | None = None
    preflight_state_witness_hash: str | None = None
    policy_snapshot: dict[str, Any] = msgspec.field(default_factory=dict)
    approvals_required: int = 1
    confirmed_by_user_id: str | None = None
    failure_code: str | None = None
    """Why the draft is ``failed`` (e.g. ``state_witness_mismatch``) or ``canceled`` (``withdrawn``)."""
    note: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime
    """A ``draft`` (pending) past this time is expired and can no longer be approved."""


class ApprovalRecord(msgspec.Struct, frozen=True, kw_only=True):
    draft_id: str
    approver: str
    decision: Literal["approve", "reject"]
    note: str | None = None
    created_at: dt.datetime


class ExecutionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One backend call for a draft. ``started`` until it finishes; a ``started`` execution older
    than the execution lease is reported as ``unknown`` (the process died mid-call)."""

    id: str
    draft_id: str
    app_id: str
    idempotency_key: str | None = None
    status: Literal["started", "success", "failed"]
    result: Any = None
    error: dict[str, Any] | None = None
    """Sanitised ``{code, message}``: never backend text."""
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """``(app_id, key)`` → the one draft (and execution) it produced, with the request fingerprint."""

    app_id: str
    key: str
    fingerprint: str
    draft_id: str
    created_at: dt.datetime
    expires_at: dt.datetime


class DraftQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters for listing drafts, newest first; ``cursor`` is the id of the last draft of the
    previous page."""

    app_id: str | None = None
    status: str | None = None
    action: str | None = None
    risk: str | None = None
    cursor: str | None = None
    limit: int = 50
