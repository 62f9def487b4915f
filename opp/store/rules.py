"""Backend-independent semantics every :class:`~opp.store.protocols.Store` honours.

The memory, SQLite and PostgreSQL backends implement the same behaviour in different ways; the
facts they must agree on live here once: which fields a config declaration may overwrite, how
large an audit page may be, which audit fields filter by equality, how ``last_used_at`` merges,
and which error means "the store cannot serve".
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

import msgspec

from opp.store.errors import StoreUnavailable
from opp.store.records import AuditQuery

__all__ = [
    "APP_DECLARED_FIELDS",
    "APP_STATUSES",
    "AUDIT_EQUALITY_FILTERS",
    "KEY_DECLARED_FIELDS",
    "MAX_AUDIT_PAGE",
    "apply_declared",
    "audit_page_size",
    "check_app_status",
    "latest",
    "store_unavailable",
]

MAX_AUDIT_PAGE = 200
"""The most audit events one ``AuditLog.list`` call returns, whatever ``limit`` asks for."""

APP_STATUSES = ("active", "revoked")

APP_DECLARED_FIELDS = (
    "name",
    "description",
    "scope",
    "org_id",
    "user_id",
    "service_user_id",
    "scopes",
    "policy",
    "source",
    "updated_at",
)
"""What ``apps.upsert_declared`` overwrites on an existing app.

Everything else (``status``, ``auto_execute``, ``created_by``, ``created_at``) is runtime state an
operator changed through the admin plane, so a config reload must not undo it.
"""

KEY_DECLARED_FIELDS = ("app_id", "name", "token_hash", "token_prefix", "expires_at")
"""What ``keys.upsert_declared`` overwrites on an existing key.

``revoked_at`` and ``last_used_at`` are kept, so a revoked declared key stays revoked across
restarts. ``app_id`` follows the config: a key moved to another app must not keep authenticating
as the old one.
"""

AUDIT_EQUALITY_FILTERS = ("app_id", "action", "status", "code", "tool")
"""``AuditQuery`` fields that, when set, keep only events with an equal value."""

_Record = TypeVar("_Record", bound=msgspec.Struct)


def apply_declared(existing: _Record, declared: _Record, fields: tuple[str, ...]) -> _Record:
    """``existing`` with ``fields`` taken from ``declared`` (the memory backend's upsert)."""
    return msgspec.structs.replace(existing, **{name: getattr(declared, name) for name in fields})


def audit_page_size(query: AuditQuery) -> int:
    """``query.limit`` clamped to ``1..MAX_AUDIT_PAGE``."""
    return max(1, min(query.limit, MAX_AUDIT_PAGE))


def check_app_status(status: str) -> None:
    """Raise ``ValueError`` unless ``status`` is a valid app status."""
    if status not in APP_STATUSES:
        raise ValueError(f"unknown app status {status!r}; expected one of {', '.join(APP_STATUSES)}")


def latest(current: dt.datetime | None, candidate: dt.datetime) -> dt.datetime:
    """The later of two ``last_used_at`` values: flushes from several workers may arrive out of order."""
    return candidate if current is None or candidate > current else current


def store_unavailable() -> StoreUnavailable:
    """The client-safe error every backend raises when it cannot serve, so the gateway fails closed."""
    return StoreUnavailable()
