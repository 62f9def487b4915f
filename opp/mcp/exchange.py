"""One HTTP exchange of the MCP endpoint, shared by the route and the SDK's handlers.

Stateless streamable HTTP carries one JSON-RPC message per POST. The route puts an :class:`Exchange`
in the ASGI scope; a handler that must answer at the HTTP level (401 or 403 with a
``WWW-Authenticate`` challenge, RFC 9728 / MCP authorization) records the status and headers on it,
and the route applies them to the response the SDK sends.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opp.engine.request import IncomingRequest

__all__ = ["EXCHANGE_KEY", "Exchange", "exchange_of"]

EXCHANGE_KEY = "opp.mcp"
"""Where the route stores the exchange in ``scope["state"]``."""
_PASSED_HEADERS = (
    "WWW-Authenticate",
    "DPoP-Nonce",
    "Cache-Control",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
)


class Exchange:
    __slots__ = ("headers", "request", "status")

    def __init__(self, request: IncomingRequest) -> None:
        self.request = request
        """The HTTP request as the engine sees it (one per POST)."""
        self.status: int | None = None
        """The HTTP status to answer with instead of the SDK's, when a handler set one."""
        self.headers: dict[str, str] = {}

    def for_message(self, method: str, message_id: Any) -> IncomingRequest:
        """The request marked with its binding, JSON-RPC method and id (copied into audit events)."""
        binding = {"binding": "mcp", "jsonrpc_method": method, "jsonrpc_id": message_id}
        return msgspec.structs.replace(self.request, binding=binding)

    def answer_with(self, status: int | None, headers: dict[str, str] | None) -> None:
        """Answer with ``status`` (None: keep the SDK's) and the challenge / rate-limit headers."""
        if status is not None:
            self.status = status
        for name in _PASSED_HEADERS:
            value = (headers or {}).get(name)
            if value is not None:
                self.headers[name] = value


def exchange_of(http_request: Any) -> Exchange:
    """The exchange the route stored for the SDK's HTTP request object (a Starlette ``Request``)."""
    found = http_request.scope["state"][EXCHANGE_KEY] if http_request is not None else None
    if not isinstance(found, Exchange):
        raise LookupError("MCP request without its exchange")
    return found
