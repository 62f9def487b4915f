"""Audit events as OCSF API Activity events (class_uid 6003, OCSF 1.1.0); mapping in docs/AUDIT.md."""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["OCSF_VERSION", "activity_id", "to_ocsf"]

OCSF_VERSION = "1.1.0"
API_ACTIVITY_CLASS = 6003
APPLICATION_ACTIVITY_CATEGORY = 6

_ACTIVITIES = {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}
_BY_LAST_WORD = {
    "read": 2,
    "list": 2,
    "preflight": 2,
    "create": 1,
    "created": 1,
    "requested": 1,
    "update": 3,
    "approve": 3,
    "reject": 3,
    "revoke": 3,
    "rotate": 3,
    "reload": 3,
    "delete": 4,
}
_STATUS = {"success": (1, "Success"), "denied": (2, "Failure"), "failed": (2, "Failure")}
_SEVERITY = {"success": (1, "Informational"), "denied": (3, "Medium"), "failed": (4, "High")}
_UNMAPPED = ("tenant", "principal", "policy", "details", "performed_by_user_id", "prev_hash", "hash")


def activity_id(action: str) -> int:
    """1 Create, 2 Read, 3 Update, 4 Delete or 99 Other, from the last word of the action name."""
    return _BY_LAST_WORD.get(action.rsplit(".", 1)[-1].rsplit("_", 1)[-1], 99)


def _epoch_ms(created_at: str) -> int:
    return int(dt.datetime.fromisoformat(created_at).timestamp() * 1000)


def _present(mapping: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in mapping.items() if value not in (None, {}, [])}


def _resources(event: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = (("tool", "name", "tool"), ("draft_id", "uid", "draft"), ("execution_id", "uid", "execution"))
    return [{attr: event[field], "type": kind} for field, attr, kind in kinds if event.get(field)]


def to_ocsf(event: dict[str, Any], product_version: str = "") -> dict[str, Any]:
    """One audit event (its stored JSON object) as an OCSF API Activity event."""
    activity = activity_id(str(event["action"]))
    status_id, status = _STATUS.get(str(event["status"]), (0, "Unknown"))
    severity_id, severity = _SEVERITY.get(str(event["status"]), (0, "Unknown"))
    principal = event.get("principal") or {}
    user = _present({"uid": event.get("actor_user_id"), "credential_uid": event.get("key_id")})
    actor = _present({"user": user, "app_uid": event.get("app_id") or principal.get("client_id")})
    product = _present({"name": "opp", "vendor_name": "OpenPort", "version": product_version})
    return _present(
        {
            "class_uid": API_ACTIVITY_CLASS,
            "class_name": "API Activity",
            "category_uid": APPLICATION_ACTIVITY_CATEGORY,
            "category_name": "Application Activity",
            "activity_id": activity,
            "activity_name": _ACTIVITIES[activity],
            "type_uid": API_ACTIVITY_CLASS * 100 + activity,
            "time": _epoch_ms(str(event["created_at"])),
            "severity_id": severity_id,
            "severity": severity,
            "status_id": status_id,
            "status": status,
            "status_code": event.get("code"),
            "actor": actor,
            "api": _present(
                {
                    "operation": event["action"],
                    "service": {"name": "opp"},
                    "request": _present({"uid": event.get("request_id")}),
                }
            ),
            "src_endpoint": _present({"ip": event.get("ip")}),
            "http_request": _present({"user_agent": event.get("user_agent")}),
            "cloud": {"provider": "self-hosted"},
            "resources": _resources(event),
            "metadata": _present(
                {
                    "version": OCSF_VERSION,
                    "product": product,
                    "uid": event["id"],
                    "sequence": event.get("seq"),
                    "correlation_uid": event.get("request_id"),
                    "log_name": "opp.audit",
                    "original_time": event["created_at"],
                }
            ),
            "unmapped": _present({name: event.get(name) for name in _UNMAPPED}),
        }
    )
