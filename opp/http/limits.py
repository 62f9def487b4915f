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
from collections.abc import Awaitable
from typing import Any

from opp.codes import ReasonCode
from opp.config.durations import parse_duration
from opp.config.schema import ServerSettings
from opp.errors import OppError
from opp.http.envelope import JSON, error_body
from opp.http.metrics import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyDeadline", "guard_limits", "target_length"]


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


class BodyDeadline:
    """``receive`` that raises ``408 common.request_timeout`` if the body is not complete in time.

    The deadline counts from the request's start (:meth:`__init__`) over the whole body; once the
    last body message arrived, ``receive`` is passed through untouched (a disconnect wait is not
    limited). One timer serves the whole body: it is armed at the first read, cancels the read in
    flight when it fires, and is disarmed when the body is complete or the request ends
    (:meth:`close`). granian hands even a small body over in two messages, and an ``asyncio.timeout``
    around each ``receive`` made a draft cost 342 µs of a worker's CPU against 333 µs with the one
    timer (324 µs with no deadline at all; ``benchmarks/server_cpu.py``, five A/B pairs). A server
    whose ``receive`` does not return a cancellable future gets that ``asyncio.timeout``.
    """

    __slots__ = ("_complete", "_deadline", "_expired", "_receive", "_timeout_s", "_timer", "_waiting")

    def __init__(self, receive: Receive, timeout_s: float) -> None:
        self._receive = receive
        self._timeout_s = timeout_s
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._complete = False
        self._expired = False
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: Any = None

    async def __call__(self) -> Message:
        if self._complete:
            return await self._receive()
        waiter: Any = self._receive()
        if hasattr(waiter, "cancel") and hasattr(waiter, "add_done_callback"):
            message = await self._within_timer(waiter)
        else:
            message = await self._within_timeout(waiter)
        self._complete = message["type"] != "http.request" or not message.get("more_body", False)
        if self._complete:
            self.close()
        return message

    def close(self) -> None:
        """Disarm the timer (the body is complete, or the request ended without reading all of it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        self._expired = True
        if self._waiting is not None:
            self._waiting.cancel()

    async def _within_timer(self, waiter: Any) -> Message:
        """Await a cancellable future under the one timer (armed now if this is the first read)."""
        loop = asyncio.get_running_loop()
        if self._expired or loop.time() >= self._deadline:  # fired between two reads, or past due
            waiter.cancel()
            raise self._too_slow()
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expire)
        self._waiting = waiter
        try:
            message: Message = await waiter
        except asyncio.CancelledError:
            if self._expired:  # our timer, not the task's own cancellation
                raise self._too_slow() from None
            raise
        finally:
            self._waiting = None
        return message

    async def _within_timeout(self, waiter: Awaitable[Message]) -> Message:
        try:
            async with asyncio.timeout_at(self._deadline):
                return await waiter
        except TimeoutError:
            raise self._too_slow() from None

    def _too_slow(self) -> OppError:
        return OppError(
            ReasonCode.REQUEST_TIMEOUT,
            f"The request body did not arrive within {self._timeout_s:g}s (server.body_read_timeout).",
        )


def guard_limits(app: ASGIApp, settings: ServerSettings) -> ASGIApp:
    """``app`` behind the request-target limit and the body deadline of ``settings``."""
    max_url_bytes = settings.max_url_bytes
    body_timeout_s = parse_duration(settings.body_read_timeout)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and target_length(scope) > max_url_bytes:
            message = f"The request target is longer than {max_url_bytes} bytes (server.max_url_bytes)."
            await _refuse(send, ReasonCode.URI_TOO_LONG, message)
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        deadline = BodyDeadline(receive, body_timeout_s)
        try:
            await app(scope, deadline, send)
        finally:
            deadline.close()

    return guarded
