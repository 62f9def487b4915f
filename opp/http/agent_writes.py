"""Agent write routes (SPEC §2): ``POST /preflight``, ``POST /actions``, ``GET /drafts/{id}`` and
[ext] ``POST /drafts/{id}/withdraw``.

``/preflight`` and ``/actions`` — the write path agents call most — are
:class:`~opp.http.agent.AgentRoute` s like the reads: they read the raw ASGI scope and body
(:func:`~opp.http.bodies.read_asgi_body`, the same limits and errors as the framework's reader)
and are dispatched without Litestar by :mod:`opp.http.fast_routes` when a request matches exactly.
The draft routes, with a path parameter, stay Litestar handlers.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.types import Receive

from opp.http.agent import AGENT_PREFIX, AgentRoute
from opp.http.bodies import decode_json_body, read_asgi_body
from opp.http.envelope import success_body, success_response
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.writes.actions import B, BodyReader
from opp.writes.requests import ActionBody, PreflightBody

__all__ = ["agent_write_handlers", "agent_write_routes"]

PREFIX = AGENT_PREFIX
Req = Request[Any, Any, Any]


def _idempotency_header(scope: Any) -> str | None:
    """The last ``Idempotency-Key`` header, trimmed (None when absent or blank)."""
    values = [value for name, value in scope["headers"] if name.lower() == b"idempotency-key"]
    return (values[-1].decode("latin-1").strip() or None) if values else None


def agent_write_routes(runtime: Runtime) -> list[AgentRoute]:
    """``POST /preflight`` and ``POST /actions``."""

    def reader(scope: Any, receive: Receive, shape: type[B]) -> BodyReader[B]:
        """The body as ``shape``, read when the engine asks (after the credential)."""

        async def read() -> B:
            gateway = runtime.plan.config.gateway
            raw, content_type = await read_asgi_body(scope, receive, gateway.max_body_bytes)
            body = decode_json_body(raw, content_type, shape, gateway.max_json_depth)
            scope["state"]["tool"] = body.action  # the metrics label (checked against the plan)
            return body

        return read

    async def preflight(scope: Any, receive: Receive) -> tuple[bytes, str]:
        info = incoming(scope, runtime.clock, runtime.ids)
        data = await runtime.writes.preflight(info, reader(scope, receive, PreflightBody))
        return success_body(data), info.request_id

    async def actions(scope: Any, receive: Receive) -> tuple[bytes, str]:
        info = incoming(scope, runtime.clock, runtime.ids)
        reads = reader(scope, receive, ActionBody)
        return success_body(
            await runtime.writes.submit(info, reads, _idempotency_header(scope))
        ), info.request_id

    return [
        AgentRoute(f"{PREFIX}/preflight", "POST", preflight, "preflight", None),
        AgentRoute(f"{PREFIX}/actions", "POST", actions, "actions", None),
    ]


def agent_write_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    """The draft routes (the writes with a path parameter)."""

    def ok(request: Req, data: Any) -> Response[bytes]:
        return success_response(data, {"X-Request-Id": request.scope["state"]["request_id"]})

    @get(f"{PREFIX}/drafts/{{draft_id:str}}")
    async def draft(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        return ok(request, await runtime.writes.get_draft(info, draft_id))

    @post(f"{PREFIX}/drafts/{{draft_id:str}}/withdraw", status_code=200)
    async def withdraw(request: Req, draft_id: FromPath[str]) -> Response[bytes]:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        return ok(request, await runtime.writes.withdraw(info, draft_id))

    return [draft, withdraw]
