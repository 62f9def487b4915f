"""Result shaping after the backend answered: item filters and field redaction (SPEC §4 step 9).

Both fail closed: an item whose ``keep`` rule errors is dropped; a redaction whose ``unless`` rule
errors is applied. Results are copied along the paths they touch, never mutated in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opp.compile.plan import CompiledRedaction, ItemsFilterPlan
from opp.policy.api import PolicyEvalError

__all__ = ["filter_items", "redact"]


def filter_items(result: Any, spec: ItemsFilterPlan, activation: Mapping[str, Any]) -> Any:
    if not isinstance(result, dict) or not isinstance(result.get(spec.path), list):
        return result
    kept = []
    scope = dict(activation)
    for item in result[spec.path]:
        scope["item"] = item
        try:
            keep = spec.keep.evaluate(scope)
        except PolicyEvalError:
            keep = False
        if keep:
            kept.append(item)
    return {**result, spec.path: kept}


def _replace(node: Any, path: tuple[str, ...], replacement: Any) -> tuple[Any, bool]:
    """Return ``node`` with ``path`` replaced, and whether anything was there to replace."""
    head, rest = path[0], path[1:]
    walk_list = head.endswith("[]")
    name = head[:-2] if walk_list else head
    if not isinstance(node, dict) or name not in node:
        return node, False
    child = node[name]
    if walk_list:
        if not isinstance(child, list):
            return node, False
        new_items = []
        hit = False
        for element in child:
            new_element, element_hit = _replace(element, rest, replacement) if rest else (element, False)
            new_items.append(new_element)
            hit = hit or element_hit
        return {**node, name: new_items}, hit
    if not rest:
        return {**node, name: replacement}, True
    new_child, hit = _replace(child, rest, replacement)
    return ({**node, name: new_child}, True) if hit else (node, False)


def redact(
    result: Any, rules: tuple[CompiledRedaction, ...], activation: Mapping[str, Any]
) -> tuple[Any, list[str]]:
    """Apply every redaction rule that is not waived; return the result and the redacted paths."""
    redacted: list[str] = []
    for rule in rules:
        if rule.unless is not None:
            try:
                waived = rule.unless.evaluate(activation)
            except PolicyEvalError:
                waived = False
            if waived:
                continue
        for segments, display in zip(rule.paths, rule.display, strict=True):
            result, hit = _replace(result, segments, rule.replacement)
            if hit:
                redacted.append(display)
    return result, redacted
