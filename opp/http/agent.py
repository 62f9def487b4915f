"""Agent-plane routes (prefix ``/api/agent/v1``), generated from the Plan at startup.

Each read tool gets its own handler bound to its :class:`ToolPlan`; nothing is looked up by name
per request.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from opp.compile.plan import Plan, ToolPlan
from opp.http.envelope import success_response
from opp.http.incoming import coerce_query, incoming
from opp.http.runtime import Runtime

__all__ = ["AGENT_PREFIX", "agent_handlers"]

AGENT_PREFIX = "/api/agent/v1"


def _rid(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"X-Request-Id": request.scope["state"]["request_id"]}


def _manifest_handler(runtime: Runtime) -> HTTPRouteHandler:
    @get(f"{AGENT_PREFIX}/manifest", include_in_schema=False)
    async def manifest(request: Request[Any, Any, Any]) -> Response[bytes]:
        data = await runtime.engine.manifest(incoming(request, runtime.clock, runtime.ids))
        return success_response(data, _rid(request))

    return manifest


def _read_handler(runtime: Runtime, tool: ToolPlan) -> HTTPRouteHandler:
    query_types = dict(tool.query_types)

    async def read_tool(request: Request[Any, Any, Any]) -> Response[bytes]:
        info = incoming(request, runtime.clock, runtime.ids)
        data = await runtime.engine.read(tool, info, coerce_query(request, query_types))
        return success_response(data, _rid(request))

    read_tool.__name__ = f"read_{tool.name.replace('.', '_')}"
    return get(f"{AGENT_PREFIX}{tool.http_path}", include_in_schema=False, opt={"tool": tool.name})(read_tool)


def agent_handlers(plan: Plan, runtime: Runtime) -> list[HTTPRouteHandler]:
    handlers = [_manifest_handler(runtime)]
    for tool in plan.tools:
        if tool.kind == "read" and tool.http_path is not None:
            handlers.append(_read_handler(runtime, tool))
    return handlers
