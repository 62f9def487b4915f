"""Combining CEL rules into one decision (SPEC §4.1).

Order: ``invalid`` rules (400 ``agent.action_invalid``), then ``deny`` rules (403
``agent.policy_denied``; deny overrides any allow), then ``allow`` rules: when a tool declares any,
one must match, and a tool that writes needs a matching allow even when it declares none. A rule
whose evaluation fails counts as matched for ``invalid``/``deny`` and as not matched for ``allow``:
errors always deny. Matched rule ids are returned for the audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opp.codes import ReasonCode
from opp.compile.plan import CompiledRule, ToolPlan
from opp.errors import OppError
from opp.policy.api import PolicyEvalError

__all__ = ["decide", "discoverable"]


def _matches(rule: CompiledRule, activation: Mapping[str, Any]) -> bool | None:
    try:
        return rule.program.evaluate(activation)
    except PolicyEvalError:
        return None


def decide(tool: ToolPlan, activation: Mapping[str, Any], matched: list[str]) -> None:
    """Raise the first denial, appending every matched rule id to ``matched``."""
    for rule in tool.invalid_rules:
        result = _matches(rule, activation)
        if result is not False:
            matched.append(rule.id)
            if result is None:
                raise OppError(ReasonCode.POLICY_DENIED, "Policy evaluation failed.")
            raise OppError(ReasonCode.ACTION_INVALID, rule.message)
    for rule in tool.deny_rules:
        result = _matches(rule, activation)
        if result is not False:
            matched.append(rule.id)
            raise OppError(ReasonCode.POLICY_DENIED, rule.message if result else "Policy evaluation failed.")
    allowed = False
    for rule in tool.allow_rules:
        if _matches(rule, activation):
            matched.append(rule.id)
            allowed = True
            break
    if not allowed and (tool.allow_rules or tool.writes):
        raise OppError(ReasonCode.POLICY_DENIED, "No policy allows this call.")


def discoverable(tool: ToolPlan, activation: Mapping[str, Any], scopes: frozenset[str]) -> bool:
    """Whether the manifest lists ``tool``: scopes granted, and no rule decidable without the
    call's input denies it (SPEC §6). Rules that need ``args``/``resource`` are decided per call."""
    if not tool.required_scopes <= scopes:
        return False
    for rule in tool.deny_rules:
        if rule.discoverable and _matches(rule, activation) is not False:
            return False
    allow_rules = tool.allow_rules
    if allow_rules and all(rule.discoverable for rule in allow_rules):
        return any(_matches(rule, activation) for rule in allow_rules)
    return not (tool.writes and not allow_rules)
