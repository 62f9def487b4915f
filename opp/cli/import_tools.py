"""``opp import mcp URL|COMMAND``: print a ``gateway.yaml`` snippet for an upstream MCP server's tools.

Connects like a ``kind: mcp`` backend would (streamable HTTP for an ``http(s)://`` URL, else the
command is run as a stdio server), lists its tools and prints a ``backends`` entry, ``scopes`` and
one ``tools`` entry per upstream tool, for the operator to edit: kind and risk are guessed from the
tool's annotations (hints only — review them), scopes are placeholders, and action tools need an
``allow`` policy (and high-risk ones an ``impact``) before ``opp check`` accepts them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shlex
import sys
from typing import Any

import mcp_types as types
import yaml

from opp.tools.mcp_backend import upstream_client

__all__ = ["HELP", "add_arguments", "run", "snippet"]

HELP = "Print a gateway.yaml snippet (backend, scopes, tools) for an upstream MCP server's tools."
_NAME = re.compile(r"[^a-z0-9_]+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["mcp"], help="what to import (an MCP server)")
    parser.add_argument("target", help="streamable HTTP URL, or the stdio command line (quoted)")
    parser.add_argument("--name", default="upstream", help="the backend name and tool name prefix")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME: VALUE",
        help="an HTTP header to send (repeatable)",
    )


def _tool_name(prefix: str, name: str) -> str:
    cleaned = _NAME.sub("_", name.lower()).strip("_") or "tool"
    return f"{prefix}.{cleaned if cleaned[0].isalpha() else 't_' + cleaned}"


def _kind_and_risk(tool: types.Tool) -> tuple[str, str]:
    hints = tool.annotations
    if hints is not None and hints.read_only_hint:
        return "read", "low"
    destructive = hints is None or hints.destructive_hint is None or hints.destructive_hint
    return "action", "high" if destructive else "medium"


def snippet(backend: str, target: dict[str, Any], tools: list[types.Tool]) -> dict[str, Any]:
    """The ``gateway.yaml`` fragment for ``tools`` of the upstream at ``target`` (url or command)."""
    entries = []
    for tool in tools:
        kind, risk = _kind_and_risk(tool)
        entry: dict[str, Any] = {
            "name": _tool_name(backend, tool.name),
            "description": tool.description or tool.title or tool.name,
            "kind": kind,
            "risk": risk,
            "required_scopes": [f"{backend}.{'read' if kind == 'read' else 'write'}"],
            "input_schema": tool.input_schema,
        }
        if kind == "action":
            entry["policies"] = ["TODO-an-allow-policy"]
            if risk == "high":
                entry["impact"] = {"summary": f"TODO: what {tool.name} changes", "fields": {}}
        entry["backend"] = {"backend": backend, "call": tool.name}
        entries.append(entry)
    return {
        "backends": {backend: {"kind": "mcp", **target}},
        "scopes": {
            f"{backend}.read": f"Read-only tools of {backend}.",
            f"{backend}.write": f"Tools of {backend} that change something.",
        },
        "tools": entries,
    }


async def _list_tools(target: dict[str, Any]) -> list[types.Tool]:
    client = upstream_client(
        target.get("url"), tuple(target.get("command", ())), headers=target.get("headers", {}), env=None
    )
    async with client:
        return list((await client.list_tools()).tools)


def run(args: argparse.Namespace) -> int:
    target: dict[str, Any]
    if args.target.startswith(("http://", "https://")):
        target = {"url": args.target}
        headers = dict(h.split(":", 1) for h in args.header if ":" in h)
        if headers:
            target["headers"] = {k.strip(): v.strip() for k, v in headers.items()}
    else:
        target = {"command": shlex.split(args.target)}
    try:
        tools = asyncio.run(asyncio.wait_for(_list_tools(target), 60))
    except Exception as error:  # any failure to reach or list: one line, exit 1
        print(f"opp import: cannot list the tools of {args.target}: {type(error).__name__}", file=sys.stderr)
        return 1
    shown = (
        {**target, "headers": dict.fromkeys(target["headers"], "${SECRET_ENV}")}
        if "headers" in target
        else target
    )
    print(f"# {len(tools)} tool(s) of {args.target} — review kind, risk, scopes and policies before use.")
    print(yaml.safe_dump(snippet(args.name, shown, tools), sort_keys=False, allow_unicode=True), end="")
    return 0
