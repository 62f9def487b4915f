"""Agent-plane routes (prefix ``/api/agent/v1``), generated from the Plan at startup.

Each read tool gets its own handler bound to its :class:`ToolPlan`; nothing is looked up by name
per request. The handlers are Litestar ASGI route handlers: they read the raw scope and send the
pre-encoded envelope themselves, skipping the framework's request/response machinery on the hot
path. Errors still propagate to the app's exception handlers, which render the envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import asgi
from litestar.exceptions import MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from opp.compile.plan import Plan, ToolPlan
from opp.http.envelope import JSON, success_body
from opp.http.incoming import coerce_query, incoming, query_pairs
from opp.http.runtime import Runtime

__all__ = ["AGENT_PREFIX", "agent_handlers"]

AGENT_PREFIX = "/api/agent/v1"
_JSON_BYTES = JSON.encode()
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, body: bytes, request_id: str, status: int = 200) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", _JSON_BYTES),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def _only(method: str, handler: Handler, name: str) -> Handler:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != method:  # type: ignore[typeddict-item]
            raise MethodNotAllowedException(headers={"Allow": method})
        await handler(scope, receive, send)

    guarded.__name__ = name
    return guarded


def _manifest_handler(runtime: Runtime) -> ASGIRouteHandler:
    async def manifest(scope: Scope, receive: Receive, send: Send) -> None:
        info = incoming(scope, runtime.clock, runtime.ids)
        data = await runtime.engine.manifest(info)
        await send_json(send, success_body(data), info.request_id)

    return asgi(f"{AGENT_PREFIX}/manifest", copy_scope=False)(_only("GET", manifest, "manifest"))


def _read_handler(runtime: Runtime, tool: ToolPlan) -> ASGIRouteHandler:
    query_types = dict(tool.query_types)
    method = tool.http_method or "GET"

    async def read_tool(scope: Scope, receive: Receive, send: Send) -> None:
        pairs = query_pairs(scope)
        info = incoming(scope, runtime.clock, runtime.ids, pairs)
        data: Any = await runtime.engine.read(tool, info, coerce_query(pairs, query_types))
        await send_json(send, success_body(data), info.request_id)

    name = f"read_{tool.name.replace('.', '_')}"
    return asgi(f"{AGENT_PREFIX}{tool.http_path}", opt={"tool": tool.name}, copy_scope=False)(
        _only(method, read_tool, name)
    )


def agent_handlers(plan: Plan, runtime: Runtime) -> list[ASGIRouteHandler]:
    handlers = [_manifest_handler(runtime)]
    for tool in plan.tools:
        if tool.kind == "read" and tool.http_path is not None:
            handlers.append(_read_handler(runtime, tool))
    return handlers
