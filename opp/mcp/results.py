"""Engine outcomes as MCP results.

* success → ``structuredContent`` (the REST envelope's ``data``) and the same JSON as text;
* a denial of the call (scope, tenant, CEL, validation, rate limit, idempotency…) → a tool result
  with ``isError: true`` whose ``structuredContent`` is the REST error envelope, reason code included;
* a credential failure (401) or a step-up (403 ``insufficient_scope``) → a JSON-RPC error at that
  HTTP status with its ``WWW-Authenticate`` challenge (MCP authorization), ``error.data`` the envelope.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
import msgspec
from mcp.shared.exceptions import MCPError

from opp.clock import iso
from opp.errors import OppError
from opp.mcp.exchange import Exchange

__all__ = ["DENIED", "denied_call", "envelope", "error_result", "protocol_error", "success"]

DENIED = -32001
"""JSON-RPC error code (server range) of a request the gateway refused; ``error.data.code`` says why."""
_encoder = msgspec.json.Encoder(enc_hook=lambda value: iso(value) if hasattr(value, "tzinfo") else str(value))


def envelope(error: OppError) -> dict[str, Any]:
    """The REST error envelope of ``error`` (SPEC §3)."""
    body: dict[str, Any] = {"ok": False, "code": error.code.value, "message": error.message}
    if error.details:
        body["details"] = error.details
    return body


def success(data: Any) -> types.CallToolResult:
    text = _encoder.encode(data)
    structured = msgspec.json.decode(text)
    if not isinstance(structured, dict):
        structured = {"result": structured}
    return types.CallToolResult(
        content=[types.TextContent(text=text.decode())], structured_content=structured
    )


def protocol_error(exchange: Exchange, error: OppError) -> MCPError:
    """``error`` as a JSON-RPC error, answered at its HTTP status when that is a 4xx."""
    exchange.answer_with(error.status if 400 <= error.status < 500 else None, error.headers)
    return MCPError(DENIED, error.message, envelope(error))


def denied_call(exchange: Exchange, error: OppError) -> types.CallToolResult:
    """A refused ``tools/call``: a tool result with ``isError`` (HTTP 200, rate-limit headers kept).

    Raises:
        MCPError: The refusal carries a ``WWW-Authenticate`` challenge (a 401, or a 403
            ``insufficient_scope`` for an OAuth client): it is answered at the HTTP level.
    """
    if "WWW-Authenticate" in (error.headers or {}):
        raise protocol_error(exchange, error)
    exchange.answer_with(None, error.headers)
    return error_result(error)


def error_result(error: OppError) -> types.CallToolResult:
    """A tool result with ``isError``: the reason code in text and the REST envelope as structure."""
    return types.CallToolResult(
        content=[types.TextContent(text=f"{error.code.value}: {error.message}")],
        structured_content=envelope(error),
        is_error=True,
    )
