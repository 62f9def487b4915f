"""Signed webhook notifications: a draft was created, is about to expire, or was decided.

Each delivery is a POST of a JSON body with these headers (docs/CONSOLE.md has a verification
snippet)::

    X-Opp-Event: draft.created | draft.expiring | draft.decided
    X-Opp-Delivery: <hook>:<event>:<draft id>      (the same on every retry of one notification)
    X-Opp-Timestamp: <unix seconds of this attempt>
    X-Opp-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver recomputes the signature, refuses a timestamp more than 5 minutes from its clock, and
keeps the delivery ids it has processed: a replayed request then fails the age check or repeats a
known id. Non-2xx answers and network errors are retried with exponential backoff (2 s, 4 s, 8 s …,
at most 10 min apart) up to ``console.webhook_max_attempts``; the delivery log is in the store and
on ``/console/webhooks``. Links in a notification open the draft page behind sign-in: following
one never approves anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import msgspec

from opp.clock import iso
from opp.console.settings import ConsoleSettings, WebhookTarget
from opp.store.console_records import WebhookDeliveryRecord
from opp.store.write_records import DraftRecord

__all__ = [
    "MAX_SKEW_S",
    "backoff_s",
    "build_delivery",
    "delivery_id_of",
    "sign",
    "signed_headers",
    "verify_signature",
]

MAX_SKEW_S = 300
_BACKOFF_BASE_S = 2.0
_BACKOFF_MAX_S = 600.0
_TITLES = {
    "draft.created": "Draft waiting for review",
    "draft.expiring": "Draft expires soon",
    "draft.decided": "Draft decided",
}


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """A receiver's check (the one documented): the signature matches and the timestamp is fresh."""
    if not timestamp.isascii() or not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def signed_headers(delivery: WebhookDeliveryRecord, secret: bytes, timestamp: int) -> dict[str, str]:
    body = delivery.body.encode()
    return {
        "Content-Type": "application/json",
        "User-Agent": "opp-webhooks/1",
        "X-Opp-Event": delivery.event,
        "X-Opp-Delivery": delivery.id,
        "X-Opp-Timestamp": str(timestamp),
        "X-Opp-Signature": sign(secret, timestamp, body),
    }


def backoff_s(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1`` (after ``attempt`` failed ones)."""
    return float(min(_BACKOFF_BASE_S * 2.0 ** max(attempt - 1, 0), _BACKOFF_MAX_S))


def _draft_summary(draft: DraftRecord, url: str) -> dict[str, Any]:
    impact = draft.preflight or {}
    return {
        "id": draft.id,
        "appId": draft.app_id,
        "tool": draft.action,
        "risk": draft.risk,
        "status": draft.status,
        "requester": draft.actor_user_id,
        "justification": draft.justification,
        "summary": impact.get("summary"),
        "impactHash": draft.preflight_hash,
        "approvalsRequired": draft.approvals_required,
        "failureCode": draft.failure_code,
        "confirmedBy": draft.confirmed_by_user_id,
        "note": draft.note,
        "createdAt": iso(draft.created_at),
        "expiresAt": iso(draft.expires_at),
        "url": url,
    }


def _slack(event: str, summary: dict[str, Any]) -> dict[str, Any]:
    what = summary["summary"] or summary["tool"]
    state = f" — {summary['status']}" if event == "draft.decided" else ""
    text = (
        f"{_TITLES[event]}{state}: {what} ({summary['tool']}, {summary['risk']} risk, "
        f"requested by {summary['requester']}). <{summary['url']}|Open in the opp console>"
    )
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def delivery_id_of(hook: str, event: str, draft_id: str) -> str:
    """``hook:event:draft``: one notification, the same on every retry and in every worker."""
    return f"{hook}:{event}:{draft_id}"


def build_delivery(
    target: WebhookTarget, event: str, draft: DraftRecord, settings: ConsoleSettings, now: dt.datetime
) -> WebhookDeliveryRecord:
    delivery_id = delivery_id_of(target.config.name, event, draft.id)
    summary = _draft_summary(draft, settings.url(f"/console/drafts/{draft.id}"))
    payload: dict[str, Any]
    if target.config.format == "slack":
        payload = _slack(event, summary)
    else:
        payload = {"type": event, "deliveryId": delivery_id, "occurredAt": iso(now), "draft": summary}
    return WebhookDeliveryRecord(
        id=delivery_id,
        hook=target.config.name,
        event=event,
        draft_id=draft.id,
        body=msgspec.json.encode(payload).decode(),
        next_attempt_at=now,
        created_at=now,
    )
