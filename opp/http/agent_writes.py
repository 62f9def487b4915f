"""Agent write routes (SPEC §2): ``POST /preflight``, ``POST /actions``, ``GET /drafts/{id}`` and
[ext] ``POST /drafts/{id}/withdraw``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from opp.http.bodies import decode_body
from opp.http.envelope import success_response
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.writes.actions import B, BodyReader
from opp.writes.requests import ActionBody, PreflightBody

__all__ = ["agent_write_handlers"]

PREFIX = "/api/agent/v1"
Req = Request[Any, Any, Any]


def agent_write_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    def ok(request: Req, data: Any) -> Response[bytes]:
        return success_response(data, {"X-Request-Id": request.scope["state"]["request_id"]})

    def reader(request: Req, shape: type[B]) -> BodyReader[B]:
        """The body of ``request`` as ``shape``, read when the engine asks (after the credential)."""

        async def read() -> B:
            body = await decode_body(request, shape, runtime.plan.config.gateway.max_json_depth)
            request.scope["state"]["tool"] = body.action  # the metrics label (checked against the plan)
            return body

        return read

    @post(f"{PREFIX}/preflight", status_code=200)
    async def preflight(request: Req) -> Response[bytes]:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        return ok(request, await runtime.writes.preflight(info, reader(request, PreflightBody)))

    @post(f"{PREFIX}/actions", status_code=200)
    async def actions(request: Req) -> Response[bytes]:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        header_keys = request.headers.getall("idempotency-key", [])
        header_key = header_keys[-1].strip() if header_keys else None
        return ok(request, await runtime.writes.submit(info, reader(request, ActionBody), header_key or None))

    @get(f"{PREFIX}/drafts/{{draft_id:str}}")
    async def draft(request: Req, draft_id: str) -> Response[bytes]:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        return ok(request, await runtime.writes.get_draft(info, draft_id))

    @post(f"{PREFIX}/drafts/{{draft_id:str}}/withdraw", status_code=200)
    async def withdraw(request: Req, draft_id: str) -> Response[bytes]:
        info = incoming(request.scope, runtime.clock, runtime.ids)
        return ok(request, await runtime.writes.withdraw(info, draft_id))

    return [preflight, actions, draft, withdraw]
