"""Policies: index declared rules, resolve each tool's references, check and compile its CEL.

A rule is compiled per tool, against that tool's environment (its ``args`` come from its input
schema, its ``resource`` from its resource's fields), so a typo in a field name cannot silently
never match. Issues are positioned inside the YAML scalar of the expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opp.compile.plan import CompiledRule
from opp.compile.report import Reporter
from opp.config.diagnostics import did_you_mean
from opp.config.schema import PolicyRule
from opp.config.source_map import JsonPath
from opp.policy import PolicyEnvironment, build_environment, compile_rule
from opp.policy.api import Program
from opp.policy.engine import Engine

__all__ = ["DeclaredPolicy", "check_unused_policies", "compile_expression", "index_policies", "tool_rules"]

_DEFAULT_MESSAGES = {
    "deny": "Denied by policy '{id}'.",
    "invalid": "Rejected by policy '{id}'.",
    "allow": "Allowed by policy '{id}'.",
}


@dataclass(frozen=True, slots=True)
class DeclaredPolicy:
    """A policy rule and where it was declared (its index in ``policies``)."""

    index: int
    rule: PolicyRule

    @property
    def when_path(self) -> JsonPath:
        return ("policies", self.index, "when")


def index_policies(rules: tuple[PolicyRule, ...], report: Reporter) -> dict[str, DeclaredPolicy]:
    """Policies by id; a repeated id is ``policy.duplicate`` (the first declaration wins)."""
    declared: dict[str, DeclaredPolicy] = {}
    for index, rule in enumerate(rules):
        first = declared.get(rule.id)
        if first is not None:
            line = report.line_of(("policies", first.index, "id"))
            report.error(
                ("policies", index, "id"),
                "policy.duplicate",
                f"policy id '{rule.id}' is declared twice",
                f"first declared at line {line}; give each rule its own id",
            )
            continue
        declared[rule.id] = DeclaredPolicy(index, rule)
    return declared


def compile_expression(
    path: JsonPath, source: str, env: PolicyEnvironment, report: Reporter, engine: Engine = "compiled"
) -> Program | None:
    """Check and compile one CEL expression with ``engine``; report its issues at their YAML position."""
    program, issues = compile_rule(source, env, engine)
    for issue in issues:
        report.expression_issue(path, source, issue)
    return program if not issues else None


def tool_rules(
    tool_index: int,
    names: tuple[str, ...],
    policies: Mapping[str, DeclaredPolicy],
    env: PolicyEnvironment | None,
    report: Reporter,
    engine: Engine = "compiled",
) -> list[CompiledRule] | None:
    """Resolve and compile the rules a tool lists, in declaration order.

    Returns None when any reference is unknown or any rule fails to compile (or ``env`` is None
    because the tool's environment could not be built).
    """
    compiled: list[CompiledRule] = []
    ok = True
    for position, name in enumerate(names):
        declared = policies.get(name)
        if declared is None:
            hint = did_you_mean(name, policies) or "declare it under policies:"
            report.error(
                ("tools", tool_index, "policies", position),
                "policy.unknown_reference",
                f"policy '{name}' is not declared",
                hint,
            )
            ok = False
            continue
        if env is None:
            ok = False
            continue
        program = compile_expression(declared.when_path, declared.rule.when, env, report, engine)
        if program is None:
            ok = False
            continue
        rule = declared.rule
        message = rule.message or _DEFAULT_MESSAGES[rule.effect].format(id=rule.id)
        compiled.append(CompiledRule(id=rule.id, effect=rule.effect, message=message, program=program))
    return compiled if ok else None


def check_unused_policies(
    policies: Mapping[str, DeclaredPolicy],
    used: set[str],
    app_policy_schema: Mapping[str, object],
    report: Reporter,
) -> None:
    """Syntax-check rules no tool references (their variables depend on a tool, so only syntax)."""
    env = build_environment(app_policy_schema=app_policy_schema, input_schema={"type": "object"})
    for name, declared in policies.items():
        if name in used:
            continue
        _, issues = compile_rule(declared.rule.when, env)
        for issue in issues:
            if issue.code == "policy.syntax_error":
                report.expression_issue(declared.when_path, declared.rule.when, issue)
