"""How admin records are shown: never a token hash, timestamps as RFC 3339 strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from opp.http.agent import AGENT_PREFIX
from opp.parsing import parse_limit, parse_time
from opp.store.records import AppRecord, AuditEvent, AuditQuery, KeyRecord

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "action_tool_listing",
    "app_view",
    "audit_query",
    "event_view",
    "key_view",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
"""Page sizes of the admin list routes (``?limit=``)."""


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


def audit_query(params: Any) -> AuditQuery:
    """Filters of ``GET /audit``: appId, action, status, code, tool, since, until, cursor, limit."""
    return AuditQuery(
        app_id=params.get("appId"),
        action=params.get("action"),
        status=params.get("status"),
        code=params.get("code"),
        tool=params.get("tool"),
        since=parse_time(params.get("since"), "since"),
        until=parse_time(params.get("until"), "until"),
        cursor=params.get("cursor"),
        limit=parse_limit(params.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT),
    )


_LISTED_TOOL_FIELDS = ("name", "description", "risk", "requiredScopes", "requiresConfirmation")


def action_tool_listing(tools: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``GET apps/{id}/tools`` ``items``: the app's action tools in the reference's reduced shape
    (``http`` is the ``POST /actions`` route every action is called through)."""
    return [
        {
            **{name: tool.get(name) for name in _LISTED_TOOL_FIELDS},
            "http": {"method": "POST", "path": f"{AGENT_PREFIX}/actions"},
        }
        for tool in tools
        if tool.get("kind") == "action"
    ]
