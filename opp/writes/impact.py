"""An action's impact: what executing it would change, shown to approvers and hashed into
``impactHash`` (SPEC §7.4).

Two ways to compute it, both satisfying :class:`opp.compile.plan.ImpactPlan`:

- :class:`DeclarativeImpact`: ``{"summary": <rendered template>, <key>: <value>…}`` where each
  value is drawn from the validated arguments (``args.<name>``) or from the resource the gateway
  fetched (``resource.<field>``); an absent value is ``null``;
- :class:`BackendImpact`: a backend preflight call (``ToolCall(operation=<tool>, args, context)``)
  that must return an object.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.tools.api import Invoker, ToolCall
from opp.writes.jcs import canonical_bytes, json_value

__all__ = [
    "BackendImpact",
    "DeclarativeImpact",
    "FieldRef",
    "Placeholder",
    "SummaryTemplate",
    "call_backend_for_object",
    "parse_reference",
]

_log = logging.getLogger("opp.writes")
_REFERENCE = re.compile(r"(args|resource)\.([A-Za-z_][A-Za-z0-9_]*)")
_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class FieldRef:
    """``args.<name>`` or ``resource.<name>``: one value of a call."""

    source: Literal["args", "resource"]
    name: str

    def read(self, args: Mapping[str, Any], resource: Mapping[str, Any] | None) -> Any:
        """The referenced value as JSON (None when absent, or when there is no resource)."""
        scope = args if self.source == "args" else resource
        return json_value(scope.get(self.name)) if scope is not None else None

    def __str__(self) -> str:
        return f"{self.source}.{self.name}"


def parse_reference(text: str) -> FieldRef | None:
    """``"args.amount"`` → ``FieldRef("args", "amount")``; None when ``text`` is not a reference."""
    match = _REFERENCE.fullmatch(text.strip())
    if match is None:
        return None
    source: Literal["args", "resource"] = "args" if match.group(1) == "args" else "resource"
    return FieldRef(source, match.group(2))


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{…}`` of a summary: where it starts, what it says, the reference it makes (if any)."""

    offset: int
    text: str
    reference: FieldRef | None


@dataclass(frozen=True, slots=True)
class SummaryTemplate:
    """A summary with ``{args.x}`` / ``{resource.y}`` placeholders (``{{`` and ``}}`` are braces)."""

    parts: tuple[str | FieldRef, ...]

    @classmethod
    def parse(cls, text: str) -> tuple[SummaryTemplate, list[Placeholder]]:
        """The template and its placeholders, each with its offset in ``text`` (for diagnostics)."""
        parts: list[str | FieldRef] = []
        placeholders: list[Placeholder] = []
        position = 0
        for match in _TEMPLATE_TOKEN.finditer(text):
            parts.append(text[position : match.start()])
            if match.group(1) is None:
                parts.append(match.group(0)[0])
            else:
                reference = parse_reference(match.group(1))
                placeholders.append(Placeholder(match.start(), match.group(1), reference))
                parts.append(reference if reference is not None else match.group(0))
            position = match.end()
        parts.append(text[position:])
        return cls(tuple(part for part in parts if part != "")), placeholders

    @property
    def references(self) -> tuple[FieldRef, ...]:
        return tuple(part for part in self.parts if isinstance(part, FieldRef))

    def render(self, args: Mapping[str, Any], resource: Mapping[str, Any] | None) -> str:
        """Fill the placeholders: strings as they are, other values as canonical JSON."""
        return "".join(
            part if isinstance(part, str) else _display(part.read(args, resource)) for part in self.parts
        )


@dataclass(frozen=True, slots=True)
class DeclarativeImpact:
    """``impact: {summary, fields}``: a summary plus values drawn from the call."""

    summary: SummaryTemplate | None
    fields: tuple[tuple[str, FieldRef], ...]

    async def compute(
        self, args: Mapping[str, Any], resource: Mapping[str, Any] | None, call: ToolCall
    ) -> dict[str, Any]:
        """The impact object; ``summary`` comes first and is never overwritten by a field."""
        impact: dict[str, Any] = {key: ref.read(args, resource) for key, ref in self.fields}
        if self.summary is not None:
            impact["summary"] = self.summary.render(args, resource)
        return impact


@dataclass(frozen=True, slots=True)
class BackendImpact:
    """``impact: {backend}``: the backend computes the impact (a dry run of the action)."""

    tool: str
    invoker: Invoker

    async def compute(
        self, args: Mapping[str, Any], resource: Mapping[str, Any] | None, call: ToolCall
    ) -> dict[str, Any]:
        """The backend's impact object.

        Raises:
            OppError: ``agent.execution_failed`` when the backend returns anything but an object;
                whatever the backend raised (``agent.action_invalid`` for a refused action…).
        """
        impact = await call_backend_for_object(self.tool, self.invoker, args, call, what="impact")
        if impact is None:
            _log.error(
                "impact backend of %s returned nothing (request_id=%s)", self.tool, call.context.request_id
            )
            raise OppError(ReasonCode.EXECUTION_FAILED, "The impact could not be computed.")
        return impact


async def call_backend_for_object(
    tool: str, invoker: Invoker, args: Mapping[str, Any], call: ToolCall, *, what: str
) -> dict[str, Any] | None:
    """Call a preflight backend as ``ToolCall(operation=tool, args, call.context)``.

    Returns:
        The object it returned (as plain JSON), or None when it returned nothing.

    Raises:
        OppError: ``agent.execution_failed`` when it returned something other than an object.
    """
    result = json_value(await invoker(ToolCall(operation=tool, args=dict(args), context=call.context)))
    if result is None or isinstance(result, dict):
        return result
    _log.error(
        "%s backend of %s returned %s, not an object (request_id=%s)",
        what,
        tool,
        type(result).__name__,
        call.context.request_id,
    )
    raise OppError(ReasonCode.EXECUTION_FAILED, f"The {what} could not be computed.")


def _display(value: Any) -> str:
    return value if isinstance(value, str) else canonical_bytes(value).decode()
