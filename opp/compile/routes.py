"""Tool names and routes: unique names, read tools on GET, action tools only through
``POST /actions`` (never a route of their own, so every write passes the draft/approval gates), no
two tools (or a tool and the agent API itself) on the same method and path."""

from __future__ import annotations

import re

from opp.compile.report import Reporter
from opp.config.schema import ToolConfig
from opp.config.source_map import JsonPath

__all__ = ["BUILTIN_AGENT_ROUTES", "check_routes", "check_tool_names"]

BUILTIN_AGENT_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/manifest"),
    ("POST", "/preflight"),
    ("POST", "/actions"),
    ("GET", "/drafts/{id}"),
)
"""The agent API's own routes, relative to ``/api/agent/v1``."""

_PARAMETER = re.compile(r"\{[^}]*\}")


def route_key(method: str, path: str) -> tuple[str, str]:
    """Method and path with parameter names erased: ``/drafts/{x}`` and ``/drafts/{id}`` collide."""
    return (method.upper(), _PARAMETER.sub("{}", path.rstrip("/") or "/"))


def check_tool_names(tools: tuple[ToolConfig, ...], report: Reporter) -> None:
    """Report ``tool.duplicate`` for every repeat of a tool name."""
    first: dict[str, int] = {}
    for index, tool in enumerate(tools):
        if tool.name in first:
            line = report.line_of(("tools", first[tool.name], "name"))
            report.error(
                ("tools", index, "name"),
                "tool.duplicate",
                f"tool '{tool.name}' is declared twice",
                f"first declared at line {line}; tool names must be unique",
            )
        else:
            first[tool.name] = index


def check_routes(tools: tuple[ToolConfig, ...], report: Reporter) -> None:
    """Report ``tool.action_route``, ``tool.read_route_method`` and ``route.collision``."""
    taken: dict[tuple[str, str], JsonPath | None] = {
        route_key(method, path): None for method, path in BUILTIN_AGENT_ROUTES
    }
    for index, tool in enumerate(tools):
        if tool.http is None:
            continue
        http_path: JsonPath = ("tools", index, "http")
        if tool.kind == "action":
            report.error(
                http_path,
                "tool.action_route",
                f"action tool '{tool.name}' declares an http route",
                "remove http; action tools are called through POST /api/agent/v1/preflight and /actions",
                at_key=True,
            )
            continue
        if tool.kind == "read" and tool.http.method != "GET":
            report.error(
                (*http_path, "method"),
                "tool.read_route_method",
                f"read tool '{tool.name}' is routed on {tool.http.method}",
                "read tools are served on GET; writes go through POST /actions as action tools",
            )
        key = route_key(tool.http.method, tool.http.path)
        if key not in taken:
            taken[key] = (*http_path, "path")
            continue
        owner = taken[key]
        where = "the agent API itself" if owner is None else f"the tool at line {report.line_of(owner)}"
        report.error(
            (*http_path, "path"),
            "route.collision",
            f"{tool.http.method} {tool.http.path} is already routed",
            f"taken by {where}; choose another path",
        )
