"""Plan tools as MCP tools: input/output schemas, annotations from the risk tier, OPP metadata.

Built once per Plan; ``tools/list`` only picks the entries the caller's manifest holds. Two built-in
tools carry the write lifecycle for agents that cannot reach the REST routes: ``opp.preflight``
(impact, hash and State Witness of an action) and ``opp.draft.status`` (poll a draft).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mcp_types as types

from opp.compile.plan import Plan, ToolPlan

__all__ = [
    "DRAFT_STATUS_TOOL",
    "PREFLIGHT_TOOL",
    "TOOL_META",
    "WRITE_META",
    "Catalogue",
    "annotations_of",
]

TOOL_META = "openport/tool"
"""``_meta`` key of a listed tool's OPP metadata (kind, risk, scopes, confirmation, draft policy)."""
WRITE_META = "openport/write"
"""``_meta`` key of a ``tools/call`` request's write controls (docs/MCP.md)."""
PREFLIGHT_TOOL = "opp.preflight"
DRAFT_STATUS_TOOL = "opp.draft.status"


def annotations_of(tool: ToolPlan) -> types.ToolAnnotations:
    """Hints from the risk tier: reads are read-only and idempotent; a high-risk action is destructive."""
    if not tool.writes:
        return types.ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    return types.ToolAnnotations(
        read_only_hint=False,
        destructive_hint=tool.risk == "high",
        idempotent_hint=False,
        open_world_hint=False,
    )


def _opp_meta(tool: ToolPlan) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "kind": tool.kind,
        "risk": tool.risk,
        "requiredScopes": sorted(tool.required_scopes),
        "requiresConfirmation": tool.needs_confirmation,
    }
    if tool.writes:
        meta["autoExecutable"] = tool.auto_executable
        meta["draftPolicy"] = "draft-unless-auto-execute"
        meta["approvals"] = tool.approvals
        meta["preflight"] = PREFLIGHT_TOOL
    return meta


def _tool(meta: dict[str, Any], **fields: Any) -> types.Tool:
    return types.Tool.model_validate({**fields, "_meta": meta})


_BUILTIN = {TOOL_META: {"kind": "builtin"}}


def _as_tool(tool: ToolPlan) -> types.Tool:
    # An action call answers the write lifecycle (a draft, a task, or {status: executed, execution}),
    # not the backend's result the tool's output_schema describes: no outputSchema for actions.
    output = None if tool.writes else tool.output_schema
    return _tool(
        {TOOL_META: _opp_meta(tool)},
        name=tool.name,
        description=tool.description,
        input_schema=dict(tool.input_schema),
        output_schema=dict(output) if output is not None and output.get("type") == "object" else None,
        annotations=annotations_of(tool),
    )


_READ_ONLY = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def _preflight_tool(actions: Sequence[str]) -> types.Tool:
    return _tool(
        _BUILTIN,
        name=PREFLIGHT_TOOL,
        description=(
            "Preview an action tool call without any effect: its impact, impactHash, stateWitnessHash "
            "and a preflightId to pass in the call's _meta['openport/write']."
        ),
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": list(actions)},
                "arguments": {"type": "object", "description": "The action tool's arguments."},
            },
        },
        annotations=_READ_ONLY,
    )


_DRAFT_STATUS = _tool(
    _BUILTIN,
    name=DRAFT_STATUS_TOOL,
    description="A draft this app created: its status (draft, confirmed, executed, ...) and execution.",
    input_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["draftId"],
        "properties": {"draftId": {"type": "string", "minLength": 1}},
    },
    annotations=_READ_ONLY,
)


class Catalogue:
    """Every plan tool as an MCP tool, built once."""

    def __init__(self, plan: Plan) -> None:
        self._tools: Mapping[str, types.Tool] = {tool.name: _as_tool(tool) for tool in plan.tools}
        self._plan = plan

    def listing(self, visible: Sequence[Mapping[str, Any]]) -> list[types.Tool]:
        """The MCP tools for the manifest entries ``visible`` (plus the built-ins when an action is)."""
        tools = [self._tools[entry["name"]] for entry in visible if entry["name"] in self._tools]
        actions = [tool.name for tool in tools if self._plan.tools_by_name[tool.name].writes]
        if actions:
            tools += [_preflight_tool(actions), _DRAFT_STATUS]
        return tools
