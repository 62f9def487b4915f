"""Combining CEL rules into one decision (SPEC §4.1).

Order: ``invalid`` rules (400 ``agent.action_invalid``), then ``deny`` rules (403
``agent.policy_denied``; deny overrides any allow), then ``allow`` rules: when a tool declares any,
one must match, and a tool that writes needs a matching allow even when it declares none. A rule
whose evaluation fails counts as matched for ``invalid``/``deny`` and as not matched for ``allow``:
errors always deny. Matched rule ids are returned for the audit event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from opp.codes import ReasonCode
from opp.compile.plan import CompiledRule, ToolPlan
from opp.errors import OppError
from opp.policy.api import PolicyEvalError

__all__ = ["RuleResult", "decide", "discoverable", "rule_results"]


class RuleResult(NamedTuple):
    """One rule evaluated against an activation: ``result`` is None when evaluation failed."""

    rule: CompiledRule
    result: bool | None


def _matches(rule: CompiledRule, activation: Mapping[str, Any]) -> bool | None:
    try:
        return rule.program.evaluate(activation)
    except PolicyEvalError:
        return None


def rule_results(tool: ToolPlan, activation: Mapping[str, Any]) -> Iterator[RuleResult]:
    """Evaluate ``tool``'s rules lazily, in decision order: invalid, then deny, then allow."""
    for rules in (tool.invalid_rules, tool.deny_rules, tool.allow_rules):
        for rule in rules:
            yield RuleResult(rule, _matches(rule, activation))


def decide(tool: ToolPlan, activation: Mapping[str, Any], matched: list[str]) -> None:
    """Raise the first denial, appending every matched rule id to ``matched``."""
    allowed = False
    for rule, result in rule_results(tool, activation):
        if rule.effect == "allow":
            if result:
                matched.append(rule.id)
                allowed = True
                break
            continue
        if result is False:
            continue
        matched.append(rule.id)
        if result is None:
            raise OppError(ReasonCode.POLICY_DENIED, "Policy evaluation failed.")
        if rule.effect == "invalid":
            raise OppError(ReasonCode.ACTION_INVALID, rule.message)
        raise OppError(ReasonCode.POLICY_DENIED, rule.message)
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
