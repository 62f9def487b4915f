"""What ``opp explain`` is asked and what it answers: plain Structs, encodable as JSON."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["CallSpec", "ExplainError", "Explanation", "RuleLine", "Step", "StepStatus", "Subject"]

StepStatus = Literal["passed", "failed", "skipped", "not_configured"]
"""``skipped``: the step does not apply or cannot run (its input is missing)."""


class ExplainError(Exception):
    """A usage or configuration error: the question cannot be asked (CLI exit status 2)."""


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    """Who calls: an opaque token, an app, or a hypothetical caller (overrides apply to the app)."""

    token: str | None = None
    app_id: str | None = None
    scopes: tuple[str, ...] | None = None
    """Granted scopes instead of the app's."""
    tenant: str | None = None
    """The caller's tenant (organisation) instead of the app's."""
    policy_data: dict[str, Any] | None = None
    """The app's data policy (``app.policy``) instead of the stored one."""


class CallSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The tool call to explain; ``method``/``path`` default to the tool's route."""

    tool: str
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    ip: str | None = None
    method: str | None = None
    path: str | None = None


class RuleLine(msgspec.Struct, frozen=True, kw_only=True):
    """One CEL rule, its result against the call and whether it decided the outcome."""

    id: str
    effect: Literal["allow", "deny", "invalid"]
    result: Literal["true", "false", "error"]
    expression: str
    message: str
    matched: bool


class Step(msgspec.Struct, kw_only=True):
    """One step of the SPEC §4 pipeline as it would run for the call."""

    name: str
    status: StepStatus
    summary: str
    code: str | None = None
    """The reason code of a failed step."""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    rules: list[RuleLine] | None = None
    decisive: bool = False
    """The step that decided a denial (the first failure)."""
    reached: bool = True
    """False for steps after the deciding failure: shown for information only."""


class Explanation(msgspec.Struct, kw_only=True):
    """The whole pipeline for one call and its final decision."""

    tool: str
    kind: str
    allowed: bool
    code: str
    status: int
    """The HTTP status the gateway would answer with."""
    message: str
    steps: list[Step]
    matched_rules: list[str]
    notes: list[str] = msgspec.field(default_factory=list)
