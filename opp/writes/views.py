"""How drafts and executions are shown to agents and to approvers (SPEC §2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from opp.store.write_records import DraftRecord, ExecutionRecord

__all__ = ["admin_draft_view", "execution_view", "public_draft_view"]

_PRIVATE = (
    "preflight",
    "preflight_state_witness",
    "policy_snapshot",
    "request_id",
    "idempotency_key",
    "actor_user_id",
    "confirmed_by_user_id",
)


def _with_protocol_fields(draft: DraftRecord) -> dict[str, Any]:
    """The record plus the SPEC's field names: ``action_type`` (= ``action``), and ``confirmed_at``
    / ``canceled_at``, the time of the transition to ``confirmed`` / ``canceled`` (the draft's last
    update once it is in that state; null otherwise)."""
    data: dict[str, Any] = msgspec.to_builtins(draft)
    updated = data["updated_at"]
    data["action_type"] = draft.action
    data["confirmed_at"] = updated if draft.status == "confirmed" else None
    data["canceled_at"] = updated if draft.status == "canceled" else None
    return data


def public_draft_view(draft: DraftRecord) -> dict[str, Any]:
    """The draft as its agent sees it: no impact, witness, policy snapshot or actor ids."""
    data = _with_protocol_fields(draft)
    for name in _PRIVATE:
        data.pop(name, None)
    return data


def admin_draft_view(draft: DraftRecord) -> dict[str, Any]:
    return _with_protocol_fields(draft)


def execution_view(
    execution: ExecutionRecord | None, now: dt.datetime, lease: float
) -> dict[str, Any] | None:
    """An execution; one ``started`` longer than the lease is shown as ``unknown`` (the process that
    ran it died mid-call: the backend may or may not have applied it — an operator must check)."""
    if execution is None:
        return None
    data: dict[str, Any] = msgspec.to_builtins(execution)
    if execution.status == "started" and (now - execution.created_at).total_seconds() > lease:
        data["status"] = "unknown"
    return data
