"""The console's routes for the app factory (none when ``console.enabled`` is false)."""

from __future__ import annotations

from importlib.resources import files

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from opp.codes import ReasonCode
from opp.console.auth_routes import auth_handlers
from opp.console.guard import Guard, Req
from opp.console.oidc import OidcSignIn
from opp.console.routes import page_handlers
from opp.console.sessions import ConsoleSessions
from opp.console.settings import ConsoleSettings
from opp.console.web import SECURITY_HEADERS
from opp.errors import OppError
from opp.http.envelope import error_response
from opp.http.runtime import Runtime

__all__ = ["console_handlers"]

_STATIC = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}


def _static_handler() -> HTTPRouteHandler:
    assets = {name: (files("opp.console") / "static" / name).read_bytes() for name in _STATIC}

    @get("/console/static/{name:str}")
    async def static(request: Req, name: FromPath[str]) -> Response[bytes]:
        if name not in assets:  # an envelope, like every other error opp answers
            return error_response(OppError(ReasonCode.NOT_FOUND_ROUTE, "No such file."), SECURITY_HEADERS)
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
        return Response(content=assets[name], media_type=_STATIC[name], headers=headers)

    return static


def console_handlers(runtime: Runtime) -> list[HTTPRouteHandler]:
    """The console's routes (none when ``console.enabled`` is false)."""
    settings = ConsoleSettings.of(runtime.plan)
    if not settings.enabled:
        return []
    sessions = ConsoleSessions(runtime.store, runtime.clock, settings)
    guard = Guard(runtime, sessions)
    oidc = (
        OidcSignIn(settings.oidc, runtime.plan, runtime.store, runtime.clock, settings.redirect_uri)
        if settings.oidc is not None
        else None
    )
    return [*auth_handlers(runtime, guard, oidc), *page_handlers(runtime, guard), _static_handler()]
