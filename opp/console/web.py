"""HTTP plumbing of the console: security headers, cookies, forms, HTML responses, the template engine.

Every console response carries a strict Content-Security-Policy (scripts, styles and images from
this origin only, no inline code, ``frame-ancestors 'none'``), ``X-Frame-Options: DENY``,
``Referrer-Policy: same-origin`` (links may carry one-time tokens; ``no-referrer`` would make
browsers send ``Origin: null`` with forms) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from opp.clock import iso
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.http.bodies import read_body
from opp.parsing import time_or_none

__all__ = [
    "CSP",
    "SECURITY_HEADERS",
    "clear_cookie",
    "html_response",
    "read_form",
    "redirect",
    "same_origin",
    "session_cookie",
    "templates",
]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
COOKIE_PATH = "/console"
_MAX_FIELDS = 64


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return iso(value)
    return "" if value is None else str(value)


def _age(value: Any, now: dt.datetime) -> str:
    if isinstance(value, str):
        value = time_or_none(value)
    if not isinstance(value, dt.datetime):
        return ""
    seconds = int((now - value).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opp.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["age"] = _age
    return env


templates = _environment()


def html_response(
    template: str, status: int = 200, cookies: list[Cookie] | None = None, **context: Any
) -> Response[bytes]:
    body = templates.get_template(template).render(**context).encode()
    return Response(
        content=body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=SECURITY_HEADERS,
        cookies=cookies or [],
    )


def redirect(location: str, cookies: list[Cookie] | None = None) -> Response[bytes]:
    """303 See Other (a POST answered with a page to GET; never re-posted on reload)."""
    return Response(
        content=b"",
        status_code=303,
        headers={**SECURITY_HEADERS, "Location": location},
        cookies=cookies or [],
    )


def session_cookie(name: str, value: str, max_age: int, secure: bool) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        path=COOKIE_PATH,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def clear_cookie(name: str, secure: bool) -> Cookie:
    return Cookie(
        key=name, value="", path=COOKIE_PATH, max_age=0, httponly=True, samesite="strict", secure=secure
    )


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the last value of a repeated field wins)."""
    body = await read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type != "application/x-www-form-urlencoded":
        raise OppError(ReasonCode.UNSUPPORTED_MEDIA_TYPE, "Console forms are sent as form data.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise OppError(ReasonCode.BODY_MALFORMED, "The form could not be read.") from None
    return dict(pairs)


def same_origin(request: Request[Any, Any, Any], public_url: str) -> bool:
    """False when the browser says the request comes from another site (``Sec-Fetch-Site``/``Origin``)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(public_url)
    host = request.headers.get("host", "")
    return origin in (f"{parts.scheme}://{parts.netloc}", f"http://{host}", f"https://{host}")
