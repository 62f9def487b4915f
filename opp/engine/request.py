"""What the engine knows about an incoming request: framework-free, built once by the HTTP layer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

__all__ = ["IncomingRequest"]


class IncomingRequest(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    method: str
    path: str
    peer: str | None
    """The socket peer address."""
    authorization: list[str]
    forwarded_for: list[str]
    user_agent: str | None
    received_at: dt.datetime
    credential_in_query: bool = False
    """An ``access_token`` query parameter was sent (refused: tokens never travel in URLs)."""
    raw_path: str = ""
    """The path as sent (percent-encoding kept, no query): DPoP ``htu`` is built from it."""
    dpop: list[str] = msgspec.field(default_factory=list)
    """Every ``DPoP`` header value (exactly one is required with the DPoP scheme)."""
    client_cert: list[str] = msgspec.field(default_factory=list)
    """RFC 9440 ``Client-Cert`` values (``:base64 DER:``), believed only from mTLS proxies."""
    ssl_client_cert: list[str] = msgspec.field(default_factory=list)
    """nginx ``X-SSL-Client-Cert`` values (URL-encoded PEM), believed only from mTLS proxies."""
    binding: dict[str, Any] | None = None
    """Set by a binding other than REST (``{"binding": "mcp", "jsonrpc_method": …, "jsonrpc_id": …}``):
    recorded in the details of every audit event of the request."""
