"""The MCP endpoint (``mcp.path``, default ``/mcp``): the official SDK's streamable HTTP transport,
stateless, JSON responses, mounted as one Litestar ASGI route.

Before the SDK sees a request: DNS-rebinding protection (``Host`` and ``Origin`` against the public
URL, its loopback aliases and ``mcp.allowed_hosts`` / ``mcp.allowed_origins``), POST only. The SDK
speaks 2026-07-28 and the 2025-11-25 / 2025-06-18 initialize handshake; the handlers in
``opp/mcp`` hand every request to the engine. After: the status and challenge a handler recorded
(401/403 with ``WWW-Authenticate``) are applied, and an error answer without a JSON body becomes a
JSON-RPC error, so every protocol fault leaves as JSON-RPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import Message, Receive, Scope, Send
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types import INVALID_REQUEST
from starlette.requests import Request

from opp.compile.plan import Plan
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.mcp.exchange import EXCHANGE_KEY, Exchange
from opp.mcp.server import build_server

__all__ = ["McpEndpoint", "mcp_handlers", "transport_security"]

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_JSON = b"application/json"


def transport_security(plan: Plan) -> TransportSecuritySettings:
    """The ``Host`` / ``Origin`` allowlists: the public URL's (with its loopback aliases) plus config."""
    public = urllib.parse.urlsplit(plan.oauth.public_url)
    host = (public.hostname or "").lower()
    names = [f"[{host}]" if ":" in host else host]
    if names[0] in _LOOPBACK:
        names = list(_LOOPBACK)
    default_port = {"http": 80, "https": 443}.get(public.scheme)
    port = public.port or default_port
    hosts = [f"{name}:{port}" for name in names]
    if port == default_port:
        hosts += names
    origins = [f"{public.scheme}://{value}" for value in hosts]
    settings = plan.config.mcp
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*hosts, *settings.allowed_hosts],
        allowed_origins=[*origins, *plan.config.gateway.cors_origins, *settings.allowed_origins],
    )


def _rpc_error(status: int, message: str) -> bytes:
    """A JSON-RPC error for a fault found before any message was read (no id)."""
    error = {"code": INVALID_REQUEST, "message": message, "data": {"httpStatus": status}}
    return msgspec.json.encode({"jsonrpc": "2.0", "id": None, "error": error})


async def _send_rpc_error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = _rpc_error(status, message)
    start: Any = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()), *headers],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _Responder:
    """Wraps ``send``: the exchange's status and headers on the way out, JSON-RPC for bare errors."""

    def __init__(self, send: Send, exchange: Exchange, extra: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self._exchange = exchange
        self._extra = extra
        self._held: int | None = None
        self._text = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status = self._exchange.status or message["status"]
            headers = [*message.get("headers", ()), *self._extra]
            headers += [
                (name.lower().encode(), value.encode()) for name, value in self._exchange.headers.items()
            ]
            content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
            if status >= 400 and not content_type.startswith(_JSON):
                self._held = status
                return
            await self._send({**message, "status": status, "headers": headers})
        elif message["type"] == "http.response.body" and self._held is not None:
            self._text += message.get("body", b"")
            if message.get("more_body", False):
                return
            text = self._text.decode("utf-8", "replace").strip()[:200] or HTTPStatus(self._held).phrase
            await _send_rpc_error(self._send, self._held, text, self._extra)
            self._held = None
        else:
            await self._send(message)


class McpEndpoint:
    """The ASGI app of the MCP route for one Plan generation (the SDK manager runs lazily)."""

    def __init__(self, runtime: Runtime) -> None:
        plan = runtime.plan
        self._runtime = runtime
        self._guard = TransportSecurityMiddleware(transport_security(plan))
        self._server = build_server(plan, runtime.authorizer, runtime.engine, runtime.writes)
        self._manager = self._fresh_manager()
        self._ready: asyncio.Event | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        info = incoming(scope, self._runtime.clock, self._runtime.ids)
        extra = [(b"x-request-id", info.request_id.encode())]
        refused = await self._guard.validate_request(Request(scope, receive), is_post=False)  # type: ignore[arg-type]
        if refused is not None:
            await _send_rpc_error(send, refused.status_code, bytes(refused.body).decode(), extra)
            return
        if scope["method"] != "POST":  # type: ignore[typeddict-item]
            message = "Stateless streamable HTTP: send each JSON-RPC message in a POST."
            await _send_rpc_error(send, 405, message, [(b"allow", b"POST"), *extra])
            return
        exchange = Exchange(info)
        scope["state"][EXCHANGE_KEY] = exchange
        await self._running()
        await self._manager.handle_request(scope, receive, _Responder(send, exchange, extra))  # type: ignore[arg-type]

    async def _running(self) -> None:
        """Start the SDK manager on first use; a manager that died is started again."""
        if (
            self._ready is not None
            and self._ready.is_set()
            and self._task is not None
            and not self._task.done()
        ):
            return
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._manager = self._fresh_manager() if self._task is not None else self._manager
            self._task = asyncio.create_task(self._serve(self._ready))
        assert self._ready is not None
        waiting = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not self._ready.is_set():
            waiting.cancel()
            raise RuntimeError("the MCP transport did not start")

    def _fresh_manager(self) -> StreamableHTTPSessionManager:
        """An SDK manager (each can run once): stateless, JSON responses, opp's body limit."""
        return StreamableHTTPSessionManager(
            self._server,
            json_response=True,
            stateless=True,
            security_settings=self._guard.settings,
            max_request_body_size=self._runtime.plan.config.gateway.max_body_bytes,
        )

    async def _serve(self, ready: asyncio.Event) -> None:
        async with self._manager.run():
            ready.set()
            await self._stopping.wait()

    async def close(self) -> None:
        """Stop the SDK manager (when it ever started)."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


def mcp_handlers(runtime: Runtime) -> list[ASGIRouteHandler]:
    """The MCP route, when ``mcp.enabled``."""
    settings = runtime.plan.config.mcp
    if not settings.enabled:
        return []
    endpoint = McpEndpoint(runtime)
    runtime.on_deactivate.append(endpoint.close)

    async def mcp(scope: Scope, receive: Receive, send: Send) -> None:
        await endpoint(scope, receive, send)

    return [asgi(settings.path, copy_scope=False)(mcp)]
