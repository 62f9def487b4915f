"""Console sign-in and sign-out: one-time links from ``opp console-link``, OpenID Connect, logout.

A sign-in link opens a confirmation page whose button POSTs the token (mail scanners that fetch
links do not burn them, and GET never changes state); the session cookie is ``HttpOnly``,
``SameSite=Strict``, ``Path=/console`` and ``Secure`` on https. Sign-ins are audited as
``console.sign_in`` (success or denial), sign-outs as ``console.sign_out``.
"""

from __future__ import annotations

from litestar import Response, get, post
from litestar.handlers import HTTPRouteHandler

from opp.audit.events import outcome, request_event
from opp.codes import ReasonCode
from opp.console.guard import Ctx, Guard, Req
from opp.console.oidc import OidcSignIn
from opp.console.sessions import safe_next
from opp.console.web import clear_cookie, html_response, read_form, redirect, same_origin, session_cookie
from opp.errors import OppError
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.store.console_records import ConsoleSessionRecord

__all__ = ["auth_handlers"]


def auth_handlers(runtime: Runtime, guard: Guard, oidc: OidcSignIn | None) -> list[HTTPRouteHandler]:
    sessions = guard.sessions
    settings = guard.settings

    async def audit(request: Req, action: str, name: str | None, error: OppError | None, method: str) -> None:
        status, code = outcome(error)
        runtime.audit.emit(
            request_event(
                runtime.ids,
                runtime.clock,
                incoming(request.scope, runtime.clock, runtime.ids),
                action=action,
                status=status,
                code=code,
                performed_by_user_id=name,
                principal={"kind": "console", "name": name} if name else None,
                details={"method": method},
            )
        )
        await runtime.audit.flush()

    def signed_in(cookie: str, session: ConsoleSessionRecord, next_path: str) -> Response[bytes]:
        max_age = int(settings.max_s)
        return redirect(
            next_path, [session_cookie(guard.cookie_name, cookie, max_age, settings.secure_cookies)]
        )

    @get("/console")
    async def home(request: Req) -> Response[bytes]:
        return redirect("/console/queue")

    @get("/console/login")
    async def login(request: Req) -> Response[bytes]:
        session = await guard.session_of(request)
        next_path = safe_next(request.query_params.get("next"))
        return html_response("login.html", session=session, next_path=next_path, oidc=oidc is not None)

    @get("/console/auth/link")
    async def link_page(request: Req) -> Response[bytes]:
        token = request.query_params.get("token", "")
        return html_response("link.html", session=None, token=token)

    @post("/console/auth/link", status_code=200)
    async def link_redeem(request: Req) -> Response[bytes]:
        try:
            form = await read_form(request)
            if not same_origin(request, settings.public_url):
                raise OppError(ReasonCode.CONSOLE_CSRF_INVALID, "The sign-in was sent from another site.")
            cookie, session, next_path = await sessions.redeem_link(form.get("token", ""))
        except OppError as error:
            await audit(request, "console.sign_in", None, error, "link")
            return guard.error_page(request, error, None)
        await audit(request, "console.sign_in", session.name, None, "link")
        return signed_in(cookie, session, next_path)

    @get("/console/auth/oidc")
    async def oidc_start(request: Req) -> Response[bytes]:
        if oidc is None:
            return guard.error_page(
                request,
                OppError(ReasonCode.NOT_FOUND_ROUTE, "OpenID Connect sign-in is not configured."),
                None,
            )
        try:
            url = await oidc.start(request.query_params.get("next"), request.query_params.get("fresh") == "1")
        except OppError as error:
            return guard.error_page(request, error, None)
        return redirect(url)

    @get("/console/auth/callback")
    async def oidc_callback(request: Req) -> Response[bytes]:
        params = request.query_params
        try:
            if oidc is None:
                raise OppError(ReasonCode.NOT_FOUND_ROUTE, "OpenID Connect sign-in is not configured.")
            login = await oidc.finish(params.get("code"), params.get("state"), params.get("error"))
            cookie, session = await sessions.open(login.name, login.roles, "oidc", login.acr, login.auth_time)
        except OppError as error:
            await audit(request, "console.sign_in", None, error, "oidc")
            return guard.error_page(request, error, None)
        await audit(request, "console.sign_in", session.name, None, "oidc")
        return signed_in(cookie, session, login.next_path)

    @post("/console/logout", status_code=200)
    async def logout(request: Req) -> Response[bytes]:
        async def work(ctx: Ctx) -> Response[bytes]:
            assert ctx.session is not None
            await sessions.end(ctx.session)
            return redirect("/console/login", [clear_cookie(guard.cookie_name, settings.secure_cookies)])

        return await guard.run(request, "console.sign_out", ("approver", "auditor"), work, post=True)

    return [home, login, link_page, link_redeem, oidc_start, oidc_callback, logout]
