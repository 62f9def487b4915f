"""Agent-plane read routes (prefix ``/api/agent/v1``), generated from the Plan at startup.

Each read tool gets its own :class:`AgentRoute` bound to its :class:`ToolPlan`; nothing is looked up
by name per request. A route reads the raw ASGI scope and answers the pre-encoded envelope, skipping
the framework's request/response machinery. The same routes are served twice over: registered with
Litestar (:func:`agent_handlers`, for every method and path the framework must answer: ``405``,
``HEAD``, a trailing slash, CORS) and dispatched without it by :mod:`opp.http.fast_routes` when a
request matches one exactly. Errors propagate as exceptions to the app's exception handlers, which
render the envelope on either path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from litestar import asgi
from litestar.exceptions import MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from opp.compile.plan import Plan, ToolPlan
from opp.http.envelope import JSON, success_body
from opp.http.incoming import coerce_query, incoming, query_pairs
from opp.http.runtime import Runtime

__all__ = ["AGENT_PREFIX", "AgentRoute", "agent_handlers", "agent_routes", "send_json"]

AGENT_PREFIX = "/api/agent/v1"
_JSON_BYTES = JSON.encode()
Answer = Callable[[Any, Receive], Awaitable[tuple[bytes, str]]]
"""(scope, receive) → (the success envelope, the request id); failures raise."""


class AgentRoute(NamedTuple):
    path: str
    method: str
    answer: Answer
    name: str
    tool: str | None
    """The read tool (the metrics label); None for the manifest and the write routes (whose tool is
    the body's ``action``, labelled once the body is read)."""


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


def _manifest_route(runtime: Runtime) -> AgentRoute:
    async def manifest(scope: Any, _: Receive) -> tuple[bytes, str]:
        info = incoming(scope, runtime.clock, runtime.ids)
        return success_body(await runtime.engine.manifest(info)), info.request_id

    return AgentRoute(f"{AGENT_PREFIX}/manifest", "GET", manifest, "manifest", None)


def _read_route(runtime: Runtime, tool: ToolPlan) -> AgentRoute:
    query_types = dict(tool.query_types)

    async def read_tool(scope: Any, _: Receive) -> tuple[bytes, str]:
        pairs = query_pairs(scope)
        info = incoming(scope, runtime.clock, runtime.ids, pairs)
        data: Any = await runtime.engine.read(tool, info, coerce_query(pairs, query_types))
        return success_body(data), info.request_id

    path, method = f"{AGENT_PREFIX}{tool.http_path}", tool.http_method or "GET"
    return AgentRoute(path, method, read_tool, f"read_{tool.name.replace('.', '_')}", tool.name)


def agent_routes(plan: Plan, runtime: Runtime) -> list[AgentRoute]:
    """The manifest and every read tool with an HTTP path, in Plan order."""
    routes = [_manifest_route(runtime)]
    for tool in plan.tools:
        if tool.kind == "read" and tool.http_path is not None:
            routes.append(_read_route(runtime, tool))
    return routes


def _handler(route: AgentRoute) -> ASGIRouteHandler:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != route.method:  # type: ignore[typeddict-item]
            raise MethodNotAllowedException(headers={"Allow": route.method})
        await send_json(send, *await route.answer(scope, receive))

    guarded.__name__ = route.name
    opt = {"tool": route.tool} if route.tool is not None else None
    return asgi(route.path, opt=opt, copy_scope=False)(guarded)


def agent_handlers(routes: list[AgentRoute]) -> list[ASGIRouteHandler]:
    """``routes`` as Litestar route handlers."""
    return [_handler(route) for route in routes]
