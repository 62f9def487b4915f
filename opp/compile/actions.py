"""Action tools: compile ``impact``, ``witness`` and ``csv``; refuse action-only options on reads.

Declarative references (``args.<name>``, ``resource.<field>``) are checked here against the tool's
``input_schema`` properties and its resource's declared ``fields``, so a typo is a config error
instead of an impact that is silently ``null``. Backend references resolve like a tool's backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opp.compile.backends import Backends
from opp.compile.plan import CsvPlan, ImpactPlan, WitnessPlan
from opp.compile.redaction import parse_field_path
from opp.compile.report import Reporter
from opp.config.diagnostics import did_you_mean
from opp.config.schema import CsvConfig, ToolConfig
from opp.config.source_map import JsonPath
from opp.policy.api import CheckIssue
from opp.writes.impact import BackendImpact, DeclarativeImpact, FieldRef, SummaryTemplate, parse_reference
from opp.writes.witness import BackendWitness, DeclarativeWitness

__all__ = ["ActionCompiler", "compile_csv"]

_BRACES = "; write {{ and }} for literal braces"
_NOT_A_REFERENCE = "write args.NAME (an input property) or resource.FIELD (a declared resource field)"


@dataclass(frozen=True, slots=True)
class ActionCompiler:
    """Compiles the write-lifecycle parts of one tool written at ``path``."""

    path: JsonPath
    tool: ToolConfig
    resource_fields: Mapping[str, str] | None
    """The tool's resource fields; None when the tool names an undeclared type (reported elsewhere)."""
    backends: Backends
    report: Reporter

    def read_only_options(self) -> None:
        """Report ``tool.read_only_option`` for every action-only option of a read tool."""
        tool = self.tool
        written = {
            "impact": tool.impact is not None,
            "witness": tool.witness is not None,
            "approvals": tool.approvals != 1,
            "requires_confirmation": tool.requires_confirmation,
        }
        for option in (name for name, present in written.items() if present):
            self.report.error(
                (*self.path, option),
                "tool.read_only_option",
                f"'{option}' applies to action tools; '{tool.name}' is a read tool",
                "remove it, or declare kind: action",
                at_key=True,
            )

    def impact(self) -> ImpactPlan | None:
        """The impact plan (None when there is none, or after reporting problems)."""
        tool, config = self.tool, self.tool.impact
        if config is None:
            if tool.risk == "high":
                self.report.error(
                    (*self.path, "risk"),
                    "tool.impact_required",
                    f"high-risk action '{tool.name}' declares no impact",
                    "add impact: {summary: ..., fields: {...}} or impact: {backend: {...}}",
                )
            return None
        path: JsonPath = (*self.path, "impact")
        declarative = config.summary is not None or bool(config.fields)
        if config.backend is not None:
            if declarative:
                self._conflict(path, "tool.impact_invalid", "impact", "summary/fields")
                return None
            invoker = self.backends.resolve(config.backend, (*path, "backend"), self.report)
            return BackendImpact(tool.name, invoker) if invoker is not None else None
        if not declarative:
            self._empty(path, "tool.impact_invalid", "impact", "a summary, fields or a backend")
            return None
        before = self.report.count
        summary = self._summary(path, config.summary) if config.summary is not None else None
        fields = [(key, self._field(path, key, text)) for key, text in config.fields.items()]
        resolved = tuple((key, ref) for key, ref in fields if ref is not None)
        if self.report.count != before or len(resolved) != len(fields):
            return None
        return DeclarativeImpact(summary=summary, fields=resolved)

    def witness(self) -> WitnessPlan | None:
        """The State Witness plan (None when there is none, or after reporting problems)."""
        tool, config = self.tool, self.tool.witness
        if config is None:
            return None
        path: JsonPath = (*self.path, "witness")
        if config.backend is not None:
            if config.fields:
                self._conflict(path, "tool.witness_invalid", "witness", "fields")
                return None
            invoker = self.backends.resolve(config.backend, (*path, "backend"), self.report)
            return BackendWitness(tool.name, invoker) if invoker is not None else None
        if not config.fields:
            self._empty(path, "tool.witness_invalid", "witness", "fields or a backend")
            return None
        if tool.resource is None:
            self.report.error(
                (*path, "fields"),
                "tool.witness_needs_resource",
                f"the witness of '{tool.name}' selects resource fields but the tool has no resource",
                "add resource: {type: TYPE, id_arg: ARG}, or compute the witness with backend: {...}",
            )
            return None
        if self.resource_fields is None:
            return None
        ok = True
        for index, name in enumerate(config.fields):
            if name not in self.resource_fields:
                ok = False
                self.report.error(
                    (*path, "fields", index),
                    "tool.witness_unknown_field",
                    f"'{name}' is not a declared field of resource '{tool.resource.type}'",
                    did_you_mean(name, self.resource_fields)
                    or f"declare it under resources.{tool.resource.type}.fields",
                )
        return DeclarativeWitness(tool.resource.type, tool.resource.id_arg, config.fields) if ok else None

    def _summary(self, path: JsonPath, text: str) -> SummaryTemplate:
        template, placeholders = SummaryTemplate.parse(text)
        for placeholder in placeholders:
            reference = placeholder.reference
            problem = (
                (f"placeholder '{{{placeholder.text}}}' is not a reference", _NOT_A_REFERENCE + _BRACES)
                if reference is None
                else self._reference_problem(reference)
            )
            if problem is not None:
                line, col = _line_col(text, placeholder.offset)
                issue = CheckIssue(
                    code="tool.impact_unknown_field", message=problem[0], line=line, col=col, hint=problem[1]
                )
                self.report.expression_issue((*path, "summary"), text, issue)
        return template

    def _field(self, path: JsonPath, key: str, text: str) -> FieldRef | None:
        reference = parse_reference(text)
        problem = (
            (f"impact field '{key}' reads '{text}', which is not a reference", _NOT_A_REFERENCE)
            if reference is None
            else self._reference_problem(reference)
        )
        if problem is None:
            return reference
        self.report.error((*path, "fields", key), "tool.impact_unknown_field", *problem)
        return None

    def _reference_problem(self, reference: FieldRef) -> tuple[str, str] | None:
        """(message, hint) when ``reference`` names nothing the call will have."""
        if reference.source == "args":
            names = _properties(self.tool.input_schema)
            if reference.name in names:
                return None
            hint = did_you_mean(str(reference), [f"args.{name}" for name in names])
            return (
                f"'{reference}' is not a property of the tool's input_schema",
                hint or "add the property to input_schema",
            )
        if self.tool.resource is None:
            return (
                f"'{reference}' reads a resource but the tool has no resource",
                "add resource: {type: TYPE, id_arg: ARG} to the tool",
            )
        if self.resource_fields is None or reference.name in self.resource_fields:
            return None
        hint = did_you_mean(str(reference), [f"resource.{name}" for name in self.resource_fields])
        return (
            f"'{reference}' is not a declared field of resource '{self.tool.resource.type}'",
            hint or f"declare it under resources.{self.tool.resource.type}.fields",
        )

    def _conflict(self, path: JsonPath, code: str, what: str, declarative: str) -> None:
        self.report.error(
            (*path, "backend"),
            code,
            f"the {what} of '{self.tool.name}' declares both a backend and {declarative}",
            f"keep one: a declarative {what} or a backend call",
        )

    def _empty(self, path: JsonPath, code: str, what: str, expected: str) -> None:
        self.report.error(
            path,
            code,
            f"the {what} of '{self.tool.name}' declares nothing",
            f"declare {expected}",
        )


def compile_csv(path: JsonPath, config: CsvConfig, report: Reporter) -> CsvPlan | None:
    """The CSV rendering of a tool's result (None after reporting ``tool.csv_invalid``)."""
    ok = True
    parsed = parse_field_path(config.path)
    if parsed is None or any(segment.endswith("[]") for segment in parsed):
        ok = False
        report.error(
            (*path, "csv", "path"),
            "tool.csv_invalid",
            f"csv path '{config.path}' is not a field path",
            "name the list of rows with dot-separated names, e.g. items",
        )
    if not config.columns:
        ok = False
        report.error((*path, "csv", "columns"), "tool.csv_invalid", "csv declares no columns", "list them")
    seen: set[str] = set()
    for index, column in enumerate(config.columns):
        if column in seen:
            ok = False
            report.error(
                (*path, "csv", "columns", index),
                "tool.csv_invalid",
                f"csv column '{column}' is listed twice",
                "each column appears once",
            )
        seen.add(column)
    return CsvPlan(path=config.path, columns=config.columns) if ok else None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _properties(schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, Mapping) else []
