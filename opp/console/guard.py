"""One console request: resolve the session, run the admin-plane call, render errors as pages.

Every console page and form goes through :meth:`Guard.run`, which wraps the work in the same
:class:`~opp.http.admin_call.AdminCall` as the admin JSON API — same action names, same role rules,
one audit event per call whatever its outcome. Forms (POST) additionally need the session's CSRF
token and a same-origin request; a refusal is audited as that action's denial.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from litestar import Request, Response

from opp.codes import ReasonCode
from opp.console.sessions import ConsoleSessions
from opp.console.settings import ConsoleSettings
from opp.console.web import html_response, read_form, redirect, same_origin
from opp.errors import OppError
from opp.http.admin_call import AdminCall
from opp.http.runtime import Runtime
from opp.store.console_records import ConsoleSessionRecord

__all__ = ["Ctx", "Guard", "Req"]

Req = Request[Any, Any, Any]
_SIGN_IN_CODES = {ReasonCode.ADMIN_UNAUTHORIZED, ReasonCode.CONSOLE_SIGN_IN_REQUIRED}


@dataclass
class Ctx:
    """What a console handler gets: the audited call, the session and the posted form."""

    call: AdminCall
    session: ConsoleSessionRecord | None
    form: dict[str, str] = field(default_factory=dict)

    def page(self, template: str, status: int = 200, **context: Any) -> Response[bytes]:
        return html_response(template, status, session=self.session, **context)


class Guard:
    def __init__(self, runtime: Runtime, sessions: ConsoleSessions) -> None:
        self.runtime = runtime
        self.sessions = sessions
        self.settings: ConsoleSettings = sessions.settings

    @property
    def cookie_name(self) -> str:
        return "__Secure-opp_console" if self.settings.secure_cookies else "opp_console"

    async def session_of(self, request: Req) -> ConsoleSessionRecord | None:
        return await self.sessions.resolve(request.cookies.get(self.cookie_name))

    async def run(
        self,
        request: Req,
        action: str,
        roles: tuple[str, ...],
        work: Callable[[Ctx], Awaitable[Response[bytes]]],
        *,
        post: bool = False,
    ) -> Response[bytes]:
        session = await self.session_of(request)
        identity = ConsoleSessions.identity(session) if session else None
        try:
            async with AdminCall(self.runtime, request, action, *roles, identity=identity) as call:
                ctx = Ctx(call, session)
                if post:
                    ctx.form = await read_form(request)
                    self._check_form(request, session, ctx.form)
                return await work(ctx)
        except OppError as error:
            return self.error_page(request, error, session)

    def _check_form(self, request: Req, session: ConsoleSessionRecord | None, form: dict[str, str]) -> None:
        if session is None:
            raise OppError(ReasonCode.CONSOLE_SIGN_IN_REQUIRED, "Sign in to the console first.")
        if not same_origin(request, self.settings.public_url):
            raise OppError(ReasonCode.CONSOLE_CSRF_INVALID, "The form was sent from another site.")
        if not ConsoleSessions.csrf_ok(session, form.get("csrf")):
            raise OppError(
                ReasonCode.CONSOLE_CSRF_INVALID,
                "The form's security token is missing or stale; reload the page and try again.",
            )

    def error_page(
        self, request: Req, error: OppError, session: ConsoleSessionRecord | None
    ) -> Response[bytes]:
        if error.code in _SIGN_IN_CODES and request.method == "GET":
            return redirect(f"/console/login?next={quote(request.url.path)}")
        request_id = request.scope.get("state", {}).get("request_id", "")
        return html_response(
            "error.html",
            error.status if 400 <= error.status < 600 else 400,
            session=session,
            error=error,
            request_id=request_id,
            step_up=error.code in (ReasonCode.STEP_UP_REQUIRED, ReasonCode.STEP_UP_INVALID),
            oidc=self.settings.oidc is not None,
            path=request.url.path,
        )
