"""Durable records of the reviewer console: sign-in sessions, one-time sign-in grants, webhook deliveries.

Sessions live in the store (not in process memory) so a console behind several workers or replicas
keeps its users signed in whichever one answers. Only SHA-256 digests of cookie values, sign-in
link tokens and OIDC ``state`` values are stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

__all__ = ["ConsoleGrantRecord", "ConsoleSessionRecord", "DeliveryStatus", "WebhookDeliveryRecord"]

DeliveryStatus = Literal["pending", "delivered", "failed"]


class ConsoleSessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in reviewer. ``id`` is the SHA-256 of the session cookie's value."""

    id: str
    name: str
    roles: tuple[str, ...]
    method: Literal["link", "oidc"]
    csrf: str
    """The session's CSRF token, sent back in every form that changes state."""
    auth_time: dt.datetime
    """When the person authenticated (step-up compares it with ``oauth.step_up.max_age``)."""
    acr: str | None = None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    """Moves on every request; the session ends ``console.session_idle`` after it."""
    expires_at: dt.datetime
    """The absolute end (``console.session_max`` after sign-in), whatever the activity."""
    ended_at: dt.datetime | None = None


class ConsoleGrantRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A one-time way in: a sign-in link (``link``) or a pending OIDC authorization (``oidc``).

    ``id`` is the SHA-256 of the link token or of the OIDC ``state``; redeeming sets ``used_at``
    once (compare-and-set), so a link or a callback works exactly once.
    """

    id: str
    kind: Literal["link", "oidc"]
    name: str | None = None
    roles: tuple[str, ...] = ()
    next_path: str = "/console"
    code_verifier: str | None = None
    """PKCE verifier of an ``oidc`` grant."""
    nonce: str | None = None
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


class WebhookDeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One notification to one webhook. ``id`` is ``hook:event:draft`` so each is enqueued once."""

    id: str
    hook: str
    event: str
    """``draft.created``, ``draft.expiring`` or ``draft.decided``."""
    draft_id: str
    body: str
    """The JSON payload, exactly as sent (the signature covers it with the attempt's timestamp)."""
    status: DeliveryStatus = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime
    last_status: int | None = None
    """The HTTP status of the last attempt (None: no answer)."""
    last_error: str | None = None
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None
