"""The admission-control step of an explanation (SPEC §4 step 6), read through ``Admission.peek``.

Counters in ``memory://`` live inside each serving process, so a separate ``opp explain`` process
sees a fresh window; the SQLite file that several workers share (next to the store) and a
``redis://`` storage are read for real. Peeking consumes nothing.
"""

from __future__ import annotations

import os
from typing import Any

from opp.admission import Admission, AdmissionPlan
from opp.auth.principal import Principal
from opp.codes import ReasonCode
from opp.compile.plan import Plan, ToolPlan
from opp.errors import OppError
from opp.explain.model import Step
from opp.store.redis import redacted_url

__all__ = ["explain_admission", "rate_limit_step"]

_FRESH = "memory:// counters live in each serving process; shown here as a fresh window."


def explain_admission(plan: Plan) -> Admission:
    """The counters to read: the workers' shared file when it exists, else the configured storage."""
    limits: AdmissionPlan = plan.rate_limits
    if limits.enabled and limits.process_local and plan.store_path != ":memory:":
        shared = limits.for_workers(2, plan.store_path)
        if os.path.exists(shared.storage_uri.removeprefix("sqlite:///")):
            return Admission(shared)
    return Admission(limits)


def rate_limit_step(admission: Admission, principal: Principal, tool: ToolPlan, ip: str | None) -> Step:
    """The rate limits that would count the call and where each counter stands."""
    limits = admission.plan
    if not limits.enabled:
        return Step(name="rate_limit", status="not_configured", summary="Rate limits: not configured.")
    details: dict[str, Any] = {"storage": redacted_url(limits.storage_uri), "strategy": limits.strategy}
    try:
        states = admission.peek(principal, ip, tool.name)
    except OppError as unavailable:
        summary = f"{unavailable.message} The request would be refused with {unavailable.status}."
        code = unavailable.code
        return Step(name="rate_limit", status="failed", summary=summary, code=code, details=details)
    if limits.process_local:
        details["note"] = _FRESH
    if not states:
        return Step(name="rate_limit", status="passed", summary="No rule counts this call.", details=details)
    details["rules"] = [
        {
            "id": state.rule.id,
            "per": list(state.rule.per),
            "limit": f"{state.rule.item.amount}/{state.rule.window_s}s",
            "remaining": state.remaining,
            "resetInSeconds": state.reset_in,
        }
        for state in states
    ]
    exhausted = [state.rule.id for state in states if state.remaining <= 0]
    if exhausted:
        summary = f"Quota exhausted: {', '.join(exhausted)}."
        return Step(
            name="rate_limit", status="failed", summary=summary, code=ReasonCode.RATE_LIMITED, details=details
        )
    summary = ", ".join(f"{s.rule.id}: {s.remaining}/{s.rule.item.amount} left" for s in states)
    return Step(name="rate_limit", status="passed", summary=summary, details=details)
