"""Limits opp applies to every request before the application sees it.

granian answers what it cannot parse by itself (a malformed request line is ``400``, a request
line plus headers over ``server.max_header_bytes`` is ``431``, both with an empty body; see
docs/OPERATIONS.md). What it passes on, :func:`guard_limits` checks first: a request target longer
than ``server.max_url_bytes`` is ``414 common.uri_too_long`` in the usual envelope.
"""

from __future__ import annotations

from opp.codes import ReasonCode
from opp.config.schema import ServerSettings
from opp.http.envelope import JSON, error_body
from opp.http.metrics import ASGIApp, Receive, Scope, Send

__all__ = ["guard_limits", "target_length"]


def target_length(scope: Scope) -> int:
    """Bytes of the request target as sent: the path, and ``?`` and the query when there is one."""
    raw = scope.get("raw_path")
    path = len(raw) if isinstance(raw, bytes) else len(str(scope.get("path", "")).encode())
    query = scope.get("query_string") or b""
    return path + (len(query) + 1 if query else 0)


async def _refuse(send: Send, code: ReasonCode, message: str) -> None:
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": code.status,
            "headers": [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def guard_limits(app: ASGIApp, settings: ServerSettings) -> ASGIApp:
    """``app`` behind the request-target limit of ``settings``."""
    max_url_bytes = settings.max_url_bytes

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and target_length(scope) > max_url_bytes:
            message = f"The request target is longer than {max_url_bytes} bytes (server.max_url_bytes)."
            await _refuse(send, ReasonCode.URI_TOO_LONG, message)
            return
        await app(scope, receive, send)

    return guarded
