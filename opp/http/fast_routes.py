"""Agent reads dispatched without the framework: an exact path lookup in front of Litestar.

A governed read is mostly the pipeline's own work, but routing it through Litestar (its app entry,
exception middleware, router and route wrapper) cost about a tenth of a worker's event-loop time
under load (py-spy, docs/PERFORMANCE.md). :class:`FastRoutes` answers a request whose method and
path are exactly those of an :class:`~opp.http.agent.AgentRoute` by calling the route itself, and
hands everything else to Litestar unchanged: other methods (``405`` with ``Allow``, ``HEAD``),
paths that only the router matches (a trailing slash), websockets and lifespan. When CORS is
configured nothing is dispatched here (Litestar's CORS middleware must see every request).

What Litestar leaves in the scope for the rest of the gateway is left here too (``path_template``
and the tool for metrics, ``app`` for the exception handlers). A route's failure is rendered by
the same exception handlers, looked up by the exception's class as Litestar does, so a refused
read is byte-for-byte the envelope Litestar would send (``tests/integration/test_fast_routes.py``
compares both paths request by request).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request

from opp.http.agent import AgentRoute, send_json
from opp.http.errors import EXCEPTION_HANDLERS
from opp.http.metrics import ASGIApp, Receive, Scope, Send

__all__ = ["FastRoutes", "fast_routes"]


class FastRoutes:
    """``app`` with ``routes`` answered directly when a request matches one exactly."""

    def __init__(self, app: Litestar, routes: list[AgentRoute]) -> None:
        self.app = app
        self._routes = {route.path: route for route in routes}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # any ASGI event, lifespan too
        if scope["type"] == "http":
            route = self._routes.get(scope["path"])
            if route is not None and scope["method"] == route.method:
                await self._answer(route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, route: AgentRoute, scope: Scope, receive: Any, send: Any) -> None:
        scope["app"] = scope["litestar_app"] = self.app
        scope["path_template"] = route.path
        state = scope.setdefault("state", {})
        if route.tool is not None:
            state["tool"] = route.tool
        try:
            body, request_id = await route.answer(scope, receive)
        except Exception as exc:  # rendered as Litestar would, by the same handlers
            await _render(exc, scope, receive, send)
            return
        await send_json(send, body, request_id)


async def _render(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    handler = next(EXCEPTION_HANDLERS[kind] for kind in type(exc).__mro__ if kind in EXCEPTION_HANDLERS)
    request: Request[Any, Any, Any] = Request(scope)  # type: ignore[arg-type]
    response = handler(request, exc)  # type: ignore[operator]
    await response.to_asgi_response(None, request)(scope, receive, send)


def fast_routes(app: Litestar, routes: list[AgentRoute]) -> ASGIApp:
    """``app`` behind :class:`FastRoutes`, or ``app`` itself when CORS is configured."""
    return app if app.cors_config is not None else FastRoutes(app, routes)
