"""Limits opp applies to every request before the application sees it.

granian answers what it cannot parse by itself (a malformed request line is ``400``, a request
line plus headers over ``server.max_header_bytes`` is ``431``, both with an empty body; see
docs/OPERATIONS.md). What it passes on, :func:`guard_limits` checks first: a request target longer
than ``server.max_url_bytes`` is ``414 common.uri_too_long`` in the usual envelope, and a body that
has not fully arrived ``server.body_read_timeout`` after the request started makes the read raise
``408 common.request_timeout`` (the handler's error path answers it; the server then closes the
connection, whose body was not read to its end). A slow sender holds one request slot of its worker
for that long at most.
"""

from __future__ import annotations

import asyncio

from opp.codes import ReasonCode
from opp.config.durations import parse_duration
from opp.config.schema import ServerSettings
from opp.errors import OppError
from opp.http.envelope import JSON, error_body
from opp.http.metrics import ASGIApp, Message, Receive, Scope, Send

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


def body_deadline(receive: Receive, timeout_s: float) -> Receive:
    """``receive`` that raises ``408 common.request_timeout`` if the body is not complete in time.

    The deadline counts from now (the request's start) over the whole body; once the last body
    message arrived, ``receive`` is passed through untouched (a disconnect wait is not limited).
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    complete = False

    async def receive_in_time() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise OppError(
                ReasonCode.REQUEST_TIMEOUT,
                f"The request body did not arrive within {timeout_s:g}s (server.body_read_timeout).",
            ) from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_in_time


def guard_limits(app: ASGIApp, settings: ServerSettings) -> ASGIApp:
    """``app`` behind the request-target limit and the body deadline of ``settings``."""
    max_url_bytes = settings.max_url_bytes
    body_timeout_s = parse_duration(settings.body_read_timeout)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and target_length(scope) > max_url_bytes:
            message = f"The request target is longer than {max_url_bytes} bytes (server.max_url_bytes)."
            await _refuse(send, ReasonCode.URI_TOO_LONG, message)
            return
        await app(scope, body_deadline(receive, body_timeout_s) if scope["type"] == "http" else receive, send)

    return guarded
