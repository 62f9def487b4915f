"""Auto-execute gating (SPEC §7.2 step 7): the first failing check wins and becomes the draft's
``autoExecuteDeniedCode`` — a soft denial, never an error and never a side effect.

A tool declared ``requires_confirmation: true`` never auto-executes: a human approves it
(``agent.confirmation_required``, checked first).
High risk: window enabled → not expired → action allowed → non-empty justification → idempotency
key (unless the window sets ``require_idempotency: false``) → ``preflightHash`` present (unless
``require_preflight: false``) → equal to the recomputed impact hash.
Low and medium risk: window enabled → not expired → action allowed → each preflight binding sent
(``preflightHash``, ``preflightId``) equal to the recomputed impact hash.

A binding binds at every tier: a payload swapped after its preflight never executes.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from opp.codes import ReasonCode
from opp.compile.plan import ToolPlan
from opp.writes.windows import high_risk_requirements, window_denial

__all__ = ["gate"]


def gate(
    tool: ToolPlan,
    auto_execute: dict[str, Any],
    now: dt.datetime,
    *,
    justification: str | None,
    idempotency_key: str | None,
    preflight_hashes: tuple[str, ...],
    computed_hash: str,
) -> ReasonCode | None:
    """``preflight_hashes``: the impact hashes the request is bound to (its ``preflightHash``, the
    hash of its ``preflightId``'s preflight), empty when it sent neither."""
    if tool.requires_confirmation:
        return ReasonCode.CONFIRMATION_REQUIRED
    denied = window_denial(auto_execute, tool.risk, tool.name, now)
    if denied is not None:
        return denied
    if tool.risk == "high":
        require_preflight, require_idempotency = high_risk_requirements(auto_execute)
        if not (justification and justification.strip()):
            return ReasonCode.ACTION_INVALID
        if require_idempotency and not idempotency_key:
            return ReasonCode.IDEMPOTENCY_REQUIRED
        if require_preflight and not preflight_hashes:
            return ReasonCode.PREFLIGHT_REQUIRED
    if not all(hmac.compare_digest(h.encode(), computed_hash.encode()) for h in preflight_hashes):
        return ReasonCode.PREFLIGHT_MISMATCH
    return None
