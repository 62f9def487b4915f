"""What the engine knows about an incoming request: framework-free, built once by the HTTP layer."""

from __future__ import annotations

import datetime as dt

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
