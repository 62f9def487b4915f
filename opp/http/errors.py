"""Exception handlers: every failure, including the framework's own, leaves as an OPP envelope.

Unexpected exceptions become ``500 common.internal_error`` with a fixed message; the exception is
logged with the request id, never sent.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.http.envelope import error_response

__all__ = ["EXCEPTION_HANDLERS"]

_log = logging.getLogger("opp.http")

_BY_STATUS: dict[int, tuple[ReasonCode, str]] = {
    400: (ReasonCode.VALIDATION, "Bad request."),
    404: (ReasonCode.NOT_FOUND_ROUTE, "No such route."),
    405: (ReasonCode.METHOD_NOT_ALLOWED, "Method not allowed on this route."),
    413: (ReasonCode.PAYLOAD_TOO_LARGE, "Request body too large."),
    415: (ReasonCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported content type; send application/json."),
}


def _request_id(request: Request[Any, Any, Any]) -> dict[str, str]:
    rid = request.scope.get("state", {}).get("request_id")
    return {"X-Request-Id": rid} if isinstance(rid, str) else {}


_CHALLENGES = {  # fallbacks: the authenticators attach the precise challenge (opp/oauth/challenge.py)
    ReasonCode.TOKEN_INVALID: 'Bearer realm="opp", error="invalid_token"',
    ReasonCode.TOKEN_EXPIRED: 'Bearer realm="opp", error="invalid_token", error_description="expired"',
    ReasonCode.ADMIN_UNAUTHORIZED: 'Bearer realm="opp-admin"',
}


def handle_opp_error(request: Request[Any, Any, Any], exc: OppError) -> Response[bytes]:
    headers = _request_id(request)
    challenge = _CHALLENGES.get(exc.code)
    if challenge is not None and "WWW-Authenticate" not in (exc.headers or {}):
        # RFC 6750 §3: a 401 names the scheme it expects. Never sent on a success.
        headers["WWW-Authenticate"] = challenge
    return error_response(exc, headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    code, message = _BY_STATUS.get(exc.status_code, (ReasonCode.INTERNAL_ERROR, "Internal error."))
    if code is ReasonCode.INTERNAL_ERROR and exc.status_code < 500:
        code, message = ReasonCode.VALIDATION, "Bad request."
    headers = dict(exc.headers or {}) if exc.status_code == 405 else {}
    error = OppError(code, message, headers=headers)
    error.status = exc.status_code if exc.status_code in _BY_STATUS else code.status
    return error_response(error, _request_id(request))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.error(
        "internal error on %s %s (request %s)",
        request.method,
        request.url.path,
        _request_id(request).get("X-Request-Id", "-"),
        exc_info=exc,
    )
    return error_response(OppError(ReasonCode.INTERNAL_ERROR, "Internal error."), _request_id(request))


EXCEPTION_HANDLERS = {
    OppError: handle_opp_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
