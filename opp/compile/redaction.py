"""Result shaping: ``redact`` rules and the ``filter_items`` rule of a tool."""

from __future__ import annotations

import re

from opp.compile.plan import CompiledRedaction, ItemsFilterPlan
from opp.compile.policies import compile_expression
from opp.compile.report import Reporter
from opp.config.schema import ItemsFilter, RedactionRule
from opp.config.source_map import JsonPath
from opp.policy import PolicyEnvironment
from opp.policy.engine import Engine

__all__ = ["compile_items_filter", "compile_redactions", "parse_field_path"]

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*(?:\[\])?"
_FIELD_PATH = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")


def parse_field_path(text: str) -> tuple[str, ...] | None:
    """Split ``items[].title`` into ``("items[]", "title")``; None when the syntax is wrong."""
    return tuple(text.split(".")) if _FIELD_PATH.fullmatch(text) else None


def compile_redactions(
    tool_path: JsonPath,
    rules: tuple[RedactionRule, ...],
    env: PolicyEnvironment | None,
    report: Reporter,
    engine: Engine = "compiled",
) -> list[CompiledRedaction] | None:
    """Compile each rule's paths and ``unless`` (None when any of them is wrong)."""
    compiled: list[CompiledRedaction] = []
    ok = True
    for index, rule in enumerate(rules):
        rule_path = (*tool_path, "redact", index)
        paths: list[tuple[str, ...]] = []
        for position, text in enumerate(rule.fields):
            parsed = parse_field_path(text)
            if parsed is None:
                report.error(
                    (*rule_path, "fields", position),
                    "redact.bad_path",
                    f"'{text}' is not a field path",
                    "use dot-separated names, with [] to walk a list, e.g. items[].title",
                )
                ok = False
            else:
                paths.append(parsed)
        unless = None
        if rule.unless is not None and env is not None:
            unless = compile_expression((*rule_path, "unless"), rule.unless, env, report, engine)
            ok = ok and unless is not None
        if env is None:
            ok = False
        compiled.append(
            CompiledRedaction(
                paths=tuple(paths), display=rule.fields, replacement=rule.replacement, unless=unless
            )
        )
    return compiled if ok else None


def compile_items_filter(
    tool_path: JsonPath,
    rule: ItemsFilter,
    env: PolicyEnvironment | None,
    report: Reporter,
    engine: Engine = "compiled",
) -> ItemsFilterPlan | None:
    """Compile ``filter_items.keep`` in the tool's environment with ``item`` declared."""
    if env is None:
        return None
    keep = compile_expression((*tool_path, "filter_items", "keep"), rule.keep, env, report, engine)
    return ItemsFilterPlan(path=rule.path, keep=keep) if keep is not None else None
