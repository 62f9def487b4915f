"""How admin records are shown: never a token hash, timestamps as RFC 3339 strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from opp.errors import ValidationFailed
from opp.store.records import AppRecord, AuditEvent, AuditQuery, KeyRecord

__all__ = ["app_view", "audit_query", "event_view", "key_view"]

_MAX_LIMIT = 200


def _plain(record: msgspec.Struct) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(record)
    return data


def app_view(app: AppRecord) -> dict[str, Any]:
    return _plain(app)


def key_view(key: KeyRecord) -> dict[str, Any]:
    data = _plain(key)
    data.pop("token_hash", None)
    return data


def event_view(event: AuditEvent) -> dict[str, Any]:
    return _plain(event)


def _time(params: Any, name: str) -> dt.datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            [{"code": "format", "path": name, "message": "Expected an ISO-8601 time."}]
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def audit_query(params: Any) -> AuditQuery:
    """Filters of ``GET /audit``: appId, action, status, code, tool, since, until, cursor, limit."""
    raw_limit = params.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= _MAX_LIMIT:
        raise ValidationFailed([{"code": "range", "path": "limit", "message": "limit must be 1..200."}])
    return AuditQuery(
        app_id=params.get("appId"),
        action=params.get("action"),
        status=params.get("status"),
        code=params.get("code"),
        tool=params.get("tool"),
        since=_time(params, "since"),
        until=_time(params, "until"),
        cursor=params.get("cursor"),
        limit=int(raw_limit),
    )
