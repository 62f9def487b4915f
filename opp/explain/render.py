"""Rendering an :class:`~opp.explain.model.Explanation`: readable text, or JSON for tools."""

from __future__ import annotations

from typing import Any

import msgspec

from opp.explain.model import Explanation, RuleLine, Step

__all__ = ["render_json", "render_text"]

_STATUS = {"passed": "pass", "failed": "FAIL", "skipped": "skip", "not_configured": "n/a"}


def render_json(explanation: Explanation) -> str:
    """The explanation as indented JSON (timestamps as RFC 3339 strings)."""
    return msgspec.json.format(msgspec.json.encode(explanation), indent=2).decode()


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def _rule_lines(rules: list[RuleLine]) -> list[str]:
    width = max((len(rule.id) for rule in rules), default=0)
    lines = []
    for rule in rules:
        mark = "  <- matched" if rule.matched else ""
        lines.append(f"       {rule.effect:<7} {rule.id:<{width}}  {rule.result}{mark}")
        lines.append(f"               when: {' '.join(rule.expression.split())}")
    return lines


def _step_lines(number: int, step: Step) -> list[str]:
    status = _STATUS[step.status]
    code = f" {step.code}:" if step.code else ""
    reached = "" if step.reached else " (not reached)"
    lines = [f"  {number}. {step.name:<10} {status:<4}{reached}{code} {step.summary}"]
    lines += [
        f"       {key}: {_value(value)}" for key, value in step.details.items() if value not in (None, [], {})
    ]
    if step.rules:
        lines += _rule_lines(step.rules)
    return lines


def render_text(explanation: Explanation) -> str:
    """A step-by-step account ending with the decision and its reason code."""
    lines = [f"opp explain: {explanation.tool} ({explanation.kind})", ""]
    for number, step in enumerate(explanation.steps, start=1):
        lines += _step_lines(number, step)
    verdict = "ALLOWED" if explanation.allowed else "DENIED"
    lines += [
        "",
        f"decision: {verdict} {explanation.code} (HTTP {explanation.status}): {explanation.message}",
    ]
    if explanation.matched_rules:
        lines.append(f"matched rules: {', '.join(explanation.matched_rules)}")
    lines += [f"note: {note}" for note in explanation.notes]
    return "\n".join(lines)
