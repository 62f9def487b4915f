"""The application factories: Plan → the Litestar app, and → the app a worker serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.handlers import ASGIRouteHandler

from opp.compile.plan import Plan
from opp.console.handlers import console_handlers
from opp.http.admin import admin_handlers
from opp.http.admin_drafts import admin_draft_handlers
from opp.http.admin_reload import admin_reload_handlers
from opp.http.agent import AgentRoute, agent_handlers, agent_routes
from opp.http.agent_writes import agent_write_handlers, agent_write_routes
from opp.http.errors import EXCEPTION_HANDLERS
from opp.http.fast_routes import fast_routes
from opp.http.health import health_handlers
from opp.http.metrics import ASGIApp, metrics_handlers
from opp.http.oauth_routes import oauth_handlers
from opp.http.openapi import openapi_handlers
from opp.http.runtime import Runtime

__all__ = ["agent_plane", "cors_config", "create_app", "serving_app"]

EXPOSED_HEADERS = [
    "WWW-Authenticate",
    "DPoP-Nonce",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-Id",
    "Idempotent-Replayed",
]
"""Response headers a browser agent must be able to read (RFC 9449 §7.1, §8)."""


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for ``gateway.cors_origins`` (None: no CORS headers are ever sent)."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "DPoP", "Content-Type", "Idempotency-Key", "X-Request-Id"],
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )


def create_app(plan: Plan, runtime: Runtime | None = None, agent: list[AgentRoute] | None = None) -> Litestar:
    """Build the gateway for ``plan``. ``runtime`` (store, clock, ids) may be injected by tests.

    ``agent``: the agent routes to register (:func:`agent_plane`, built here when not given).
    """
    live = runtime or Runtime(plan)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await live.start()
        try:
            yield
        finally:
            await live.stop()

    app = Litestar(
        route_handlers=[
            *agent_handlers(agent if agent is not None else agent_plane(plan, live)),
            *agent_write_handlers(live),
            *admin_handlers(live),
            *admin_draft_handlers(live),
            *admin_reload_handlers(live),
            *health_handlers(live),
            *metrics_handlers(live),
            *_mcp_handlers(live),
            *oauth_handlers(live),
            *openapi_handlers(plan),
            *console_handlers(live),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=None,  # the gateway serves its own /openapi.json; no framework /schema pages
        request_max_body_size=plan.config.gateway.max_body_bytes,
        cors_config=cors_config(plan.config.gateway.cors_origins),
        debug=False,
    )
    app.state["runtime"] = live
    return app


def agent_plane(plan: Plan, runtime: Runtime) -> list[AgentRoute]:
    """The agent routes served as plain ASGI callables: manifest, reads, preflight and actions."""
    return [*agent_routes(plan, runtime), *agent_write_routes(runtime)]


def serving_app(plan: Plan, runtime: Runtime) -> ASGIApp:
    """What a worker serves: :func:`create_app`, the agent routes dispatched by :mod:`.fast_routes`."""
    routes = agent_plane(plan, runtime)
    return fast_routes(create_app(plan, runtime, routes), routes)


def _mcp_handlers(runtime: Runtime) -> list[ASGIRouteHandler]:
    """The MCP route when ``mcp.enabled`` (the SDK is imported only then: it costs ~0.5 s)."""
    if not runtime.plan.config.mcp.enabled:
        return []
    from opp.http.mcp_route import mcp_handlers  # noqa: PLC0415

    return mcp_handlers(runtime)
