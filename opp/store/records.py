"""Durable records, as plain frozen Structs shared by every store backend."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

__all__ = [
    "AdminTokenRecord",
    "AppRecord",
    "AuditEvent",
    "AuditQuery",
    "KeyRecord",
    "OAuthKeyRecord",
    "OAuthKeyUse",
]

OAuthKeyUse = Literal["sig", "nonce"]


class AppRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str = ""
    scope: Literal["personal", "workspace"]
    status: Literal["active", "revoked"] = "active"
    org_id: str | None = None
    user_id: str | None = None
    service_user_id: str | None = None
    scopes: tuple[str, ...] = ()
    policy: dict[str, Any] = msgspec.field(default_factory=dict)
    """``{"network": {"allowed_ips": [...]}, "data": {...}}`` as in the reference runtime."""
    auto_execute: dict[str, Any] = msgspec.field(default_factory=dict)
    created_by: str | None = None
    source: Literal["config", "runtime"] = "runtime"
    created_at: dt.datetime
    updated_at: dt.datetime


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    app_id: str
    name: str
    token_prefix: str
    """First 12 characters of the token, shown in listings."""
    token_hash: str
    """SHA-256 hex of the token; the plaintext is never stored."""
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    created_at: dt.datetime


class AdminTokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    roles: tuple[str, ...]
    token_hash: str
    token_prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class OAuthKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A secret of the built-in development authorization server (never shown to clients).

    ``use="sig"``: an access-token signing key; ``secret_jwk`` is the private JWK (its public part
    is published in the JWKS). ``use="nonce"``: the DPoP nonce secret, ``{"k": base64url}``.
    """

    kid: str
    use: OAuthKeyUse
    alg: str
    secret_jwk: dict[str, Any]
    created_at: dt.datetime
    retired_at: dt.datetime | None = None
    """Once set, the key is neither used nor published."""


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """One decision (SPEC §9). Never carries a token, a proof or a redacted value."""

    id: str
    action: str
    status: Literal["success", "denied", "failed"]
    code: str
    created_at: dt.datetime
    app_id: str | None = None
    key_id: str | None = None
    actor_user_id: str | None = None
    performed_by_user_id: str | None = None
    request_id: str | None = None
    draft_id: str | None = None
    execution_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    tool: str | None = None
    tenant: str | None = None
    principal: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None
    """``{"matched": [rule ids]}``."""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    seq: int | None = None
    """Position in the hash chain (1, 2, …); set by the store when the event is appended."""
    prev_hash: str | None = None
    """``hash`` of the event at ``seq - 1`` (64 zeros for the first); set at append."""
    hash: str | None = None
    """``SHA-256(JCS(event without hash))`` in hex (SPEC §9); set at append."""


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters for listing audit events, newest first; ``cursor`` is the pagination cursor.

    Set fields combine with AND. ``since`` is inclusive and ``until`` exclusive (on
    ``created_at``); ``cursor`` is the id of the last event of the previous page; ``limit`` is
    clamped to ``1..200``.
    """

    app_id: str | None = None
    action: str | None = None
    status: str | None = None
    code: str | None = None
    tool: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    cursor: str | None = None
    limit: int = 50
